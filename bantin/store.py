"""The pipeline's DuckDB file and its one owner: the lock, the connections, the schema, the stage record.

DuckDB allows one writer process. Every write goes through `writer()`, which
takes an exclusive lock file first, so the collection DAG and the daily DAG
queue behind each other instead of failing, and brings the schema up to date
(`migrate`) before handing the connection over. Hold it only for the reads and
writes themselves: parsing files, GX, the PDF and SMTP run outside it, so a
collection never waits behind a mail server.

The schema is a list of numbered migrations (`MIGRATIONS`); `ops.schema_version`
records which have been applied. An existing warehouse, including one made
before migrations existed (which `CREATE … IF NOT EXISTS` kept up on every open),
is upgraded in place the first time a writer opens it: a new column reaches
production. Add a migration at the end, never edit one that has shipped.

`stage()` times one pipeline stage and records it in `ops.pipeline_run`, its
failure included (status `failed` and the error), under the name the Airflow
task and the run summary use.

Readers (`reader`) open a file read-only: the analysts' snapshot, or in tests
and tools the live file when no writer is running. The generic `exclusive_lock`
also guards resources that are not this file (a channel's state, a date's
bulletin versions, the outbox): each caller names its own lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bantin import ledger
from bantin.operations import STAGES, summary_line

log = logging.getLogger(__name__)


class WarehouseBusy(TimeoutError):
    """The writer could not be had within the wait bound (BANTIN_LOCK_WAIT_S)."""


# --------------------------------------------------------------------------- locks


@contextmanager
def exclusive_lock(lock_path: Path, timeout: float):
    """One process at a time, machine-wide (flock on `lock_path`); waits up to `timeout` seconds
    (the operator's bound, Settings.lock_wait_seconds: BANTIN_LOCK_WAIT_S)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"another bantin process has held {lock_path} for over {timeout:g} s: "
                        "see which task is still running before clearing this one"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_path(settings) -> Path:
    """The writer's lock file, beside the warehouse."""
    return settings.warehouse_path.with_suffix(".lock")


def writer_is_free(settings) -> bool:
    """Whether the writer's lock could be taken at this moment (never waits)."""
    try:
        with exclusive_lock(lock_path(settings), timeout=0):
            return True
    except WarehouseBusy:
        return False


# --------------------------------------------------------------------------- connections


def engine_config(settings=None) -> dict:
    """DuckDB's threads and memory for bantin's connections (BANTIN_DUCKDB_THREADS, BANTIN_DUCKDB_MEMORY_LIMIT).

    No memory limit set: DuckDB's own default (80% of RAM; it spills to disk past it).
    """
    config = {"threads": int(getattr(settings, "duckdb_threads", 2))}
    if getattr(settings, "duckdb_memory_limit", ""):
        config["memory_limit"] = str(settings.duckdb_memory_limit)
    return config


@contextmanager
def writer(settings):
    """The one read-write connection, behind an exclusive lock file, schema up to date; waits within a bound.

    The lock file queues bantin's own processes; DuckDB's own lock on the file
    can still be held by a process that is not bantin's (an analyst who opened
    the live file by hand): that is waited for too, up to the same bound
    (BANTIN_LOCK_WAIT_S), then the error names the process holding it.
    """
    path: Path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    wait = settings.lock_wait_seconds
    deadline = time.monotonic() + wait
    with exclusive_lock(lock_path(settings), timeout=wait):
        con = _connect_when_free(path, engine_config(settings), deadline)
        try:
            os.chmod(path, 0o600)  # the live file is the pipeline's alone; analysts read the snapshot
            migrate(con)
            yield con
        finally:
            con.close()


def _held_by_another_process(problem: Exception) -> bool:
    """Whether DuckDB refused a connection because another process has the file open (its file lock)."""
    return "lock" in str(problem).lower()


def _connect_when_free(path: Path, config: dict, deadline: float):
    import duckdb

    pause = 0.1
    while True:
        try:
            return duckdb.connect(str(path), config=config)
        except duckdb.IOException as problem:
            if not _held_by_another_process(problem):
                raise
            if time.monotonic() > deadline:
                raise WarehouseBusy(
                    f"{path} is held open by another process past the wait bound (BANTIN_LOCK_WAIT_S): {problem}"
                ) from None
            log.warning("warehouse busy (%s); waiting", str(problem).splitlines()[0][:200])
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


@contextmanager
def reader(path: Path, settings=None, *, extra_config: dict | None = None):
    """A read-only connection to a DuckDB file: the analysts' snapshot, or the live file when no writer runs.

    `extra_config` locks a session down further (the analysts' session: no file system, no settings).
    """
    import duckdb

    con = duckdb.connect(str(path), read_only=True, config={**engine_config(settings), **(extra_config or {})})
    try:
        yield con
    finally:
        con.close()


@contextmanager
def current_reader(settings):
    """A look at the pipeline's state that never waits for the writer (`bantin levels show`).

    Yields (connection, None) on the live file, read-only, when no process has it open for
    writing; while one has (a DAG run is loading), (connection, time) on the analysts' snapshot
    and the time it was published, which is what the caller must tell its reader.
    """
    import duckdb

    try:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True, config=engine_config(settings))
        published = None
    except duckdb.IOException as problem:
        snapshot: Path = settings.analytics_path
        if not _held_by_another_process(problem):
            raise
        if not snapshot.is_file():
            raise WarehouseBusy(
                f"{settings.warehouse_path} is being written and no snapshot is published yet"
            ) from None
        con = duckdb.connect(str(snapshot), read_only=True, config=engine_config(settings))
        published = datetime.fromtimestamp(snapshot.stat().st_mtime, settings.timezone).replace(tzinfo=None)
    try:
        yield con, published
    finally:
        con.close()


def scratch(settings=None, path: Path | None = None):
    """A DuckDB of no consequence, never the pipeline's file (no lock): in memory for work copied out of the
    warehouse, or a throwaway file for a schema-only build (dbt needs a file to connect to)."""
    import duckdb

    return duckdb.connect(str(path) if path else ":memory:", config=engine_config(settings))


@contextmanager
def transaction(con):
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --------------------------------------------------------------------------- schema migrations


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable  # (con) -> None, or SQL text


def _sql_file(name: str) -> str:
    return (Path(__file__).parent / "migrations" / name).read_text(encoding="utf-8")


MIGRATIONS: tuple[Migration, ...] = (
    # The schema as it stood when migrations began (#13). Written with IF NOT EXISTS and
    # ADD COLUMN IF NOT EXISTS so that it adopts a warehouse made by any earlier release.
    Migration(1, "baseline: raw, ref, ops, staging, marts", lambda: _sql_file("0001_baseline.sql")),
    Migration(
        2,
        "ops.pipeline_run records failed stages (status, error)",
        """
        ALTER TABLE ops.pipeline_run ADD COLUMN status VARCHAR DEFAULT 'succeeded';
        ALTER TABLE ops.pipeline_run ALTER COLUMN status SET NOT NULL;
        ALTER TABLE ops.pipeline_run ADD COLUMN error VARCHAR;
    """,
    ),
    Migration(
        3,
        "ops.submission_in_force: the file in force of each district and report date",
        lambda: ledger.SUBMISSION_IN_FORCE_DDL,
    ),
    Migration(
        4,
        "raw.submission_row's columns in the contract's order (upgraded and new warehouses alike)",
        lambda: _sql_file("0004_raw_rows_in_contract_order.sql"),
    ),
    # The hand-made model runner's steps that the dbt project keeps under `intermediate` now: left in
    # `staging`, they would sit there stale and mislead an analyst browsing the schemas.
    Migration(
        5,
        "the models on dbt: staging.commune_window and staging.unit_daily move to intermediate",
        """
        DROP VIEW IF EXISTS staging.commune_window;
        DROP TABLE IF EXISTS staging.unit_daily;
    """,
    ),
)

_VERSION_TABLE = """
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.schema_version (
    version INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
);
"""


def schema_version(con) -> int:
    """The last migration applied to this database (0: none, e.g. a warehouse from before migrations)."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'ops' AND table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM ops.schema_version").fetchone()[0]


def migrate(con) -> list[int]:
    """Apply the migrations this database has not had, each in its own transaction; returns their versions.

    Cheap when up to date (one catalog read): every writer calls it.
    """
    current = schema_version(con)
    pending = [m for m in MIGRATIONS if m.version > current]
    for migration in pending:
        sql = migration.apply() if callable(migration.apply) else migration.apply
        with transaction(con):
            con.execute(_VERSION_TABLE)
            con.execute(sql)
            con.execute(
                "INSERT INTO ops.schema_version VALUES (?, ?, current_localtimestamp())",
                [migration.version, migration.description],
            )
        log.info("warehouse schema migrated to version %d: %s", migration.version, migration.description)
    return [m.version for m in pending]


# --------------------------------------------------------------------------- the stage record


def try_number(run_id: str) -> int:
    """The Airflow task's try when this process runs one for `run_id` (its AIRFLOW_CTX_* variables), else 1."""
    if os.environ.get("AIRFLOW_CTX_DAG_RUN_ID") == run_id and os.environ.get("AIRFLOW_CTX_TRY_NUMBER"):
        return int(os.environ["AIRFLOW_CTX_TRY_NUMBER"])
    return 1


@contextmanager
def stage(settings, name: str, *, run_id: str, report_date=None, stats: dict | None = None, write: bool = False):
    """Time one pipeline stage and record it in ops.pipeline_run, succeeded or failed.

    write=True: the stage's work needs the writer; yields the connection, and the
    record is written on it. write=False: the stage does its slow work (files,
    GX, PDF, SMTP) outside the lock and takes the writer itself where it must;
    yields None, and the writer is taken at the end only to write the record.
    A failed stage is recorded with its error, then the error goes on up (the
    Airflow task fails and retries). A stage that could not get the writer is
    only logged: recording it would wait on the same lock again.
    """
    if name not in STAGES:  # one name per stage: the task id, this record and the run summary
        raise ValueError(f"{name!r} is not a stage of bantin.operations.STAGES")
    stats = {} if stats is None else stats
    started, clock = datetime.now(), time.perf_counter()

    def record(con, status: str, error: str | None) -> None:
        seconds = time.perf_counter() - clock
        stats["seconds"] = round(seconds, 3)
        con.execute(
            "INSERT INTO ops.pipeline_run (run_id, stage, report_date, started_at, finished_at, seconds, "
            "stats_json, try_number, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                name,
                report_date,
                started,
                datetime.now(),
                seconds,
                json.dumps(stats, default=str),
                try_number(run_id),
                status,
                error,
            ],
        )

    def record_failure(con, problem: Exception) -> None:
        error = f"{type(problem).__name__}: {problem}"[:4000]
        try:
            if con is None:
                with writer(settings) as con:
                    record(con, "failed", error)
            else:
                _rollback_if_open(con)
                record(con, "failed", error)
        except Exception as unrecorded:  # e.g. the warehouse itself is what failed: the first error goes on up
            log.warning("%s failed, and the failure could not be recorded either: %s", name, unrecorded)

    if write:
        with writer(settings) as con:
            try:
                yield con
            except WarehouseBusy:
                raise
            except Exception as problem:
                record_failure(con, problem)
                raise
            record(con, "succeeded", None)
    else:
        try:
            yield None
        except WarehouseBusy:
            raise
        except Exception as problem:
            record_failure(None, problem)
            raise
        with writer(settings) as con:
            record(con, "succeeded", None)
    log.info("%s", summary_line(name, stats))


def _rollback_if_open(con) -> None:
    # no transaction open: the stage's own transaction() already rolled back
    with contextlib.suppress(Exception):
        con.execute("ROLLBACK")
