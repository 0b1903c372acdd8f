"""collect_submissions wires the channels so that a server down never stops the local inbox."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("dag_id, collect_id", [("collect_submissions", "collect"), ("daily_bulletin", "collect")])
def test_channels_are_pulled_first_and_the_inbox_is_collected_whatever_they_did(parsed_dags, dag_id, collect_id):
    dag = parsed_dags[dag_id]
    collect = dag.get_task(collect_id)
    assert collect.upstream_task_ids == {"pull_mailbox", "pull_sftp"}
    assert collect.trigger_rule == "all_done"
    for pull in ("pull_mailbox", "pull_sftp"):
        task = dag.get_task(pull)
        assert task.retries >= 3 and task.retry_exponential_backoff  # "the run retries"


def test_each_collection_answers_the_senders_and_updates_the_board(parsed_dags):
    validate = parsed_dags["collect_submissions"].get_task("validate")
    assert validate.downstream_task_ids == {"answer_senders", "update_board_and_remind", "alert_new_f0"}
