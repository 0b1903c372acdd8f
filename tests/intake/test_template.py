"""`bantin template`: the pre-filled XLSX a clerk fills in, which the pipeline must accept once filled."""

from __future__ import annotations

from datetime import date

from openpyxl import load_workbook

from bantin import intake, reference
from bantin.cli import main as bantin_main
from bantin.submission_format import COLUMNS, COUNT_COLUMNS


def test_template_lists_communes_validates_counts_and_protects_the_header(tmp_path, capsys):
    out = tmp_path / "mau.xlsx"
    assert bantin_main(["template", "--district", "193", "--date", "2021-10-19", "--output", str(out)]) == 0
    assert "33 xã/communes" in capsys.readouterr().out  # Hạ Long on the 2021 list, in force that day
    sheet = load_workbook(out).active
    header = 5  # three title rows and a blank row above it
    assert [sheet.cell(header, i + 1).value for i in range(len(COLUMNS))] == [c.header_vi for c in COLUMNS]
    communes = reference.communes(district_code=193, on=date(2021, 10, 19))
    listed = [(sheet.cell(header + 1 + i, 3).value, sheet.cell(header + 1 + i, 4).value) for i in range(len(communes))]
    assert listed == [(c.code, c.name) for c in communes]
    assert sheet.cell(header + 1 + len(communes), 1).value == "Tổng cộng"

    # protection: the sheet is protected, the header and codes locked, counts and notes open
    assert sheet.protection.sheet
    first = header + 1
    by_name = {c.name: i + 1 for i, c in enumerate(COLUMNS)}
    assert sheet.cell(header, by_name["new_cases"]).protection.locked
    assert sheet.cell(first, by_name["commune_code"]).protection.locked
    assert not sheet.cell(first, by_name["new_cases"]).protection.locked
    assert not sheet.cell(first, by_name["notes"]).protection.locked

    # data validation: whole numbers >= 0 on every count cell of every commune row, nowhere else
    (rule,) = sheet.data_validations.dataValidation
    assert (rule.type, rule.operator, rule.formula1) == ("whole", "greaterThanOrEqual", "0")
    covered = {str(r) for r in rule.sqref.ranges}
    last = header + len(communes)
    letters = {sheet.cell(header, by_name[n]).column_letter for n in COUNT_COLUMNS}
    assert covered == {f"{letter}{first}:{letter}{last}" for letter in letters}


def test_blank_template_says_what_is_missing_and_filled_template_is_accepted(tmp_path):
    out = tmp_path / "mau.xlsx"
    bantin_main(["template", "--district", "207", "--date", "2021-10-19", "--output", str(out)])
    blank = intake.read_submission(out, 207, max_bytes=10**7)
    assert {f.rule for f in blank.findings} == {"cell.required"}
    required = [c for c in COLUMNS if c.name in COUNT_COLUMNS and c.required]
    assert len(blank.findings) == 3 * len(required)  # the optional 50+ column may stay empty
    assert "vaccinated_50plus_full" not in {f.column for f in blank.findings}
    assert blank.headers["vaccinated_50plus_full"] == "Người từ 50 tuổi tiêm đủ liều"  # the template has it

    book = load_workbook(out)
    sheet = book.active
    by_name = {c.name: i + 1 for i, c in enumerate(COLUMNS)}
    for row in range(6, 9):
        for name in COUNT_COLUMNS:
            sheet.cell(row, by_name[name]).value = 0
    sheet.cell(6, by_name["notes"]).value = "Không có ca mắc mới"
    book.save(out)
    filled = intake.read_submission(out, 207, max_bytes=10**7)
    assert filled.findings == [] and len(filled.rows) == 3
    assert filled.rows[0]["notes"] == "Không có ca mắc mới"


def test_template_for_an_unknown_district_is_a_usage_error(tmp_path):
    assert (
        bantin_main(["template", "--district", "99999", "--date", "2021-10-19", "--output", str(tmp_path / "x.xlsx")])
        == 2
    )
