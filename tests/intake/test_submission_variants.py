"""Every variant and every error of docs/spec/submission-format.md, through the whole check path.

Each fixture under `fixtures/` (written by `fixtures/make_fixtures.py`) is dropped
into an inbox and run through the pipeline's collect + validate (intake, then the
GX suites), and must leave exactly the findings listed here in the ledger: rule,
row as the clerk sees it, column (machine name). `bantin validate` (the same
`check_file` path) is checked against the same table.
Whichever stage finds a rule, the verdict, row and column must not move.
"""

from __future__ import annotations

import json
import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from bantin import intake
from bantin.cli import main as bantin_main
from bantin.findings import has_errors

from conftest import receive

FIXTURES = Path(__file__).resolve().parent / "fixtures"
AS_OF = date(2021, 10, 19)
DISTRICT = 207

# file -> exact findings as (severity, rule, row, column); rows: CSV line 1 is the header, XLSX
# template rows 1-3 are titles, 5 the header, 6-8 the communes, 9 the totals row.
EXPECTED: dict[str, set[tuple]] = {
    # ---- accepted variants
    "valid_utf8_comma_vi.csv": set(),
    "valid_utf8bom_semicolon_machine.csv": set(),
    "valid_utf16_tab.csv": set(),
    "valid_cp1258_semicolon_dmy.csv": set(),
    "valid_utf8_tab_thousands_dot.csv": set(),
    "valid_utf8_comma_thousands_space.csv": set(),
    "valid_headers_nfd_case_spaces.csv": set(),
    "valid_template.xlsx": set(),
    "valid_template_text_cells.xlsx": set(),
    "valid_plain_sheet.xlsx": set(),
    "valid_unknown_column.csv": {("warning", "file.unknown_column", 1, None)},
    "valid_missing_commune.csv": {("warning", "commune.missing", None, "commune_code")},
    "valid_name_mismatch.csv": {("warning", "commune.name_mismatch", 3, "commune_name")},
    # ---- cells: every error of the file at once
    "error_cells.csv": {
        ("error", "cell.decimal", 2, "f1_traced"),
        ("error", "cell.decimal", 3, "tests_performed"),
        ("error", "cell.required", 3, "recovered"),
        ("error", "cell.not_a_number", 4, "deaths"),
        ("error", "cell.date", 4, "report_date"),
    },
    "error_negative_and_cross.csv": {
        ("error", "count.non_negative", 3, "quarantine_home"),
        ("error", "cross.community_le_new_cases", 4, "new_cases_community"),
    },
    "error_decimal.xlsx": {("error", "cell.decimal", 7, "returnees")},
    "error_formula.xlsx": {("error", "cell.formula", 6, "new_cases")},
    # ---- identity: the inbox folder is the sender
    "error_wrong_district.csv": {("error", "identity.district", n, "district_code") for n in (2, 3, 4)},
    "error_foreign_commune.csv": {
        ("error", "identity.commune", 4, "commune_code"),
        ("warning", "commune.missing", None, "commune_code"),
    },
    "error_duplicate_commune.csv": {
        ("error", "commune.duplicate", 4, "commune_code"),
        ("warning", "commune.missing", None, "commune_code"),
    },
    # ---- report date
    "error_dates_not_uniform.csv": {("error", "report_date.not_uniform", 4, "report_date")},
    "error_future_date.csv": {("error", "report_date.future", 2, "report_date")},
    "error_too_old_date.csv": {("error", "report_date.too_old", 2, "report_date")},
    # ---- structure
    "error_missing_column.csv": {("error", "file.missing_column", 1, "new_cases_community")},
    "error_duplicate_column.csv": {
        ("error", "file.duplicate_column", 1, "new_cases"),
        ("error", "file.missing_column", 1, "recovered"),
    },
    "error_no_rows.csv": {("error", "file.no_rows", None, None)},
    "error_no_header.csv": {("error", "file.no_header", None, None)},
    "error_totals_mismatch.xlsx": {("error", "file.totals_mismatch", 9, "tests_performed")},
    # ---- unreadable and hostile
    "error_empty.csv": {("error", "file.empty", None, None)},
    "error_random_bytes.csv": {("error", "file.encoding", None, None)},
    "error_legacy_xls.xls": {("error", "file.format", None, None)},
    "error_truncated.xlsx": {("error", "file.broken_archive", None, None)},
    "error_zip_bomb.xlsx": {("error", "file.decompression_bomb", None, None)},
    "error_entity_bomb.xlsx": {("error", "file.broken_archive", None, None)},
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> dict:
    """Every fixture dropped into Cô Tô's inbox and run through collect + validate (one GX call).

    Returns the findings the ledger recorded for each file, as `Finding`s.
    """
    import os
    import shutil
    from datetime import datetime

    from bantin import pipeline, store
    from bantin.config import load_settings
    from bantin.findings import Finding

    home = tmp_path_factory.mktemp("var")
    old = os.environ.get("BANTIN_HOME")
    os.environ["BANTIN_HOME"] = str(home)
    try:
        settings = load_settings()
    finally:
        os.environ.pop("BANTIN_HOME") if old is None else os.environ.__setitem__("BANTIN_HOME", old)
    inbox = settings.landing / str(DISTRICT)
    inbox.mkdir(parents=True)
    received = datetime(2021, 10, 19, 15, 0, tzinfo=settings.timezone).timestamp()
    for name in EXPECTED:
        shutil.copyfile(FIXTURES / name, inbox / name)
        receive(settings, inbox / name, received)
    pipeline.collect(settings)
    pipeline.validate(settings)
    with store.reader(settings.warehouse_path) as con:
        rows = con.execute(
            "SELECT s.file_name, f.severity, f.rule, f.message_vi, f.message_en, f.source_row, f.column_name, "
            "f.header, f.value FROM ops.submission AS s LEFT JOIN ops.finding AS f USING (submission_id)"
        ).fetchall()
    found: dict[str, list] = {name: [] for name in EXPECTED}
    for file_name, *finding in rows:
        if finding[0] is not None:
            found[file_name].append(Finding(*finding))
    return found


def test_every_fixture_has_an_expectation():
    on_disk = {p.name for p in FIXTURES.iterdir() if p.suffix != ".py" and p.is_file()}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_verdict_row_and_column(checked, name):
    findings = checked[name]
    assert {(f.severity, f.rule, f.row, f.column) for f in findings} == EXPECTED[name]
    assert has_errors(findings) == name.startswith("error_")
    for f in findings:  # every finding speaks both languages
        assert f.message_vi and f.message_en and f.message_vi != f.message_en


def test_findings_name_the_header_as_written_and_the_value(checked):
    by_rule = {f.rule: f for f in checked["error_cells.csv"]}
    assert (by_rule["cell.not_a_number"].header, by_rule["cell.not_a_number"].value) == ("Tử vong", "không")
    assert by_rule["cell.date"].value == "31/02/2021"
    machine = checked["error_negative_and_cross.csv"]
    assert {f.header for f in machine} == {"Cách ly tại nhà", "Ca mắc mới trong cộng đồng"}
    totals = checked["error_totals_mismatch.xlsx"][0]
    assert totals.value == "3300" and "3264" in totals.message_en and "3264" in totals.message_vi


@pytest.mark.parametrize("name", [n for n in EXPECTED if n.startswith("valid_") and "missing" not in n])
def test_every_valid_variant_reads_the_same_figures(name):
    """Encodings, separators, header styles, thousands marks and XLSX shapes all give the same rows."""
    reference_rows = _rows("valid_utf8_comma_vi.csv")
    assert _rows(name) == reference_rows


def _rows(name: str) -> list[dict]:
    parsed = intake.read_submission(FIXTURES / name, DISTRICT, max_bytes=10**7)
    return [{k: v for k, v in r.items() if k != "commune_name"} for r in parsed.rows]


def test_cp1258_and_nfd_text_is_read_as_nfc():
    parsed = intake.read_submission(FIXTURES / "valid_cp1258_semicolon_dmy.csv", DISTRICT, max_bytes=10**7)
    assert parsed.rows[0]["notes"] == "Ổ dịch thôn 3; đã phong tỏa"
    assert parsed.rows[1]["commune_name"] == "Xã Đồng Tiến"


def test_size_limit_is_configurable(tmp_path, monkeypatch):
    from bantin.config import load_settings
    from bantin.pipeline import check_file

    monkeypatch.setenv("BANTIN_HOME", str(tmp_path))
    monkeypatch.setenv("BANTIN_MAX_FILE_MB", "0.0005")  # 524 bytes: the 798-byte fixture is over it
    findings = check_file(load_settings(), FIXTURES / "valid_utf8_comma_vi.csv", DISTRICT, AS_OF)
    assert [(f.rule, f.severity) for f in findings] == [("file.too_large", "error")]
    assert "798" in findings[0].message_en


def test_zip_bomb_is_refused_without_inflating_it():
    """300 MB of sheet behind 300 KB of zip: refused from the zip directory, with almost no memory."""
    tracemalloc.start()
    parsed = intake.read_submission(FIXTURES / "error_zip_bomb.xlsx", DISTRICT, max_bytes=10**7)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [f.rule for f in parsed.findings] == ["file.decompression_bomb"]
    assert peak < 5 * 1024 * 1024


def test_csv_syntax_error_is_a_finding_not_a_crash(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text('Mã xã,Ca mắc mới\r\n7192,"' + "x" * 200_000 + '"\r\n', encoding="utf-8")
    parsed = intake.read_submission(path, DISTRICT, max_bytes=10**7)
    assert [f.rule for f in parsed.findings] == ["cell.too_long"]  # a cell past csv's field limit: named so


# --------------------------------------------------------------------------- the clerk's command


def test_bantin_validate_json_lists_every_finding(capsys):
    code = bantin_main(
        [
            "validate",
            str(FIXTURES / "error_cells.csv"),
            "--district",
            "207",
            "--as-of",
            "2021-10-19",
            "--format",
            "json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert {(f["severity"], f["rule"], f["row"], f["column"]) for f in out} == EXPECTED["error_cells.csv"]
    assert set(out[0]) >= {"severity", "row", "column", "value", "rule", "message_vi", "message_en"}


@pytest.fixture(autouse=True)
def _own_data_root(settings):
    """`bantin validate` reads history from $BANTIN_HOME: never from a developer's ./var."""


def test_bantin_validate_text_accepts_with_warnings(capsys):
    code = bantin_main(
        ["validate", str(FIXTURES / "valid_name_mismatch.csv"), "--district", "207", "--as-of", "2021-10-19"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "commune.name_mismatch" in out and "dòng/row 3" in out and "HỢP LỆ / ACCEPTED" in out


def test_bantin_validate_wrong_inbox_is_rejected_and_says_so(capsys):
    code = bantin_main(
        [
            "validate",
            str(FIXTURES / "valid_utf8_comma_vi.csv"),
            "--district",
            "206",
            "--as-of",
            "2021-10-19",
            "--format",
            "json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    wrong = [f for f in out if f["rule"] == "identity.district"]
    assert [f["row"] for f in wrong] == [2, 3, 4] and "206" in wrong[0]["message_en"]


def test_bantin_validate_bad_usage_exits_2(capsys, tmp_path):
    assert bantin_main(["validate", str(tmp_path / "absent.csv"), "--district", "207"]) == 2
    assert bantin_main(["validate", str(FIXTURES / "valid_utf8_comma_vi.csv"), "--district", "99999"]) == 2


def test_terminal_output_drops_escape_sequences(tmp_path, capsys):
    path = tmp_path / "evil.csv"
    text = (FIXTURES / "valid_utf8_comma_vi.csv").read_bytes().decode("utf-8")
    head, rest = text.split("\r\n", 1)
    path.write_text(head + ",\x1b[2J\x1b]0;pwned\x07Cột lạ\r\n" + rest, encoding="utf-8")
    bantin_main(["validate", str(path), "--district", "207", "--as-of", "2021-10-19"])
    out = capsys.readouterr().out
    assert "file.unknown_column" in out and "\x1b" not in out and "\x07" not in out


def test_fixtures_are_current(tmp_path):
    """The committed fixtures are exactly what the documented script writes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for written in module.build(tmp_path):
        assert written.read_bytes() == (FIXTURES / written.name).read_bytes(), written.name


@pytest.mark.parametrize("label", ["Tổng", "Tổng cộng", "Cộng", "  TỔNG CỘNG: ", "cộng"])
def test_totals_row_labels_are_recognised_and_checked(tmp_path, label):
    from openpyxl import load_workbook

    path = tmp_path / "tong.xlsx"
    path.write_bytes((FIXTURES / "valid_template.xlsx").read_bytes())
    book = load_workbook(path)
    book.active["A9"] = label
    book.save(path)
    parsed = intake.read_submission(path, DISTRICT, max_bytes=10**7)
    assert (len(parsed.rows), parsed.findings) == (3, [])
    book.active["E9"] = 3  # new cases: the communes add up to 2
    book.save(path)
    parsed = intake.read_submission(path, DISTRICT, max_bytes=10**7)
    assert [(f.rule, f.row, f.column) for f in parsed.findings] == [("file.totals_mismatch", 9, "new_cases")]
