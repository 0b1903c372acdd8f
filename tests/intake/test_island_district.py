"""An island district without communes (Lý Sơn, 536) reports one row under its own code.

Through the clerk's path (`bantin template`, then `bantin validate`'s check_file:
intake and the GX suites): its own row is accepted; a commune code there, even
one of its own province, is refused as another district's commune.
"""

from __future__ import annotations

from datetime import date

from openpyxl import load_workbook

from bantin import demo_data, reference
from bantin.cli import main as bantin_main

LY_SON, BINH_SON, QUANG_NGAI = 536, 522, 51
DAY = date(2021, 10, 19)


def _island_rows() -> list[dict]:
    return [dict(r) for r in demo_data.generate_rows(QUANG_NGAI, DAY, DAY)[(DAY, LY_SON)]]


def test_the_template_has_one_row_the_district_itself(tmp_path, capsys):
    out = tmp_path / "mau.xlsx"
    assert bantin_main(["template", "--district", str(LY_SON), "--date", "2021-10-19", "--output", str(out)]) == 0
    assert "Huyện Lý Sơn" in capsys.readouterr().out
    sheet = load_workbook(out).active
    header = 5
    assert (sheet.cell(header + 1, 2).value, sheet.cell(header + 1, 3).value, sheet.cell(header + 1, 4).value) == (
        LY_SON,
        LY_SON,
        "Huyện Lý Sơn",
    )
    assert sheet.cell(header + 2, 1).value == "Tổng cộng"  # the totals row right below the one unit row


def test_hoang_sa_has_no_template(capsys):
    assert bantin_main(["template", "--district", "498", "--date", "2021-10-19"]) != 0
    assert "Hoàng Sa" in capsys.readouterr().err


def test_the_islands_own_file_is_accepted(settings, tmp_path):
    from bantin.pipeline import check_file
    from bantin.submission_files import write_csv

    rows = _island_rows()
    assert [(r["district_code"], r["commune_code"]) for r in rows] == [(LY_SON, LY_SON)]
    path = write_csv(rows, tmp_path / "ly_son.csv", headers="vietnamese", date_style="dmy")
    assert check_file(settings, path, LY_SON, DAY) == []


def test_a_commune_code_in_the_islands_file_is_refused(settings, tmp_path):
    from bantin.pipeline import check_file
    from bantin.submission_files import write_csv

    mainland = reference.communes(district_code=BINH_SON, on=DAY)[0]
    rows = _island_rows()
    rows[0].update(commune_code=mainland.code, commune_name=mainland.name)
    path = write_csv(rows, tmp_path / "ly_son.csv")
    found = check_file(settings, path, LY_SON, DAY)
    found_keys = {(f.severity, f.rule, f.row, f.value) for f in found}
    assert ("error", "identity.commune", 2, str(mainland.code)) in found_keys
    assert ("warning", "commune.missing", None, str(LY_SON)) in found_keys  # its own row missing: not reported
    # (the island's coverage figures also exceed that small commune's population: cross.* errors too)
    (refused,) = [f for f in found if f.rule == "identity.commune"]
    assert f"{mainland.code}" in refused.message_vi and f"{LY_SON}" in refused.message_en
