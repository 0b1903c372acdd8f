"""collect_submissions: pull new files from the inboxes, validate them, write feedback, alert on new F0.

Runs every 15 minutes from 06:00 to the 20:00 deadline (Asia/Ho_Chi_Minh), so
that a district hears about a mistake within minutes, long before the 17:00
cutoff, and a late correction still gets its feedback. The daily DAG makes one
last collection at the cutoff. Runs of this DAG and of `daily_bulletin` may
overlap: every write waits for the warehouse lock, and a file already in the
ledger (same district, same bytes) is never recorded twice.

Logic lives in `bantin.pipeline`; this file only wires tasks (cheap to parse).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from bantin import operations
from bantin.config import load_settings as _load_settings

SETTINGS = _load_settings()  # cheap: environment variables only
LOCAL = pendulum.timezone(str(SETTINGS.timezone))


def _run_id() -> str:
    return get_current_context()["run_id"]


@dag(
    dag_id="collect_submissions",
    schedule=operations.collect_timetable(SETTINGS),  # every 15 min, 06:00–20:00 local
    start_date=pendulum.datetime(2021, 10, 1, tz=LOCAL),
    catchup=False,
    max_active_runs=1,  # two collections at once would race for the same new files
    dagrun_timeout=pendulum.duration(minutes=30),
    default_args=operations.LOCAL_RETRIES,
    tags=["bantin"],
    doc_md=__doc__,
)
def collect_submissions():
    @task(**operations.NETWORK_RETRIES)
    def collect_new_files() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import collect

        return collect(load_settings(), run_id=_run_id())

    @task
    def validate_and_give_feedback(_collected: dict) -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import validate

        return validate(load_settings(), run_id=_run_id())

    @task(retries=3, retry_delay=pendulum.duration(seconds=30))
    def alert_new_f0(_validated: dict) -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import alert_new_f0

        return alert_new_f0(load_settings(), run_id=_run_id())

    alert_new_f0(validate_and_give_feedback(collect_new_files()))


collect_submissions()
