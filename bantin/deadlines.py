"""Deadline Alerts of `daily_bulletin`: a warning at 19:30, an escalation at 20:00 if the run has not finished.

Airflow's own mechanism (Deadline Alerts, Airflow ≥ 3.1): the scheduler creates a
deadline row per run when the run is created, and when a deadline passes while
the run is unfinished it queues our callback on the triggerer. The reference is
`ReportCutoff`: the cutoff (17:00 local) of the run's report date — the
`report_date` param, else the logical date, else (a run triggered from the CLI
or the REST API has none) its `run_after`, read in local time. A scheduler
that starts the run late does not push the deadline back, as DAGRUN_QUEUED_AT
would, and a manual run has its alerts too (DAGRUN_LOGICAL_DATE gives it none).
A run for a date whose deadline passed more than STALE_AFTER ago (a backfill, a
rerun of an old date) gets no deadline at all: no red "Missed" an operator
learns to ignore. Airflow finds the reference class through bantin's plugin
(`bantin.airflow_plugin`, an `airflow.plugins` entry point).

Both intervals come from the settings (`BANTIN_CUTOFF`, `BANTIN_DEADLINE`):
warning = deadline − 30 min − cutoff (2 h 30), escalation = deadline − cutoff
(3 h). The run succeeds only after delivery, so "run not finished" is
"bulletin not delivered".

`airflow dags test` crashes after a successful run of a DAG with deadlines
(apache/airflow#73428: DAG.test() leaves encoded alerts in `dag.deadline`, and
DagRun.update_state() looks them up as ids). A test run has no scheduler to
fire deadlines anyway, so under `airflow dags test` the DAG declares none.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from airflow.sdk import BaseDeadlineReference

log = logging.getLogger(__name__)

WARNING_LEAD = timedelta(minutes=30)  # the warning comes this long before the deadline
STALE_AFTER = timedelta(hours=12)  # a deadline this old belongs to a backfill: log, do not page anyone

STAGES = {
    "warning": ("CẢNH BÁO", "warning", "chưa được gửi"),
    "escalation": ("KHẨN", "ESCALATION", "đã quá hạn và chưa được gửi"),
}


def intervals(settings) -> dict[str, timedelta]:
    """How long after the cutoff (the run's logical date) each alert fires."""
    today = date(2000, 1, 1)
    due = datetime.combine(today, settings.deadline) - datetime.combine(today, settings.cutoff)
    if due <= timedelta(0):  # a deadline at or before the cutoff's clock time is the next morning's
        due += timedelta(days=1)
    return {"warning": due - WARNING_LEAD, "escalation": due}


def under_dags_test(argv: list[str] | None = None) -> bool:
    args = sys.argv if argv is None else argv
    return Path(args[0]).name == "airflow" and args[1:3] == ["dags", "test"]


def bulletin_deadlines():
    """The DAG's `deadline=`: [warning, escalation], or [] under `airflow dags test` (see module doc)."""
    if under_dags_test():
        log.info("airflow dags test: deadline alerts left out (apache/airflow#73428)")
        return []
    from airflow.sdk import AsyncCallback, DeadlineAlert

    from bantin.config import load_settings

    return [
        DeadlineAlert(
            reference=ReportCutoff(),
            interval=interval,
            callback=AsyncCallback(bulletin_overdue, kwargs={"stage": stage}),
            name=f"bulletin-{stage}",
        )
        for stage, interval in intervals(load_settings()).items()
    ]


def report_cutoff(
    settings, *, logical_date: datetime | None, run_after: datetime | None, conf: dict | None, now: datetime
) -> datetime | None:
    """The cutoff a run's deadlines count from, or None when its report date's deadline is long past."""
    from bantin.pipeline import cutoff_of, report_date_for

    moment = logical_date or run_after
    if moment is None:
        return None
    cutoff = cutoff_of(report_date_for(moment, settings, (conf or {}).get("report_date")), settings)
    if now - (cutoff + intervals(settings)["escalation"]) > STALE_AFTER:
        return None  # a backfill or a rerun of an old date: nobody can make that deadline any more
    return cutoff


class ReportCutoff(BaseDeadlineReference):
    """Deadline reference: the cutoff of the run's report date (see module doc); evaluated by the scheduler."""

    required_kwargs = {"dag_id", "run_id"}

    def _evaluate_with(self, *, session, dag_id: str, run_id: str, **_) -> datetime | None:
        from airflow.models import DagRun
        from sqlalchemy import select

        from bantin.config import load_settings

        row = session.execute(
            select(DagRun.logical_date, DagRun.run_after, DagRun.conf).where(
                DagRun.dag_id == dag_id, DagRun.run_id == run_id
            )
        ).one_or_none()
        if row is None:
            log.warning("deadline of %s/%s: run not found", dag_id, run_id)
            return None
        cutoff = report_cutoff(
            load_settings(),
            logical_date=row.logical_date,
            run_after=row.run_after,
            conf=row.conf,
            now=datetime.now(UTC),
        )
        if cutoff is None:
            log.info("run %s is for a date whose deadline is long past: no deadline alerts", run_id)
        return cutoff


async def bulletin_overdue(stage: str, context: dict | None = None, **_) -> str:
    """The callback Airflow's triggerer runs when a deadline passes; mail and log off the event loop.

    Returns one line: Airflow stores it as the callback's output (a string column).
    """
    outcome = await asyncio.to_thread(notify, stage, context or {})
    return f"{outcome['stage']} {outcome['report_date']}: {'mailed' if outcome['mailed'] else 'logged only'}"


def notify(stage: str, context: dict) -> dict:
    """Tell the operators (`BANTIN_ALERT_TO`) that the bulletin is not out, and log it."""
    from bantin import delivery
    from bantin.config import load_settings
    from bantin.pipeline import report_date_for

    settings = load_settings()
    run = context.get("dag_run") or {}
    run_id = run.get("dag_run_id") or run.get("run_id")  # Airflow passes the REST API's DAGRunResponse
    missed_at = _moment(context.get("deadline", {}).get("deadline_time"))
    logical = _moment(run.get("logical_date")) or _moment(run.get("run_after")) or missed_at
    report_date = report_date_for(logical, settings, (run.get("conf") or {}).get("report_date"))
    tag, label, what = STAGES[stage]
    local_deadline = missed_at.astimezone(settings.timezone) if missed_at else None
    subject = (
        f"[{tag}] Bản tin COVID-19 ngày {report_date:%d/%m/%Y} {what} lúc "
        f"{local_deadline:%H:%M} / bulletin {label}: not delivered"
    )
    body = _body(settings, report_date, run_id, run.get("state"), local_deadline, what)
    log.warning("%s — run %s, state %s", subject, run_id, run.get("state"))
    if missed_at and datetime.now(missed_at.tzinfo) - missed_at > STALE_AFTER:
        log.warning(
            "deadline of %s passed more than %s ago (a backfill or catch-up): not mailed", report_date, STALE_AFTER
        )
        return {"stage": stage, "report_date": report_date.isoformat(), "mailed": False}
    mailed = delivery.alert(settings, subject, body)
    return {"stage": stage, "report_date": report_date.isoformat(), "mailed": mailed}


def _body(
    settings, report_date: date, run_id: str | None, state: str | None, deadline: datetime | None, what: str
) -> str:
    folder = settings.bulletins / report_date.isoformat()
    latest = folder / "latest"
    version = latest.resolve().name if latest.exists() else None
    sent = version and (settings.outbox / report_date.isoformat() / f"{version}.sent.json").exists()
    produced = (
        f"Đã có bản tin {version} ({latest.resolve()}), {'đã' if sent else 'CHƯA'} gửi thư."
        if version
        else "Chưa có bản tin nào cho ngày này."
    )
    return "\n".join(
        [
            f"Bản tin COVID-19 ngày {report_date:%d/%m/%Y} {what} lúc {deadline:%H:%M %d/%m/%Y}."
            if deadline
            else f"Bản tin COVID-19 ngày {report_date:%d/%m/%Y} {what}.",
            produced,
            f"Lượt chạy Airflow: daily_bulletin / {run_id} (trạng thái: {state}).",
            "Việc cần làm: xem nhật ký tác vụ trong Airflow; nếu máy chủ thư lỗi, chuyển tiếp tệp trong "
            f"{settings.outbox / report_date.isoformat()} bằng tay.",
            "",
            f"The bulletin for {report_date:%Y-%m-%d} is not delivered; run {run_id} is "
            f"{state}. Check the task logs in Airflow; the outbox holds any rendered version.",
        ]
    )


def _moment(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
