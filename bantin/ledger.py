"""The submission ledger: recording every file received and settling which version of a report is in force.

Version = order of arrival for (district, report date). The newest file
without errors is `accepted`, the file in force; earlier good ones are
`superseded`; files with errors are `rejected` and never displace a good one.
`settle` is the only code that decides this, and `ops.submission_in_force` (a
view, created by a schema migration) is the only reading of it: validation's
history, the new-F0 alerts, the clerks' feedback, the reporting board, the
bulletin and the SQL models all select from the view, never from `status`.

Validation judges a batch of files before they are settled: it names them in
the session variable `provisionally_trusted` (`provisionally_trusting`), and the
view then counts them among the candidates, by the same newest-first order.

Pure SQL on a connection the caller holds (bantin.store gives it): this module
imports nothing of the stages.
"""

from __future__ import annotations

from contextlib import contextmanager

# Newest first among the files of one district and report date: the receipt time, then the bytes' hash
# (two files received in the same second are still ordered, the same way every time).
NEWEST_FIRST = "received_at DESC, sha256 DESC"
ARRIVAL = "received_at, sha256"

_SUBMISSION_COLUMNS = (
    "submission_id",
    "district_code",
    "report_date",
    "file_name",
    "landing_path",
    "archive_path",
    "sha256",
    "size_bytes",
    "received_at",
    "recorded_at",
    "version",
    "status",
    "error_count",
    "warning_count",
    "is_late",
    "headers_json",
    "channel",
    "provenance_json",
)

SUBMISSION_IN_FORCE_DDL = f"""
CREATE OR REPLACE VIEW ops.submission_in_force AS
-- The file in force of each district and report date: the newest accepted file (bantin/ledger.py),
-- or, inside a validation that trusts files not settled yet, the newest of those and the accepted one.
SELECT {", ".join(_SUBMISSION_COLUMNS)}
FROM ops.submission
WHERE report_date IS NOT NULL
  AND (status = 'accepted'
       OR list_contains(coalesce(getvariable('provisionally_trusted'), []::VARCHAR[]), submission_id))
QUALIFY row_number() OVER (PARTITION BY district_code, report_date ORDER BY {NEWEST_FIRST}) = 1;
"""


@contextmanager
def provisionally_trusting(con, submission_ids):
    """Within the block, `ops.submission_in_force` also counts these (unsettled, error-free) files."""
    con.execute("SET VARIABLE provisionally_trusted = ?::VARCHAR[]", [list(submission_ids)])
    try:
        yield con
    finally:
        con.execute("RESET VARIABLE provisionally_trusted")


# --------------------------------------------------------------------------- recording


def submission_id_for(district_code: int, sha256: str) -> str:
    """District code and the first 16 hex digits of the file's SHA-256."""
    return f"{district_code}-{sha256[:16]}"


def known_files(con) -> tuple[set[tuple[int, str]], set[str]]:
    """(district, sha256) of every file recorded, and every submission id (refused files have no hash)."""
    rows = con.execute("SELECT district_code, sha256, submission_id FROM ops.submission").fetchall()
    return {(district, sha) for district, sha, _ in rows}, {sid for _, _, sid in rows}


def record_submission(con, entry: dict, findings: list, rows: list[tuple] = (), *, row_columns=()) -> None:
    """One received file: its ledger row (status received), its intake findings, its parsed rows.

    `entry` has the ops.submission columns known at receipt; `findings` are
    bantin.findings.Finding; `rows` are (source_row, *values in `row_columns` order).
    Call inside a transaction.
    """
    names = list(entry)
    con.execute(
        f"INSERT INTO ops.submission ({', '.join(names)}, status) VALUES ({', '.join(['?'] * len(names))}, 'received')",
        [entry[n] for n in names],
    )
    insert_findings(con, [(entry["submission_id"], f) for f in findings], "intake")
    if rows:
        # by name: a column added to the contract later sits at the end of an older warehouse's table
        insert_rows(
            con,
            "raw.submission_row (submission_id, source_row, " + ", ".join(row_columns) + ")",
            [(entry["submission_id"], *row) for row in rows],
        )


def insert_findings(con, findings: list[tuple], stage: str) -> None:
    """(submission_id, Finding) pairs into ops.finding, found by `stage` (intake or validation)."""
    if not findings:
        return
    insert_rows(
        con,
        "ops.finding",
        [
            (sid, stage, f.severity, f.rule, f.row, f.column, f.header, f.value, f.message_vi, f.message_en)
            for sid, f in findings
        ],
    )


def insert_rows(con, table: str, rows: list[tuple]) -> None:
    """One multi-row INSERT: DuckDB's executemany binds row by row, ~100× slower for a file's rows."""
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        values = ", ".join([f"({', '.join(['?'] * len(chunk[0]))})"] * len(chunk))
        con.execute(f"INSERT INTO {table} VALUES {values}", [v for row in chunk for v in row])


def pending(con) -> list[str]:
    """Files recorded and not judged yet."""
    return [r[0] for r in con.execute("SELECT submission_id FROM ops.submission WHERE status = 'received'").fetchall()]


# --------------------------------------------------------------------------- settling


def settle(con, submission_ids: list[str]) -> None:
    """Verdicts, versions and supersession for the districts and dates these files touch.

    Counts each file's findings, numbers the versions of every (district,
    report date) they touch in order of arrival, and marks the newest good one
    accepted. Call inside the transaction that wrote the findings.
    """
    con.execute(
        """
        UPDATE ops.submission AS s SET
            error_count = f.errors, warning_count = f.warnings
        FROM (
            SELECT s2.submission_id,
                   count(f.rule) FILTER (WHERE f.severity = 'error') AS errors,
                   count(f.rule) FILTER (WHERE f.severity = 'warning') AS warnings
            FROM ops.submission AS s2 LEFT JOIN ops.finding AS f USING (submission_id)
            WHERE list_contains(?, s2.submission_id)
            GROUP BY s2.submission_id
        ) AS f
        WHERE s.submission_id = f.submission_id
        """,
        [submission_ids],
    )
    con.execute(
        f"""
        UPDATE ops.submission AS s SET version = v.version, status = v.status
        FROM (
            SELECT submission_id,
                   row_number() OVER arrival AS version,
                   CASE
                       WHEN error_count > 0 OR report_date IS NULL THEN 'rejected'
                       WHEN row_number() OVER newest_good = 1 THEN 'accepted'
                       ELSE 'superseded'
                   END AS status
            FROM ops.submission
            WHERE (district_code, report_date) IN (
                SELECT (district_code, report_date) FROM ops.submission WHERE list_contains(?, submission_id))
               OR list_contains(?, submission_id)
            WINDOW arrival AS (PARTITION BY district_code, report_date ORDER BY {ARRIVAL}),
                   newest_good AS (PARTITION BY district_code, report_date, error_count > 0
                                   ORDER BY {NEWEST_FIRST})
        ) AS v
        WHERE s.submission_id = v.submission_id
        """,
        [submission_ids, submission_ids],
    )
