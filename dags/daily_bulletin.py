"""daily_bulletin: one run per report date, at the cutoff; ends with the bulletin delivered.

    airflow dags test daily_bulletin 2021-10-19

builds the bulletin for 19/10/2021 from the files in the inboxes now. The report
date is the `report_date` param, else the logical date read in Asia/Ho_Chi_Minh,
else (a run triggered from the CLI or REST API has no logical date) its run_after:

    airflow dags trigger daily_bulletin --conf '{"report_date": "2021-10-19"}'

The analysts' snapshot is published as soon as the marts are built: delivery
(SMTP) has its own fate and never holds analysts on yesterday's data.
Logic lives in `bantin.pipeline`; this file only wires tasks (cheap to parse).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, chain, dag, get_current_context, task

from bantin import operations
from bantin.config import load_settings as _load_settings
from bantin.deadlines import bulletin_deadlines
from bantin.signoff_operator import DirectorSignoff

SETTINGS = _load_settings()  # cheap: environment variables only
LOCAL = pendulum.timezone(str(SETTINGS.timezone))


def _report_date() -> str:
    from bantin.config import load_settings
    from bantin.pipeline import report_date_of_run

    return report_date_of_run(get_current_context(), load_settings()).isoformat()


def _run_id() -> str:
    return get_current_context()["run_id"]


@dag(
    dag_id="daily_bulletin",
    schedule=operations.bulletin_timetable(SETTINGS),  # the cutoff, local time (None: BANTIN_SCHEDULE=off)
    start_date=pendulum.datetime(2021, 10, 1, tz=LOCAL),
    catchup=False,
    max_active_runs=1,  # runs share the one warehouse writer and the bulletin versions of their dates
    params={
        "report_date": Param(
            None, type=["null", "string"], format="date", description="Override the report date (YYYY-MM-DD)"
        ),
        # the Director's sign-off (bantin/signoff_operator.py): wait, or skip (provisional bulletin)
        "signoff": Param(
            None,
            type=["null", "string"],
            enum=[None, "wait", "skip"],
            description="wait for the Director or skip (default: BANTIN_SIGNOFF)",
        ),
        "signoff_wait_minutes": Param(
            None, type=["null", "number"], description="wait this long instead of until BANTIN_SIGNOFF_BY"
        ),
    },
    default_args=operations.LOCAL_RETRIES,
    deadline=bulletin_deadlines(),  # 19:30 warning, 20:00 escalation of the report date (bantin/deadlines.py)
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
    def collect() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import collect

        return collect(load_settings(), run_id=_run_id())

    @task
    def validate() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import validate

        return validate(load_settings(), run_id=_run_id())

    @task(retries=3, retry_delay=pendulum.duration(seconds=30))
    def alert_new_f0() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import alert_new_f0

        return alert_new_f0(load_settings(), run_id=_run_id())

    @task
    def build_marts() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import build_marts

        return build_marts(load_settings(), pendulum.parse(_report_date()).date(), run_id=_run_id())

    @task
    def publish_snapshot() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import publish

        return publish(load_settings(), run_id=_run_id())

    @task
    def render_bulletin() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import render

        return render(load_settings(), pendulum.parse(_report_date()).date(), run_id=_run_id())

    @task(**operations.NETWORK_RETRIES)
    def deliver_bulletin(rendered: dict) -> dict:  # the paths render_bulletin wrote
        from bantin.config import load_settings
        from bantin.pipeline import deliver

        return deliver(load_settings(), pendulum.parse(_report_date()).date(), rendered, run_id=_run_id())

    @task
    def summarize_run(
        collect: dict,
        validate: dict,
        alert_new_f0: dict,
        build_marts: dict,
        publish_snapshot: dict,
        director_signoff: dict,
        render_bulletin: dict,
        deliver_bulletin: dict,
    ) -> dict:
        """The run at a glance: each stage by name under "Rendered Templates" in the UI, its log in lines."""
        import logging

        stages = dict(
            zip(
                operations.STAGES,
                (
                    collect,
                    validate,
                    alert_new_f0,
                    build_marts,
                    publish_snapshot,
                    director_signoff,
                    render_bulletin,
                    deliver_bulletin,
                ),
                strict=True,
            )
        )
        logging.getLogger("bantin").info("run %s\n%s", _run_id(), operations.run_summary(stages))
        return stages

    # One name per stage: the task id, ops.pipeline_run's `stage`, the summary's key (operations.STAGES).
    pulled = [pull_mailbox(), pull_sftp()]
    collected, validated, alerted = collect(), validate(), alert_new_f0()
    built, published = build_marts(), publish_snapshot()
    signoff = DirectorSignoff(task_id="director_signoff")  # waits for the Director, or not (see module)
    rendered = render_bulletin()
    delivered = deliver_bulletin(rendered)
    chain(pulled, collected, validated, built, signoff, rendered)
    validated >> alerted  # the last collection's new F0 must not wait for the bulletin
    built >> [published, rendered]  # analysts get today's marts whatever happens to the mail
    summarize_run(
        collect=collected,
        validate=validated,
        alert_new_f0=alerted,
        build_marts=built,
        publish_snapshot=published,
        director_signoff=signoff.output,
        render_bulletin=rendered,
        deliver_bulletin=delivered,
    )


daily_bulletin()
