"""One list of metrics: every count column of the contract (`submission_format.COLUMNS`) reaches every consumer.

A column missed by one of them used to come out NULL (or not at all) without failing. Each consumer is checked
by what it produces, never by reading its source: the GX suites as GX loads them, the warehouse and its marts
as a real build makes them (whatever writes the SQL), the bulletin's figures, corrections and changes, the
analysts' column descriptions, the spec's table and the demo data.

The load: Quảng Ninh's demo files of two days; then Cô Tô (3 communes) resends its first day's file the next
morning with every count of one commune one higher, so each count column has a correction to show.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import duckdb
import pytest

from bantin.submission_format import COLUMN_BY_NAME, COLUMNS, COUNT_COLUMNS, CUMULATIVE_COLUMNS

from conftest import REPO, receive

PROVINCE, DISTRICT = 22, 207  # Cô Tô: a small file
FIRST, SECOND = date(2021, 10, 18), date(2021, 10, 19)
UNIT_MARTS = ("commune_daily", "district_daily", "province_daily")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """(settings, the corrected commune's code, the district's rows in force for FIRST) after both loads."""
    import dataclasses

    from bantin import config, demo_data, pipeline
    from bantin.submission_files import write_csv

    home = tmp_path_factory.mktemp("metrics") / "var"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BANTIN_HOME", str(home))
        patch.setenv("BANTIN_PROVINCE", str(PROVINCE))
        settings = dataclasses.replace(config.load_settings(), settle_seconds=0.0)
    demo_data.generate(PROVINCE, FIRST, SECOND, settings.landing)
    load = (pipeline.collect, pipeline.validate, lambda s: pipeline.build_marts(s, SECOND))
    for stage in load:
        stage(settings)

    rows = [dict(r) for r in demo_data.generate_rows(PROVINCE, FIRST, SECOND)[(FIRST, DISTRICT)]]
    corrected = rows[0]
    for name in COUNT_COLUMNS:  # an optional column left empty becomes 1: a change like any other
        corrected[name] = (corrected[name] or 0) + 1
    resent = write_csv(rows, settings.landing / str(DISTRICT) / "Co To 18-10 (gui lai).csv")
    receive(settings, resent, datetime(2021, 10, 19, 9, 0))
    for stage in load:
        stage(settings)
    return settings, corrected["commune_code"], rows


def _read(settings):
    return duckdb.connect(str(settings.warehouse_path), read_only=True)


def _one(con, sql: str, params: list) -> dict:
    cursor = con.execute(sql, params)
    row = cursor.fetchone()
    assert row is not None, (sql, params)
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def _columns(con, schema: str, table: str) -> dict[str, str | None]:
    """Column name → its description (COMMENT), as analysts' tools and the data dictionary read them."""
    return dict(
        con.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    )


# --------------------------------------------------------------------------- validation


def test_the_suites_check_every_count_column():
    from bantin import validation

    checked: dict[str, set] = {}
    for name in validation.SUITES:
        for expectation in validation.suite_definition(name)["expectations"]:
            checked.setdefault(expectation["meta"]["rule"], set()).add(expectation["meta"]["blame"])
    assert checked["count.non_negative"] == set(COUNT_COLUMNS)
    assert checked["history.cumulative_decrease"] == set(CUMULATIVE_COLUMNS)


def test_a_negative_count_is_an_error_in_every_count_column(loaded, tmp_path):
    """What a clerk's `bantin validate` says of a file with -1 in every count column: one error per column."""
    from bantin import pipeline
    from bantin.submission_files import write_csv

    settings, _, rows = loaded
    rows = [dict(r) for r in rows]
    rows[1].update({name: -1 for name in COUNT_COLUMNS})
    path = write_csv(rows, tmp_path / "am.csv")
    findings = pipeline.check_file(settings, path, DISTRICT, SECOND)
    negative = {f.column for f in findings if f.rule == "count.non_negative" and f.row == 3}
    assert negative == set(COUNT_COLUMNS)


# --------------------------------------------------------------------------- warehouse and marts


def test_the_raw_table_holds_and_describes_every_contract_column(loaded):
    settings, _, _ = loaded
    with _read(settings) as con:
        raw = _columns(con, "raw", "submission_row")
    assert {c.name: raw.get(c.name) for c in COLUMNS} == {c.name: c.description for c in COLUMNS}


@pytest.mark.parametrize("mart", UNIT_MARTS)
def test_every_count_column_reaches_the_unit_marts_with_its_value_and_a_description(loaded, mart):
    settings, commune, rows = loaded
    with _read(settings) as con:
        described = _columns(con, "marts", mart)
        where = {
            "commune_daily": ("commune_code", commune),
            "district_daily": ("district_code", DISTRICT),
            "province_daily": ("province_code", PROVINCE),
        }[mart]
        row = _one(con, f"SELECT * FROM marts.{mart} WHERE report_date = ? AND {where[0]} = ?", [FIRST, where[1]])
    assert [c for c in COUNT_COLUMNS if c not in described] == [], f"marts.{mart} misses count columns"
    assert [c for c in COUNT_COLUMNS if not described[c]] == [], f"marts.{mart}: count columns without a description"
    assert [c for c in COUNT_COLUMNS if row[c] is None] == [], f"marts.{mart}: count columns NULL on a reported day"
    if mart == "commune_daily":
        assert {c: row[c] for c in COUNT_COLUMNS} == {c: rows[0][c] for c in COUNT_COLUMNS}
    if mart == "district_daily":  # the district's file in force, summed over its communes
        assert {c: row[c] for c in COUNT_COLUMNS} == {
            c: sum(r[c] for r in rows if r[c] is not None) for c in COUNT_COLUMNS
        }


def test_every_count_column_has_a_correction_delta(loaded):
    settings, commune, _ = loaded
    with _read(settings) as con:
        described = _columns(con, "marts", "corrections")
        by_unit = {
            unit: _one(
                con,
                "SELECT * FROM marts.corrections WHERE report_date = ? AND unit_type = ? AND unit_code = ?",
                [FIRST, unit, code],
            )
            for unit, code in (("commune", commune), ("district", DISTRICT))
        }
    assert [c for c in COUNT_COLUMNS if not described.get(f"{c}_delta")] == []
    for unit, row in by_unit.items():
        assert {c: row[f"{c}_delta"] for c in COUNT_COLUMNS} == dict.fromkeys(COUNT_COLUMNS, 1), unit


# --------------------------------------------------------------------------- bulletin


def test_the_bulletin_carries_lists_and_names_every_count_column(loaded):
    from bantin import bulletin

    settings, _, _ = loaded
    with _read(settings) as con:
        figures = bulletin.build_summary(con, settings, SECOND)
    assert [c for c in COUNT_COLUMNS if c not in figures["province"]] == []
    assert all(c in d for d in figures["districts"] for c in COUNT_COLUMNS)
    listed = {
        (c["metric"], c["metric_vi"], c["delta"])
        for c in figures["corrections"]
        if c["district_code"] == DISTRICT and c["report_date"] == FIRST.isoformat()
    }
    assert listed == {(c, COLUMN_BY_NAME[c].header_vi, 1) for c in COUNT_COLUMNS}
    assert set(COUNT_COLUMNS) <= {key for key, _ in bulletin.PROVINCE_CHANGES}


# --------------------------------------------------------------------------- docs and demo data


def test_the_spec_table_lists_every_contract_column_as_the_code_has_it():
    """docs/spec/submission-format.md (the contract as agreed with the districts) and the code say the same."""
    text = (REPO / "docs" / "spec" / "submission-format.md").read_text(encoding="utf-8")
    table = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in text.splitlines()
        if re.match(r"\| [a-z0-9_]+ \|", line) and not line.startswith("| machine name")
    ]
    assert [(name, header, kind_type) for name, header, kind_type, *_ in table] == [
        (c.name, c.header_vi, c.type) for c in COLUMNS
    ]
    kinds = {name: kind for name, _, _, kind, *_ in table}
    assert {c: kinds[c] for c in COUNT_COLUMNS} == {c: COLUMN_BY_NAME[c].kind for c in COUNT_COLUMNS}


def test_the_demo_data_fills_every_count_column():
    from bantin import demo_data

    rows = [r for day_rows in demo_data.generate_rows(PROVINCE, FIRST, FIRST).values() for r in day_rows]
    required = [c for c in COUNT_COLUMNS if COLUMN_BY_NAME[c].required]
    assert [c for c in required if any(r.get(c) is None for r in rows)] == []
    assert all(set(COUNT_COLUMNS) <= set(r) for r in rows)
