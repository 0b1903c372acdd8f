"""The marts analysts and the bulletin read: Quảng Ninh's levels, documentation, `bantin sql`."""

from __future__ import annotations

import json

from bantin import cli, models, pipeline, store

from .loaded_warehouse import LAST_DAY, PROVINCE


def test_quang_ninh_19_10_2021_is_level_1_everywhere(loaded_settings):
    with store.reader(loaded_settings.warehouse_path) as con:
        levels = con.execute(
            "SELECT unit_type, level, is_stale, rule_set_id, count(*) FROM marts.epidemic_level "
            "WHERE report_date = ? GROUP BY ALL ORDER BY ALL",
            [LAST_DAY],
        ).fetchall()
        reason = con.execute(
            "SELECT reason FROM marts.epidemic_level WHERE report_date = ? AND unit_type = 'province'", [LAST_DAY]
        ).fetchone()[0]
    assert levels == [
        ("commune", 1, False, "4800/QĐ-BYT", 177),
        ("district", 1, False, "4800/QĐ-BYT", 13),
        ("province", 1, False, "4800/QĐ-BYT", 1),
    ]
    assert reason.startswith("Tỷ lệ 0,0 ca cộng đồng/100.000 dân/tuần (7 ngày; < 20: cấp 1); ")
    assert reason.endswith("→ cấp 1") and "chưa đủ" not in reason  # 13–19/10 all reported: a complete window


def test_every_mart_column_is_documented_and_the_dictionary_is_current(loaded_settings):
    with models.schema_only([PROVINCE]) as con:
        undocumented = con.execute(
            "SELECT table_name || '.' || column_name FROM duckdb_columns() "
            "WHERE schema_name = 'marts' AND coalesce(comment, '') = ''"
        ).fetchall()
        assert undocumented == []
        assert models.DATA_DICTIONARY.read_text(encoding="utf-8") == models.data_dictionary(con), (
            "docs/data-dictionary.md is out of date: run `bantin data-dictionary`"
        )
        with store.reader(loaded_settings.warehouse_path) as built:
            comment = built.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'corrections'").fetchone()
        assert comment and "apart" in comment[0]


def test_bantin_sql_reads_the_snapshot_read_only(loaded_settings, capsys):
    assert cli.main(["sql", "SELECT 1"]) == 2  # nothing published yet: a sentence, not a traceback
    assert "no analyst snapshot" in capsys.readouterr().err
    pipeline.publish(loaded_settings)
    query = (
        "SELECT district_name, sum(new_cases) AS cases FROM marts.district_daily "
        "GROUP BY ALL ORDER BY cases DESC, district_name LIMIT 3"
    )
    assert cli.main(["sql", query, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and set(rows[0]) == {"district_name", "cases"}
    assert cli.main(["sql", "CREATE TABLE marts.mine AS SELECT 1"]) == 1
    assert "read-only" in capsys.readouterr().err.lower()
    assert cli.main(["sql", "SELECT level, count(*) AS units FROM marts.epidemic_level GROUP BY level"]) == 0
    assert "(1 row)" in capsys.readouterr().out


def test_the_sql_shell_help_does_not_swallow_the_next_query(loaded_settings, capsys, monkeypatch):
    import io

    pipeline.publish(loaded_settings)
    monkeypatch.setattr("sys.stdin", io.StringIO(".help\nSELECT 42 AS answer;\n.nonsense\nSELECT\n  7 AS seven;\n"))
    assert cli.main(["sql"]) == 0
    out, err = capsys.readouterr()
    assert ".tables" in out and "answer" in out and "42" in out and "seven" in out
    assert "unknown command: .nonsense" in err and "query error" not in err
