"""Warehouse: the DuckDB file, its schemas, the SQL model runner, the analyst snapshot.

DuckDB allows one writer process. Every write goes through `writer()`, which
takes an exclusive lock file first, so the collection DAG and the daily DAG
queue behind each other instead of failing. Each stage writes in one
transaction: a killed run leaves the warehouse as it was.

Layers: `raw` (every parsed row of every received file), `ref` (units,
population, capacity, rule sets), `ops` (ledger, findings, runs), `staging`
and `marts` (built by the SQL models under `transforms/`).

`build` redoes only what changed: it compares the ledger with what the marts
were built from (`ops.build_input`) and replaces the marts' rows from the first
changed report date on. `publish_snapshot` and `export_parquet` give analysts a
copy swapped in whole; `sql_query`/`sql_shell` read it; `data_dictionary`
documents every table from the database's own comments.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import re
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable
from pathlib import Path

from bantin import levels, reference
from bantin.submission_format import COLUMNS

TRANSFORMS_DIR = Path(__file__).resolve().parent.parent / "transforms"
LOCK_TIMEOUT_S = 30 * 60

log = logging.getLogger(__name__)

_SQL_TYPES = {"date": "DATE", "integer": "BIGINT", "text": "VARCHAR"}

DDL = f"""
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS ref;
CREATE SCHEMA IF NOT EXISTS ops;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS marts;

CREATE TABLE IF NOT EXISTS ops.submission (
    submission_id VARCHAR PRIMARY KEY,
    district_code INTEGER NOT NULL,
    report_date DATE,
    file_name VARCHAR NOT NULL,
    landing_path VARCHAR NOT NULL,
    archive_path VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    version INTEGER,
    status VARCHAR NOT NULL,
    error_count INTEGER NOT NULL DEFAULT 0,
    warning_count INTEGER NOT NULL DEFAULT 0,
    is_late BOOLEAN NOT NULL,
    headers_json VARCHAR
);

CREATE TABLE IF NOT EXISTS ops.finding (
    submission_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    source_row INTEGER,
    column_name VARCHAR,
    header VARCHAR,
    value VARCHAR,
    message_vi VARCHAR NOT NULL,
    message_en VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS ops.report_day (
    report_date DATE PRIMARY KEY,
    requested_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS ops.pipeline_run (
    run_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    report_date DATE,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    seconds DOUBLE NOT NULL,
    stats_json VARCHAR
);

CREATE TABLE IF NOT EXISTS ops.build_state (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS ops.build_input (
    district_code INTEGER NOT NULL,
    report_date DATE NOT NULL,
    fingerprint VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS ops.f0_alert (
    report_date DATE NOT NULL,
    commune_code INTEGER NOT NULL,
    district_code INTEGER NOT NULL,
    submission_id VARCHAR NOT NULL,
    new_cases_community BIGINT NOT NULL,
    alerted_at TIMESTAMP NOT NULL,
    recipients VARCHAR NOT NULL,
    sent BOOLEAN NOT NULL,
    outbox_path VARCHAR NOT NULL,
    PRIMARY KEY (report_date, commune_code)
);

CREATE TABLE IF NOT EXISTS ops.level_decision (
    report_date DATE NOT NULL,
    unit_type VARCHAR NOT NULL,
    unit_code INTEGER NOT NULL,
    computed_level INTEGER NOT NULL,
    declared_level INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    decided_by VARCHAR NOT NULL,
    decided_at TIMESTAMP NOT NULL,
    reason VARCHAR,
    channel VARCHAR NOT NULL,
    rule_set_id VARCHAR,
    rule_set_version INTEGER
);

CREATE TABLE IF NOT EXISTS raw.submission_row (
    submission_id VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    {", ".join(f"{c.name} {_SQL_TYPES[c.type]}" for c in COLUMNS)}
);
-- columns added to the contract later (optional ones): a warehouse made before them gains them, NULL
{"".join(f"ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS {c.name} {_SQL_TYPES[c.type]};" for c in COLUMNS)}
"""

TABLE_COMMENTS = {
    "ops.submission": "Submission ledger: one row per file received from a district inbox, every version kept. "
    "received_at/recorded_at are local wall-clock times in the province's time zone.",
    "ops.finding": "Every error and warning found in a submission, with the row and column as the clerk sees them.",
    "ops.report_day": "Report dates the pipeline has been asked to build (the marts' calendar ends at the latest).",
    "ops.pipeline_run": "One row per pipeline stage run: what it read, accepted, rejected, produced, and how long it took.",
    "ops.build_state": "What the marts were last built with: a fingerprint of the transforms and reference data, "
    "and the last report date of their calendar.",
    "ops.build_input": "The ledger as the marts last saw it, one fingerprint per district and report date: "
    "a date whose fingerprint changes is rebuilt, with everything after it.",
    "ops.f0_alert": "Urgent new-F0 alerts sent (bantin.alerts): one row per report date and commune that had "
    "community cases after 14 quiet days. alerted_at is local wall-clock time; outbox_path the copy of the message.",
    "ops.level_decision": "The Director's sign-off (bantin.signoff): one row per report date, unit and decision, "
    "status approved or overridden, the computed level at the time and the declared one, who (decided_by), when "
    "(decided_at, local time), why, through which channel (airflow_hitl, cli). The latest decision of a date is in force.",
    "ref.province": "Provinces in scope (GSO codes), from reference/provinces.csv.",
    "ref.district": "Districts in scope, from reference/districts.csv; island districts without communes included.",
    "ref.commune": "Communes in scope with population (total, 18+, 65+), from reference/communes.csv.",
    "ref.treatment_capacity": "Treatment beds and ICU beds ready per district and province (criterion 3 of the levels).",
    "raw.submission_row": "Every parsed row of every received file, typed by the contract; NULL where a cell could not be read.",
}


# --------------------------------------------------------------------------- connections


@contextmanager
def writer(settings):
    """The one read-write connection, behind an exclusive lock file."""
    import duckdb

    path: Path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(path.with_suffix(".lock")):
        con = duckdb.connect(str(path))
        try:
            con.execute(DDL)
            yield con
        finally:
            con.close()


@contextmanager
def reader(path: Path):
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def exclusive_lock(lock_path: Path):
    """One process at a time, machine-wide (flock on `lock_path`); waits up to LOCK_TIMEOUT_S."""
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another bantin process has held {lock_path} for over {LOCK_TIMEOUT_S} s: "
                                       "see which task is still running before clearing this one") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def transaction(con):
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --------------------------------------------------------------------------- reference tables


REFERENCE_FILES = {
    "province": "provinces.csv",
    "district": "districts.csv",
    "commune": "communes.csv",
    "treatment_capacity": "treatment_capacity.csv",
}


def load_reference(con, province_codes: list[int], rule_sets_dir: Path = levels.RULE_SETS_DIR) -> None:
    """(Re)load the `ref` schema for the provinces in scope, from the versioned CSVs and rule sets."""
    scope = ", ".join(str(int(p)) for p in province_codes)
    for table, file_name in REFERENCE_FILES.items():
        where = "TRUE" if table == "treatment_capacity" else f"province_code IN ({scope})"
        path = reference.REFERENCE_DIR / file_name
        con.execute(
            f"CREATE OR REPLACE TABLE ref.{table} AS "
            f"SELECT * FROM read_csv(?, header = true, auto_detect = true) WHERE {where}",
            [str(path)],
        )
    levels.load_rule_sets(con, rule_sets_dir)


# --------------------------------------------------------------------------- SQL models


@dataclass(frozen=True)
class Model:
    name: str  # schema.table
    path: Path
    sql: str
    depends_on: frozenset[str]

    @property
    def is_view(self) -> bool:
        """`-- @view` in the header: an intermediate step read by one model, not worth writing to disk."""
        return any(line.strip() == "-- @view" for line in self.sql.splitlines() if line.startswith("--"))


def discover_models(directory: Path = TRANSFORMS_DIR) -> list[Model]:
    """Every `transforms/<schema>/<table>.sql`, in dependency order.

    A model depends on another when its SQL names it (`schema.table`): like
    dbt's ref(), but the name in the SQL is the only declaration needed.
    """
    files = sorted(directory.glob("*/*.sql"))
    names = {f"{f.parent.name}.{f.stem}": f for f in files}
    models = {}
    for name, path in names.items():
        sql = path.read_text(encoding="utf-8")
        code = _strip_comments(sql)
        deps = frozenset(n for n in names if n != name and re.search(rf"\b{re.escape(n)}\b", code))
        models[name] = Model(name, path, sql, deps)
    return _topological(models)


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _topological(models: dict[str, Model]) -> list[Model]:
    ordered, done, visiting = [], set(), set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise ValueError(f"transforms: dependency cycle through {name}")
        visiting.add(name)
        for dep in sorted(models[name].depends_on):
            visit(dep)
        visiting.discard(name)
        done.add(name)
        ordered.append(models[name])

    for name in sorted(models):
        visit(name)
    return ordered


def model_description(model: Model) -> tuple[str, dict[str, str]]:
    """The model's doc comment: leading `--` lines, and `-- column: text` lines for columns."""
    table_doc, columns = [], {}
    for line in model.sql.splitlines():
        if not line.startswith("--"):
            break
        text = line[2:].strip()
        match = re.match(r"^@column (\w+): (.+)$", text)
        if match:
            columns[match.group(1)] = match.group(2)
        elif text and not text.startswith("@"):
            table_doc.append(text)
    return " ".join(table_doc), columns


def run_models(con, *, calendar_end: date | None, rebuild_from: date | None = None,
               after_model: Callable[[Model], None] | None = None) -> list[str]:
    """Build every model, in dependency order. Call inside a transaction.

    rebuild_from None: every table is rebuilt whole (CREATE OR REPLACE).
    rebuild_from a date: `staging` tables are still rebuilt whole (they hold
    the windows reaching back in time), while each `marts` table with a
    `report_date` keeps its rows before that date and has exactly the rows from
    that date on deleted and inserted again: the changed date and everything
    that depends on it (trailing sums, later levels).
    """
    con.execute("SET VARIABLE calendar_end = ?", [calendar_end])
    levels.define_macros(con)  # number formatting the level model's reasons use
    built = []
    for model in discover_models():
        started = time.perf_counter()
        _drop_if_other_kind(con, model)
        if model.is_view:
            con.execute(f"CREATE OR REPLACE VIEW {model.name} AS\n{model.sql}")
        elif rebuild_from is not None and _is_incremental(con, model):
            con.execute("DELETE FROM " + model.name + " WHERE report_date >= ?", [rebuild_from])
            con.execute(f"INSERT INTO {model.name} BY NAME SELECT * FROM (\n{model.sql}\n) WHERE report_date >= ?",
                        [rebuild_from])
        else:
            con.execute(f"CREATE OR REPLACE TABLE {model.name} AS\n{model.sql}")
            _comment_model(con, model)
        log.info("model %s built in %.2fs", model.name, time.perf_counter() - started)
        built.append(model.name)
        if after_model:
            after_model(model)
    for table, text in {**TABLE_COMMENTS, **levels.REF_COMMENTS}.items():
        con.execute(f"COMMENT ON TABLE {table} IS {_literal(text)}")
    return built


def rebuild_table(con, name: str) -> None:
    """Rebuild one model whole (the sign-off refreshes marts.level_signoff after a decision)."""
    (model,) = [m for m in discover_models() if m.name == name]
    con.execute(f"CREATE OR REPLACE TABLE {model.name} AS\n{model.sql}")
    _comment_model(con, model)


def _drop_if_other_kind(con, model: Model) -> None:
    """A model that turned from table to view (or back) since the last build: drop the old object."""
    schema, name = model.name.split(".")
    found = con.execute("SELECT table_type FROM information_schema.tables WHERE table_catalog = current_database() "
                        "AND table_schema = ? AND table_name = ?", [schema, name]).fetchone()
    if found and (found[0] == "VIEW") != model.is_view:
        con.execute(f"DROP {'VIEW' if found[0] == 'VIEW' else 'TABLE'} {model.name}")


def _is_incremental(con, model: Model) -> bool:
    schema, table = model.name.split(".")
    return schema == "marts" and con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? AND column_name = 'report_date'", [schema, table]).fetchone()[0] > 0


def _comment_model(con, model: Model) -> None:
    table_doc, columns = model_description(model)
    if table_doc:
        con.execute(f"COMMENT ON TABLE {model.name} IS {_literal(table_doc)}")
    for column, text in columns.items():
        con.execute(f"COMMENT ON COLUMN {model.name}.{column} IS {_literal(text)}")


# --------------------------------------------------------------------------- what a build must redo


@dataclass(frozen=True)
class BuildPlan:
    """What `build` will do: `full`, `incremental` from `rebuild_from`, or `none` (nothing changed)."""

    mode: str
    rebuild_from: date | None
    reason: str


# One fingerprint per district and report date: which files, in which status and version, with
# which rows (raw rows are never edited, but if someone does, the date is rebuilt all the same).
_LEDGER_FINGERPRINT = """
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

    A rule-set file dropped into (or removed from) the rule-set folder is such a change.
    """
    digest = hashlib.sha256(repr(sorted(province_codes)).encode())
    files = [m.path for m in discover_models()] + levels.rule_set_files(rule_sets_dir)
    files += [reference.REFERENCE_DIR / name for name in REFERENCE_FILES.values()]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def plan_build(con, *, fingerprint: str, calendar_end: date, full_refresh: bool = False) -> BuildPlan:
    """Compare the ledger (`current_build_input`) and calendar with what the marts were last built from."""
    state = dict(con.execute("SELECT key, value FROM ops.build_state").fetchall())
    built = {name for (name,) in con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database()"
    ).fetchall()}
    if full_refresh:
        return BuildPlan("full", None, "full refresh asked for")
    if not {m.name for m in discover_models()} <= built:
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


def build(con, *, province_codes: list[int], calendar_end: date, full_refresh: bool = False,
          after_model: Callable[[Model], None] | None = None,
          rule_sets_dir: Path = levels.RULE_SETS_DIR) -> BuildPlan:
    """Reference tables and models as the plan says, then remember what they were built from.

    Call inside a transaction: the marts and the record of their inputs change together or not at all.
    """
    levels.read_rule_sets(rule_sets_dir)  # a malformed file is refused before anything is written
    fingerprint = inputs_fingerprint(province_codes, rule_sets_dir)
    calendar_end = max(calendar_end, con.execute("SELECT max(report_date) FROM ops.report_day").fetchone()[0]
                       or calendar_end)
    con.execute(f"CREATE OR REPLACE TEMP TABLE current_build_input AS {_LEDGER_FINGERPRINT}")
    plan = plan_build(con, fingerprint=fingerprint, calendar_end=calendar_end, full_refresh=full_refresh)
    log.info("build plan: %s (%s)", plan.mode, plan.reason)
    if plan.mode == "none":
        return plan
    if plan.mode == "full":
        load_reference(con, province_codes, rule_sets_dir)
    run_models(con, calendar_end=calendar_end, rebuild_from=plan.rebuild_from, after_model=after_model)
    con.execute("DELETE FROM ops.build_input; INSERT INTO ops.build_input SELECT * FROM current_build_input")
    con.executemany("INSERT OR REPLACE INTO ops.build_state VALUES (?, ?)",
                    [("inputs_fingerprint", fingerprint), ("calendar_end", calendar_end.isoformat())])
    return plan


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- analyst snapshot


def publish_snapshot(con, target: Path) -> Path:
    """Copy `ref` and `marts` into a new file, then rename it over the analysts' snapshot.

    Analysts open the snapshot read-only; they never hold the writer's lock and
    never see a half-built file, because rename is atomic.
    """
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    for leftover in (partial, partial.with_name(partial.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con.execute(f"ATTACH '{partial}' AS snapshot")
    try:
        tables = con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name IN ('ref', 'marts', 'ops')"
        ).fetchall()
        for schema in sorted({s for s, _, _ in tables}):
            con.execute(f"CREATE SCHEMA snapshot.{schema}")
        for schema, table, _ in tables:
            con.execute(f"CREATE TABLE snapshot.{schema}.{table} AS SELECT * FROM {schema}.{table}")
        _copy_comments(con, "snapshot")
    finally:
        con.execute("DETACH snapshot")
    os.replace(partial, target)
    return target


def _copy_comments(con, database: str) -> None:
    for schema, table, comment in con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() "
        "WHERE database_name = current_database() AND comment IS NOT NULL").fetchall():
        if schema in ("ref", "marts", "ops"):
            con.execute(f"COMMENT ON TABLE {database}.{schema}.{table} IS {_literal(comment)}")
    for schema, table, column, comment in con.execute(
        "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND comment IS NOT NULL").fetchall():
        if schema in ("ref", "marts", "ops"):
            con.execute(f"COMMENT ON COLUMN {database}.{schema}.{table}.{column} IS {_literal(comment)}")


PARQUET_LINK = "parquet"


def export_parquet(con, warehouse_dir: Path, *, keep: int = 2) -> Path:
    """Every mart as Parquet, partitioned by report date, under a new folder; then swing the link.

    `warehouse/parquet` is a symbolic link to the latest complete export and is
    replaced atomically (a new link renamed over it), so a reader never lists
    half a folder. The previous export stays for readers still in it.
    """
    exports = warehouse_dir / "parquet.d"
    exports.mkdir(parents=True, exist_ok=True)
    # names sort in time order (pruning keeps the newest); mkdtemp makes two exports in one second distinct
    folder = Path(tempfile.mkdtemp(prefix=datetime.now().strftime("%Y%m%dT%H%M%S%f-"), dir=exports))
    tables = con.execute(
        "SELECT t.table_name, bool_or(c.column_name = 'report_date') FROM duckdb_tables() AS t "
        "JOIN duckdb_columns() AS c USING (database_name, schema_name, table_name) "
        "WHERE t.database_name = current_database() AND t.schema_name = 'marts' GROUP BY t.table_name"
    ).fetchall()
    for table, by_date in sorted(tables):
        target = folder / table
        if by_date:
            con.execute(f"COPY marts.{table} TO '{target}' (FORMAT parquet, PARTITION_BY (report_date))")
        else:
            target.mkdir()
            con.execute(f"COPY marts.{table} TO '{target / 'data.parquet'}' (FORMAT parquet)")
    link = warehouse_dir / PARQUET_LINK
    if link.is_dir() and not link.is_symlink():
        # A data root copied with `cp -r` (or restored from a backup) turns the link into a real
        # folder, which a link cannot be renamed over: file it with the old exports, to be pruned.
        os.replace(link, exports / f"00000000T000000000000-{PARQUET_LINK}-copied-{os.getpid()}")
    temporary = warehouse_dir / f".{PARQUET_LINK}.{os.getpid()}.link"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(folder.relative_to(warehouse_dir))
    os.replace(temporary, link)
    for old in sorted(p for p in exports.iterdir() if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return link


# --------------------------------------------------------------------------- data dictionary


DICTIONARY_SCHEMAS = ("marts", "ops", "raw", "ref")


def schema_only(province_codes: list[int], calendar_end: date = date(2021, 10, 12)):
    """An in-memory warehouse with every table and comment and no ledger data."""
    import duckdb

    con = duckdb.connect()
    con.execute(DDL)
    load_reference(con, province_codes)
    run_models(con, calendar_end=calendar_end)
    return con


def data_dictionary(con) -> str:
    """Markdown: every analyst-facing table with its description and each column's type and meaning."""
    tables = con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name IN (SELECT unnest(?)) ORDER BY list_position(?, schema_name), table_name",
        [list(DICTIONARY_SCHEMAS), list(DICTIONARY_SCHEMAS)]).fetchall()
    lines = [
        "# Data dictionary",
        "",
        "Generated from the warehouse's own comments (`COMMENT ON`, written from `transforms/` and",
        "`bantin/warehouse.py`) by `bantin data-dictionary`; a test fails when this file is out of date.",
        "Analysts: open `warehouse/analytics.duckdb` read-only (`bantin sql`), or the Parquet export",
        "under `warehouse/parquet/<table>/report_date=YYYY-MM-DD/`.",
        "",
        "Layers: `raw` every parsed row of every received file; `ref` units, population, capacity,",
        "rule sets; `ops` ledger and runs; `marts` the analyst tables (`staging` is internal).",
    ]
    for schema, table, comment in tables:
        lines += ["", f"## `{schema}.{table}`", "", comment or "", "", "| column | type | meaning |",
                  "|---|---|---|"]
        for column, data_type, text in con.execute(
                "SELECT column_name, data_type, coalesce(comment, '') FROM duckdb_columns() "
                "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
                "ORDER BY column_index", [schema, table]).fetchall():
            lines.append(f"| `{column}` | {data_type} | {text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


DATA_DICTIONARY = TRANSFORMS_DIR.parent / "docs" / "data-dictionary.md"


# --------------------------------------------------------------------------- analysts' SQL


def sql_query(snapshot: Path, query: str, output_format: str, out) -> int:
    """Run one query on the snapshot, read-only; print a table, CSV or JSON. 0 ok, 1 the query failed."""
    import duckdb

    with reader(snapshot) as con:
        try:
            relation = con.sql(query)
            if relation is None:  # a statement with no result (SET, PRAGMA …)
                return 0
            columns, rows = relation.columns, relation.fetchall()
        except duckdb.Error as problem:
            print(f"Lỗi truy vấn / query error: {problem}", file=sys.stderr)
            return 1
    _print_rows(columns, rows, output_format, out)
    return 0


def _print_rows(columns: list[str], rows: list[tuple], output_format: str, out) -> None:
    if output_format == "csv":
        import csv

        writer_ = csv.writer(out)
        writer_.writerow(columns)
        writer_.writerows(rows)
    elif output_format == "json":
        out.write(json.dumps([dict(zip(columns, r)) for r in rows], ensure_ascii=False, default=str, indent=1) + "\n")
    else:
        cells = [[("NULL" if v is None else str(v)) for v in row] for row in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        line = lambda values: " | ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
        out.write("\n".join([line(columns), "-+-".join("-" * w for w in widths), *map(line, cells)]) + "\n")
        out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def sql_shell(snapshot: Path) -> int:
    """A small interactive shell on the snapshot: statements end with `;`, `.quit` or Ctrl-D leaves."""
    try:
        import readline  # noqa: F401  (line editing and history when available)
    except ImportError:
        pass
    print(f"bantin sql — {snapshot} (chỉ đọc / read-only). Kết thúc câu lệnh bằng ';'. .tables, .quit")
    buffer = []
    while True:
        try:
            line = input("bantin> " if not buffer else "   ...> ")
        except EOFError:
            print()
            return 0
        if not buffer and line.strip() in (".quit", ".exit"):
            return 0
        if not buffer and line.strip() == ".tables":
            line = "SELECT schema_name || '.' || table_name AS table_name, comment FROM duckdb_tables() ORDER BY 1;"
        buffer.append(line)
        if line.rstrip().endswith(";"):
            sql_query(snapshot, "\n".join(buffer), "table", sys.stdout)
            buffer = []
