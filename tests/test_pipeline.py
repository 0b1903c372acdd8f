"""The stages in one process (what `bantin run` does), on the demo inboxes."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime

import pytest

from bantin import pipeline, store


def test_report_date_is_the_logical_date_in_local_time(settings):
    # 23:30 UTC on the 18th is 06:30 on the 19th in Hanoi: `ds` would say the 18th.
    assert pipeline.report_date_for(datetime(2021, 10, 18, 23, 30, tzinfo=UTC), settings) == date(2021, 10, 19)
    assert pipeline.report_date_for(datetime(2021, 10, 19, 10, 0, tzinfo=UTC), settings) == date(2021, 10, 19)
    assert pipeline.report_date_for(datetime(2021, 10, 19, 10, 0, tzinfo=UTC), settings, "2021-10-15") == date(
        2021, 10, 15
    )


@pytest.fixture
def three_days(demo_settings):
    pipeline.run_days(demo_settings, date(2021, 10, 1), date(2021, 10, 2), bulletin=False)
    pipeline.run_day(demo_settings, date(2021, 10, 3), deliver_bulletin=False)
    return demo_settings


def _snapshot(settings) -> dict:
    with store.reader(settings.warehouse_path) as con:
        tables = [
            "ops.submission",
            "raw.submission_row",
            "ops.finding",
            "marts.commune_daily",
            "marts.district_daily",
            "marts.province_daily",
            "marts.epidemic_level",
            "marts.reporting_status",
        ]
        return {
            t: sorted(map(repr, con.execute(f"SELECT * EXCLUDE ({_volatile(t)}) FROM {t}").fetchall()))
            if _volatile(t)
            else sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall()))
            for t in tables
        }


def _volatile(table: str) -> str:
    return "recorded_at" if table == "ops.submission" else ""


def test_a_rerun_changes_nothing(three_days):
    before = _snapshot(three_days)
    bulletin_before = sorted(p.relative_to(three_days.bulletins) for p in three_days.bulletins.rglob("*"))
    pipeline.run_day(three_days, date(2021, 10, 3), deliver_bulletin=False)
    assert _snapshot(three_days) == before
    assert sorted(p.relative_to(three_days.bulletins) for p in three_days.bulletins.rglob("*")) == bulletin_before


def test_the_same_file_dropped_twice_is_recorded_once(three_days):
    some_file = next(p for p in three_days.landing.rglob("*") if p.is_file())
    shutil.copy2(some_file, some_file.with_name("copy of " + some_file.name))
    stats = pipeline.collect(three_days)
    assert stats["new"] == 0


def test_a_changed_figure_makes_a_new_bulletin_version(three_days):
    with store.writer(three_days) as con:
        con.execute(
            "UPDATE raw.submission_row SET new_cases = new_cases + 1 WHERE submission_id = "
            "(SELECT min(submission_id) FROM ops.submission WHERE report_date = DATE '2021-10-03')"
        )
    pipeline.build_marts(three_days, date(2021, 10, 3))
    produced = pipeline.render(three_days, date(2021, 10, 3))
    assert produced["html"].endswith("v2/bulletin.html")
    document = json.loads((three_days.bulletins / "2021-10-03" / "v2" / "bulletin.json").read_text())
    assert document["version"] == 2
    assert any("Ca mắc mới toàn tỉnh" in change for change in document["changes_from_previous"])
    assert (three_days.bulletins / "2021-10-03" / "v1" / "bulletin.html").exists()  # never overwritten


def test_each_cli_run_has_its_own_run_id_and_every_stage_its_try(settings, monkeypatch):
    from bantin import store

    pipeline.run_days(settings, date(2021, 10, 19), date(2021, 10, 19), bulletin=False)
    pipeline.run_day(settings, date(2021, 10, 19), bulletin=False)
    # a retried Airflow task: the task runner's context variables say which try this is
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "manual__2021-10-19T10:00:00+00:00")
    monkeypatch.setenv("AIRFLOW_CTX_TRY_NUMBER", "2")
    pipeline.collect(settings, run_id="manual__2021-10-19T10:00:00+00:00")
    with store.reader(settings.warehouse_path) as con:
        runs = con.execute(
            "SELECT run_id, count(*), min(try_number), max(try_number) FROM ops.pipeline_run "
            "GROUP BY run_id ORDER BY min(started_at)"
        ).fetchall()
    assert len(runs) == 3
    assert all(r[0].startswith("cli__") and r[1] == 5 and r[2:] == (1, 1) for r in runs[:2])
    assert runs[0][0] != runs[1][0]
    assert runs[2] == ("manual__2021-10-19T10:00:00+00:00", 1, 2, 2)


def test_an_older_warehouse_gains_the_try_number_column(settings):
    import duckdb

    from bantin import store

    settings.warehouse_path.parent.mkdir(parents=True)
    old = duckdb.connect(str(settings.warehouse_path))
    old.execute(
        "CREATE SCHEMA ops; CREATE TABLE ops.pipeline_run (run_id VARCHAR NOT NULL, stage VARCHAR NOT NULL, "
        "report_date DATE, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL, "
        "seconds DOUBLE NOT NULL, stats_json VARCHAR)"
    )
    old.execute("INSERT INTO ops.pipeline_run VALUES ('manual', 'collect', NULL, now(), now(), 1, '{}')")
    old.close()
    pipeline.collect(settings, run_id="after-upgrade")
    with store.reader(settings.warehouse_path) as con:
        assert con.execute("SELECT run_id, try_number FROM ops.pipeline_run ORDER BY started_at").fetchall() == [
            ("manual", None),
            ("after-upgrade", 1),
        ]
