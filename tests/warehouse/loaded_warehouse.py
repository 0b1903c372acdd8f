"""Constants and helpers shared by the warehouse tests (conftest.py holds the fixtures)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

PROVINCE = 22
FIRST_DAY, LAST_DAY = date(2021, 10, 10), date(2021, 10, 19)


def table_rows(path: Path, schemas=("marts",)) -> dict[str, list[tuple]]:
    """Every row of every table in the schemas, sorted: the state two builds are compared on."""
    from bantin import store

    with store.reader(path) as con:
        tables = con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE list_contains(?, schema_name) "
            "ORDER BY 1",
            [list(schemas)],
        ).fetchall()
        return {
            t: sorted(
                (
                    tuple(tuple(v) if isinstance(v, list) else v for v in row)  # lists: hashable
                    for row in con.execute(f"SELECT * FROM {t}").fetchall()
                ),
                key=repr,
            )
            for (t,) in tables
        }
