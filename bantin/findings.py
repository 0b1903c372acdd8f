"""Findings: what intake and validation say about a submission, in one format.

The clerk's feedback report, `bantin validate`, the ledger and the bulletin's
data-quality section all show these, so a finding means the same everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    severity: str  # ERROR rejects the whole file; WARNING accepts it and flags it
    rule: str  # stable machine id, e.g. "count.non_negative"
    message_vi: str
    message_en: str
    row: int | None = None  # as the clerk sees it in Excel or a text editor (1-based)
    column: str | None = None  # machine name of the column
    header: str | None = None  # the column header as written in the file
    value: str | None = None  # the offending value as written

    def to_dict(self) -> dict:
        return asdict(self)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


def sort_key(f: Finding) -> tuple:
    return (f.row or 0, f.column or "", 0 if f.severity == ERROR else 1, f.rule)


def capped(findings: list[Finding], limit: int, dropped: dict | None = None) -> list[Finding]:
    """At most `limit` findings, errors first, in reading order; the rest summarised in one finding.

    A clerk reads the first screenful; a file with a million bad cells must not
    make a million rows in the ledger, the feedback report or the mail.
    `dropped`: counts by severity of findings already left out while reading.
    """
    dropped = dict(dropped or {})
    if len(findings) <= limit and not dropped:
        return findings
    ordered = sorted(findings, key=lambda f: (f.severity != ERROR, sort_key(f)))
    kept, rest = ordered[:limit], ordered[limit:]
    for f in rest:
        dropped[f.severity] = dropped.get(f.severity, 0) + 1
    errors, warnings = dropped.get(ERROR, 0), dropped.get(WARNING, 0)
    summary = Finding(
        ERROR if errors else WARNING,
        "file.too_many_findings",
        f"Còn {errors:,} lỗi và {warnings:,} cảnh báo khác không liệt kê (chỉ hiện {limit} mục đầu, "
        "BANTIN_MAX_FINDINGS_PER_FILE): hãy sửa các lỗi trên rồi gửi lại.".replace(",", "."),
        f"{errors:,} more errors and {warnings:,} more warnings not listed (only the first {limit} are shown, "
        "BANTIN_MAX_FINDINGS_PER_FILE): fix the ones above and send the file again.",
    )
    return sorted(kept, key=sort_key) + [summary]
