"""daily_bulletin's Deadline Alerts: declared at cutoff + 2h30 and + 3h, and fired through Airflow to a real SMTP
server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bantin import deadlines

HERE = Path(__file__).resolve().parent


def test_intervals_follow_cutoff_and_deadline_settings(settings, monkeypatch):
    assert deadlines.intervals(settings) == {
        "warning": timedelta(hours=2, minutes=30),
        "escalation": timedelta(hours=3),
    }
    monkeypatch.setenv("BANTIN_CUTOFF", "16:00")
    from bantin.config import load_settings

    assert deadlines.intervals(load_settings())["escalation"] == timedelta(hours=4)


def test_only_airflow_dags_test_goes_without_deadlines():
    assert deadlines.under_dags_test(["/x/.venv/bin/airflow", "dags", "test", "daily_bulletin", "2021-10-19"])
    assert not deadlines.under_dags_test(["/x/.venv/bin/airflow", "dag-processor"])
    assert not deadlines.under_dags_test(["/x/.venv/bin/airflow", "scheduler"])
    assert not deadlines.under_dags_test(["pytest", "dags", "test"])


def test_missed_deadlines_fire_the_callback_through_airflow_and_mail_the_operators(
    settings, own_airflow_home, smtp_server
):
    # a run whose cutoff was 3h15 ago: the warning and the escalation have both passed, recently
    logical = (datetime.now(UTC) - timedelta(hours=3, minutes=15)).replace(second=0, microsecond=0)
    local = logical.astimezone(settings.timezone)
    env = {
        **own_airflow_home,
        "AIRFLOW_CONN_SMTP_DEFAULT": os.environ["AIRFLOW_CONN_SMTP_DEFAULT"],
        "BANTIN_HOME": str(settings.home),
        "BANTIN_PROVINCE": "22",
        "BANTIN_CUTOFF": f"{local:%H:%M}",
        "BANTIN_DEADLINE": f"{local + timedelta(hours=3):%H:%M}",
        "BANTIN_ALERT_TO": "truc-ban@soyte.quangninh.example, it@soyte.quangninh.example",
    }
    result = subprocess.run(
        [sys.executable, str(HERE / "fire_deadlines.py"), logical.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    report = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))[7:])

    # the DAG declares both alerts: the report date's cutoff + 2h30 and + 3h, our async callback
    declared = report["declared"]
    assert [(a["name"], a["reference"]["reference_type"], a["interval"]["__data__"]) for a in declared] == [
        ("bulletin-warning", "ReportCutoff", 9000.0),
        ("bulletin-escalation", "ReportCutoff", 10800.0),
    ]
    assert {a["reference"]["__class_path"] for a in declared} == {"bantin.deadlines.ReportCutoff"}
    assert all("bantin.deadlines.bulletin_overdue" in json.dumps(a["callback"]) for a in declared)

    # Airflow computed the deadlines from the run, marked them missed and ran both callbacks
    assert [datetime.fromisoformat(d["deadline_time"]) for d in report["deadlines"]] == [
        logical + timedelta(hours=2, minutes=30),
        logical + timedelta(hours=3),
    ]
    assert all(d["missed"] for d in report["deadlines"])
    assert [c["state"] for c in report["callbacks"]] == ["success", "success"], report["callbacks"]
    day_iso = logical.astimezone(settings.timezone).date().isoformat()
    assert [c["output"] for c in report["callbacks"]] == [f"warning {day_iso}: mailed", f"escalation {day_iso}: mailed"]

    # and the operators got both mails
    subjects = sorted(m["message"]["Subject"] for m in smtp_server.messages)
    day = f"{local:%d/%m/%Y}"
    assert subjects == sorted(
        [
            f"[CẢNH BÁO] Bản tin COVID-19 ngày {day} chưa được gửi lúc {local + timedelta(hours=2, minutes=30):%H:%M}"
            " / bulletin warning: not delivered",
            f"[KHẨN] Bản tin COVID-19 ngày {day} đã quá hạn và chưa được gửi lúc {local + timedelta(hours=3):%H:%M}"
            " / bulletin ESCALATION: not delivered",
        ]
    )
    for mail in smtp_server.messages:
        assert sorted(mail["to"]) == ["it@soyte.quangninh.example", "truc-ban@soyte.quangninh.example"]
        body = mail["body"]
        assert report["run_id"] in body and "Chưa có bản tin nào cho ngày này." in body


def test_a_backfill_deadline_long_past_is_logged_not_mailed(settings, smtp_server, monkeypatch):
    monkeypatch.setenv("BANTIN_ALERT_TO", "truc-ban@soyte.quangninh.example")
    context = {
        "dag_run": {
            "dag_run_id": "backfill__2021-10-19",
            "logical_date": "2021-10-19T10:00:00Z",
            "state": "running",
            "conf": {},
        },
        "deadline": {"id": "x", "deadline_time": "2021-10-19T13:00:00+00:00"},
    }
    assert deadlines.notify("escalation", context)["mailed"] is False
    assert smtp_server.messages == []


def _cutoff(settings, now=datetime(2021, 10, 19, 13, 0, tzinfo=UTC), **run):
    return deadlines.report_cutoff(settings, now=now, **{"logical_date": None, "run_after": None, "conf": None, **run})


def test_the_deadline_counts_from_the_report_dates_cutoff_whatever_started_the_run(settings):
    cutoff = datetime(2021, 10, 19, 17, 0, tzinfo=settings.timezone)
    scheduled = datetime(2021, 10, 19, 10, 0, tzinfo=UTC)  # 17:00 in Hanoi
    assert _cutoff(settings, logical_date=scheduled, run_after=scheduled) == cutoff
    # `airflow dags trigger` at 08:10 local: no logical date, the report date is run_after's local date
    assert _cutoff(settings, run_after=datetime(2021, 10, 19, 1, 10, tzinfo=UTC)) == cutoff
    # a run after midnight UTC but before it in Hanoi belongs to the Hanoi day
    assert _cutoff(settings, run_after=datetime(2021, 10, 18, 18, 0, tzinfo=UTC)) == cutoff
    # the report_date param wins
    assert (
        _cutoff(settings, run_after=datetime(2021, 10, 19, 1, 0, tzinfo=UTC), conf={"report_date": "2021-10-19"})
        == cutoff
    )


def test_a_backfill_or_rerun_of_a_date_long_past_gets_no_deadline(settings):
    assert _cutoff(settings, logical_date=datetime(2021, 10, 1, 10, 0, tzinfo=UTC)) is None
    assert (
        _cutoff(settings, run_after=datetime(2021, 10, 19, 12, 0, tzinfo=UTC), conf={"report_date": "2021-10-12"})
        is None
    )
    # yesterday's bulletin, run at 07:00 this morning: its 20:00 deadline passed 11 h ago, still worth a word
    morning = datetime(2021, 10, 19, 0, 0, tzinfo=UTC)
    assert _cutoff(settings, now=morning, conf={"report_date": "2021-10-18"}, run_after=morning) == datetime(
        2021, 10, 18, 17, 0, tzinfo=settings.timezone
    )


def test_a_deadline_before_the_cutoff_clock_is_the_next_morning(settings, monkeypatch):
    monkeypatch.setenv("BANTIN_CUTOFF", "22:00")
    monkeypatch.setenv("BANTIN_DEADLINE", "01:00")
    from bantin.config import load_settings

    assert deadlines.intervals(load_settings())["escalation"] == timedelta(hours=3)
