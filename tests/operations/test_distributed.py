"""The scale-out path works: docker-compose.yml's topology, run without containers.

PostgreSQL (Airflow's metadata), Redis (Celery broker), api-server, scheduler,
dag-processor and a Celery worker, all on loopback (tests/operations/local_stack.py).
`daily_bulletin` runs through the scheduler on the worker and must give the
bulletin `airflow dags test` gives for the same inputs; then a real
`airflow backfill create` of 01–19/10/2021 through the same scheduler must give
what the daily runs gave, table for table, and clearing a date must change nothing.

Slow (several minutes): `make test-distributed` runs it (BANTIN_TEST_DISTRIBUTED=1),
plain `make test` skips it. Needs postgresql and redis-server (the Makefile installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import date

import pytest

from bantin.pipeline import cutoff_of

from . import replay
from .local_stack import BIN, LocalStack
from conftest import copy_receipts

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.skipif(
        not os.environ.get("BANTIN_TEST_DISTRIBUTED"), reason="distributed stack test: run with `make test-distributed`"
    ),
]

REPORT_DATE = date(2021, 10, 19)
# The whole demo range: what issue #7 asks a backfill to reproduce, table for table.
BACKFILL_START, BACKFILL_END = date(2021, 10, 1), REPORT_DATE
# 17:00 in Asia/Ho_Chi_Minh: the scheduled run's logical date for a report date.
LOGICAL = "{day}T10:00:00+00:00"


def _settings_for(home, monkeypatch):
    from bantin.config import load_settings

    monkeypatch.setenv("BANTIN_HOME", str(home))
    monkeypatch.setenv("BANTIN_PROVINCE", "22")
    return load_settings()


@pytest.fixture(scope="module")
def preloaded(demo_landing_template, tmp_path_factory):
    """Loading starts now, in the background: `stack` waits for it once its services are up."""
    home = tmp_path_factory.mktemp("preloaded") / "var"
    shutil.copytree(demo_landing_template, home / "landing")
    copy_receipts(demo_landing_template, home / "landing")  # receipt times: the demo channel's, not mtimes
    env = {**os.environ, "BANTIN_HOME": str(home), "BANTIN_PROVINCE": "22"}
    loading = subprocess.Popen(
        [str(BIN / "bantin"), "run", "--start", "2021-10-01", "--end", "2021-10-18", "--load-only"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield home, loading
    if loading.poll() is None:
        loading.kill()
        loading.wait()


@pytest.fixture(scope="module")
def stack(preloaded, tmp_path_factory):
    """The running stack, and a data root with 01–19/10 in the inboxes and 01–18/10 loaded (as `make demo`)."""
    home = tmp_path_factory.mktemp("stack") / "var"
    with LocalStack(home, keep_logs=tmp_path_factory.mktemp("stack-logs")) as running:
        running.bantin_home = home
        running.preloaded, loading = preloaded
        output, _ = loading.communicate(timeout=900)
        assert loading.returncode == 0, output.decode(errors="replace")[-3000:]
        running.wait_for_dag("daily_bulletin")
        running.airflow("dags", "unpause", "daily_bulletin")
        yield running


def _task_states(stack, run_id: str) -> dict[str, str]:
    return dict(
        stack.query(
            "SELECT task_id, state FROM task_instance WHERE dag_id = 'daily_bulletin' AND run_id = %s", (run_id,)
        )
    )


def test_daily_bulletin_on_celery_equals_dags_test(stack, airflow_home, tmp_path, monkeypatch):
    shutil.copytree(stack.preloaded, stack.bantin_home)
    run_id = f"celery__{REPORT_DATE}"
    stack.airflow(
        "dags", "trigger", "daily_bulletin", "--run-id", run_id, "--logical-date", LOGICAL.format(day=REPORT_DATE)
    )
    runs = stack.wait_for_runs("daily_bulletin", 1, timeout=600, run_id=run_id)
    states = _task_states(stack, run_id)
    assert [r[2] for r in runs if r[0] == run_id] == ["success"], (
        f"{states}\n{stack.task_logs('daily_bulletin', run_id)}"
    )
    assert set(states.values()) == {"success"} and len(states) == 11
    # Every task went through Redis to the Celery worker and left its result in PostgreSQL.
    # (the worker stores a task's result just after the task reports success: give it a moment)
    deadline = time.monotonic() + 60
    while stack.query("SELECT count(*) FROM celery_taskmeta WHERE status = 'SUCCESS'")[0][0] < 8:
        assert time.monotonic() < deadline, stack.query("SELECT status, count(*) FROM celery_taskmeta GROUP BY 1")
        time.sleep(2)
    # The run summary, visible in the UI as summarize_run's rendered arguments.
    rendered = stack.query(
        "SELECT rendered_fields::text FROM rendered_task_instance_fields "
        "WHERE task_id = 'summarize_run' AND run_id = %s",
        (run_id,),
    )
    assert rendered and "validated" in rendered[0][0] and "commune_days" in rendered[0][0], rendered

    reference_home = tmp_path / "dags-test-var"
    shutil.copytree(stack.preloaded, reference_home)
    result = subprocess.run(
        [str(BIN / "airflow"), "dags", "test", "daily_bulletin", REPORT_DATE.isoformat()],
        env={**airflow_home, "BANTIN_HOME": str(reference_home), "BANTIN_PROVINCE": "22"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    celery, tested = (
        json.loads(
            (home / "bulletins" / REPORT_DATE.isoformat() / "latest" / "bulletin.json").read_text(encoding="utf-8")
        )
        for home in (stack.bantin_home, reference_home)
    )
    assert celery["figures"] == tested["figures"]
    assert celery["figures"]  # a real bulletin, not two empty ones
    assert (
        replay.differences(
            replay.warehouse_state(_settings_for(stack.bantin_home, monkeypatch)),
            replay.warehouse_state(_settings_for(reference_home, monkeypatch)),
        )
        == []
    )


def test_airflow_backfill_of_the_demo_range_equals_daily_runs(stack, demo_landing_template, tmp_path, monkeypatch):
    """`airflow backfill create` over 01–19/10/2021 through the scheduler and Celery vs. daily runs at each cutoff.

    The 19th already ran in the first test: `--reprocess-behavior completed` runs it again, as an
    operator backfilling a month that partly ran would.
    """
    shutil.rmtree(stack.bantin_home, ignore_errors=True)  # the first test's data, when it ran
    stack.bantin_home.mkdir(parents=True)
    backfilled = _settings_for(stack.bantin_home, monkeypatch)
    replay.deliver_files(demo_landing_template, backfilled, after=None, until=cutoff_of(BACKFILL_END, backfilled))
    stack.airflow(
        "backfill",
        "create",
        "--dag-id",
        "daily_bulletin",
        "--max-active-runs",
        "1",
        "--reprocess-behavior",
        "completed",
        "--from-date",
        LOGICAL.format(day=BACKFILL_START),
        "--to-date",
        LOGICAL.format(day=BACKFILL_END),
    )
    expected = len(replay.days(BACKFILL_START, BACKFILL_END))
    runs = stack.wait_for_runs("daily_bulletin", expected, timeout=60 * expected + 600)  # the backfill's runs
    assert len(runs) == expected
    assert [r[2] for r in runs] == ["success"] * expected, "\n".join(
        f"{r[0]}: {_task_states(stack, r[0])}\n{stack.task_logs('daily_bulletin', r[0])}" for r in runs
    )

    daily = _settings_for(tmp_path / "daily-var", monkeypatch)
    replay.daily_runs(daily, demo_landing_template, BACKFILL_START, BACKFILL_END)
    assert replay.differences(replay.warehouse_state(daily), replay.warehouse_state(backfilled)) == []
    bulletins = replay.bulletins(backfilled)
    assert len(bulletins) == expected
    assert replay.differences(replay.bulletins(daily), bulletins) == []

    # An operator clears a whole past date in the UI (same as this CLI): it reruns, nothing moves.
    middle = BACKFILL_START + (BACKFILL_END - BACKFILL_START) / 2
    (run_id,) = [r[0] for r in runs if r[1].date() == middle]
    stack.clear_and_rerun("daily_bulletin", run_id, LOGICAL.format(day=middle), timeout=600)
    assert replay.differences(replay.warehouse_state(daily), replay.warehouse_state(backfilled)) == []
    assert replay.differences(replay.bulletins(daily), replay.bulletins(backfilled)) == []
