"""collect_submissions wires the channels so that a server down never stops the local inbox."""

from __future__ import annotations

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def collect_dag(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
        patch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.dags["collect_submissions"]


def test_channels_are_pulled_first_and_the_inbox_is_collected_whatever_they_did(collect_dag):
    collect = collect_dag.get_task("collect_new_files")
    assert collect.upstream_task_ids == {"pull_mailbox", "pull_sftp"}
    assert collect.trigger_rule == "all_done"
    for pull in ("pull_mailbox", "pull_sftp"):
        task = collect_dag.get_task(pull)
        assert task.retries >= 3 and task.retry_exponential_backoff  # "the run retries"
    validate = collect_dag.get_task("validate_and_give_feedback")
    assert validate.downstream_task_ids == {"answer_senders", "update_board_and_remind", "alert_new_f0"}
