"""Feedback to district clerks: one report per received file, HTML to read and JSON for machines.

Written to `feedback/<district_code>/<report_date>/` as soon as the file is
validated, so a clerk hears about a mistake within minutes, not at 20:00.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

from bantin import reference
from bantin.render import environment


def _submission_rows(con, submission_ids: list[str]) -> list[dict]:
    cursor = con.execute(
        "SELECT submission_id, district_code, report_date, file_name, sha256, received_at, status, version, "
        "error_count, warning_count, is_late FROM ops.submission WHERE list_contains(?, submission_id)",
        [submission_ids],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def findings_of_files(con, submission_ids: list[str]) -> dict[str, list[dict]]:
    """Findings of many files in one query, grouped by file, in the order a clerk reads them."""
    cursor = con.execute(
        "SELECT submission_id, severity, source_row AS row, column_name AS column, header, value, rule, "
        "message_vi, message_en FROM ops.finding WHERE list_contains(?, submission_id) "
        "ORDER BY submission_id, coalesce(source_row, 0), severity, column_name, rule",
        [submission_ids],
    )
    names = [d[0] for d in cursor.description][1:]
    grouped: dict[str, list[dict]] = {sid: [] for sid in submission_ids}
    for sid, *row in cursor.fetchall():
        grouped[sid].append(dict(zip(names, row, strict=True)))
    return grouped


def report_folder(settings, submission: dict) -> Path:
    day = submission["report_date"] or submission["received_at"].date()
    return settings.feedback / str(submission["district_code"]) / day.isoformat()


def _with_other_versions(con, submission_ids: list[str]) -> list[str]:
    """The files given and every other version of their district and date: a new file can supersede an old one."""
    rows = con.execute(
        "SELECT submission_id FROM ops.submission WHERE list_contains(?, submission_id) OR "
        "(district_code, report_date) IN (SELECT (district_code, report_date) FROM ops.submission "
        "WHERE list_contains(?, submission_id) AND report_date IS NOT NULL)",
        [submission_ids, submission_ids],
    ).fetchall()
    return [r[0] for r in rows]


def _newest_version(con, submission: dict) -> dict | None:
    row = con.execute(
        "SELECT version, file_name, received_at FROM ops.submission_in_force WHERE district_code = ? "
        "AND report_date = ?",
        [submission["district_code"], submission["report_date"]],
    ).fetchone()
    return dict(zip(("version", "file_name", "received_at"), row, strict=True)) if row else None


def write_reports(con, settings, submission_ids: list[str]) -> list[Path]:
    """Write (or rewrite) the report of each file, and of the other versions whose verdict it changed."""
    template = environment().get_template("feedback.html.j2")
    written = []
    ids = _with_other_versions(con, submission_ids)
    findings_of = findings_of_files(con, ids)
    for submission in _submission_rows(con, ids):
        findings = findings_of[submission["submission_id"]]
        folder = report_folder(settings, submission)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{submission['received_at']:%Y%m%dT%H%M%S}_{submission['submission_id']}"
        document = {
            "submission": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in submission.items()},
            "findings": findings,
        }
        district = district_name(submission["district_code"], submission["report_date"])
        replaced_by = _newest_version(con, submission) if submission["status"] == "superseded" else None
        document["replaced_by"] = replaced_by and {k: str(v) for k, v in replaced_by.items()}
        _write_atomic(folder / f"{stem}.json", json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
        html = template.render(
            submission=submission, findings=findings, district_name=district, replaced_by=replaced_by
        )
        _write_atomic(folder / f"{stem}.html", html)
        written.append(folder / f"{stem}.html")
    return written


def _write_atomic(path: Path, text: str) -> None:
    """A clerk's browser or a machine polling the folder never sees half a report."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def district_name(code: int, on: date | None = None) -> str:
    """The district's name on the list in force on `on` (the report date; None or unusable: the newest list)."""
    try:
        return reference.district(code, on=on).name
    except LookupError:  # not on that list, or a date before any list
        try:
            return reference.district(code).name
        except KeyError:
            return str(code)
