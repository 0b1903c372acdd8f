"""Warehouse: the reference tables, the comments on the pipeline's own tables, the analysts' snapshot.

The DuckDB file itself (lock, connections, schema migrations, stage record) is
`bantin.store`'s; the submission ledger's rules are `bantin.ledger`'s. The
functions here take a connection the store gave; each stage writes in one
transaction: a killed run leaves the warehouse as it was.

Layers: `raw` (every parsed row of every received file), `ref` (units,
population, capacity, rule sets), `ops` (ledger, findings, runs), `staging`,
`intermediate` and `marts` (built by the dbt models under `transforms/`).

The SQL models (staging, intermediate, marts) are a dbt project run by
`bantin.models`. `publish_snapshot` and `export_parquet` give analysts a copy
swapped in whole; `sql_query`/`sql_shell` read it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from bantin import levels, reference, store
from bantin.submission_format import COLUMNS

log = logging.getLogger(__name__)

TABLE_COMMENTS = {
    "ops.submission": "Submission ledger: one row per file received from a district inbox, every version kept. "
    "received_at/recorded_at are local wall-clock times in the province's time zone; received_at is the receipt "
    "time the channel's server or bantin recorded (never the file's own time), channel the way it came "
    "(inbox, imap, sftp, demo) and provenance_json the channel's details (message id, sender, remote path).",
    "ops.finding": "Every error and warning found in a submission, with the row and column as the clerk sees them.",
    "ops.report_day": "Report dates the pipeline has been asked to build (the marts' calendar ends at the latest).",
    "ops.pipeline_run": "One row per pipeline stage run, succeeded or failed: what it read, accepted, rejected, "
    "produced, how long it took, and for a failure its error. "
    "run_id is the Airflow run's id, or cli__<time>__<id> for one `bantin run`; a retried task adds a row per try.",
    "ops.schema_version": "The warehouse's schema migrations applied (bantin/store.py MIGRATIONS), one row each: "
    "a warehouse is upgraded in place the first time a newer bantin opens it.",
    "ops.submission_in_force": "The file in force of each district and report date (bantin/ledger.py): the newest "
    "file without errors. The one reading of the ledger that validation, alerts, feedback, the board, the bulletin "
    "and the marts use (a view in the warehouse, a table in the snapshot).",
    "ops.build_state": "What the marts were last built with: a fingerprint of the transforms and reference data, "
    "and the last report date of their calendar.",
    "ops.build_input": "The ledger as the marts last saw it, one fingerprint per district and report date: "
    "a date whose fingerprint changes is rebuilt, with everything after it.",
    "ops.f0_alert": "Urgent new-F0 alerts sent (bantin.alerts): one row per report date and commune that had "
    "community cases after 14 quiet days. alerted_at is local wall-clock time; outbox_path the copy of the message.",
    "ops.level_decision": "The Director's sign-off (bantin.signoff): one row per report date, unit and decision, "
    "status approved or overridden, the computed level at the time and the declared one, who (decided_by), when "
    "(decided_at, local time), why, through which channel (airflow_hitl, cli). The latest decision of a date is in "
    "force.",
    "ref.reference_version": "The unit lists (reference/by_version/versions.csv), one row each, with the report "
    "dates each is in force: every ref unit table holds the units of every list, and a report date's units are "
    "the rows of the list in force on it (report_date BETWEEN valid_from AND coalesce(valid_to, DATE '9999-12-31')); "
    "the marts say which list each row is on (reference_version).",
    "ref.province": "Provinces in scope (GSO codes) on every unit list, from reference/by_version/provinces.csv.",
    "ref.district": "Districts in scope on every unit list, from reference/by_version/districts.csv; island "
    "districts without communes included. On the two-tier list (2025-07-01, no district tier) the rows are the "
    "province's reporting areas (district_type khu_vuc): groups of communes that send one file, not "
    "administrative units.",
    "ref.commune": "Commune-level reporting units in scope on every unit list (Quảng Ninh: 177 on the list of "
    "2021-02-03, 171 on that of 2025-01-04, 54 on the two-tier list of 2025-07-01), with population (total, "
    "18+, 65+, 50+), from reference/by_version/communes.csv; an island district without communes is its own "
    "unit (commune_code = district_code, commune_type huyen_dao).",
    "ref.commune_succession": "From each unit list to the next, the piece of each earlier commune-level unit in "
    "each later one (reference/by_version/commune_succession.csv; matching methods in reference/README.md): how a "
    "series is restated on another list, and which unit carries on the trailing days of a commune whose code the "
    "next list no longer has.",
    "ref.treatment_capacity": "Treatment beds and ICU beds ready per district and province on every unit list "
    "(criterion 3 of the levels).",
    "raw.submission_row": "Every parsed row of every received file, typed by the contract; "
    "NULL where a cell could not be read.",
}


_POPULATION = {
    "population": "Total population (reference, 2019 census basis; see reference/README.md)",
    "population_18plus": "Population aged 18+",
    "population_65plus": "Population aged 65+",
    "population_50plus": "Population aged 50+ (estimate, see reference/README.md), "
    "for rule sets whose elderly group is 50+",
    "source": "Where the figures come from (census, estimate method, or demo)",
}
_SUBMISSION_COLUMNS = {c.name: c.description for c in COLUMNS}  # described once, in the contract
_UNIT_LIST = {
    "reference_version": "The unit list the row is on (ref.reference_version; the date of the GSO list)",
    "valid_from": "First report date the list is in force",
    "valid_to": "Last report date the list is in force, inclusive (NULL: the newest list, still in force)",
}

# Every column of the ledger, raw and reference tables (the marts' come from the YAML beside each model in
# transforms/): written with COMMENT ON at each build, read by the data dictionary and analysts' tools.
COLUMN_COMMENTS = {
    "ops.submission": {
        "submission_id": "Submission id: district code and the first 16 hex digits of the file's SHA-256",
        "district_code": "District whose inbox the file arrived in (GSO code)",
        "report_date": "Report date read from the file (NULL when it could not be read)",
        "file_name": "File name as the district sent it",
        "landing_path": "Where the file was found, relative to the data root",
        "archive_path": "The byte-for-byte copy kept in the archive, relative to the data root",
        "sha256": "SHA-256 of the file's bytes: the same bytes sent twice are recorded once",
        "size_bytes": "File size in bytes",
        "received_at": "Receipt time (local wall-clock time): when the channel's server (mail server, SFTP) or "
        "bantin first saw the file, never a time the sender controls",
        "recorded_at": "When the pipeline recorded it (local wall-clock time)",
        "version": "Order of arrival among the files of this district and report date (1 = first)",
        "status": "received (not validated yet), accepted (the one in the figures), superseded (an "
        "earlier good file), rejected (has errors)",
        "error_count": "Errors found in the file (any error rejects it)",
        "warning_count": "Warnings found in the file (accepted, but worth a look)",
        "is_late": "Received after the cutoff of its report date",
        "headers_json": "The file's column headers as written, by column name (JSON)",
        "channel": "How the file came: inbox (dropped in the landing folder), imap, sftp or demo",
        "provenance_json": "The channel's details of the receipt (message id, sender, remote path), JSON",
    },
    "ops.schema_version": {
        "version": "Migration number (bantin/store.py MIGRATIONS)",
        "description": "What the migration changed",
        "applied_at": "When it was applied to this warehouse (local wall-clock time of the pipeline's host)",
    },
    "ops.finding": {
        "submission_id": "The file the finding is about (ops.submission)",
        "stage": "Which check found it: intake (reading the file) or validation (the GX suites)",
        "severity": "error (the file is rejected) or warning",
        "rule": "Identifier of the rule broken (docs/spec/submission-format.md)",
        "source_row": "Row number in the file as the clerk sees it (NULL for a file-wide finding)",
        "column_name": "Column the finding is about (contract name)",
        "header": "That column's header as written in the file",
        "value": "The offending value, as text",
        "message_vi": "What is wrong and what to do, in Vietnamese",
        "message_en": "What is wrong and what to do, in English",
    },
    "ops.report_day": {
        "report_date": "A report date the pipeline was asked to build",
        "requested_at": "When it was first asked for (local wall-clock time)",
    },
    "ops.pipeline_run": {
        "run_id": "Airflow run id (manual__/scheduled__/backfill__…) or cli__<time>__<id> for one `bantin run`",
        "stage": "Pipeline stage, named as its Airflow task (collect, validate, alert_new_f0, build_marts, "
        "publish_snapshot, render_bulletin, deliver_bulletin)",
        "report_date": "Report date of the stage (NULL for stages that serve every date: collect, validate)",
        "started_at": "Stage start (local wall-clock time)",
        "finished_at": "Stage end (local wall-clock time)",
        "seconds": "Duration in seconds",
        "stats_json": "What the stage read, accepted, rejected and produced (JSON)",
        "try_number": "The Airflow task's try (1 first, 2 the first retry …); 1 for `bantin run`; "
        "NULL for rows written before it was recorded",
        "status": "succeeded or failed (rows written before failures were recorded: succeeded)",
        "error": "For a failed stage, the error it failed with (type and message); NULL otherwise",
    },
    "ops.build_state": {
        "key": "inputs_fingerprint (transforms and reference data) or calendar_end (last report date built)",
        "value": "Its value when the marts were last built",
    },
    "ops.build_input": {
        "district_code": "District (GSO code)",
        "report_date": "Report date",
        "fingerprint": "MD5 over the district's files for that date (ids, statuses, versions, row contents)",
    },
    "ops.level_decision": {
        "report_date": "Report date the decision is for",
        "unit_type": "commune, district or province",
        "unit_code": "GSO code of the unit",
        "computed_level": "Level bantin computed when the decision was taken",
        "declared_level": "Level the Director declared (equal to the computed one for an approval)",
        "status": "approved or overridden",
        "decided_by": "Who decided (as entered in Airflow or `bantin levels`)",
        "decided_at": "When (local wall-clock time)",
        "reason": "The Director's reason (required for an override)",
        "channel": "Where the decision was taken: airflow_hitl (the task in daily_bulletin) or cli (`bantin levels`)",
        "rule_set_id": "Rule set the computed level came from",
        "rule_set_version": "Its version",
    },
    "ops.f0_alert": {
        "report_date": "Report date of the new community cases",
        "commune_code": "Commune with community cases after 14 quiet days",
        "district_code": "Its district",
        "submission_id": "The accepted file that reported them",
        "new_cases_community": "Community cases reported that day",
        "alerted_at": "When the alert was sent (local wall-clock time)",
        "recipients": "Who it went to (BANTIN_ALERT_TO)",
        "sent": "Whether the mail went out (false: no recipients configured, outbox copy only)",
        "outbox_path": "Copy of the message, relative to the data root",
    },
    "ops.submission_in_force": None,  # the same columns as ops.submission: filled in below
    "raw.submission_row": {
        "submission_id": "The file the row comes from (ops.submission)",
        "source_row": "Row number in the file as the clerk sees it",
        **_SUBMISSION_COLUMNS,
    },
    "ref.reference_version": {
        "reference_version": "The unit list: the date of the GSO list it comes from",
        "valid_from": "First report date it is in force",
        "valid_to": "Last report date it is in force, inclusive (NULL: the newest list, still in force)",
        "package": "The Python package the list is taken from",
        "package_version": "The package release",
        "provinces": "Provinces on the list (the whole country)",
        "districts": "Districts on the list (the whole country)",
        "communes": "Communes on the list (the whole country)",
        "reporting_units": "Commune-level reporting units: the communes and the island districts without communes",
    },
    "ref.province": {
        **_UNIT_LIST,
        "province_code": "GSO province code",
        "province_name": "Province name (short)",
        "province_name_full": "Province name with its administrative type (Tỉnh …, Thành phố …)",
        "ncsc_portal_id": "The province's id on the national COVID-19 portal (source of the real series)",
        **_POPULATION,
    },
    "ref.district": {
        **_UNIT_LIST,
        "district_code": "GSO district code",
        "district_name": "District name",
        "province_code": "Province (GSO code)",
        "district_type": "quan, huyen, thi_xa or thanh_pho; khu_vuc: a reporting area of a two-tier list",
        **_POPULATION,
    },
    "ref.commune": {
        **_UNIT_LIST,
        "commune_code": "GSO commune code",
        "commune_name": "Commune name",
        "commune_type": "phuong, xa, thi_tran, dac_khu (a special zone, after July 2025), or huyen_dao (an island "
        "district that is its own unit)",
        "district_code": "District (GSO code)",
        "province_code": "Province (GSO code)",
        **_POPULATION,
    },
    "ref.commune_succession": {
        "from_version": "The earlier unit list",
        "to_version": "The next unit list",
        "from_code": "Commune-level unit on the earlier list",
        "from_name": "Its name there",
        "from_district_code": "Its district there",
        "from_population": "Its population there",
        "to_code": "Commune-level unit on the next list that (part of) it became",
        "to_name": "Its name there",
        "to_district_code": "Its district (or reporting area) there",
        "to_population": "Its population there",
        "province_code": "Province of the later unit (GSO code)",
        "population": "The piece: people of the earlier unit now in the later one",
        "method": "How the pair was matched: code, name, name_syllables, nearest_code, split_name, split_nearest_code",
    },
    "ref.treatment_capacity": {
        **_UNIT_LIST,
        "unit_type": "district or province",
        "unit_code": "GSO code of the district or province",
        "treatment_beds": "COVID-19 treatment beds ready",
        "icu_beds": "ICU beds ready",
        "source": "Where the figures come from (demo: made up for the demo province)",
    },
    "ref.rule_set": {
        "rule_set_id": "Rule set identifier (the legal text's number, e.g. 4800/QĐ-BYT)",
        "version": "Version of the rule set file",
        "name": "Title of the guidance",
        "legal_basis": "The decision and resolution it implements",
        "effective_from": "First report date it applies to",
        "numerator": "Which cases count for the transmission rate: community or all",
        "window_days": "Days the weekly rate is summed over",
        "main_coverage_threshold": "Share of people 18+ with one dose above which coverage is met (0-1)",
        "elderly_coverage_threshold": "Share of elderly fully vaccinated required (0-1)",
        "elderly_age": "Age from which a person counts as elderly",
        "elderly_adjustment": "Whether low elderly coverage raises the level one step",
        "elderly_exempt_if_no_case": "Whether a unit without cases in the window is exempt from that raise",
        "commune_min_mobile_stations": "Mobile medical stations a commune needs for capacity to be met",
        "district_min_treatment_beds": "Treatment beds a district needs for capacity to be met",
        "province_min_icu_beds_per_100k": "ICU beds per 100,000 a province needs for capacity to be met",
        "capacity_effect": "What unmet capacity does (cannot_lower: the level may not go down)",
        "file_name": "The rule set's file under reference/rule_sets/",
        "band_lower_bounds": "Lower bound of each transmission band, cases per 100,000 per week",
        "level_if_coverage_met": "Level of each band when main coverage is met",
        "level_if_coverage_not_met": "Level of each band when it is not",
        "province_codes": "Provinces the rule set is scoped to (NULL: every province)",
        "coverage_raise": "How coverage shortfalls raise a band's level: one_level (at most one) or additive",
    },
    "ref.rule_set_band": {
        "rule_set_id": "Rule set (ref.rule_set)",
        "version": "Its version",
        "band": "Transmission band, 1 (lowest) to 4",
        "lower_bound": "Weekly cases per 100,000 from which the band starts (inclusive)",
        "upper_bound": "Where the next band starts (exclusive; NULL for the top band)",
    },
    "ref.rule_set_matrix": {
        "rule_set_id": "Rule set (ref.rule_set)",
        "version": "Its version",
        "band": "Transmission band",
        "coverage_met": "Whether main vaccine coverage is met",
        "level": "Epidemic level, 1 (green, new normal) to 4 (red, very high risk)",
    },
}

COLUMN_COMMENTS["ops.submission_in_force"] = COLUMN_COMMENTS["ops.submission"]

# --------------------------------------------------------------------------- analysts' connection


@contextmanager
def analyst_session(snapshot: Path, settings=None):
    """The analysts' connection: the snapshot read-only, no file system, no settings to change.

    `enable_external_access=False` closes COPY … TO, EXPORT, ATTACH, read_text /
    read_csv of host files and extension loading; `lock_configuration=True`
    closes SET/RESET/PRAGMA of settings (memory and threads stay as given).
    """
    locked_down = {
        "enable_external_access": False,
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
        "lock_configuration": True,
    }
    with store.reader(snapshot, settings, extra_config=locked_down) as con:
        yield con


# --------------------------------------------------------------------------- reference tables


REFERENCE_FILES = {
    "reference_version": "by_version/versions.csv",
    "province": "by_version/provinces.csv",
    "district": "by_version/districts.csv",
    "commune": "by_version/communes.csv",
    "treatment_capacity": "by_version/treatment_capacity.csv",
    "commune_succession": "by_version/commune_succession.csv",  # from one list to the next, not per list
}


def load_reference(con, province_codes: list[int], rule_sets_dir: Path = levels.RULE_SETS_DIR) -> None:
    """(Re)load the `ref` schema for the provinces in scope: every unit list (`ref.reference_version`), the units,
    populations and capacity of each list (`reference_version`, `valid_from`, `valid_to`, then the unit's
    columns), and the rule sets. The models take each report date's units from the list in force on it."""
    scope = ", ".join(str(int(p)) for p in province_codes)
    for table, file_name in REFERENCE_FILES.items():
        where = "TRUE" if table in ("reference_version", "treatment_capacity") else f"province_code IN ({scope})"
        path = reference.REFERENCE_DIR / file_name
        if table == "commune_succession":  # province_code: the later unit's province
            con.execute(
                f"CREATE OR REPLACE TABLE ref.{table} AS SELECT * FROM read_csv(?, header = true, "
                f"auto_detect = true, types = {{'from_version': 'VARCHAR', 'to_version': 'VARCHAR'}}) WHERE {where}",
                [str(path)],
            )
            continue
        con.execute(
            f"CREATE OR REPLACE TABLE ref.{table} AS "
            "SELECT CAST(version AS VARCHAR) AS reference_version, CAST(valid_from AS DATE) AS valid_from, "
            "CAST(valid_to AS DATE) AS valid_to, * EXCLUDE (version, valid_from, valid_to) "
            f"FROM read_csv(?, header = true, auto_detect = true, types = {{'version': 'VARCHAR'}}) WHERE {where}",
            [str(path)],
        )
    levels.load_rule_sets(con, rule_sets_dir)


# --------------------------------------------------------------------------- comments


def comment_tables(con) -> None:
    """COMMENT ON the ledger's, raw and reference tables and columns (the marts' come from the dbt
    project's YAML, bantin.models): what the data dictionary and analysts' tools show."""
    for table, text in {**TABLE_COMMENTS, **levels.REF_COMMENTS}.items():
        con.execute(f"COMMENT ON TABLE {table} IS {_literal(text)}")
    for table, columns in COLUMN_COMMENTS.items():
        for column, text in columns.items():
            con.execute(f"COMMENT ON COLUMN {table}.{column} IS {_literal(text)}")


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- analyst snapshot

SNAPSHOT_SCHEMAS = ("raw", "ref", "marts", "ops")  # what the analysts' snapshot carries
PARQUET_SCHEMAS = ("marts", "ref", "ops")  # what the Parquet export carries (raw rows stay in the snapshot)


def publish_snapshot(con, target: Path) -> Path:
    """Copy SNAPSHOT_SCHEMAS (raw, ref, marts, ops) into a new file, then rename it over the analysts' snapshot.

    Analysts open the snapshot read-only; they never hold the writer's lock and
    never see a half-built file, because rename is atomic.
    """
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    # Called under the writer lock: any partial snapshot (and its WAL) is debris of a killed or disk-full run.
    for leftover in target.parent.glob(f".{target.name}.*.partial*"):
        leftover.unlink(missing_ok=True)
    con.execute(f"ATTACH '{partial}' AS snapshot")
    try:
        tables = con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name IN (SELECT unnest(?))",
            [list(SNAPSHOT_SCHEMAS)],
        ).fetchall()
        for schema in sorted({s for s, _, _ in tables}):
            con.execute(f"CREATE SCHEMA snapshot.{schema}")
        for schema, table, _ in tables:
            con.execute(f"CREATE TABLE snapshot.{schema}.{table} AS SELECT * FROM {schema}.{table}")
        # the ledger's reading of which file is in force, as a table (a view would not travel)
        con.execute("CREATE TABLE snapshot.ops.submission_in_force AS SELECT * FROM ops.submission_in_force")
        con.execute(
            "COMMENT ON TABLE snapshot.ops.submission_in_force IS "
            + _literal(TABLE_COMMENTS["ops.submission_in_force"])
        )
        _copy_comments(con, "snapshot")
    finally:
        con.execute("DETACH snapshot")
    partial.chmod(0o644)  # analysts read it from their own accounts
    os.replace(partial, target)
    return target


def _copy_comments(con, database: str) -> None:
    for schema, table, comment in con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() "
        "WHERE database_name = current_database() AND comment IS NOT NULL"
    ).fetchall():
        if schema in SNAPSHOT_SCHEMAS:
            con.execute(f"COMMENT ON TABLE {database}.{schema}.{table} IS {_literal(comment)}")
    for schema, table, column, comment in con.execute(
        "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND comment IS NOT NULL"
    ).fetchall():
        if schema in SNAPSHOT_SCHEMAS:
            con.execute(f"COMMENT ON COLUMN {database}.{schema}.{table}.{column} IS {_literal(comment)}")


PARQUET_LINK = "parquet"


def readable_by_all(root: Path) -> None:
    """Folders 0755 and files 0644 whatever the pipeline's umask (mkdtemp makes 0700)."""
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def export_parquet(con, warehouse_dir: Path, *, keep: int = 2) -> Path:
    """The analysts' tables as Parquet under a new folder; then swing the link.

    Marts: `parquet/<table>/report_date=YYYY-MM-DD/*.parquet`, with `report_date` also a DATE column
    inside each file (a reader without hive partitioning still gets it, typed). Reference tables and
    the ledger: `parquet/ref/<table>/data.parquet`, `parquet/ops/<table>/data.parquet`.
    `warehouse/parquet` is a symbolic link to the latest complete export and is
    replaced atomically (a new link renamed over it), so a reader never lists
    half a folder. The previous export stays for readers still in it. Everything is
    readable by other accounts (analysts are not the pipeline's user).
    """
    exports = warehouse_dir / "parquet.d"
    exports.mkdir(parents=True, exist_ok=True)
    # names sort in time order (pruning keeps the newest); mkdtemp makes two exports in one second distinct
    folder = Path(tempfile.mkdtemp(prefix=datetime.now().strftime("%Y%m%dT%H%M%S%f-"), dir=exports))
    tables = con.execute(  # the ledger's views (ops.submission_in_force) too, as the snapshot has them
        "SELECT t.schema_name, t.table_name, bool_or(c.column_name = 'report_date') FROM ("
        "SELECT database_name, schema_name, table_name FROM duckdb_tables() UNION ALL "
        "SELECT database_name, schema_name, view_name FROM duckdb_views() WHERE NOT internal) AS t "
        "JOIN duckdb_columns() AS c USING (database_name, schema_name, table_name) "
        "WHERE t.database_name = current_database() AND t.schema_name IN (SELECT unnest(?)) "
        "GROUP BY ALL",
        [list(PARQUET_SCHEMAS)],
    ).fetchall()
    for schema, table, by_date in sorted(tables):
        target = folder / table if schema == "marts" else folder / schema / table
        if schema == "marts" and by_date:
            con.execute(
                f"COPY {schema}.{table} TO '{target}' "
                "(FORMAT parquet, PARTITION_BY (report_date), WRITE_PARTITION_COLUMNS true)"
            )
        else:
            target.mkdir(parents=True)
            con.execute(f"COPY {schema}.{table} TO '{target / 'data.parquet'}' (FORMAT parquet)")
    readable_by_all(folder)
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


# --------------------------------------------------------------------------- analysts' SQL


def sql_query(snapshot: Path, query: str, output_format: str, out, settings=None) -> int:
    """Run one statement on the snapshot in the analysts' session; print a table, CSV or JSON.

    0 ok, 1 the query failed or was refused (several statements in one call, or
    anything the locked-down session refuses: see `analyst_session`).
    """
    import duckdb

    with analyst_session(snapshot, settings) as con:
        try:
            statements = con.extract_statements(query)
            if len(statements) != 1:
                print(
                    "Lỗi truy vấn / query error: mỗi lần chạy đúng một câu lệnh / exactly one statement per call "
                    f"({len(statements)} given)",
                    file=sys.stderr,
                )
                return 1
            relation = con.sql(query)
            if relation is None:  # a statement with no result
                return 0
            columns, rows = relation.columns, relation.fetchall()
        except duckdb.Error as problem:
            print(f"Lỗi truy vấn / query error: {terminal_text(problem)}", file=sys.stderr)
            return 1
    _print_rows(columns, rows, output_format, out)
    return 0


# C0 and C1 control characters (escape sequences start with ESC or CSI) and the bidirectional
# overrides that make text read differently than it is: never sent to an analyst's terminal.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def terminal_text(value) -> str:
    """Text from the warehouse (file content: untrusted) made safe to print: control characters dropped."""
    return _UNPRINTABLE.sub("", str(value))


def spreadsheet_safe(value):
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a leading apostrophe."""
    if isinstance(value, str):
        value = terminal_text(value)
        if value.startswith(_FORMULA_PREFIXES):
            return "'" + value
    return value


def _print_rows(columns: list[str], rows: list[tuple], output_format: str, out) -> None:
    columns = [terminal_text(c) for c in columns]
    if output_format == "csv":
        import csv

        writer_ = csv.writer(out)
        writer_.writerow([spreadsheet_safe(c) for c in columns])
        writer_.writerows([spreadsheet_safe(v) for v in row] for row in rows)
    elif output_format == "json":
        # JSON escapes C0 controls itself; C1 and bidi controls are dropped from text values.
        records = [
            {c: terminal_text(v) if isinstance(v, str) else v for c, v in zip(columns, r, strict=True)} for r in rows
        ]
        out.write(json.dumps(records, ensure_ascii=False, default=str, indent=1) + "\n")
    else:
        cells = [
            [("NULL" if v is None else terminal_text(str(v).replace("\n", " ").replace("\t", " "))) for v in row]
            for row in rows
        ]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        line = lambda values: " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()  # noqa: E731
        out.write("\n".join([line(columns), "-+-".join("-" * w for w in widths), *map(line, cells)]) + "\n")
        out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


SHELL_HELP = """\
  SELECT …;     một câu lệnh SQL, kết thúc bằng ';' / a SQL statement, ended by ';' (several lines allowed)
  .tables       các bảng và mô tả / tables and their descriptions (docs/data-dictionary.md has every column)
  .help         trợ giúp này / this help
  .quit         thoát / leave (also Ctrl-D)
The snapshot is read-only and fixed while the shell is open: leave and start again to see a newer publish."""


def sql_shell(snapshot: Path) -> int:
    """A small interactive shell on the snapshot: statements end with `;`, `.quit` or Ctrl-D leaves."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history when available)
    print(f"bantin sql — {snapshot} (chỉ đọc / read-only). Kết thúc câu lệnh bằng ';'. .help, .tables, .quit")
    buffer = []
    while True:
        try:
            line = input("bantin> " if not buffer else "   ...> ")
        except EOFError:
            print()
            return 0
        command = line.strip()
        if not buffer and command in (".quit", ".exit"):
            return 0
        if not buffer and command == ".tables":
            line = "SELECT schema_name || '.' || table_name AS table_name, comment FROM duckdb_tables() ORDER BY 1;"
        elif not buffer and command.startswith("."):  # a shell command is never part of a query
            print(
                SHELL_HELP if command == ".help" else f"Lệnh không rõ / unknown command: {command} (.help)",
                file=sys.stdout if command == ".help" else sys.stderr,
            )
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            sql_query(snapshot, "\n".join(buffer), "table", sys.stdout)
            buffer = []
