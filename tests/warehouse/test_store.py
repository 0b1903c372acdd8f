"""The store owns the warehouse file: its schema is migrated in place, every stage is recorded (failures too),
and nothing else opens the file or takes its lock."""

from __future__ import annotations

import ast
import dataclasses
import re
from datetime import date
from pathlib import Path

import pytest

from bantin import ledger, levels, pipeline, store
from bantin.submission_format import COLUMN_NAMES

from .loaded_warehouse import LAST_DAY, table_rows

REPO = Path(__file__).resolve().parents[2]
MAIN_SCHEMA = Path(__file__).parent / "fixtures" / "schema_main_3114b5d.sql"
LEDGER_TABLES = ("ops.submission", "ops.finding", "raw.submission_row", "ops.report_day", "ops.pipeline_run")


def _settings_at(settings, home: Path):
    return dataclasses.replace(
        settings, home=home, paths={k: home / v.relative_to(settings.home) for k, v in settings.paths.items()}
    )


def _columns(con, table: str) -> list[str]:
    schema, name = table.split(".")
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = "
            "current_database() AND schema_name = ? AND table_name = ? "
            "ORDER BY column_index",
            [schema, name],
        ).fetchall()
    ]


def _previous_release_warehouse(path: Path, ledger_rows: dict) -> None:
    """A warehouse as main (3114b5d) made it: its DDL, and ledger rows in its columns.

    The one place a test writes the file without the store: the previous release had none.
    """
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(MAIN_SCHEMA.read_text(encoding="utf-8"))
        for table, frame in ledger_rows.items():
            columns = [c for c in _columns(con, table) if c in frame.columns]
            con.execute(f"INSERT INTO {table} BY NAME SELECT {', '.join(columns)} FROM frame")
    finally:
        con.close()


def test_a_new_warehouse_has_every_migration_and_a_second_open_applies_none(settings):
    with store.writer(settings) as con:
        assert store.schema_version(con) == store.MIGRATIONS[-1].version
        applied = con.execute("SELECT version FROM ops.schema_version ORDER BY version").fetchall()
        assert [v for (v,) in applied] == [m.version for m in store.MIGRATIONS]
        assert store.migrate(con) == []


def test_migrations_are_numbered_in_order_without_gaps():
    assert [m.version for m in store.MIGRATIONS] == list(range(1, len(store.MIGRATIONS) + 1))


def test_raw_rows_have_every_column_of_the_submission_contract(settings):
    """A column added to submission_format.COLUMNS needs a migration that adds it: this fails until it has one."""
    with store.writer(settings) as con:
        assert set(COLUMN_NAMES) <= set(_columns(con, "raw.submission_row"))


def test_a_warehouse_made_by_main_is_migrated_in_place_and_builds_the_marts_a_fresh_one_builds(
    loaded_settings, tmp_path
):
    with store.reader(loaded_settings.warehouse_path) as con:
        rows = {t: con.execute(f"SELECT * FROM {t}").df() for t in LEDGER_TABLES}
    rows["ops.pipeline_run"] = rows["ops.pipeline_run"].head(3)
    old = _settings_at(loaded_settings, tmp_path / "old")
    _previous_release_warehouse(old.warehouse_path, rows)
    with store.reader(old.warehouse_path) as con:
        before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in LEDGER_TABLES}
        assert "channel" not in _columns(con, "ops.submission")  # main had no receipts' columns

    fresh = _settings_at(loaded_settings, tmp_path / "fresh")
    with store.writer(fresh) as con:  # the same ledger, as main could hold it, in a warehouse made today
        with store.reader(old.warehouse_path) as legacy:
            same = {t: legacy.execute(f"SELECT * FROM {t}").df() for t in LEDGER_TABLES}
        for table, frame in same.items():  # noqa: B007 (read by name)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame")

    built_old = pipeline.build_marts(old, LAST_DAY)
    built_fresh = pipeline.build_marts(fresh, LAST_DAY)
    assert built_old["mode"] == built_fresh["mode"] == "full"

    with store.reader(old.warehouse_path) as con:
        assert store.schema_version(con) == store.MIGRATIONS[-1].version
        assert {"channel", "provenance_json"} <= set(_columns(con, "ops.submission"))
        assert {"try_number", "status", "error"} <= set(_columns(con, "ops.pipeline_run"))
        # nothing lost: the rows main wrote are all there, its stage records read as succeeded
        assert {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in LEDGER_TABLES if t != "ops.pipeline_run"
        } == {t: n for t, n in before.items() if t != "ops.pipeline_run"}
        assert con.execute(
            "SELECT status, count(*) FROM ops.pipeline_run WHERE try_number IS NULL GROUP BY ALL"
        ).fetchall() == [("succeeded", 3)]
    marts = table_rows(old.warehouse_path)  # column order included: analysts' SELECT * and Parquet see it
    assert marts and marts == table_rows(fresh.warehouse_path)
    assert marts["marts.commune_daily"]


def test_a_failed_stage_is_recorded_with_its_error_and_its_writes_rolled_back(loaded_settings, tmp_path):
    bad_rules = tmp_path / "rule_sets"
    bad_rules.mkdir()
    (bad_rules / "broken.json").write_text('{"id": ', encoding="utf-8")
    settings = dataclasses.replace(loaded_settings, rule_sets_dir=bad_rules)
    with store.reader(settings.warehouse_path) as con:
        days_before = con.execute("SELECT count(*) FROM ops.report_day").fetchone()[0]
    with pytest.raises(levels.RuleSetError):
        pipeline.build_marts(settings, date(2021, 10, 20), run_id="run-that-fails")
    with store.reader(settings.warehouse_path) as con:
        ((status, error, stage),) = con.execute(
            "SELECT status, error, stage FROM ops.pipeline_run WHERE run_id = 'run-that-fails'"
        ).fetchall()
        assert con.execute("SELECT count(*) FROM ops.report_day").fetchone()[0] == days_before
    assert (status, stage) == ("failed", "build_marts") and error


def test_a_stage_outside_the_writer_is_recorded_failed_too(settings):
    with (
        pytest.raises(RuntimeError),
        store.stage(settings, "deliver_bulletin", run_id="r1", report_date=date(2021, 10, 19)),
    ):
        raise RuntimeError("relay refused")
    with store.stage(settings, "publish_snapshot", run_id="r1", stats={"snapshot": "x"}, write=True):
        pass
    with store.reader(settings.warehouse_path) as con:
        assert con.execute("SELECT stage, status, error FROM ops.pipeline_run ORDER BY started_at").fetchall() == [
            ("deliver_bulletin", "failed", "RuntimeError: relay refused"),
            ("publish_snapshot", "succeeded", None),
        ]


def test_the_file_in_force_is_one_view_that_validation_can_widen(loaded_settings):
    with store.writer(loaded_settings) as con:
        accepted = con.execute("SELECT count(*) FROM ops.submission WHERE status = 'accepted'").fetchone()[0]
        assert con.execute("SELECT count(*) FROM ops.submission_in_force").fetchone()[0] == accepted
        (superseded,) = con.execute(
            "SELECT submission_id FROM ops.submission WHERE status <> 'accepted' "
            "AND report_date IS NOT NULL AND error_count = 0 LIMIT 1"
        ).fetchone() or (None,)
        if superseded is not None:  # an older good version, trusted: the newer accepted one still wins
            with ledger.provisionally_trusting(con, [superseded]):
                assert con.execute("SELECT count(*) FROM ops.submission_in_force").fetchone()[0] == accepted


# --------------------------------------------------------------------------- one owner, one way


def _python_files():
    return sorted((REPO / "bantin").rglob("*.py")) + sorted((REPO / "dags").glob("*.py"))


def test_only_the_store_opens_the_warehouse_and_takes_locks():
    offenders = []
    for path in _python_files():
        text = path.read_text(encoding="utf-8")
        if path.name == "store.py":
            continue
        for needle in ("duckdb.connect(", "fcntl", "flock", 'with_suffix(".lock")'):
            if needle in text:
                offenders.append(f"{path.relative_to(REPO)}: {needle}")
    assert offenders == []
    # the other locks are the store's primitive on resources of their own, never the warehouse's lock file
    for path in _python_files():
        for match in re.finditer(r"exclusive_lock\(([^\n]+)", path.read_text(encoding="utf-8")):
            assert "warehouse" not in match.group(1), f"{path.name}: {match.group(0)}"


def _bantin_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "bantin":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("bantin."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("bantin.")}
    return found


# Above the pipeline: what runs it (the CLI, the Airflow operator and deadline callbacks, the DAGs).
ABOVE_THE_PIPELINE = {"pipeline", "cli", "signoff_operator", "deadlines", "airflow_plugin"}


def test_data_flows_one_way_no_module_below_the_pipeline_imports_it():
    importers = {p.stem for p in (REPO / "bantin").rglob("*.py") if "pipeline" in _bantin_imports(p)}
    assert importers <= ABOVE_THE_PIPELINE, importers - ABOVE_THE_PIPELINE


def test_the_store_and_the_ledger_import_nothing_of_the_stages():
    assert _bantin_imports(REPO / "bantin" / "ledger.py") == set()
    assert _bantin_imports(REPO / "bantin" / "store.py") <= {"ledger", "operations"}
    assert _bantin_imports(REPO / "bantin" / "operations.py") <= {"config"}  # the store's summary line


def test_files_are_parsed_and_gx_runs_with_the_writer_free(settings, monkeypatch):
    """Parsing and GX take seconds to minutes: a collection or a build elsewhere must not wait behind them."""
    from bantin import demo_data, intake, validation

    demo_data.generate(22, date(2021, 10, 19), date(2021, 10, 19), settings.landing)
    free_while = {"parsing": [], "validating": []}
    read_submission, validate_files = intake.read_submission, validation.validate_files

    def parsing(*args, **kwargs):
        free_while["parsing"].append(store.writer_is_free(settings))
        return read_submission(*args, **kwargs)

    def validating(*args, **kwargs):
        free_while["validating"].append(store.writer_is_free(settings))
        return validate_files(*args, **kwargs)

    monkeypatch.setattr(intake, "read_submission", parsing)
    monkeypatch.setattr(validation, "validate_files", validating)
    assert pipeline.collect(settings)["new"] > 0
    assert pipeline.validate(settings)["validated"] > 0
    assert free_while["parsing"] and all(free_while["parsing"])
    assert free_while["validating"] and all(free_while["validating"])
