"""daily_bulletin: one run per report date, at the cutoff; ends with the bulletin delivered.

    airflow dags test daily_bulletin 2021-10-19

builds the bulletin for 19/10/2021 from the files in the inboxes now. The report
date is the logical date read in Asia/Ho_Chi_Minh, or the `report_date` param.
Logic lives in `bantin.pipeline`; this file only wires tasks (cheap to parse).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from bantin import operations
from bantin.config import load_settings as _load_settings
from bantin.deadlines import bulletin_deadlines

SETTINGS = _load_settings()  # cheap: environment variables only
LOCAL = pendulum.timezone(str(SETTINGS.timezone))


def _report_date() -> str:
    from bantin.config import load_settings
    from bantin.pipeline import report_date_for

    context = get_current_context()
    override = context["params"].get("report_date")
    return report_date_for(context["logical_date"], load_settings(), override).isoformat()


def _run_id() -> str:
    return get_current_context()["run_id"]


@dag(
    dag_id="daily_bulletin",
    schedule=operations.bulletin_timetable(SETTINGS),  # the cutoff, local time: one run per report date
    start_date=pendulum.datetime(2021, 10, 1, tz=LOCAL),
    catchup=False,
    max_active_runs=1,  # runs share the one warehouse writer and the bulletin versions of their dates
    params={"report_date": Param(None, type=["null", "string"], format="date",
                                 description="Override the report date (YYYY-MM-DD)")},
    default_args=operations.LOCAL_RETRIES,
    deadline=bulletin_deadlines(),  # 19:30 warning, 20:00 escalation (bantin/deadlines.py)
    tags=["bantin"],
    doc_md=__doc__,
)
def daily_bulletin():
    # The last collection at the cutoff pulls the district channels first, as collect_submissions does
    # (a file e-mailed at 16:58 belongs in this bulletin); a channel down never stops the local inbox.
    @task(**operations.CHANNEL_RETRIES)
    def pull_mailbox() -> dict:
        from bantin.channels.mailbox import pull_mailbox
        from bantin.config import load_settings

        return pull_mailbox(load_settings())

    @task(**operations.CHANNEL_RETRIES)
    def pull_sftp() -> dict:
        from bantin.channels.sftp_inbox import pull_sftp
        from bantin.config import load_settings

        return pull_sftp(load_settings())

    @task(trigger_rule="all_done", **operations.NETWORK_RETRIES)
    def collect_submissions() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import collect

        return collect(load_settings(), run_id=_run_id())

    @task
    def validate_submissions(_collected: dict) -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import validate

        return validate(load_settings(), run_id=_run_id())

    @task(retries=3, retry_delay=pendulum.duration(seconds=30))
    def alert_new_f0(_validated: dict) -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import alert_new_f0

        return alert_new_f0(load_settings(), run_id=_run_id())

    @task
    def build_marts(_validated: dict) -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import build_marts

        return build_marts(load_settings(), pendulum.parse(_report_date()).date(), run_id=_run_id())

    @task
    def render_bulletin(_built: dict) -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import render

        return render(load_settings(), pendulum.parse(_report_date()).date(), run_id=_run_id())

    @task(**operations.NETWORK_RETRIES)
    def deliver_bulletin(rendered: dict) -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import deliver

        return deliver(load_settings(), pendulum.parse(_report_date()).date(), rendered, run_id=_run_id())

    @task
    def publish_snapshot(_delivered: dict) -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import publish

        return publish(load_settings(), run_id=_run_id())

    @task
    def summarize_run(collected: dict, validated: dict, alerted: dict, built: dict, rendered: dict,
                      delivered: dict, published: dict) -> dict:
        """The run at a glance: its arguments show under "Rendered Templates" in the UI, its log in lines."""
        import logging

        stages = {"collect": collected, "validate": validated, "alert_new_f0": alerted, "build_marts": built,
                  "render": rendered,
                  "deliver": delivered, "publish": published}
        logging.getLogger("bantin").info("run %s\n%s", _run_id(), operations.run_summary(stages))
        return stages

    pulled = [pull_mailbox(), pull_sftp()]
    collected = collect_submissions()
    pulled >> collected
    validated = validate_submissions(collected)
    alerted = alert_new_f0(validated)  # the last collection's new F0 must not wait for the bulletin
    built = build_marts(validated)
    rendered = render_bulletin(built)
    delivered = deliver_bulletin(rendered)
    published = publish_snapshot(delivered)
    summarize_run(collected, validated, alerted, built, rendered, delivered, published)


daily_bulletin()
