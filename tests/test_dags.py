"""DAG integrity: the DAG files import cleanly through Airflow's own DagBag, stay cheap to parse,
and declare what the runtime contract promises."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO

HEAVY = ("great_expectations", "pandas", "duckdb", "weasyprint", "openpyxl", "numpy", "bantin.validation")
DAG_FILES = sorted((REPO / "dags").glob("*.py"))


def _python(code: str, env: dict) -> dict:
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def dagbag(airflow_home) -> dict:
    code = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r})\n"
        "dags = {}\n"
        "for dag_id in bag.dag_ids:\n"
        "    dag = bag.get_dag(dag_id)\n"
        "    dags[dag_id] = {'tasks': [t.task_id for t in dag.tasks], 'timetable': repr(dag.timetable),\n"
        "                    'upstream': {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},\n"
        "                    'max_active_runs': dag.max_active_runs, 'params': list(dag.params.keys()),\n"
        "                    'catchup': dag.catchup}\n"
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()}, 'dags': dags}))\n"
    )
    return _python(code, airflow_home)


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag["errors"] == {}
    assert {"daily_bulletin", "collect_submissions"} <= set(dagbag["dags"])


def test_daily_bulletin_runs_every_stage_in_order(dagbag):
    daily = dagbag["dags"]["daily_bulletin"]
    assert daily["tasks"] == [
        "pull_mailbox",
        "pull_sftp",
        "collect",
        "validate",
        "alert_new_f0",
        "build_marts",
        "publish_snapshot",
        "director_signoff",
        "render_bulletin",
        "deliver_bulletin",
        "summarize_run",
    ]
    assert {"report_date", "signoff", "signoff_wait_minutes"} <= set(daily["params"])
    # at the cutoff, in local time, one run at a time
    assert "0 17 * * *" in daily["timetable"] and "Asia/Ho_Chi_Minh" in daily["timetable"]
    assert daily["max_active_runs"] == 1


def test_one_name_per_stage_across_the_dags_the_stage_record_and_the_summary(dagbag):
    from bantin.operations import STAGES

    daily, collect = dagbag["dags"]["daily_bulletin"], dagbag["dags"]["collect_submissions"]
    assert set(STAGES) <= set(daily["tasks"])
    assert {"collect", "validate", "alert_new_f0"} <= set(collect["tasks"])
    # ordered by dependencies, not by dummy arguments: the stages in order, each after the one before
    upstream = daily["upstream"]
    assert upstream["collect"] == ["pull_mailbox", "pull_sftp"] and upstream["validate"] == ["collect"]
    assert upstream["alert_new_f0"] == ["validate"] and upstream["build_marts"] == ["validate"]
    assert upstream["director_signoff"] == ["build_marts"]
    assert collect["upstream"]["validate"] == ["collect"]
    assert sorted(daily["upstream"]["summarize_run"]) == sorted(STAGES)


def test_the_snapshot_is_published_once_the_marts_are_built_whatever_the_mail_does(dagbag):
    upstream = dagbag["dags"]["daily_bulletin"]["upstream"]
    assert upstream["publish_snapshot"] == ["build_marts"]
    assert upstream["render_bulletin"] == ["build_marts", "director_signoff"]
    assert upstream["deliver_bulletin"] == ["render_bulletin"]


def test_schedule_off_leaves_both_dags_to_manual_runs(airflow_home):
    code = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r})\n"
        "print(json.dumps({d: repr(bag.get_dag(d).timetable) for d in bag.dag_ids}))\n"
    )
    timetables = _python(code, {**airflow_home, "BANTIN_SCHEDULE": "off"})
    assert all("NullTimetable" in t for t in timetables.values()), timetables


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_does_not_import_heavy_modules(dag_file, airflow_home):
    code = (
        "import json, runpy, sys\n"
        f"runpy.run_path({str(dag_file)!r})\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=airflow_home, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
