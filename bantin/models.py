"""The SQL models: `transforms/` is a dbt project, run here in-process (dbt's `dbtRunner`).

Layers: sources (the ledger, raw rows and reference tables the pipeline writes) → `staging`
(the rows in force, the calendar) → `intermediate` (trailing windows, pooled units, the level
state) → `marts` (what the bulletin, the sign-off and analysts read). Every model is a file;
its columns are documented, and its grain and keys tested, in the YAML beside it.

`build` is the pipeline's one way to bring the marts up to date. It must be called while the
caller holds the warehouse's writer lock (`store.writer`), with that connection idle (no open
transaction): dbt opens its own connection to the same file, which in one process shares the
pipeline's DuckDB instance (same path, same configuration), so no other process can write
meanwhile. It redoes only what changed: it compares the ledger with what the marts were built
from (`ops.build_input`) and has dbt replace the marts' rows from the first changed report date on
(`rebuild_from`, a dbt var read by every incremental model); the code or reference data changing
makes it a full refresh.

A killed build: dbt commits model by model, so a build killed half-way leaves some models
rebuilt and others not. Nothing else notices: what the marts were built from (`ops.build_state`,
`ops.build_input`) is recorded only after dbt has finished, so the next build redoes the same
dates (a model already rebuilt is rebuilt again to the same rows); the analysts' snapshot is only
published after a successful build (`pipeline.publish` follows `build_marts`); and the bulletin
reads the marts only after its build succeeded. See docs/models.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from bantin import levels, reference, store, warehouse
from bantin.submission_format import COLUMNS

TRANSFORMS_DIR = Path(__file__).resolve().parent.parent / "transforms"
MODELS_DIR = TRANSFORMS_DIR / "models"
DOCS_SITE = "docs-site"  # beside the analysts' snapshot: warehouse/docs-site/index.html

log = logging.getLogger(__name__)


class ModelBuildError(RuntimeError):
    """dbt failed: a model did not build or a data test found bad rows (the message names them)."""


# --------------------------------------------------------------------------- the project


def model_names() -> dict[str, str]:
    """Every model as `schema.table` (the folder under models/ is the schema) → its file's stem."""
    return {f"{path.parent.name}.{path.stem}": path.stem for path in sorted(MODELS_DIR.glob("*/*.sql"))}


def submission_columns() -> list[dict]:
    """The contract's columns as the dbt var `submission_columns` (macros/submission_columns.sql)."""
    return [{"name": c.name, "type": c.type, "kind": c.kind} for c in COLUMNS]


def _project_files() -> list[Path]:
    return sorted(
        p
        for p in TRANSFORMS_DIR.rglob("*")
        if p.is_file()
        and p.suffix in (".sql", ".yml", ".md")
        and "target" not in p.relative_to(TRANSFORMS_DIR).parts
        and "logs" not in p.relative_to(TRANSFORMS_DIR).parts
    )


def _database_path(con) -> Path:
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    if not path:
        raise ValueError("the models run on a warehouse file, not an in-memory database")
    return Path(path)


def _work_dir(database: Path) -> Path:
    """dbt's compiled SQL, manifest, logs and docs for this warehouse: beside the file, never in the repo."""
    return database.parent / "dbt"


def run_dbt(
    command: list[str],
    *,
    database: Path,
    engine_config: dict | None = None,
    variables: dict | None = None,
    after_model: Callable[[str], None] | None = None,
    full_refresh: bool = False,
):
    """One dbt command (`build`, `run`, `docs generate` …) on the warehouse file, in this process.

    `engine_config` must be the configuration the caller's open connection to the same file was
    made with (DuckDB refuses a second one with another). `after_model` is called with each
    model's name once it is committed.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    work = _work_dir(database)
    variables = {
        "warehouse_path": str(database),
        "duckdb_config": engine_config or {"threads": 2},
        "submission_columns": submission_columns(),
        **(variables or {}),
    }
    args = [
        *command,
        "--project-dir",
        str(TRANSFORMS_DIR),
        "--profiles-dir",
        str(TRANSFORMS_DIR),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--vars",
        json.dumps(variables, default=str),
        "--log-level",
        "warn",
        "--log-level-file",
        "info",
        "--no-use-colors",
        "--no-send-anonymous-usage-stats",
        "--no-version-check",
        "--quiet",
        # no Rust parser (dbt-extractor): its thread pool costs address space a capped run needs (a
        # `bantin run` fits in 1 GiB: tests/test_hostile_day.py), and 12 models parse as fast with Jinja
        "--no-static-parser",
    ]
    if full_refresh:
        args.append("--full-refresh")

    def on_event(event) -> None:
        if after_model and event.info.name == "NodeFinished":
            node = event.data.node_info
            if node.resource_type == "model" and node.node_status == "success":
                after_model(f"{node.unique_id.split('.')[-1]}")

    started = time.perf_counter()
    try:
        result = dbtRunner(callbacks=[on_event]).invoke(args)
    finally:
        # dbt keeps its DuckDB connection for the process; let it go, so the file is the writer's alone
        with DuckDBConnectionManager._LOCK:
            if DuckDBConnectionManager._ENV is not None:
                DuckDBConnectionManager._ENV.close()
                DuckDBConnectionManager._ENV = None
    log.info("dbt %s in %.1fs", " ".join(command), time.perf_counter() - started)
    if not result.success:
        raise ModelBuildError(_failures(command, result, work))
    return result.result


def _failures(command: list[str], result, work: Path) -> str:
    lines = [f"dbt {' '.join(command)} failed"]
    if result.exception is not None:
        lines.append(str(result.exception))
    for node in getattr(result.result, "results", None) or []:
        if str(node.status) in ("error", "fail"):
            lines.append(f"{node.node.resource_type} {node.node.name}: {node.status}: {node.message}")
    lines.append(f"(log: {work / 'logs' / 'dbt.log'})")
    return "\n".join(lines)


# --------------------------------------------------------------------------- what a build must redo


@dataclass(frozen=True)
class BuildPlan:
    """What `build` will do: `full`, `incremental` from `rebuild_from`, or `none` (nothing changed)."""

    mode: str
    rebuild_from: date | None
    reason: str
    seconds_by_model: tuple[tuple[str, float], ...] = ()  # what dbt built, in order, and how long each took


# One fingerprint per district and report date: which files, in which status and version, with
# which rows (raw rows are never edited, but if someone does, the date is rebuilt all the same).
LEDGER_FINGERPRINT = """
    WITH content AS (
        SELECT submission_id, sum(hash(r)) AS rows_hash FROM raw.submission_row AS r GROUP BY submission_id
    )
    SELECT s.district_code, s.report_date,
           md5(string_agg(s.submission_id || ':' || s.status || ':' || coalesce(s.version, 0) || ':'
                          || coalesce(c.rows_hash, 0), ',' ORDER BY s.submission_id)) AS fingerprint
    FROM ops.submission AS s
    LEFT JOIN content AS c USING (submission_id)
    WHERE s.report_date IS NOT NULL
    GROUP BY s.district_code, s.report_date
"""


def inputs_fingerprint(province_codes: list[int], rule_sets_dir: Path = levels.RULE_SETS_DIR) -> str:
    """The code and reference data the marts are computed with: any change forces a full rebuild.

    The whole dbt project counts (models, macros, YAML), and so does the contract's column list; a
    rule-set file dropped into (or removed from) the rule-set folder is such a change too, and so is a
    change to the unit lists (reference/by_version/, every list and its period).
    """
    digest = hashlib.sha256(repr(sorted(province_codes)).encode())
    digest.update(project_fingerprint().encode())
    files = levels.rule_set_files(rule_sets_dir)
    files += [reference.REFERENCE_DIR / name for name in warehouse.REFERENCE_FILES.values()]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def plan_build(con, *, fingerprint: str, calendar_end: date, full_refresh: bool = False) -> BuildPlan:
    """Compare the ledger (`current_build_input`) and calendar with what the marts were last built from."""
    state = dict(con.execute("SELECT key, value FROM ops.build_state").fetchall())
    built = {
        name
        for (name,) in con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database()"
        ).fetchall()
    }
    if full_refresh:
        return BuildPlan("full", None, "full refresh asked for")
    if not set(model_names()) <= built:
        return BuildPlan("full", None, "first build")
    if state.get("inputs_fingerprint") != fingerprint:
        return BuildPlan("full", None, "transforms or reference data changed")
    changed = con.execute("""
        SELECT min(report_date) FROM (
            SELECT coalesce(now.report_date, before.report_date) AS report_date
            FROM current_build_input AS now
            FULL OUTER JOIN ops.build_input AS before USING (district_code, report_date)
            WHERE now.fingerprint IS DISTINCT FROM before.fingerprint)""").fetchone()[0]
    previous_end = date.fromisoformat(state["calendar_end"]) if state.get("calendar_end") else None
    candidates = [d for d in (changed,) if d is not None]
    if previous_end is None or calendar_end > previous_end:
        candidates.append(previous_end + timedelta(days=1) if previous_end else calendar_end)
    if not candidates:
        return BuildPlan("none", None, "no new or changed submission since the last build")
    first = min(candidates)
    why = f"changed submissions from {changed}" if changed == first else f"new report dates from {first}"
    return BuildPlan("incremental", first, why)


def build(
    con,
    *,
    province_codes: list[int],
    calendar_end: date,
    full_refresh: bool = False,
    rule_sets_dir: Path = levels.RULE_SETS_DIR,
    engine_config: dict | None = None,
    after_model: Callable[[str], None] | None = None,
) -> BuildPlan:
    """Reference tables and `dbt build` (models and their data tests) as the plan says; then record
    what the marts were built from.

    Call with the writer's connection, outside any transaction (see the module's doc): each step
    commits on its own, and the record of the inputs is written last, so a build killed before the
    end is redone whole by the next one. `engine_config`: the configuration `con` was opened with
    (`store.engine_config(settings)`); by default DuckDB's own with bantin's 2 threads.
    """
    levels.read_rule_sets(rule_sets_dir)  # a malformed file is refused before anything is written
    fingerprint = inputs_fingerprint(province_codes, rule_sets_dir)
    calendar_end = max(
        calendar_end, con.execute("SELECT max(report_date) FROM ops.report_day").fetchone()[0] or calendar_end
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE current_build_input AS {LEDGER_FINGERPRINT}")
    plan = plan_build(con, fingerprint=fingerprint, calendar_end=calendar_end, full_refresh=full_refresh)
    log.info("build plan: %s (%s)", plan.mode, plan.reason)
    if plan.mode == "none":
        return plan
    if plan.mode == "full":
        with store.transaction(con):
            warehouse.load_reference(con, province_codes, rule_sets_dir)
            warehouse.comment_tables(con)
    result = run_dbt(
        ["build"],
        database=_database_path(con),
        engine_config=engine_config or _default_engine(con),
        variables={
            "calendar_end": calendar_end.isoformat(),
            "rebuild_from": plan.rebuild_from.isoformat() if plan.rebuild_from else None,
        },
        after_model=after_model,
        full_refresh=plan.mode == "full",
    )
    plan = replace(
        plan,
        seconds_by_model=tuple(
            (r.node.name, round(r.execution_time, 2)) for r in result.results if r.node.resource_type == "model"
        ),
    )
    with store.transaction(con):
        con.execute("DELETE FROM ops.build_input; INSERT INTO ops.build_input SELECT * FROM current_build_input")
        con.executemany(
            "INSERT OR REPLACE INTO ops.build_state VALUES (?, ?)",
            [("inputs_fingerprint", fingerprint), ("calendar_end", calendar_end.isoformat())],
        )
    return plan


def _default_engine(con) -> dict:
    return {"threads": int(con.execute("SELECT current_setting('threads')").fetchone()[0])}


def refresh_signoff(con, report_date: date, *, engine_config: dict | None = None) -> None:
    """marts.level_signoff for one report date again, after a decision on it (bantin.signoff).

    Call after the decision is committed, with the writer's connection idle.
    """
    run_dbt(
        ["run", "--select", "level_signoff"],
        database=_database_path(con),
        engine_config=engine_config or _default_engine(con),
        variables={"rebuild_from": report_date.isoformat()},
    )


# --------------------------------------------------------------------------- docs


def project_fingerprint() -> str:
    """The dbt project as it is now (models, macros, YAML) and the contract's columns."""
    digest = hashlib.sha256(json.dumps(submission_columns()).encode())
    for path in _project_files():
        digest.update(str(path.relative_to(TRANSFORMS_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def publish_docs(con, warehouse_dir: Path, *, engine_config: dict | None = None) -> Path:
    """dbt's docs site (models, columns, data tests, lineage) beside the analysts' snapshot.

    `warehouse_dir/docs-site/` holds index.html, manifest.json and catalog.json; serve it with any
    static web server (`python -m http.server -d var/warehouse/docs-site`). It is made again only
    when the project changed (`.project` inside records which), and swapped in whole like the
    snapshot, readable by every account.
    """
    import shutil

    target = warehouse_dir / DOCS_SITE
    fingerprint = project_fingerprint()
    stamp = target / ".project"
    if stamp.is_file() and stamp.read_text() == fingerprint:
        return target
    database = _database_path(con)
    run_dbt(["docs", "generate"], database=database, engine_config=engine_config or _default_engine(con))
    built = _work_dir(database) / "target"
    new = Path(tempfile.mkdtemp(prefix=f".{DOCS_SITE}.", dir=warehouse_dir))
    for name in ("index.html", "manifest.json", "catalog.json"):
        shutil.copy2(built / name, new / name)
    (new / ".project").write_text(fingerprint)
    warehouse.readable_by_all(new)
    old = warehouse_dir / f".{DOCS_SITE}.old.{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


@contextmanager
def schema_only(province_codes: list[int], calendar_end: date = date(2021, 10, 12)):
    """A warehouse with every table and comment and no ledger data, in a temporary folder removed after
    the block (the connection is to it): what the data dictionary documents."""
    with tempfile.TemporaryDirectory(prefix="bantin-schema-") as folder:
        con = store.scratch(path=Path(folder) / "schema.duckdb")
        try:
            store.migrate(con)
            build(con, province_codes=province_codes, calendar_end=calendar_end, engine_config=store.engine_config())
            yield con
        finally:
            con.close()


def data_dictionary(con) -> str:
    """Markdown: every analyst-facing table with its description and each column's type and meaning."""
    tables = con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name IN (SELECT unnest(?)) ORDER BY list_position(?, schema_name), table_name",
        [list(DICTIONARY_SCHEMAS), list(DICTIONARY_SCHEMAS)],
    ).fetchall()
    lines = [
        "# Data dictionary",
        "",
        "Generated from the warehouse's own comments (the marts' from the YAML beside each dbt model in",
        "`transforms/models/`, the ledger's, raw and reference tables' from `bantin/warehouse.py`) by",
        "`bantin data-dictionary`; a test fails when this file is out of date. The same descriptions, with",
        "each model's SQL, lineage and data tests, are in the docs site published beside the snapshot",
        "(`warehouse/docs-site/index.html`, made by `dbt docs generate`; see docs/models.md).",
        "Analysts: open `warehouse/analytics.duckdb` read-only (`bantin sql`), or the Parquet export:",
        "marts under `warehouse/parquet/<table>/report_date=YYYY-MM-DD/` (`report_date` is also a DATE",
        "column inside each file), reference tables and the ledger under `warehouse/parquet/ref/<table>/`",
        "and `warehouse/parquet/ops/<table>/`. Each publish renames a new snapshot over the old one: a",
        "connection left open keeps reading the snapshot it opened (and, in DuckDB, so does every new",
        "connection to the same path in that process while one is open): close them all and reconnect.",
        "",
        "Layers: `raw` every parsed row of every received file; `ref` units, population, capacity,",
        "rule sets; `ops` ledger and runs; `marts` the analyst tables (`staging` and `intermediate`",
        "are internal steps of the models).",
    ]
    for schema, table, comment in tables:
        lines += [
            "",
            f"## `{schema}.{table}`",
            "",
            (comment or "").strip(),
            "",
            "| column | type | meaning |",
            "|---|---|---|",
        ]
        for column, data_type, text in con.execute(
            "SELECT column_name, data_type, coalesce(comment, '') FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
            "ORDER BY column_index",
            [schema, table],
        ).fetchall():
            lines.append(f"| `{column}` | {data_type} | {' '.join(text.split()).replace('|', '/')} |")
    return "\n".join(lines) + "\n"


DICTIONARY_SCHEMAS = ("marts", "ops", "raw", "ref")
DATA_DICTIONARY = TRANSFORMS_DIR.parent / "docs" / "data-dictionary.md"
