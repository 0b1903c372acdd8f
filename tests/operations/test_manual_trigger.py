"""Runs an operator starts by hand, through a real scheduler (tests/operations/local_stack.py: PostgreSQL,
Redis, api-server, scheduler, dag-processor, triggerer, Celery worker).

- `airflow dags trigger daily_bulletin --conf '{"report_date": "2021-10-19"}'`: a run with no logical
  date (Airflow 3's default for the CLI and REST API) builds and mails that date's bulletin.
- `airflow dags trigger daily_bulletin` with no conf at all: the report date is run_after's local date
  (today, after the demo data: the marts gain that one day). Its deadline is set a few minutes ahead
  (BANTIN_CUTOFF/BANTIN_DEADLINE), a task is held back on the warehouse lock, and the warning
  callback fires on the triggerer and mails the operators; released, the run finishes and delivers.

Slow (minutes): `make test-distributed`.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import date, datetime, timedelta

import pytest

from .local_stack import LocalStack
from conftest import Inbox, smtp_connection

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.skipif(
        not os.environ.get("BANTIN_TEST_DISTRIBUTED"), reason="distributed stack test: run with `make test-distributed`"
    ),
]

TIMEZONE = "Asia/Ho_Chi_Minh"
DEMO_DAY = date(2021, 10, 19)
OPERATORS = "truc-ban@soyte.quangninh.example"
DIRECTOR = "bcd@quangninh.example"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def mail():
    from aiosmtpd.controller import Controller

    port = _free_port()
    inbox = Inbox(port)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture(scope="module")
def stack(mail, tmp_path_factory):
    from zoneinfo import ZoneInfo

    from bantin import demo_data

    home = tmp_path_factory.mktemp("manual") / "var"
    demo_data.generate(22, DEMO_DAY - timedelta(days=1), DEMO_DAY, home / "landing")
    # the cutoff a few minutes from now, the deadline 31 minutes after it: the 30-minute warning is
    # due one minute after the cutoff (the stack starts and the first run runs meanwhile)
    cutoff = (datetime.now(ZoneInfo(TIMEZONE)) + timedelta(minutes=5)).replace(second=0, microsecond=0)
    env = {
        "BANTIN_PROVINCE": "22",
        "BANTIN_TIMEZONE": TIMEZONE,
        "BANTIN_MAIL_TO": DIRECTOR,
        "BANTIN_ALERT_TO": OPERATORS,
        "BANTIN_CUTOFF": f"{cutoff:%H:%M}",
        "BANTIN_DEADLINE": f"{cutoff + timedelta(minutes=31):%H:%M}",
        "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(mail.port),
    }
    with LocalStack(home, keep_logs=tmp_path_factory.mktemp("manual-logs"), env=env) as running:
        running.bantin_home, running.cutoff = home, cutoff
        running.wait_for_dag("daily_bulletin")
        running.airflow("dags", "unpause", "daily_bulletin")
        yield running


def _trigger(stack, *conf: str) -> str:
    """`airflow dags trigger` as an operator types it; returns the new run's id (read back from the DB)."""
    before = {r for (r,) in stack.query("SELECT run_id FROM dag_run WHERE dag_id = 'daily_bulletin'")}
    stack.airflow("dags", "trigger", "daily_bulletin", *conf)
    (run_id,) = {r for (r,) in stack.query("SELECT run_id FROM dag_run WHERE dag_id = 'daily_bulletin'")} - before
    return run_id


def _states(stack, run_id: str) -> dict[str, str]:
    return dict(
        stack.query(
            "SELECT task_id, state FROM task_instance WHERE dag_id = 'daily_bulletin' AND run_id = %s", (run_id,)
        )
    )


def _wait_for_mail(mail, predicate, timeout: float, stack) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        found = [m for m in mail.messages if predicate(m)]
        if found:
            return found[0]
        time.sleep(2)
    raise TimeoutError(
        f"no such mail in {timeout}s: {[m['message']['Subject'] for m in mail.messages]}\n"
        f"{stack.logs('triggerer')}\n{stack.logs('scheduler')}"
    )


def test_a_cli_run_with_only_report_date_builds_and_mails_that_dates_bulletin(stack, mail):
    run_id = _trigger(stack, "--conf", json.dumps({"report_date": DEMO_DAY.isoformat()}))
    (logical_date,) = stack.query("SELECT logical_date FROM dag_run WHERE run_id = %s", (run_id,))[0]
    assert logical_date is None  # what the CLI and the REST API create in Airflow 3
    runs = stack.wait_for_runs("daily_bulletin", 1, timeout=900, run_id=run_id)
    assert [r[2] for r in runs] == ["success"], f"{_states(stack, run_id)}\n{stack.task_logs('daily_bulletin', run_id)}"

    # the run summary, by stage name under "Rendered Templates" in the UI
    (rendered,) = stack.query(
        "SELECT rendered_fields::text FROM rendered_task_instance_fields "
        "WHERE task_id = 'summarize_run' AND run_id = %s",
        (run_id,),
    )[0]
    for stage in (
        "collect",
        "validate",
        "alert_new_f0",
        "build_marts",
        "publish_snapshot",
        "render_bulletin",
        "deliver_bulletin",
    ):
        assert f'"{stage}": {{' in rendered, rendered

    bulletin = _wait_for_mail(mail, lambda m: DIRECTOR in m["to"], 60, stack)
    assert f"ngày {DEMO_DAY:%d/%m/%Y}" in bulletin["message"]["Subject"]
    assert (stack.bantin_home / "outbox" / DEMO_DAY.isoformat() / "v1.sent.json").exists()
    # a date long past: no deadline rows, so nothing shows a red "Missed" for it
    assert stack.query(
        "SELECT count(*) FROM deadline AS d JOIN dag_run AS r ON r.id = d.dagrun_id WHERE r.run_id = %s", (run_id,)
    ) == [(0,)]


def test_a_run_held_past_its_deadline_warns_the_operators_then_delivers(stack, mail):
    """No conf at all: report date = run_after's local date; the warning fires while a task is held back."""
    from zoneinfo import ZoneInfo

    from bantin import store

    # the run's warehouse stages wait behind the writer's lock, held here: the run is held back
    with store.exclusive_lock(stack.bantin_home / "warehouse" / "bantin.lock", timeout=60):
        run_id = _trigger(stack)
        today = datetime.now(ZoneInfo(TIMEZONE)).date()
        (deadline_times,) = zip(
            *stack.query(
                "SELECT d.deadline_time FROM deadline AS d JOIN dag_run AS r ON r.id = d.dagrun_id "
                "WHERE r.run_id = %s ORDER BY 1",
                (run_id,),
            ),
            strict=True,
        )
        assert [t - stack.cutoff for t in deadline_times] == [timedelta(minutes=1), timedelta(minutes=31)]

        warning = _wait_for_mail(mail, lambda m: "[CẢNH BÁO]" in m["message"]["Subject"], 900, stack)
        assert warning["to"] == [OPERATORS]
        assert (
            f"ngày {today:%d/%m/%Y} chưa được gửi lúc {stack.cutoff + timedelta(minutes=1):%H:%M}"
            in (warning["message"]["Subject"])
        )
        assert run_id in warning["body"]
        assert stack.query("SELECT state FROM dag_run WHERE run_id = %s", (run_id,)) == [("running",)]

    runs = stack.wait_for_runs("daily_bulletin", 1, timeout=900, run_id=run_id)
    assert [r[2] for r in runs] == ["success"], f"{_states(stack, run_id)}\n{stack.task_logs('daily_bulletin', run_id)}"
    bulletin = _wait_for_mail(
        mail, lambda m: DIRECTOR in m["to"] and f"ngày {today:%d/%m/%Y}" in m["message"]["Subject"], 60, stack
    )
    assert bulletin["message"]["Subject"].startswith("Bản tin COVID-19")
    assert not [m for m in mail.messages if "[KHẨN]" in m["message"]["Subject"]]  # no escalation: delivered in time

    # the marts gained today, not the years between the demo data and today
    from bantin import store

    with store.reader(stack.bantin_home / "warehouse" / "bantin.duckdb") as con:
        days = [
            d for (d,) in con.execute("SELECT DISTINCT report_date FROM marts.province_daily ORDER BY 1").fetchall()
        ]
    assert days == [DEMO_DAY - timedelta(days=1), DEMO_DAY, today]
