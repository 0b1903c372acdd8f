"""District channels: how long a clerk waits for the reply, and a national day's mail pulled in one run.

Real servers, as in the tests: Dovecot (IMAP, its own config on a high port)
and aiosmtpd receiving the replies.

1. Message → reply. A clerk's message is stored in the mailbox; a collection
   run (pull, collect, validate, answer) runs in a fresh process, as an Airflow
   task would; the clock stops when the reply reaches the SMTP server. Then the
   same through Airflow itself (`airflow dags test collect_submissions`, every
   task in its own process). What the clerk waits is this plus the wait for the
   next run: 0 to 15 minutes (collection every 15 minutes), 7.5 on average.
2. A national day: one message per district file of the whole country (the
   demo generator's 695 files, all 63 provinces), stored in the mailbox, then
   one run: the pull alone (median of 3, fresh mailbox each), and once the
   whole run (pull, collect, validate, 695 replies).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from bench.bench_intake import generate_national_day
from bench.common import PYTHON, REPO, child, run_child

sys.path.insert(0, str(REPO / "tests"))
from channels.servers import Dovecot, free_port  # noqa: E402  (the tests' real-server helpers)

TITLE = "Channels — message to reply over IMAP + SMTP, and a national day of mail (695 messages) in one run"
COLLECT_EVERY_MINUTES = 15


def collection_run(what: str) -> None:
    """One collection run's stages in this process, each timed: what collect_submissions does for e-mail.

    `what`: "pull" (the pull alone) or "run" (pull, collect, validate, answer). Prints `RESULT {json}`.
    """
    from bantin import pipeline
    from bantin.channels import mailbox
    from bantin.config import load_settings
    from bantin.replies import answer_senders

    clock = time.perf_counter()
    # What every Airflow task pays once, apart: Airflow and its providers, and Great Expectations (validate)
    import airflow.providers.imap.hooks.imap  # noqa: F401
    import airflow.providers.smtp.hooks.smtp  # noqa: F401

    if what != "pull":
        from bantin import validation  # noqa: F401
    settings = load_settings()
    marks = {"imports": time.perf_counter() - clock}
    clock = time.perf_counter()
    pulled = mailbox.pull_mailbox(settings)
    marks["pull"] = time.perf_counter() - clock
    if what != "pull":
        for name, stage in (("collect", pipeline.collect), ("validate", pipeline.validate)):
            clock = time.perf_counter()
            stage(settings)
            marks[name] = time.perf_counter() - clock
        clock = time.perf_counter()
        answered = answer_senders(settings)
        marks["answer"] = time.perf_counter() - clock
        marks["replies"] = answered["replies"]
    marks["messages"] = pulled["messages"]
    marks["files"] = pulled["files"]
    print("RESULT " + json.dumps(marks))


class Replies:
    """aiosmtpd handler noting when each reply to a clerk's message arrives (not reminders or alerts)."""

    def __init__(self):
        self.arrivals: list[float] = []

    async def handle_DATA(self, server, session, envelope):
        if b"\nIn-Reply-To:" in envelope.original_content:
            self.arrivals.append(time.time())
        return "250 OK"


def _smtp():
    from aiosmtpd.controller import Controller

    handler, port = Replies(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    connection = json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {"from_email": "bantin@soyte.example", "disable_tls": True, "disable_ssl": True, "timeout": 30},
        }
    )
    return controller, handler, connection


def _message(path: Path, sender: str) -> bytes:
    message = EmailMessage()
    message["Authentication-Results"] = "mx.soyte.example; spf=pass; dkim=pass"
    message["From"], message["To"], message["Subject"] = sender, "baocao@soyte.example", f"Báo cáo {path.name}"
    message["Message-ID"] = f"<{path.parent.name}.{path.stem}@huyen.example>"
    message.set_content("Kính gửi Sở Y tế.")
    message.add_attachment(path.read_bytes(), maintype="application", subtype="octet-stream", filename=path.name)
    return message.as_bytes()


def _home(files: list[Path]) -> Path:
    home = Path(tempfile.mkdtemp(prefix="bench-channels-"))
    lines = ["address,district_code,name"] + [f"d{p.parent.name}@huyen.example,{p.parent.name}," for p in files]
    (home / "senders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return home


def _env(home: Path, dovecot: Dovecot, smtp_connection: str) -> dict:
    return {
        "BANTIN_HOME": str(home),
        "BANTIN_IMAP_CONN_ID": "imap_bench",
        "AIRFLOW_CONN_IMAP_BENCH": dovecot.connection(),
        "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection,
    }


def _deliver_all(dovecot: Dovecot, files: list[Path]) -> None:
    import imaplib

    client = dovecot.client()
    try:
        for path in files:
            when = imaplib.Time2Internaldate(time.time())
            typ, data = client.append("INBOX", None, when, _message(path, f"d{path.parent.name}@huyen.example"))
            assert typ == "OK", data
    finally:
        client.logout()


def _run(env: dict, what: str) -> tuple[dict, float, float]:
    """`collection_run` in a fresh process: its stage times, wall seconds and peak RSS (MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        child(collection_run, what),
        env={**os.environ, **env},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(output[-3000:])
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    return json.loads(line[7:]), wall, usage.ru_maxrss / 1024


def _one_message_to_reply(files: list[Path], repeat: int = 3) -> tuple[list[float], list[dict]]:
    controller, replies, smtp_connection = _smtp()
    latencies, stages = [], []
    try:
        for _ in range(repeat):
            dovecot = Dovecot().start()
            try:
                home = _home(files[:1])
                _deliver_all(dovecot, files[:1])
                delivered = time.time()
                marks, _, _ = _run(_env(home, dovecot, smtp_connection), "run")
                assert marks["replies"] == 1, marks
                latencies.append(replies.arrivals[-1] - delivered)
                stages.append(marks)
            finally:
                dovecot.cleanup()
    finally:
        controller.stop()
    return latencies, stages


def _through_airflow(files: list[Path]) -> float:
    """One message, then `airflow dags test collect_submissions`: seconds until the reply arrives."""
    controller, replies, smtp_connection = _smtp()
    dovecot = Dovecot().start()
    airflow_home = Path(tempfile.mkdtemp(prefix="bench-airflow-"))
    try:
        home = _home(files[:1])
        env = {
            **_env(home, dovecot, smtp_connection),
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        run_child([str(Path(PYTHON).parent / "airflow"), "db", "migrate"], env)
        _deliver_all(dovecot, files[:1])
        delivered = time.time()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        run_child([str(Path(PYTHON).parent / "airflow"), "dags", "test", "collect_submissions", now], env)
        assert replies.arrivals, "no reply arrived"
        return replies.arrivals[-1] - delivered
    finally:
        dovecot.cleanup()
        controller.stop()


def _national_day(files: list[Path]) -> tuple[list[float], float, dict, float, float]:
    controller, replies, smtp_connection = _smtp()
    pulls, peak = [], 0.0
    try:
        for _ in range(3):
            dovecot = Dovecot().start()
            try:
                _deliver_all(dovecot, files)
                marks, _, rss = _run(_env(_home(files), dovecot, smtp_connection), "pull")
                assert marks["files"] == len(files), marks
                pulls.append(marks["pull"])
                peak = max(peak, rss)
            finally:
                dovecot.cleanup()
        dovecot = Dovecot().start()
        try:
            _deliver_all(dovecot, files)
            marks, wall, rss = _run(_env(_home(files), dovecot, smtp_connection), "run")
            assert marks["replies"] == len(files), marks
        finally:
            dovecot.cleanup()
    finally:
        controller.stop()
    return pulls, peak, marks, wall, rss


def run() -> str:
    landing = Path(tempfile.mkdtemp(prefix="bench-national-"))
    run_child(child(generate_national_day, landing))
    files = sorted(p for p in landing.glob("*/*") if p.is_file())

    latencies, stages = _one_message_to_reply(files)
    airflow_latency = _through_airflow(files)
    pulls, pull_peak, whole, whole_wall, whole_rss = _national_day(files)

    def median(key):
        return statistics.median(s[key] for s in stages)

    worst = COLLECT_EVERY_MINUTES * 60 + max(latencies + [airflow_latency])
    lines = [
        f"Collection every {COLLECT_EVERY_MINUTES} minutes (06:00–20:00 local). Dovecot {Dovecot.version()}, "
        "aiosmtpd, loopback.",
        "",
        "**1. One clerk's message → the reply** (from the message stored in the mailbox to the reply at the SMTP "
        "server)",
        "",
        "| how the run is made | median | runs (s) |",
        "|---|---|---|",
        f"| stages in one fresh process (pull, collect, validate, answer) | {statistics.median(latencies):.1f} s | "
        f"{', '.join(f'{s:.1f}' for s in latencies)} |",
        f"| of which: imports (Airflow, providers, Great Expectations) {median('imports'):.1f} s, pull "
        f"{median('pull'):.2f} s, collect {median('collect'):.2f} s, validate {median('validate'):.1f} s, answer "
        f"{median('answer'):.2f} s | | |",
        f"| `airflow dags test collect_submissions` (each task its own process) | {airflow_latency:.1f} s | 1 run |",
        "",
        f"What the clerk waits: the wait for the next collection (0–{COLLECT_EVERY_MINUTES} min, "
        f"{COLLECT_EVERY_MINUTES / 2:.1f} min on average) plus the run above: **about "
        f"{COLLECT_EVERY_MINUTES / 2 + airflow_latency / 60:.1f} minutes on average, at most "
        f"{worst / 60:.1f} minutes**. A shorter interval shortens the first term only; the run itself is "
        "dominated by process start-up and imports (Airflow, Great Expectations), paid by each task.",
        "",
        f"**2. A national day in one run: {len(files)} messages** (one per district file of the 63 provinces, "
        "demo generator)",
        "",
        "| what | median | runs (s) | peak RSS |",
        "|---|---|---|---|",
        f"| pull only: {len(files)} messages fetched, attachments landed with receipts, messages moved | "
        f"{statistics.median(pulls):.1f} s | {', '.join(f'{s:.1f}' for s in pulls)} | {pull_peak:.0f} MiB |",
        f"| the whole run, one fresh process: imports {whole['imports']:.1f} s, pull {whole['pull']:.1f} s, "
        f"collect {whole['collect']:.1f} s, "
        f"validate {whole['validate']:.1f} s, {whole['replies']} replies {whole['answer']:.1f} s | "
        f"{whole_wall:.1f} s | 1 run | {whole_rss:.0f} MiB |",
        "",
        f"{len(files)} messages fit in one 15-minute collection with room to spare: the pull is "
        f"{statistics.median(pulls) / len(files) * 1000:.0f} ms a message (one FETCH and one MOVE each over one "
        "connection).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
