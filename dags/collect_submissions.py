"""collect_submissions: pull new files from the inboxes, validate them, write feedback.

Runs every 15 minutes through the reporting day (local time) so that a
district hears about a mistake within minutes, long before the cutoff.
Logic lives in `bantin.pipeline`; this file only wires tasks.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from bantin import operations
from bantin.config import load_settings as _load_settings

SETTINGS = _load_settings()  # cheap: environment variables only
LOCAL = pendulum.timezone(str(SETTINGS.timezone))


@dag(
    dag_id="collect_submissions",
    schedule=operations.collect_timetable(SETTINGS),  # every 15 min, 06:00–20:00 local
    start_date=pendulum.datetime(2021, 10, 1, tz=LOCAL),
    catchup=False,
    max_active_runs=1,  # two collections at once would race for the same new files
    default_args=operations.LOCAL_RETRIES,
    tags=["bantin"],
    doc_md=__doc__,
)
def collect_submissions():
    @task(**operations.NETWORK_RETRIES)
    def collect_new_files() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import collect

        return collect(load_settings(), run_id=get_current_context()["run_id"])

    @task
    def validate_and_give_feedback(_collected: dict) -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import validate

        return validate(load_settings(), run_id=get_current_context()["run_id"])

    validate_and_give_feedback(collect_new_files())


collect_submissions()
