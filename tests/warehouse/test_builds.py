"""Builds: reruns change nothing, incremental equals full, a resubmission changes exactly what depends on it."""

from __future__ import annotations

from datetime import date, datetime

from bantin import pipeline, store
from bantin.submission_files import write_csv

from .loaded_warehouse import FIRST_DAY, LAST_DAY, PROVINCE, table_rows
from conftest import receive


def test_rerun_changes_no_mart_row(loaded_settings):
    before = table_rows(loaded_settings.warehouse_path)
    again = pipeline.build_marts(loaded_settings, LAST_DAY)
    assert again["mode"] == "none"
    assert table_rows(loaded_settings.warehouse_path) == before
    full = pipeline.build_marts(loaded_settings, LAST_DAY, full_refresh=True)
    assert full["mode"] == "full"
    # the template was built 18/10 whole, then 19/10 incrementally: the same rows as one full build
    assert table_rows(loaded_settings.warehouse_path) == before
    assert before["marts.commune_daily"] and before["marts.epidemic_level"]


def _resubmit(settings, district_code: int, day: date, commune_index: int, extra_cases: int) -> int:
    """A corrected file for an earlier date, arriving on the evening of the last day; returns the commune."""
    from bantin import demo_data

    rows = [dict(r) for r in demo_data.generate_rows(PROVINCE, FIRST_DAY, LAST_DAY)[(day, district_code)]]
    row = rows[commune_index]
    for column in ("new_cases", "new_cases_community", "tests_positive", "tests_performed", "in_treatment"):
        row[column] = (row[column] or 0) + extra_cases
    path = write_csv(rows, settings.landing / str(district_code) / f"bao_cao_{day:%d%m%Y}_sua.csv")
    receive(settings, path, datetime(2021, 10, 19, 18, 30, tzinfo=settings.timezone))
    return row["commune_code"]


def _changed(before: list[tuple], after: list[tuple]) -> set[tuple]:
    return set(after) ^ set(before)


def test_resubmission_for_an_earlier_date_changes_that_date_and_what_follows_only(loaded_settings):
    settings = loaded_settings
    before = table_rows(settings.warehouse_path)
    district, day = 193, date(2021, 10, 15)
    with store.reader(settings.warehouse_path) as con:
        district = con.execute(
            "SELECT min(district_code) FROM ref.district WHERE district_code IN (SELECT district_code FROM ref.commune)"
        ).fetchone()[0]
    commune = _resubmit(settings, district, day, commune_index=0, extra_cases=30)

    assert pipeline.collect(settings)["new"] == 1
    assert pipeline.validate(settings)["accepted"] == 1
    built = pipeline.build_marts(settings, LAST_DAY)
    assert (built["mode"], built["rebuild_from"]) == ("incremental", day.isoformat())
    after = table_rows(settings.warehouse_path)

    # commune_daily: exactly the corrected commune's row that day (new figures, version 2) and the
    # district's other communes of that day (same figures, new submission id and version); the marts'
    # rows start (report_date, reference_version, province_code, district_code, …)
    changed = _changed(before["marts.commune_daily"], after["marts.commune_daily"])
    assert {(r[0], r[3]) for r in changed} == {(day, district)}
    with store.reader(settings.warehouse_path) as con:
        row = con.execute(
            "SELECT new_cases_community, submission_version FROM marts.commune_daily "
            "WHERE report_date = ? AND commune_code = ?",
            [day, commune],
        ).fetchone()
        assert row[0] >= 30 and row[1] == 2
        # trailing sums of the district and province: that date and the later days in the window
        dates = {
            r[0]
            for r in con.execute(
                "SELECT report_date FROM marts.district_daily WHERE district_code = ?", [district]
            ).fetchall()
        }
        levels = con.execute(
            "SELECT report_date, level, reason FROM marts.epidemic_level "
            "WHERE unit_type = 'commune' AND unit_code = ? ORDER BY report_date",
            [commune],
        ).fetchall()
        corrections = con.execute(
            "SELECT unit_type, unit_code, from_version, to_version, new_cases_delta, new_cases_community_delta, "
            "after_cutoff FROM marts.corrections ORDER BY unit_type"
        ).fetchall()
        negative = con.execute("SELECT count(*) FROM marts.district_daily WHERE new_cases < 0").fetchone()[0]
    district_changed = {r[0] for r in _changed(before["marts.district_daily"], after["marts.district_daily"])}
    assert district_changed == {d for d in dates if d >= day}
    assert {r[3] for r in _changed(before["marts.district_daily"], after["marts.district_daily"])} == {district}
    assert {r[0] for r in _changed(before["marts.province_daily"], after["marts.province_daily"])} == {
        d for d in dates if d >= day
    }

    # levels: only the commune, its district and the province, from that date on
    level_changes = _changed(before["marts.epidemic_level"], after["marts.epidemic_level"])
    assert level_changes and min(r[0] for r in level_changes) == day
    assert {(r[2], r[3]) for r in level_changes} <= {  # (unit_type, unit_code)
        ("commune", commune),
        ("district", district),
        ("province", PROVINCE),
    }
    by_day = {d: (level, reason) for d, level, reason in levels}
    assert by_day[day][0] > 1 and "cộng đồng" in by_day[day][1]
    assert by_day[date(2021, 10, 14)][0] == 1

    # the correction itself, apart from the day's figures
    assert corrections == [("commune", commune, 1, 2, 30, 30, True), ("district", district, 1, 2, 30, 30, True)]
    assert negative == 0
    # nothing else moved
    for table in ("marts.reporting_status",):
        changed = _changed(before[table], after[table])
        assert {(r[0], r[3]) for r in changed} == {(day, district)}


def test_new_report_date_replaces_only_that_date(loaded_settings):
    """A date built a second time from the same inputs is replaced by identical rows (delete + insert)."""
    with store.writer(loaded_settings) as con, store.transaction(con):
        con.execute("DELETE FROM ops.build_input WHERE report_date = ?", [date(2021, 10, 17)])
    before = table_rows(loaded_settings.warehouse_path)
    built = pipeline.build_marts(loaded_settings, LAST_DAY)
    assert (built["mode"], built["rebuild_from"]) == ("incremental", "2021-10-17")
    assert table_rows(loaded_settings.warehouse_path) == before


def test_a_run_for_a_date_after_the_last_data_adds_one_calendar_day(loaded_settings):
    """A date with no file anywhere (today, on demo data) adds that day to the marts, not years of empty days."""

    def days(table: str) -> list[date]:
        with store.reader(loaded_settings.warehouse_path) as con:
            return [d for (d,) in con.execute(f"SELECT DISTINCT report_date FROM {table} ORDER BY 1").fetchall()]

    before = {
        table: days(table)
        for table in ("staging.calendar", "marts.commune_daily", "marts.province_daily", "marts.epidemic_level")
    }
    assert before["marts.commune_daily"][-1] == LAST_DAY
    later = date(2026, 12, 3)  # on another unit list than the data's (the two-tier one): one day more, no rebuild
    built = pipeline.build_marts(loaded_settings, later)
    assert built["mode"] == "incremental"
    for table, dates in before.items():
        assert days(table) == [*dates, later], table
    with store.reader(loaded_settings.warehouse_path) as con:
        # nothing reported that day, and the trailing windows count days, not rows: no 2021 cases in them
        assert con.execute(
            "SELECT new_cases, new_cases_7d, communes_reported FROM marts.province_daily WHERE report_date = ?", [later]
        ).fetchone() == (None, 0, 0)
        # each date on the unit list in force on it: 177 communes in October 2021, 54 in 2026
        assert con.execute(
            "SELECT report_date, reference_version, communes_expected FROM marts.province_daily "
            "WHERE report_date IN (?, ?) ORDER BY 1",
            [LAST_DAY, later],
        ).fetchall() == [(LAST_DAY, "2021-02-03", 177), (later, "2025-07-01", 54)]
    # and the same rows as a full build from scratch
    incremental = table_rows(loaded_settings.warehouse_path)
    pipeline.build_marts(loaded_settings, later, full_refresh=True)
    assert table_rows(loaded_settings.warehouse_path) == incremental


def test_a_failing_data_test_fails_the_build_names_the_test_and_is_redone(loaded_settings):
    """`dbt build` runs every model's data tests: a commune listed twice breaks commune_window's grain."""
    import pytest

    from bantin import models

    with store.writer(loaded_settings) as con, store.transaction(con):
        con.execute(  # a commune of the 2021 list, the data's
            "INSERT INTO ref.commune SELECT * FROM ref.commune ORDER BY reference_version, commune_code LIMIT 1"
        )
        con.execute("DELETE FROM ops.build_input WHERE report_date = ?", [LAST_DAY])
        recorded = con.execute("SELECT * FROM ops.build_state ORDER BY key").fetchall()
    with pytest.raises(models.ModelBuildError, match=r"unique_grain_commune_window.*fail"):
        pipeline.build_marts(loaded_settings, LAST_DAY)
    with store.writer(loaded_settings) as con:
        # nothing recorded: the next build redoes 19/10
        assert con.execute("SELECT * FROM ops.build_state ORDER BY key").fetchall() == recorded
        assert con.execute("SELECT count(*) FROM ops.build_input WHERE report_date = ?", [LAST_DAY]).fetchone() == (0,)
        con.execute("DELETE FROM ref.commune WHERE rowid = (SELECT max(rowid) FROM ref.commune)")
    assert pipeline.build_marts(loaded_settings, LAST_DAY)["rebuild_from"] == LAST_DAY.isoformat()
