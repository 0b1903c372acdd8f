"""Helpers for the validation tests (imported by the test modules): demo rows as files, stacked frames, an accepted
history.

Every test here runs the real GX suites; files of many variants are validated
in one call (as the pipeline does), then each variant's findings are checked.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from functools import lru_cache

from bantin.submission_format import COLUMN_NAMES

PROVINCE = 22
DISTRICT = 202  # Ba Chẽ, Quảng Ninh: 7 communes
OTHER_DISTRICT = 198
DAY = date(2021, 10, 19)
BACKDATE_DAYS = 7


@lru_cache(maxsize=4)
def demo_rows(start: date, end: date) -> dict:
    from bantin import demo_data

    return demo_data.generate_rows(PROVINCE, start, end)


def district_day(day: date = DAY, district: int = DISTRICT) -> list[dict]:
    """A fresh copy of the demo rows of one district file."""
    return [dict(r) for r in demo_rows(day - timedelta(days=20), day + timedelta(days=5))[(day, district)]]


def frames(files: dict[str, list[dict]], *, district: int | None = None, as_of: date | None = None):
    """(rows, files) frames as `bantin.validation.validate_files` takes them; a row's number is its CSV line.

    The inbox district and the day received default to the file's own (first row).
    """
    import pandas as pd

    rows = pd.DataFrame(
        [
            {"submission_id": sid, "source_row": n, **{c: r.get(c) for c in COLUMN_NAMES}}
            for sid, file_rows in files.items()
            for n, r in enumerate(file_rows, start=2)
        ]
    )
    meta = pd.DataFrame(
        [
            {
                "submission_id": sid,
                "inbox_district_code": district or file_rows[0]["district_code"],
                "as_of": as_of or file_rows[0]["report_date"],
                "backdate_days": BACKDATE_DAYS,
            }
            for sid, file_rows in files.items()
        ]
    )
    return rows, meta


def by_submission(findings) -> dict[str, list]:
    grouped = defaultdict(list)
    for sid, finding in findings:
        grouped[sid].append(finding)
    return grouped


def load_accepted(con, rows_by_key: dict) -> None:
    """Record demo rows as accepted district files, one per (report date, district): the history rules' input."""
    import pandas as pd

    submissions, rows = [], []
    for (day, district), file_rows in rows_by_key.items():
        sid = f"hist-{district}-{day:%Y%m%d}"
        received = datetime.combine(day, datetime.min.time()) + timedelta(hours=15)
        submissions.append(
            (
                sid,
                district,
                day,
                "demo.csv",
                "landing",
                "archive",
                sid,
                1,
                received,
                received,
                1,
                "accepted",
                0,
                0,
                False,
                "{}",
            )
        )
        rows += [
            {"submission_id": sid, "source_row": n, **{c: r.get(c) for c in COLUMN_NAMES}}
            for n, r in enumerate(file_rows, start=2)
        ]
    con.executemany(
        "INSERT INTO ops.submission (submission_id, district_code, report_date, file_name, landing_path, "
        "archive_path, sha256, size_bytes, received_at, recorded_at, version, status, error_count, "
        "warning_count, is_late, headers_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        submissions,
    )
    frame = pd.DataFrame(rows, columns=["submission_id", "source_row", *COLUMN_NAMES])
    con.register("history_rows", frame)
    con.execute("INSERT INTO raw.submission_row BY NAME SELECT * FROM history_rows")
    con.unregister("history_rows")
