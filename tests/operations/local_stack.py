"""docker-compose.yml's topology without containers: PostgreSQL, Redis, Airflow on Celery.

Docker cannot run on our machines, so the distributed test starts the same
services as processes on loopback: PostgreSQL and Redis from Debian's
packages (throw-away instances in a temporary folder, free ports), then the
api-server, scheduler, dag-processor, triggerer (it runs the deadline
callbacks) and a Celery worker with the Airflow
settings read from docker-compose.yml itself (host names swapped for
127.0.0.1 and the ports picked here). Everything started is stopped on exit,
also when the test fails; the services' and tasks' logs are copied to
`keep_logs` first, so a failed run can be read afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Debian's postgresql package: /usr/lib/postgresql/<major>/bin, the newest if several.
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=Path("/nonexistent"))
COMPOSE_FILE = REPO / "docker-compose.yml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _interpolate(value: str, environ: dict) -> str:
    """Compose's `${NAME:-default}`, from `environ`."""
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: environ.get(m.group(1)) or (m.group(2) or ""), str(value))


def airflow_environment(
    ports: dict[str, int], home: Path, bantin_home: Path, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The compose file's Airflow settings, pointed at this machine's services."""
    common = compose()["x-airflow-common"]["environment"]
    hosts = {
        "postgres:5432": f"127.0.0.1:{ports['postgres']}",
        "redis:6379": f"127.0.0.1:{ports['redis']}",
        "airflow-apiserver:8080": f"127.0.0.1:{ports['api']}",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BANTIN_"))}
    for name, value in common.items():
        if name.endswith("_CMD") or name in LOCAL_ONLY:
            continue  # the secrets volume and the password file are the containers'; made here below
        value = _interpolate(value, {})
        for service, local in hosts.items():
            value = value.replace(service, local)
        env[name] = value
    import base64
    import secrets

    # What compose reads from the bantin-secrets volume (deploy/secrets.sh), made up for this stack;
    # PostgreSQL here trusts loopback, so the URLs carry no password.
    database = f"postgresql+psycopg2://airflow@127.0.0.1:{ports['postgres']}/airflow"
    secret_settings = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{database}",
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
    }
    assert {f"{k}_CMD" for k in secret_settings} == {k for k in common if k.endswith("_CMD")}, "compose changed"
    env.update(secret_settings)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker_logs"]),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # The test makes every run itself: without this, unpausing daily_bulletin would also
            # start today's 17:00 run (catchup=False still runs the latest missed one).
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{ports['api']}",
            "BANTIN_HOME": str(bantin_home),
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        }
    )
    env.update(extra or {})
    return env


# Compose settings that only make sense inside the containers.
LOCAL_ONLY = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", "TZ"}


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


class LocalStack:
    """Start with `with LocalStack(bantin_home) as stack:`; `stack.env` runs the Airflow CLI against it.

    `env` adds settings for every service (BANTIN_CUTOFF, AIRFLOW_CONN_SMTP_DEFAULT …).
    """

    SERVICES = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", "{api}", "--workers", "1"],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer"],
        "celery-worker": ["celery", "worker", "--concurrency", "2", "--without-mingle", "--without-gossip"],
    }

    def __init__(self, bantin_home: Path, keep_logs: Path | None = None, env: dict[str, str] | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="bantin-stack-"))
        self.keep_logs = keep_logs
        self.ports = {name: free_port() for name in ("postgres", "redis", "api", "worker_logs")}
        self.env = airflow_environment(self.ports, self.root / "airflow", bantin_home, env)
        self.processes: dict[str, subprocess.Popen] = {}
        self._pg_data = self.root / "pgdata"

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> LocalStack:
        # A SIGTERM (a CI timeout, `kill`) ends pytest without teardown: turn it into an exception so
        # the services are stopped instead of left running on the machine.
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_on_sigterm)
        try:
            self._start_postgres()
            self._start(
                "redis",
                [
                    "redis-server",
                    "--port",
                    str(self.ports["redis"]),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                ],
            )
            self.airflow("db", "migrate", timeout=300)
            for name, args in self.SERVICES.items():
                self._start(name, [str(BIN / "airflow"), *(a.format(**self.ports) for a in args)])
            self._wait_for_api()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            signal.signal(signal.SIGTERM, self._previous_sigterm)

    def stop(self) -> None:
        """Stop every process this stack started (whole process groups: Airflow forks), then PostgreSQL."""
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
        if (self._pg_data / "postmaster.pid").exists():
            self._as_postgres([str(PG_BIN / "pg_ctl"), "stop", "-D", str(self._pg_data), "-m", "immediate", "-w"])
        if self.keep_logs is not None:
            for path in self.root.glob("*.log"):
                shutil.copy2(path, self.keep_logs / path.name)
            if (self.root / "airflow" / "logs").is_dir():
                shutil.copytree(self.root / "airflow" / "logs", self.keep_logs / "airflow-logs", dirs_exist_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)

    # ---------------------------------------------------------------- services

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115  the process writes to it for its whole life
        self.processes[name] = subprocess.Popen(
            argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.root
        )

    def _as_postgres(self, argv: list[str]) -> subprocess.CompletedProcess:
        """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)

    def _start_postgres(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")
        self._as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self._pg_data),
                "-U",
                "airflow",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        options = (
            f"-p {self.ports['postgres']} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "start",
                "-w",
                "-D",
                str(self._pg_data),
                "-l",
                str(self.root / "postgres.log"),
                "-o",
                options,
            ]
        )
        self._as_postgres(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.ports["postgres"]), "-U", "airflow", "airflow"]
        )

    def _wait_for_api(self, timeout: float = 180) -> None:
        import urllib.request

        url = f"http://127.0.0.1:{self.ports['api']}/api/v2/monitor/health"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(2)
        raise TimeoutError(f"api-server not up in {timeout}s\n{self.logs('api-server')}")

    # ---------------------------------------------------------------- using it

    def airflow(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read Airflow's metadata DB directly (cheaper than a CLI process per poll)."""
        import psycopg2

        con = psycopg2.connect(host="127.0.0.1", port=self.ports["postgres"], user="airflow", dbname="airflow")
        try:
            with con.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            con.close()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}\n{self.logs(name)}")

    def logs(self, name: str, tail: int = 4000) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def task_logs(self, dag_id: str, run_id: str, state: str = "failed", tail: int = 3000) -> str:
        """The last attempt's log of each task of the run in `state`: what a failed assertion shows."""
        failed = self.query(
            "SELECT task_id FROM task_instance WHERE dag_id = %s AND run_id = %s AND state = %s",
            (dag_id, run_id, state),
        )
        shown = []
        for (task_id,) in failed:
            folder = self.root / "airflow" / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
            attempts = sorted(folder.glob("attempt=*.log"))
            text = attempts[-1].read_text(errors="replace")[-tail:] if attempts else "(no log file)"
            shown.append(f"--- {task_id} ({state})\n{text}")
        return "\n".join(shown)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Until the dag-processor has parsed and serialized the DAG."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (dag_id,)):
                return
            time.sleep(2)
        raise TimeoutError(f"{dag_id} not serialized in {timeout}s\n{self.logs('dag-processor')}")

    def wait_for_runs(self, dag_id: str, count: int, timeout: float, *, run_id: str | None = None) -> list[tuple]:
        """Until `count` runs of the DAG have finished: the one `run_id`, or without it the backfill's runs
        (which keep the run ids of dates that had already run). Returns (run_id, logical_date, state) by date."""
        where, params = ("run_id = %s", (run_id,)) if run_id else ("backfill_id IS NOT NULL", ())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            runs = self.query(
                f"SELECT run_id, logical_date, state FROM dag_run WHERE dag_id = %s AND {where} ORDER BY logical_date",
                (dag_id, *params),
            )
            finished = [r for r in runs if r[2] in ("success", "failed")]
            if len(finished) >= count:
                return runs
            time.sleep(3)
        states = self.query("SELECT run_id, task_id, state FROM task_instance WHERE dag_id = %s", (dag_id,))
        raise TimeoutError(
            f"{dag_id}: runs not finished in {timeout}s: {states}\n"
            f"{self.logs('scheduler')}\n{self.logs('celery-worker')}"
        )

    def clear_and_rerun(self, dag_id: str, run_id: str, logical_date: str, timeout: float) -> None:
        """Clear every task of one date, as an operator does in the UI, and wait until each has run again.

        Clearing bumps a task's try number at once (Airflow 3), so the tries are read before the clear.
        """
        before = dict(
            self.query(
                "SELECT task_id, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s", (dag_id, run_id)
            )
        )
        self.airflow("tasks", "clear", dag_id, "--yes", "--start-date", logical_date, "--end-date", logical_date)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            states = self.query(
                "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s",
                (dag_id, run_id),
            )
            rerun = all(tries > before.get(task, 0) for task, _, tries in states)
            if rerun and all(state in ("success", "failed") for _, state, _ in states):
                assert {state for _, state, _ in states} == {"success"}, self.task_logs(dag_id, run_id)
                return
            time.sleep(3)
        raise TimeoutError(f"{dag_id}: rerun not finished in {timeout}s: {states}\n{self.logs('celery-worker')}")
