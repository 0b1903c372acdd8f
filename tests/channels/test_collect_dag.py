"""collect_submissions wires the channels so that a server down never stops the local inbox."""

from __future__ import annotations

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def dag_bag(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
        patch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.mark.parametrize("dag_id, collect_id", [("collect_submissions", "collect_new_files"),
                                                ("daily_bulletin", "collect_submissions")])
def test_channels_are_pulled_first_and_the_inbox_is_collected_whatever_they_did(dag_bag, dag_id, collect_id):
    dag = dag_bag[dag_id]
    collect = dag.get_task(collect_id)
    assert collect.upstream_task_ids == {"pull_mailbox", "pull_sftp"}
    assert collect.trigger_rule == "all_done"
    for pull in ("pull_mailbox", "pull_sftp"):
        task = dag.get_task(pull)
        assert task.retries >= 3 and task.retry_exponential_backoff  # "the run retries"


def test_each_collection_answers_the_senders_and_updates_the_board(dag_bag):
    validate = dag_bag["collect_submissions"].get_task("validate_and_give_feedback")
    assert validate.downstream_task_ids == {"answer_senders", "update_board_and_remind", "alert_new_f0"}
