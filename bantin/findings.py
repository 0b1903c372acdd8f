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
