"""Bounded input: every limit is checked while reading, a file over one is refused at once naming the limit."""

from __future__ import annotations

import time
from datetime import date

import pytest

from bantin import intake
from bantin.config import Limits
from bantin.submission_files import write_csv, write_xlsx

from .conftest import district_rows

DAY = date(2021, 10, 19)
DISTRICT = 207


def read(path, **limits):
    return intake.read_submission(path, DISTRICT, max_bytes=10 * 1024 * 1024, limits=Limits(**limits))


def rules(parsed) -> list[str]:
    return [f.rule for f in parsed.findings]


@pytest.mark.parametrize(
    "body, rule",
    [
        ("Mã xã\r\n" + "1\r\n" * 300_000, "file.too_many_rows"),  # 300,000 one-cell rows in 0.9 MB
        ("\r\n" * 500_000, "file.too_many_rows"),
        (",".join(f"cột {i}" for i in range(100_000)) + "\r\n", "file.too_many_columns"),  # 100,000 unknown columns
    ],
)
def test_a_file_over_a_shape_limit_is_refused_quickly_naming_the_limit(tmp_path, body, rule):
    path = tmp_path / "f.csv"
    path.write_text(body, encoding="utf-8")
    started = time.monotonic()
    parsed = read(path)
    assert time.monotonic() - started < 10  # seconds, not minutes (measured in bench/, asserted loosely here)
    assert rules(parsed) == [rule] and parsed.rows == []
    assert "BANTIN_MAX_" in parsed.findings[0].message_en and "BANTIN_MAX_" in parsed.findings[0].message_vi


def test_xlsx_rows_and_columns_are_bounded_too(tmp_path):
    rows = district_rows(DISTRICT, DAY)
    path = write_xlsx(
        rows * 40, tmp_path / "many.xlsx", province_name="Quảng Ninh", district_name="Cô Tô", report_date=DAY
    )
    assert rules(read(path, max_rows=50)) == ["file.too_many_rows"]
    assert rules(read(path, max_columns=10)) == ["file.too_many_columns"]


@pytest.mark.parametrize(
    "value, rule",
    [
        ("99999999999999999999", "cell.too_large"),
        ("9223372036854775807", "cell.too_large"),
        ("-9223372036854775809", "cell.too_large"),
        ("9" * 5000, "cell.too_large"),
        ("1e308", "cell.not_a_number"),
        ("NaN", "cell.not_a_number"),
        ("1.234.567.890.123", "cell.too_large"),
        ("²", "cell.not_a_number"),
        ("100000001", "cell.too_large"),
    ],
)
def test_counts_beyond_any_plausible_figure_are_refused_at_intake(tmp_path, value, rule):
    rows = district_rows(DISTRICT, DAY)
    rows[0]["new_cases"] = value
    parsed = read(write_csv(rows, tmp_path / "f.csv"))
    [finding] = [f for f in parsed.findings if f.column == "new_cases"]
    assert finding.rule == rule and finding.row == 2 and len(finding.value) < 100


@pytest.mark.parametrize("value", ["19.10.2021", "0001-01-01", "9999-12-31", "31/02/2021", "44488"])
def test_unreadable_or_implausible_dates_are_cell_findings(tmp_path, value):
    rows = district_rows(DISTRICT, DAY)
    for row in rows:
        row["report_date"] = value
    parsed = read(write_csv(rows, tmp_path / "f.csv"))
    assert parsed.report_date is None
    assert set(rules(parsed)) == {"cell.date"}


def test_long_cells_and_notes_are_refused_and_kept_only_up_to_the_limit(tmp_path):
    rows = district_rows(DISTRICT, DAY)
    rows[0]["notes"] = "Ghi chú dài " * 120_000  # 1.3 MB of notes: refused whole, at once
    [huge] = read(write_csv(rows, tmp_path / "huge.csv")).findings
    assert huge.rule == "cell.too_long" and "BANTIN_MAX_NOTE_CHARS" in huge.message_en
    rows[0]["notes"] = "Ghi chú dài " * 1000
    rows[1]["commune_name"] = "Xã " + "rất dài " * 100
    parsed = read(write_csv(rows, tmp_path / "f.csv"))
    long = {f.column: f for f in parsed.findings if f.rule == "cell.too_long"}
    assert set(long) == {"notes", "commune_name"}
    assert "BANTIN_MAX_NOTE_CHARS" in long["notes"].message_en
    assert len(long["notes"].value) < 100
    assert len(parsed.rows[0]["notes"]) == Limits().max_note_chars


def test_findings_are_capped_per_file_and_the_rest_summarised(tmp_path):
    rows = district_rows(DISTRICT, DAY) * 60  # 180 rows, every count wrong: 2,880 findings
    for row in rows:
        for column in ("new_cases", "deaths", "severe"):
            row[column] = "?"
    parsed = read(write_csv(rows, tmp_path / "f.csv"), max_findings_per_file=50)
    assert len(parsed.findings) == 51
    summary = parsed.findings[-1]
    assert summary.rule == "file.too_many_findings" and summary.severity == "error"
    assert "BANTIN_MAX_FINDINGS_PER_FILE" in summary.message_en


def test_the_limits_are_settings(monkeypatch):
    from bantin.config import load_settings

    monkeypatch.setenv("BANTIN_MAX_ROWS", "77")
    monkeypatch.setenv("BANTIN_MAX_NOTE_CHARS", "12")
    limits = load_settings().limits
    assert (limits.max_rows, limits.max_note_chars, limits.max_columns) == (77, 12, Limits().max_columns)
