"""Shared fixtures: an isolated data root, demo inboxes, an Airflow home with SQLite.

Everything runs on real parts: real files, a real DuckDB file, real Airflow.
Expensive things (demo files, the Airflow metadata DB) are made once per
session and copied into each test's own temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_PROVINCE = 22
DEMO_START, DEMO_END = date(2021, 10, 1), date(2021, 10, 19)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings pointing at an empty data root of this test's own (BANTIN_HOME)."""
    from bantin.config import load_settings

    monkeypatch.setenv("BANTIN_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("BANTIN_PROVINCE", str(DEMO_PROVINCE))
    for name in ("BANTIN_MAIL_TO", "BANTIN_ALERT_TO", "BANTIN_CUTOFF", "BANTIN_DEADLINE"):
        monkeypatch.delenv(name, raising=False)
    return load_settings()


@pytest.fixture(scope="session")
def demo_landing_template(tmp_path_factory) -> Path:
    """Quảng Ninh demo inboxes for 01–19/10/2021, generated once per session (read-only template)."""
    from bantin import demo_data

    landing = tmp_path_factory.mktemp("demo") / "landing"
    demo_data.generate(DEMO_PROVINCE, DEMO_START, DEMO_END, landing)
    return landing


@pytest.fixture(scope="module")
def parsed_dags(tmp_path_factory) -> dict:
    """The project's DAG objects as Airflow parses them (a DagBag in a throwaway Airflow home); no import errors."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
        patch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def receive(settings, path: Path, moment, *, replace: bool = False) -> Path:
    """Record `moment` (a datetime, local time if naive, or a POSIX time) as the receipt time of an inbox file.

    What a channel does (channel "demo"): the pipeline never reads a receipt time from the file's mtime.
    The same bytes received again keep their first receipt, unless `replace` (a test's own new time).
    """
    from datetime import datetime

    from bantin import intake

    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=settings.timezone)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=settings.timezone)
    os.utime(path, (moment.timestamp(), moment.timestamp()))
    sha = intake.sha256_of(path)
    if replace:
        intake.receipt_path(settings.receipts, int(path.parent.name), sha).unlink(missing_ok=True)
    intake.write_receipt(settings.receipts, int(path.parent.name), sha, moment, "demo", path.name)
    return path


def copy_receipts(template_landing: Path, target_landing: Path) -> None:
    """The demo's receipt register (beside its inboxes) goes with the files: their receipt times."""
    source = template_landing.parent / "receipts"
    if source.is_dir():
        shutil.copytree(source, target_landing.parent / "receipts", dirs_exist_ok=True)


def copy_landing(template: Path, target: Path, *, until: date | None = None) -> None:
    """Copy demo inbox files (keeping their receipt times), optionally only report dates up to `until`."""
    copy_receipts(template, target)
    for path in template.rglob("*"):
        if not path.is_file():
            continue
        if until is not None:
            parsed_date = _report_date_of(path)
            if parsed_date is not None and parsed_date > until:
                continue
        destination = target / path.relative_to(template)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


def _report_date_of(path: Path) -> date | None:
    from bantin import intake

    parsed = intake.read_submission(path, int(path.parent.name), max_bytes=10**8)
    return parsed.report_date


@pytest.fixture
def demo_settings(settings, demo_landing_template):
    """Settings whose inboxes hold the Quảng Ninh demo files of 01–19/10/2021."""
    copy_landing(demo_landing_template, settings.landing)
    return settings


@pytest.fixture(scope="session")
def migrated_airflow_home(tmp_path_factory) -> Path:
    """A pristine Airflow home with a migrated SQLite DB (read-only template: copy it with `airflow_home_at`)."""
    home = tmp_path_factory.mktemp("airflow_template")
    result = subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=_airflow_env(home), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home


def _airflow_env(home: Path) -> dict:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
    }


def airflow_home_at(template: Path, home: Path) -> dict:
    """A copy of the template Airflow home at `home`; returns the environment to run Airflow with."""
    shutil.copytree(template, home)
    config = home / "airflow.cfg"  # written with absolute paths (the database's among them)
    config.write_text(config.read_text(encoding="utf-8").replace(str(template), str(home)), encoding="utf-8")
    return _airflow_env(home)


@pytest.fixture(scope="session")
def airflow_home(migrated_airflow_home, tmp_path_factory) -> dict:
    """The session's shared Airflow home (SQLite); returns the environment to run Airflow with."""
    return airflow_home_at(migrated_airflow_home, tmp_path_factory.mktemp("airflow") / "home")


@pytest.fixture
def own_airflow_home(migrated_airflow_home, tmp_path) -> dict:
    """A fresh Airflow home for one test, when what other tests stored would matter.

    (Airflow skips re-serializing a DAG written less than 30 s ago: a DAG stored by an earlier test's
    `airflow dags test`, which leaves the deadlines out, would still be the one read.)
    """
    return airflow_home_at(migrated_airflow_home, tmp_path / "airflow_home")


def run_airflow(env: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real `airflow` CLI; the completed process carries its full output."""
    return subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=timeout)


def assert_dag_run_succeeded(result: subprocess.CompletedProcess) -> None:
    """`airflow dags test` exited cleanly and its DagRun finished in success (every task succeeded)."""
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "state=success" in output.split("DagRun Finished")[-1][:2000], output[-5000:]


def warehouse_rows(settings, sql: str, params=()) -> list[tuple]:
    """The rows of a query on the pipeline's warehouse (read-only)."""
    from bantin import store

    with store.reader(settings.warehouse_path) as con:
        return con.execute(sql, list(params)).fetchall()


# --------------------------------------------------------------------------- a real SMTP server


def body_text(message) -> str:
    """A received mail's text as a reader sees it (the HTML part's text for an HTML-only mail)."""
    import html
    import re

    part = message.get_body(("plain", "html"))
    text = part.get_content()
    return html.unescape(re.sub(r"<[^>]+>", "", text)) if part.get_content_type() == "text/html" else text


class Inbox:
    """aiosmtpd handler: keeps every message as {to, from, message, body}; can refuse the first N with a 451.

    `on_data`, when set, is called as each message arrives (to look at the sender's side meanwhile).
    """

    def __init__(self, port: int):
        self.port = port
        self.messages, self.refuse_next, self.refused = [], 0, 0
        self.on_data = None

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        if self.on_data is not None:
            self.on_data()
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self.refused += 1
            return "451 4.3.0 Hệ thống bận / try again later"
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(
            {"to": list(envelope.rcpt_tos), "from": envelope.mail_from, "message": message, "body": body_text(message)}
        )
        return "250 2.0.0 OK"


def smtp_connection(port: int) -> str:
    """Airflow's SMTP connection to the test server, in the JSON form of AIRFLOW_CONN_SMTP_DEFAULT."""
    import json

    return json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {
                "from_email": "bantin@soyte.quangninh.example",
                "disable_tls": True,
                "disable_ssl": True,
                "timeout": 10,
                "retry_limit": 0,
            },
        }
    )


@pytest.fixture
def smtp_server(monkeypatch):
    """A real SMTP server (aiosmtpd) on 127.0.0.1; AIRFLOW_CONN_SMTP_DEFAULT points Airflow at it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # a free port (aiosmtpd's start-up check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox(port)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection(port))
    try:
        yield inbox
    finally:
        controller.stop()
