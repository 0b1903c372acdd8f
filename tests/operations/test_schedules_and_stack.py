"""How the DAGs are scheduled and retried, the run summary, and docker-compose.yml's stack."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from .local_stack import REPO, airflow_environment, compose

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def _fire_times(dag, start: datetime, end: datetime) -> list[datetime]:
    """When the DAG's timetable would start runs between two local times."""
    from airflow.serialization.serialized_objects import decode_timetable, encode_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = decode_timetable(encode_timetable(dag.timetable))  # the scheduler's own view of it
    times, last = [], None
    restriction = TimeRestriction(earliest=start, latest=end, catchup=True)
    while True:
        info = timetable.next_dagrun_info(
            last_automated_data_interval=DataInterval(last, last) if last else None, restriction=restriction
        )
        if info is None or info.logical_date > end:
            return times
        last = info.logical_date
        times.append(last.astimezone(LOCAL))


def test_collect_runs_every_15_minutes_from_6_to_20_local(parsed_dags):
    day = datetime(2021, 10, 19, tzinfo=LOCAL)
    times = _fire_times(parsed_dags["collect_submissions"], day, day + timedelta(hours=23, minutes=59))
    assert times[0].strftime("%H:%M") == "06:00" and times[-1].strftime("%H:%M") == "20:00"
    assert len(times) == 14 * 4 + 1
    assert {(b - a).total_seconds() for a, b in pairwise(times)} == {15 * 60}


def test_bulletin_runs_once_per_report_date_at_the_cutoff(parsed_dags):
    from bantin.config import load_settings
    from bantin.pipeline import report_date_for

    start = datetime(2021, 10, 1, tzinfo=LOCAL)
    times = _fire_times(parsed_dags["daily_bulletin"], start, start + timedelta(days=18, hours=23))
    assert [t.strftime("%H:%M") for t in times] == ["17:00"] * 19
    assert [report_date_for(t, load_settings()).day for t in times] == list(range(1, 20))


def test_overlapping_runs_excluded_and_network_tasks_back_off(parsed_dags):
    for dag in parsed_dags.values():
        assert dag.max_active_runs == 1
        for task in dag.tasks:
            assert task.retries >= 1, task.task_id
    network = {"collect_submissions": {"collect"}, "daily_bulletin": {"collect", "deliver_bulletin"}}
    for dag_id, task_ids in network.items():
        for task_id in task_ids:
            task = parsed_dags[dag_id].get_task(task_id)
            assert task.retries >= 3 and task.retry_exponential_backoff and task.max_retry_delay, task_id
    assert list(parsed_dags["daily_bulletin"].get_task("publish_snapshot").downstream_task_ids) == ["summarize_run"]


def test_run_summary_says_each_stage_in_one_line():
    from bantin.operations import run_summary

    text = run_summary(
        {
            "collect": {"seen": 13, "new": 13, "unreadable": 0, "seconds": 1.25},
            "validate": {"validated": 13, "accepted": 12, "rejected": 1, "seconds": 2.5},
        }
    )
    assert text.splitlines() == [
        "collect: seen=13, new=13, unreadable=0 (1.2 s)",
        "validate: validated=13, accepted=12, rejected=1 (2.5 s)",
        "total: 3.8 s in 2 stages",
    ]


def test_compose_names_the_production_stack():
    stack = compose()
    services = stack["services"]
    assert {
        "bantin-secrets",
        "postgres",
        "redis",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-worker",
        "airflow-triggerer",
        "airflow-init",
    } <= set(services)
    commands = {name: services[name].get("command") for name in services}
    assert commands["airflow-apiserver"] == "api-server" and commands["airflow-worker"] == "celery worker"
    assert commands["airflow-scheduler"] == "scheduler" and commands["airflow-dag-processor"] == "dag-processor"
    for name, service in services.items():  # pinned images: a version tag, never latest
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name
    env = stack["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "postgresql+psycopg2://" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"]
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["BANTIN_HOME"] == "/data/bantin"
    assert {"SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD"} <= set(services["airflow-init"]["environment"])
    worker = services["airflow-worker"]
    assert "./:/opt/bantin" in worker["volumes"] and "${BANTIN_DATA_DIR:-./var}:/data/bantin" in worker["volumes"]
    assert {"bantin-secrets", "postgres-db"} <= set(stack["volumes"])
    assert (REPO / services["airflow-init"]["command"][0].replace("/opt/bantin/", "")).is_file()


def test_local_stack_uses_the_compose_settings(tmp_path):
    ports = {"postgres": 15432, "redis": 16379, "api": 18080, "worker_logs": 18793}
    env = airflow_environment(ports, tmp_path / "airflow", tmp_path / "var")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow@127.0.0.1:15432/airflow"
    assert not [k for k in env if k.endswith("_CMD")]  # the secrets volume is the containers': made up here
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@127.0.0.1:16379/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
