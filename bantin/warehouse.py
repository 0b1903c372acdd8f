"""Warehouse: the DuckDB file, its schemas, the SQL model runner, the analyst snapshot.

DuckDB allows one writer process. Every write goes through `writer()`, which
takes an exclusive lock file first, so the collection DAG and the daily DAG
queue behind each other instead of failing. Each stage writes in one
transaction: a killed run leaves the warehouse as it was.

Layers: `raw` (every parsed row of every received file), `ref` (units,
population, capacity, rule sets), `ops` (ledger, findings, runs), `staging`
and `marts` (built by the SQL models under `transforms/`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bantin import reference
from bantin.submission_format import COLUMNS

TRANSFORMS_DIR = Path(__file__).resolve().parent.parent / "transforms"
RULE_SETS_DIR = reference.REFERENCE_DIR / "rule_sets"
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

CREATE TABLE IF NOT EXISTS raw.submission_row (
    submission_id VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    {", ".join(f"{c.name} {_SQL_TYPES[c.type]}" for c in COLUMNS)}
);
"""

TABLE_COMMENTS = {
    "ops.submission": "Submission ledger: one row per file received from a district inbox, every version kept. "
    "received_at/recorded_at are local wall-clock times in the province's time zone.",
    "ops.finding": "Every error and warning found in a submission, with the row and column as the clerk sees them.",
    "ops.report_day": "Report dates the pipeline has been asked to build (the marts' calendar ends at the latest).",
    "ops.pipeline_run": "One row per pipeline stage run: what it read, accepted, rejected, produced, and how long it took.",
    "raw.submission_row": "Every parsed row of every received file, typed by the contract; NULL where a cell could not be read.",
}


# --------------------------------------------------------------------------- connections


@contextmanager
def writer(settings):
    """The one read-write connection, behind an exclusive lock file."""
    import duckdb

    path: Path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(path.with_suffix(".lock")):
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
def _exclusive_lock(lock_path: Path):
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"warehouse busy: {lock_path} held for over {LOCK_TIMEOUT_S}s") from None
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


def load_reference(con, province_codes: list[int]) -> None:
    """(Re)load the `ref` schema for the provinces in scope, from the versioned CSVs and rule sets."""
    scope = ", ".join(str(int(p)) for p in province_codes)
    files = {
        "province": ("provinces.csv", f"province_code IN ({scope})"),
        "district": ("districts.csv", f"province_code IN ({scope})"),
        "commune": ("communes.csv", f"province_code IN ({scope})"),
        "treatment_capacity": ("treatment_capacity.csv", "TRUE"),
    }
    for table, (file_name, where) in files.items():
        path = reference.REFERENCE_DIR / file_name
        con.execute(
            f"CREATE OR REPLACE TABLE ref.{table} AS "
            f"SELECT * FROM read_csv(?, header = true, auto_detect = true) WHERE {where}",
            [str(path)],
        )
    _load_rule_sets(con)


def rule_set_files() -> list[Path]:
    return sorted(RULE_SETS_DIR.glob("*.json"))


def _load_rule_sets(con) -> None:
    rule_sets, bands, matrix = [], [], []
    for path in rule_set_files():
        spec = json.loads(path.read_text(encoding="utf-8"))
        p = spec["parameters"]
        key = spec["rule_set_id"]
        rule_sets.append((
            key, spec["version"], spec["name"], spec["legal_basis"], spec["effective_from"],
            p["transmission"]["numerator"], p["transmission"]["window_days"],
            p["vaccine"]["main_threshold"], p["vaccine"]["elderly_threshold"], p["vaccine"]["elderly_age"],
            p["elderly_adjustment"]["enabled"], p["elderly_adjustment"]["exempt_if_no_case_in_window"],
            p["capacity"]["commune_min_mobile_stations"], p["capacity"]["district_min_treatment_beds"],
            p["capacity"]["province_min_icu_beds_per_100k"], p["capacity"]["effect"], path.name,
        ))
        lowers = p["transmission"]["band_lower_bounds"]
        for band, lower in enumerate(lowers, start=1):
            upper = lowers[band] if band < len(lowers) else None
            bands.append((key, band, lower, upper))
        for band, (if_met, if_not) in p["matrix"].items():
            matrix.append((key, int(band), True, if_met))
            matrix.append((key, int(band), False, if_not))
    _check_rule_sets(rule_sets)
    con.execute("""
        CREATE OR REPLACE TABLE ref.rule_set (
            rule_set_id VARCHAR, version INTEGER, name VARCHAR, legal_basis VARCHAR, effective_from DATE,
            numerator VARCHAR, window_days INTEGER, main_coverage_threshold DOUBLE,
            elderly_coverage_threshold DOUBLE, elderly_age INTEGER, elderly_adjustment BOOLEAN,
            elderly_exempt_if_no_case BOOLEAN, commune_min_mobile_stations INTEGER,
            district_min_treatment_beds INTEGER, province_min_icu_beds_per_100k DOUBLE,
            capacity_effect VARCHAR, file_name VARCHAR)""")
    con.executemany("INSERT INTO ref.rule_set VALUES (" + ", ".join(["?"] * 17) + ")", rule_sets)
    con.execute("CREATE OR REPLACE TABLE ref.rule_set_band (rule_set_id VARCHAR, band INTEGER, "
                "lower_bound DOUBLE, upper_bound DOUBLE)")
    con.executemany("INSERT INTO ref.rule_set_band VALUES (?, ?, ?, ?)", bands)
    con.execute("CREATE OR REPLACE TABLE ref.rule_set_matrix (rule_set_id VARCHAR, band INTEGER, "
                "coverage_met BOOLEAN, level INTEGER)")
    con.executemany("INSERT INTO ref.rule_set_matrix VALUES (?, ?, ?, ?)", matrix)


def _check_rule_sets(rows: list[tuple]) -> None:
    for row in rows:
        key, numerator, window, elderly_age, effect = row[0], row[5], row[6], row[9], row[15]
        if numerator not in ("community", "all"):
            raise ValueError(f"rule set {key}: numerator must be 'community' or 'all', not {numerator!r}")
        if window not in (7, 14):
            raise ValueError(f"rule set {key}: window_days must be 7 or 14 (14 is halved), not {window}")
        if elderly_age != 65:
            raise ValueError(f"rule set {key}: the submission format v1 only reports the 65+ age group")
        if effect not in ("none", "cannot_lower", "raise_one"):
            raise ValueError(f"rule set {key}: capacity effect {effect!r} unknown")


# --------------------------------------------------------------------------- SQL models


@dataclass(frozen=True)
class Model:
    name: str  # schema.table
    path: Path
    sql: str
    depends_on: frozenset[str]


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
        elif text:
            table_doc.append(text)
    return " ".join(table_doc), columns


def run_models(con, *, calendar_end: date | None) -> list[str]:
    """Build every model, in order, as tables. Call inside a transaction."""
    con.execute("SET VARIABLE calendar_end = ?", [calendar_end])
    built = []
    for model in discover_models():
        started = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TABLE {model.name} AS\n{model.sql}")
        table_doc, columns = model_description(model)
        if table_doc:
            con.execute(f"COMMENT ON TABLE {model.name} IS {_literal(table_doc)}")
        for column, text in columns.items():
            con.execute(f"COMMENT ON COLUMN {model.name}.{column} IS {_literal(text)}")
        log.info("model %s built in %.2fs", model.name, time.perf_counter() - started)
        built.append(model.name)
    for table, text in TABLE_COMMENTS.items():
        con.execute(f"COMMENT ON TABLE {table} IS {_literal(text)}")
    return built


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
