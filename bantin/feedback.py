"""Feedback to district clerks: one report per received file, HTML to read and JSON for machines.

Written to `feedback/<district_code>/<report_date>/` as soon as the file is
validated, so a clerk hears about a mistake within minutes, not at 20:00.
"""

from __future__ import annotations

import json
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
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _findings(con, submission_id: str) -> list[dict]:
    cursor = con.execute(
        "SELECT severity, source_row AS row, column_name AS column, header, value, rule, message_vi, message_en "
        "FROM ops.finding WHERE submission_id = ? "
        "ORDER BY coalesce(source_row, 0), severity, column_name, rule",
        [submission_id],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def report_folder(settings, submission: dict) -> Path:
    day = submission["report_date"] or submission["received_at"].date()
    return settings.feedback / str(submission["district_code"]) / day.isoformat()


def write_reports(con, settings, submission_ids: list[str]) -> list[Path]:
    template = environment().get_template("feedback.html.j2")
    written = []
    for submission in _submission_rows(con, submission_ids):
        findings = _findings(con, submission["submission_id"])
        folder = report_folder(settings, submission)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{submission['received_at']:%Y%m%dT%H%M%S}_{submission['submission_id']}"
        document = {
            "submission": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in submission.items()},
            "findings": findings,
        }
        (folder / f"{stem}.json").write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n",
                                             encoding="utf-8")
        district = _district_name(submission["district_code"])
        html = template.render(submission=submission, findings=findings, district_name=district)
        (folder / f"{stem}.html").write_text(html, encoding="utf-8")
        written.append(folder / f"{stem}.html")
    return written


def _district_name(code: int) -> str:
    try:
        return reference.district(code).name
    except KeyError:
        return str(code)
