"""A backfill gives what the daily runs gave; rerunning any stage or date changes nothing.

Both run the stage functions the DAG tasks call (`bantin.pipeline`), in this
process: the same code path as Airflow, without its process-per-task cost.
The same comparison through a real `airflow backfill` on the Celery stack,
and over 01–19/10, is in test_distributed.py (`make test-distributed`).
"""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from . import replay
from conftest import receive

START, END = date(2021, 10, 17), date(2021, 10, 19)


@pytest.fixture
def template(demo_landing_template, tmp_path, settings):
    """The demo inboxes of START..END only (by receipt date), so the test stays short."""
    from bantin.pipeline import cutoff_of

    folder = tmp_path / "template"
    for path in demo_landing_template.rglob("*"):
        if path.is_file() and replay.received_at(path, settings).date() >= START:
            target = folder / path.relative_to(demo_landing_template)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    assert replay.deliver_files(folder, settings, after=None, until=cutoff_of(END, settings)) == 13 * 3
    shutil.rmtree(settings.landing)
    return folder


@pytest.fixture
def two_homes(settings, tmp_path, monkeypatch):
    """Settings for a second, independent data root."""
    from bantin.config import load_settings

    monkeypatch.setenv("BANTIN_HOME", str(tmp_path / "var-backfill"))
    return settings, load_settings()


def test_backfill_equals_daily_runs_and_reruns_change_nothing(template, two_homes):
    daily, backfilled = two_homes
    replay.daily_runs(daily, template, START, END)
    replay.backfill(backfilled, template, START, END)

    daily_state, backfill_state = replay.warehouse_state(daily), replay.warehouse_state(backfilled)
    assert replay.differences(daily_state, backfill_state) == []
    assert len(daily_state["ops.submission"]) == 13 * 3
    assert len(daily_state["marts.epidemic_level"]) > 0
    daily_bulletins = replay.bulletins(daily)
    assert replay.differences(daily_bulletins, replay.bulletins(backfilled)) == []
    assert list(daily_bulletins) == [d.isoformat() for d in replay.days(START, END)]
    assert all(b["versions"] == ["v1"] for b in daily_bulletins.values())

    # Clearing and rerunning each task of one date, then a whole earlier date: nothing moves.
    from bantin import pipeline

    day, run = date(2021, 10, 18), "manual__rerun"
    archived = sorted(p.name for p in daily.archive.rglob("*") if p.is_file())
    for stage in (
        lambda: pipeline.collect(daily, run_id=run),
        lambda: pipeline.validate(daily, run_id=run),
        lambda: pipeline.build_marts(daily, day, run_id=run),
        lambda: pipeline.render(daily, day, run_id=run),
        lambda: pipeline.publish(daily, run_id=run),
        lambda: pipeline.run_day(daily, START, run_id=run, deliver_bulletin=False),
    ):
        stage()
        assert replay.differences(replay.warehouse_state(daily), daily_state) == []
    assert replay.differences(replay.bulletins(daily), daily_bulletins) == []
    assert sorted(p.name for p in daily.archive.rglob("*") if p.is_file()) == archived


def test_late_correction_is_taken_in_by_a_rerun_as_a_new_version(template, settings):
    """The rule's other side: a file received after D's run changes D only when D is rerun."""

    from bantin.pipeline import cutoff_of, run_day

    replay.daily_runs(settings, template, START, START)
    first = replay.bulletins(settings)[START.isoformat()]
    # A district resends its file at 18:30, an hour and a half after the cutoff, with one more case.
    correction = settings.landing / "193" / f"Bao cao Ha Long {START:%d.%m.%Y} sua.csv"
    _write_correction(START, 193, correction)
    receive(settings, correction, cutoff_of(START, settings).replace(hour=18, minute=30))

    run_day(settings, START, run_id="manual__after_correction", deliver_bulletin=False)
    second = replay.bulletins(settings)[START.isoformat()]
    assert second["versions"] == ["v1", "v2"]
    assert second["figures"] != first["figures"]


def _write_correction(day: date, district_code: int, target) -> None:
    """The district's report for `day` again, with one more case (and its test and patient) in one commune."""
    from bantin import demo_data

    rows = demo_data.generate_rows(22, day, day)[(day, district_code)]
    for column in ("new_cases", "tests_positive", "tests_performed", "in_treatment"):
        rows[0][column] += 1
    target.parent.mkdir(parents=True, exist_ok=True)
    demo_data.write_csv(rows, target)
