"""collect_submissions: pull the districts' files from the mailbox and the SFTP server, collect the inboxes,
validate, answer each sender, update the reporting board and send the reminders, alert on new F0.

Runs every 15 minutes from 06:00 to the 20:00 deadline (Asia/Ho_Chi_Minh), so
that a district hears about a mistake within minutes, long before the 17:00
cutoff, and a late correction still gets its feedback. The daily DAG makes one
last collection at the cutoff. Runs of this DAG and of `daily_bulletin` may
overlap: every write waits for the warehouse lock, and a file already in the
ledger (same district, same bytes) is never recorded twice.

The channels (`BANTIN_IMAP_CONN_ID`, `BANTIN_SFTP_CONN_ID`; empty = off) are
pulled first; a mail or SFTP server that is down fails its own task after a few
retries, and the local inbox is collected all the same (trigger rule all_done).

Logic lives in `bantin.pipeline`, `bantin.channels`, `bantin.replies` and
`bantin.reporting`; this file only wires tasks (cheap to parse).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import chain, dag, get_current_context, task

from bantin import operations
from bantin.config import load_settings as _load_settings

SETTINGS = _load_settings()  # cheap: environment variables only
LOCAL = pendulum.timezone(str(SETTINGS.timezone))


def _run_id() -> str:
    return get_current_context()["run_id"]


def _run_time():
    """The moment this run stands for: its logical date (the 15-minute tick), or when it was triggered."""
    context = get_current_context()
    return context.get("logical_date") or context["dag_run"].run_after


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

    @task(trigger_rule="all_done", **operations.NETWORK_RETRIES)  # the local inbox, whatever the channels did
    def collect() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import collect

        return collect(load_settings(), run_id=_run_id())

    @task
    def validate() -> dict:  # GX, verdicts and the clerks' feedback reports
        from bantin.config import load_settings
        from bantin.pipeline import validate

        return validate(load_settings(), run_id=_run_id())

    @task(**operations.CHANNEL_RETRIES)
    def answer_senders() -> dict:
        from bantin.config import load_settings
        from bantin.replies import answer_senders

        return answer_senders(load_settings())

    @task(**operations.CHANNEL_RETRIES)
    def update_board_and_remind() -> dict:
        from bantin.config import load_settings
        from bantin.reporting import after_collection

        now = _run_time()
        fresh = pendulum.now("UTC") - now < operations.STALE_RUN
        return after_collection(load_settings(), now, remind=fresh)

    @task(retries=3, retry_delay=pendulum.duration(seconds=30))
    def alert_new_f0() -> dict:
        from bantin.config import load_settings
        from bantin.pipeline import alert_new_f0

        return alert_new_f0(load_settings(), run_id=_run_id())

    # Task ids are the stage names of ops.pipeline_run and daily_bulletin (operations.STAGES).
    pulled = [pull_mailbox(), pull_sftp()]
    chain(pulled, collect(), validate(), [answer_senders(), update_board_and_remind(), alert_new_f0()])


collect_submissions()
