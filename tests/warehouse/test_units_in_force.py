"""Units as they were on the report date (#17): the `ref` schema holds every unit list with its period, and the
models build each report date on the list in force on it, saying which (`reference_version`).

The series here spans the change of list on 1/1/2023 (Quảng Ninh: 177 communes on the list of 2021-02-03,
171 on that of 2025-01-04). Its figures are those of the busy days of January 2022 (demo data on the real
series), dated at the end of 2022 and, restated onto the later list (`reference.restate`), at the start of
2023. The ledger is written directly (no files, no validation): what is tested is the models.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from bantin import demo_data, ledger, models, reference, store, warehouse

PROVINCE = 22
OLD, NEW = "2021-02-03", "2025-01-04"
DAYS = {  # report date → the real day whose figures it carries, on the list in force on the report date
    date(2022, 12, 30): date(2022, 1, 18),
    date(2022, 12, 31): date(2022, 1, 19),
    date(2023, 1, 1): date(2022, 1, 20),
    date(2023, 1, 2): date(2022, 1, 21),
}
FIRST_NEW = date(2023, 1, 1)
YET_KIEU = 6682  # Phường Yết Kiêu (Hạ Long): on the 2021 list only
DONG_TRIEU = 205  # Thị xã Đông Triều in 2021, Thành phố Đông Triều on the list of 2025-01-04


def _figures() -> dict[date, dict[int, tuple[int, int]]]:
    """Each report date's (new cases, community cases) per commune-level unit of the list in force on it."""
    rows = demo_data.generate_rows(PROVINCE, min(DAYS.values()), max(DAYS.values()))
    real: dict[date, dict[int, tuple[int, int]]] = {}
    for (day, _district), district_rows in rows.items():
        for r in district_rows:
            real.setdefault(day, {})[r["commune_code"]] = (r["new_cases"], r["new_cases_community"])
    out = {}
    for report_date, day in DAYS.items():
        figures = real[day]
        if reference.version_on(report_date).name == NEW:
            cases = reference.restate({c: v[0] for c, v in figures.items()}, OLD, NEW)
            community = reference.restate({c: v[1] for c, v in figures.items()}, OLD, NEW)
            figures = {c: (cases[c], community[c]) for c in cases}
        out[report_date] = figures
    return out


FIGURES = _figures()


def _record(con, report_date: date) -> None:
    """One accepted file per district, a row per commune of the list in force on the date."""
    units = {c.code: c for c in reference.communes(province_code=PROVINCE, on=report_date)}
    assert set(FIGURES[report_date]) == set(units)
    received = datetime.combine(report_date, time(15, 0))
    with store.transaction(con):
        for district in sorted({c.district_code for c in units.values()}):
            submission_id = f"{district}-{report_date:%Y%m%d}"
            con.execute(
                "INSERT INTO ops.submission (submission_id, district_code, report_date, file_name, landing_path, "
                "archive_path, sha256, size_bytes, received_at, recorded_at, version, status, is_late, channel) "
                "VALUES (?, ?, ?, 'test.csv', 'landing/test.csv', 'archive/test.csv', ?, 1, ?, ?, 1, 'accepted', "
                "false, 'demo')",
                [submission_id, district, report_date, submission_id, received, received],
            )
            codes = sorted(code for code, c in units.items() if c.district_code == district)
            ledger.insert_rows(
                con,
                "raw.submission_row (submission_id, source_row, report_date, district_code, commune_code, "
                "commune_name, new_cases, new_cases_community)",
                [
                    (submission_id, i + 2, report_date, district, code, units[code].name, *FIGURES[report_date][code])
                    for i, code in enumerate(codes)
                ],
            )


def _build(con, calendar_end: date, full_refresh: bool = False) -> models.BuildPlan:
    return models.build(
        con,
        province_codes=[PROVINCE],
        calendar_end=calendar_end,
        full_refresh=full_refresh,
        engine_config=store.engine_config(),
    )


def _marts(con) -> dict[str, list[tuple]]:
    tables = [
        t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()
    ]
    return {
        t: sorted(tuple(map(repr, row)) for row in con.execute(f"SELECT * FROM marts.{t}").fetchall()) for t in tables
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The 2022 days built in full, then the 2023 days added by an incremental build, as daily runs would."""
    con = store.scratch(path=tmp_path_factory.mktemp("units") / "bantin.duckdb")
    store.migrate(con)
    old_days = [d for d in DAYS if d < FIRST_NEW]
    for day in old_days:
        _record(con, day)
    assert _build(con, max(old_days)).mode == "full"
    for day in DAYS:
        if day >= FIRST_NEW:
            _record(con, day)
    plan = _build(con, max(DAYS))
    yield con, plan
    con.close()


def test_the_ref_schema_holds_every_unit_list_with_its_period():
    con = store.scratch()
    store.migrate(con)
    warehouse.load_reference(con, [PROVINCE])
    assert con.execute(
        "SELECT reference_version, valid_from, valid_to FROM ref.reference_version ORDER BY 1"
    ).fetchall() == [(v.name, v.valid_from, v.valid_to) for v in reference.versions()]
    assert con.execute(
        "SELECT reference_version, valid_from, valid_to, count(*) FROM ref.commune GROUP BY ALL ORDER BY 1"
    ).fetchall() == [
        (OLD, date(2020, 1, 1), date(2022, 12, 31), 177),
        (NEW, date(2023, 1, 1), date(2025, 6, 30), 171),
        ("2025-07-01", date(2025, 7, 1), None, 54),  # the two-tier list (tests/test_two_tier_e2e.py)
    ]
    for table, key in {"province": "province_code", "district": "district_code", "commune": "commune_code"}.items():
        columns = [c for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE ref.{table})").fetchall()]
        assert columns[:4] == ["reference_version", "valid_from", "valid_to", key]
        assert con.execute(  # a unit once per list
            f"SELECT count(*) = count(DISTINCT (reference_version, {key})) FROM ref.{table}"
        ).fetchone() == (True,)
    assert con.execute("SELECT reference_version FROM ref.commune WHERE commune_code = ?", [YET_KIEU]).fetchall() == [
        (OLD,)
    ]
    con.close()


def test_a_date_on_another_list_is_added_incrementally(built):
    _con, plan = built
    assert (plan.mode, plan.rebuild_from) == ("incremental", FIRST_NEW)


def test_each_report_date_is_built_on_the_list_in_force_on_it(built):
    con, _plan = built
    expected = [(day, reference.version_on(day).name) for day in DAYS]
    assert con.execute("SELECT report_date, reference_version FROM staging.calendar ORDER BY 1").fetchall() == expected
    assert con.execute(
        "SELECT report_date, reference_version, count(*), count(*) FILTER (WHERE reported) FROM marts.commune_daily "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall() == [(day, name, n, n) for day, name in expected for n in [177 if name == OLD else 171]]
    levels = con.execute(
        "SELECT report_date, reference_version, unit_type, count(*) FROM marts.epidemic_level GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert levels == [
        (day, name, unit_type, n)
        for day, name in expected
        for unit_type, n in (("commune", 177 if name == OLD else 171), ("district", 13), ("province", 1))
    ]
    for mart in ("district_daily", "province_daily", "reporting_status", "level_signoff"):
        assert (
            con.execute(f"SELECT DISTINCT report_date, reference_version FROM marts.{mart} ORDER BY 1").fetchall()
            == expected
        ), mart
    # names (and populations) are the list's of the day
    assert con.execute(
        "SELECT report_date, unit_name FROM marts.epidemic_level WHERE unit_type = 'district' AND unit_code = ? "
        "AND report_date IN (?, ?) ORDER BY 1",
        [DONG_TRIEU, date(2022, 12, 31), FIRST_NEW],
    ).fetchall() == [(date(2022, 12, 31), "Thị xã Đông Triều"), (FIRST_NEW, "Thành phố Đông Triều")]
    assert con.execute(
        "SELECT DISTINCT reference_version FROM marts.commune_daily WHERE commune_code = ?", [YET_KIEU]
    ).fetchall() == [(OLD,)]
    assert con.execute(
        "SELECT count(DISTINCT population), count(DISTINCT communes_expected) FROM marts.province_daily"
    ).fetchone() == (1, 2)  # the province's population is the same on both lists, its communes are not
    assert con.execute("SELECT DISTINCT report_date, status FROM marts.reporting_status ORDER BY 1").fetchall() == [
        (day, "on_time") for day in DAYS
    ]


def test_the_series_replays_on_either_list_with_the_provinces_totals(built):
    """Restated from the marts onto one list or the other, every day keeps the province's total."""
    con, _plan = built
    series: dict[date, dict[int, int]] = {}
    for day, commune, cases in con.execute(
        "SELECT report_date, commune_code, new_cases FROM marts.commune_daily"
    ).fetchall():
        series.setdefault(day, {})[commune] = cases
    totals = dict(con.execute("SELECT report_date, new_cases FROM marts.province_daily").fetchall())
    assert totals == {day: sum(v[0] for v in FIGURES[day].values()) for day in DAYS}
    assert min(totals.values()) > 100  # busy days: the restatement has counts to move
    for onto, size in ((OLD, 177), (NEW, 171)):
        replayed = reference.restate_series(series, onto)
        assert {day: len(values) for day, values in replayed.items()} == dict.fromkeys(DAYS, size)
        assert {day: sum(values.values()) for day, values in replayed.items()} == totals, onto


def test_the_incremental_build_across_the_change_equals_a_full_one(built):
    con, _plan = built
    incremental = _marts(con)
    assert _build(con, max(DAYS), full_refresh=True).mode == "full"
    assert _marts(con) == incremental
