"""docker-compose.yml's topology without containers: PostgreSQL, Redis, Airflow on Celery.

Docker cannot run on our machines, so the distributed test starts the same
services as processes on loopback: PostgreSQL and Redis from Debian's
packages (throw-away instances in a temporary folder, free ports), then the
api-server, scheduler, dag-processor and a Celery worker with the Airflow
settings read from docker-compose.yml itself (host names swapped for
127.0.0.1 and the ports picked here). Everything started is stopped on exit,
also when the test fails.
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


def airflow_environment(ports: dict[str, int], home: Path, bantin_home: Path) -> dict[str, str]:
    """The compose file's Airflow settings, pointed at this machine's services."""
    common = compose()["x-airflow-common"]["environment"]
    hosts = {"postgres:5432": f"127.0.0.1:{ports['postgres']}", "redis:6379": f"127.0.0.1:{ports['redis']}",
             "airflow-apiserver:8080": f"127.0.0.1:{ports['api']}"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BANTIN_"))}
    for name, value in common.items():
        value = _interpolate(value, {})
        for service, local in hosts.items():
            value = value.replace(service, local)
        env[name] = value
    env.pop("PYTHONPATH", None)  # the project is installed in the venv here, not mounted
    env.update({
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
    })
    return env


class LocalStack:
    """Start with `with LocalStack(bantin_home) as stack:`; `stack.env` runs the Airflow CLI against it."""

    SERVICES = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", "{api}", "--workers", "1"],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
        "celery-worker": ["celery", "worker", "--concurrency", "2", "--without-mingle", "--without-gossip"],
    }

    def __init__(self, bantin_home: Path):
        self.root = Path(tempfile.mkdtemp(prefix="bantin-stack-"))
        self.ports = {name: free_port() for name in ("postgres", "redis", "api", "worker_logs")}
        self.env = airflow_environment(self.ports, self.root / "airflow", bantin_home)
        self.processes: dict[str, subprocess.Popen] = {}
        self._pg_data = self.root / "pgdata"

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> "LocalStack":
        try:
            self._start_postgres()
            self._start("redis", ["redis-server", "--port", str(self.ports["redis"]), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", str(self.root)])
            self.airflow("db", "migrate", timeout=300)
            for name, args in self.SERVICES.items():
                self._start(name, [str(BIN / "airflow"), *(a.format(**self.ports) for a in args)])
            self._wait_for_api()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every process this stack started (whole process groups: Airflow forks), then PostgreSQL."""
        for name, process in reversed(list(self.processes.items())):
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
        shutil.rmtree(self.root, ignore_errors=True)

    # ---------------------------------------------------------------- services

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True, cwd=self.root)

    def _as_postgres(self, argv: list[str]) -> subprocess.CompletedProcess:
        """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)

    def _start_postgres(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self._pg_data), "-U", "airflow", "-A", "trust",
                           "-E", "UTF8", "--no-sync"])
        options = (f"-p {self.ports['postgres']} -c listen_addresses=127.0.0.1 -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._as_postgres([str(PG_BIN / "pg_ctl"), "start", "-w", "-D", str(self._pg_data),
                           "-l", str(self.root / "postgres.log"), "-o", options])
        self._as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.ports["postgres"]),
                           "-U", "airflow", "airflow"])

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
        result = subprocess.run([str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout)
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

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Until the dag-processor has parsed and serialized the DAG."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (dag_id,)):
                return
            time.sleep(2)
        raise TimeoutError(f"{dag_id} not serialized in {timeout}s\n{self.logs('dag-processor')}")

    def wait_for_runs(self, dag_id: str, count: int, timeout: float, run_id_prefix: str = "") -> list[tuple]:
        """Until `count` runs of the DAG (run ids starting so) have finished; returns (run_id, logical_date, state)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            runs = self.query("SELECT run_id, logical_date, state FROM dag_run WHERE dag_id = %s "
                              "AND starts_with(run_id, %s) ORDER BY logical_date", (dag_id, run_id_prefix))
            finished = [r for r in runs if r[2] in ("success", "failed")]
            if len(finished) >= count:
                return runs
            time.sleep(3)
        states = self.query("SELECT run_id, task_id, state FROM task_instance WHERE dag_id = %s", (dag_id,))
        raise TimeoutError(f"{dag_id}: runs not finished in {timeout}s: {states}\n"
                           f"{self.logs('scheduler')}\n{self.logs('celery-worker')}")

    def wait_for_rerun(self, dag_id: str, tasks: int, timeout: float) -> None:
        """Until `tasks` task instances have run a second time, successfully, and nothing else is pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            states = self.query("SELECT task_id, state, try_number FROM task_instance WHERE dag_id = %s", (dag_id,))
            rerun = [s for s in states if s[2] >= 2 and s[1] == "success"]
            if len(rerun) >= tasks and all(s[1] in ("success", "failed") for s in states):
                return
            time.sleep(3)
        raise TimeoutError(f"{dag_id}: rerun not finished in {timeout}s: {states}\n{self.logs('celery-worker')}")
