"""The `ref` schema holds the unit list in force over the warehouse's report dates (interim, #17)."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from bantin import models, reference, store, warehouse


@pytest.fixture
def con():
    con = store.scratch()
    store.migrate(con)
    yield con
    con.close()


def _ask(con, *days: date) -> None:
    con.executemany("INSERT INTO ops.report_day VALUES (?, now())", [[d] for d in days])


def _communes(con, province: int = 22) -> int:
    return con.execute("SELECT count(*) FROM ref.commune WHERE province_code = ?", [province]).fetchone()[0]


def test_an_empty_warehouse_gets_the_newest_list(con):
    assert models.units_in_force(con) == reference.version_on(None)


def test_2021_dates_load_the_2021_list(con):
    _ask(con, date(2021, 10, 1), date(2021, 10, 19))
    units = models.units_in_force(con, date(2021, 10, 19))
    assert units.name == "2021-02-03"
    warehouse.load_reference(con, [22], units=units)
    assert _communes(con) == 177
    assert con.execute("SELECT count(*) FROM ref.district WHERE province_code = 22").fetchone()[0] == 13
    assert con.execute("SELECT commune_name FROM ref.commune WHERE commune_code = 6682").fetchone() == (
        "Phường Yết Kiêu",
    )
    columns = [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ref' AND table_name = 'commune'"
        ).fetchall()
    ]
    assert "version" not in columns and columns[0] == "commune_code"  # the models' columns, unchanged


def test_dates_across_a_change_of_list_take_the_last_dates_list_and_say_so(con, caplog):
    _ask(con, date(2021, 10, 19))
    with caplog.at_level(logging.WARNING, logger="bantin.models"):
        units = models.units_in_force(con, date(2025, 3, 1))
    assert units.name == "2025-01-04"
    assert "span a change of unit list" in caplog.text
    warehouse.load_reference(con, [22], units=units)
    assert _communes(con) == 171
