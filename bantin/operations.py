"""How the DAGs run: schedules in local time, retry policies, the run summary.

Cheap to import (no pandas, DuckDB or Great Expectations): the DAG files use
it at parse time. What is scheduled when:

- `collect_submissions` every 15 minutes from 06:00 to 20:00 local time, so a
  district hears about a mistake within minutes of sending it;
- `daily_bulletin` once a day at the cutoff (`BANTIN_CUTOFF`, local time):
  its logical date, read in the province's time zone, is the report date.
"""

from __future__ import annotations

from datetime import timedelta

from bantin.config import Settings

REPORTING_DAY = (6, 20)  # local hours: first and last collection of the day
COLLECT_EVERY_MINUTES = 15

# Local work (DuckDB, templates) fails for reasons a retry rarely fixes: one retry, after the lock frees.
LOCAL_RETRIES = {"retries": 1, "retry_delay": timedelta(minutes=1)}
# Inboxes on a share and the SMTP relay fail for minutes at a time: back off, and stop well before 20:00.
NETWORK_RETRIES = {
    "retries": 4,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}

# The district channels' servers (IMAP, SFTP): a few quick tries, so the collection that waits on them
# (trigger rule all_done: the local inbox is collected whatever they did) is held up by minutes at most.
CHANNEL_RETRIES = {
    "retries": 3,
    "retry_delay": timedelta(seconds=20),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=2),
}
# A reminder or board for a run this much older than the clock is history (a backfill, `dags test`): no mail.
STALE_RUN = timedelta(hours=1)


def collect_crons() -> tuple[str, ...]:
    """Every 15 minutes 06:00–19:45, then 20:00 itself (one cron cannot say "06:00–20:00" inclusive)."""
    first, last = REPORTING_DAY
    return (f"*/{COLLECT_EVERY_MINUTES} {first}-{last - 1} * * *", f"0 {last} * * *")


def bulletin_cron(settings: Settings) -> str:
    """Daily at the cutoff: the run at D 17:00 local has logical date D 17:00, report date D."""
    return f"{settings.cutoff.minute} {settings.cutoff.hour} * * *"


def collect_timetable(settings: Settings):
    """None (triggered runs only) when BANTIN_SCHEDULE=off."""
    from airflow.sdk import MultipleCronTriggerTimetable

    if not settings.scheduled:
        return None
    return MultipleCronTriggerTimetable(*collect_crons(), timezone=str(settings.timezone))


def bulletin_timetable(settings: Settings):
    """None (triggered runs only) when BANTIN_SCHEDULE=off: on demo data, unpausing must not build today."""
    from airflow.sdk import CronTriggerTimetable

    if not settings.scheduled:
        return None
    return CronTriggerTimetable(bulletin_cron(settings), timezone=str(settings.timezone))


# The stages of a daily run, in order. Each name is at once the Airflow task id (both DAGs), the `stage`
# of its rows in ops.pipeline_run (bantin.store.stage) and its key in the run summary.
STAGES = (
    "collect",
    "validate",
    "alert_new_f0",
    "build_marts",
    "publish_snapshot",
    "director_signoff",
    "render_bulletin",
    "deliver_bulletin",
)


def summary_line(stage: str, stats: dict) -> str:
    """One log line per stage: what it read, accepted, rejected, produced, and how long it took."""
    fields = ", ".join(f"{k}={v}" for k, v in stats.items() if k != "seconds")
    took = f"({stats.get('seconds', 0):.1f} s)"
    return f"{stage}: {fields} {took}" if fields else f"{stage} {took}"


def run_summary(stages: dict[str, dict]) -> str:
    """The whole run in a few lines, stage by stage (the summary task's log and XCom)."""
    total = sum(float(s.get("seconds", 0)) for s in stages.values())
    lines = [summary_line(stage, stats or {}) for stage, stats in stages.items()]
    return "\n".join([*lines, f"total: {total:.1f} s in {len(stages)} stages"])
