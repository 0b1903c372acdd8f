"""What analysts get from a publish: a snapshot and Parquet they can read from their own accounts,
typed, with reference tables and the ledger, and a documented way to see the next publish."""

from __future__ import annotations

import stat
import subprocess
import sys
from datetime import timedelta

import duckdb

from bantin import models, pipeline, store, warehouse

from .loaded_warehouse import LAST_DAY, PROVINCE


def test_every_column_of_every_schema_analysts_read_is_described():
    with models.schema_only([PROVINCE]) as con:
        undocumented = con.execute(
            "SELECT schema_name || '.' || table_name || '.' || column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name IN (SELECT unnest(?)) "
            "AND coalesce(comment, '') = ''",
            [list(models.DICTIONARY_SCHEMAS)],
        ).fetchall()
        assert undocumented == []
        described = con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name IN ('ops', 'raw', 'ref')"
        ).fetchone()[0]
        assert described > 130  # the ledger's, raw rows' and reference tables' columns, not only the marts'
        # no description for a column that does not exist (a renamed column must take its text along)
        for table, columns in warehouse.COLUMN_COMMENTS.items():
            schema, name = table.split(".")
            present = {
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ?", [schema, name]
                ).fetchall()
            }
            assert set(columns) == present, table


def test_parquet_is_readable_by_other_accounts_typed_and_complete(loaded_settings):
    published = pipeline.publish(loaded_settings)
    link = loaded_settings.analytics_path.parent / "parquet"
    assert published["parquet"] == str(link)
    export = link.resolve()
    for path in [export, *export.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o005 == 0o005 if path.is_dir() else mode & 0o004, (path, oct(mode))
    assert stat.S_IMODE(loaded_settings.analytics_path.stat().st_mode) & 0o004

    con = duckdb.connect()
    one_file = next((export / "commune_daily").glob("report_date=2021-10-19/*.parquet"))
    # report_date is a DATE inside the file, not only a folder name read back as text
    columns = dict(
        con.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false))",
            [str(one_file)],
        ).fetchall()
    )
    assert columns["report_date"] == "DATE"
    assert con.execute(
        "SELECT DISTINCT report_date FROM read_parquet(?, hive_partitioning = false)", [str(one_file)]
    ).fetchall() == [(LAST_DAY,)]
    # reference tables and the ledger too, each row for row as in the snapshot
    with store.reader(loaded_settings.analytics_path) as snapshot:
        for schema in ("ref", "ops"):
            for (table,) in snapshot.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = ?", [schema]
            ).fetchall():
                path = export / schema / table / "data.parquet"
                assert path.is_file(), path
                expected = snapshot.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0]
                assert con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0] == expected
        tables = {
            t for (t,) in snapshot.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables()").fetchall()
        }
    assert {"ref.commune", "ref.rule_set", "ops.submission", "ops.finding", "ops.pipeline_run"} <= tables


def test_a_long_lived_client_sees_the_next_snapshot_only_after_reconnecting(loaded_settings):
    """Publishing renames a new file over the snapshot: an open database keeps the file it opened.

    DuckDB shares one database per path within a process: while any connection to the snapshot
    is open, a new `connect` in that process gets the same (old) file. Close them all, then connect.
    """
    pipeline.publish(loaded_settings)
    path = str(loaded_settings.analytics_path)
    query = "SELECT max(report_date) FROM marts.province_daily"
    held = duckdb.connect(path, read_only=True)
    assert held.execute(query).fetchone()[0] == LAST_DAY
    later = LAST_DAY + timedelta(days=1)
    pipeline.build_marts(loaded_settings, later)
    pipeline.publish(loaded_settings)

    assert held.execute(query).fetchone()[0] == LAST_DAY  # the old snapshot, whole and still readable
    also_old = duckdb.connect(path, read_only=True)  # same process, same path, while `held` is open
    assert also_old.execute(query).fetchone()[0] == LAST_DAY
    other_process = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import duckdb\ncon = duckdb.connect({path!r}, read_only=True)\n"
            f"print(con.execute({query!r}).fetchone()[0])",
        ],
        capture_output=True,
        text=True,
    )
    # a new session elsewhere sees the new one
    assert other_process.stdout.strip() == later.isoformat(), other_process.stderr

    also_old.close()
    held.close()
    with store.reader(loaded_settings.analytics_path) as reconnected:
        assert reconnected.execute(query).fetchone()[0] == later


def test_the_models_docs_site_is_published_beside_the_snapshot(loaded_settings):
    """dbt's docs site: every model with its columns' descriptions, lineage and tests, readable by all."""
    import json

    published = pipeline.publish(loaded_settings)
    site = loaded_settings.analytics_path.parent / "docs-site"
    assert published["docs"] == str(site)
    manifest = json.loads((site / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((site / "catalog.json").read_text(encoding="utf-8"))
    assert (site / "index.html").stat().st_size > 100_000
    level = manifest["nodes"]["model.bantin.epidemic_level"]
    assert level["columns"]["level"]["description"].startswith("1 green")
    assert [n for n in level["depends_on"]["nodes"] if n.startswith("model.")] == ["model.bantin.unit_level"]
    assert "source.bantin.ref.rule_set" in level["depends_on"]["nodes"]
    assert catalog["nodes"]["model.bantin.commune_daily"]["metadata"]["schema"] == "marts"
    assert any(n.startswith("test.bantin.unique_grain_commune_daily") for n in manifest["nodes"])
    assert stat.S_IMODE((site / "index.html").stat().st_mode) & 0o004
    made = (site / "catalog.json").stat().st_mtime
    pipeline.publish(loaded_settings)  # the project did not change: the site is not made again
    assert (site / "catalog.json").stat().st_mtime == made
