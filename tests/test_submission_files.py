"""The submission-file writers, checked by reading their output back with a plain reader.

`read_back` is deliberately independent of `bantin.intake`: the csv module and
openpyxl only, so a writer bug cannot hide behind the same bug in the reader.
test_demo_data.py reuses it.
"""

from __future__ import annotations

import codecs
import io
import unicodedata
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bantin.submission_files import encode_cp1258, write_csv, write_xlsx
from bantin.submission_format import COLUMNS, COUNT_COLUMNS

from plain_reader import _nfc, read_csv_back, read_xlsx_back

DAY = date(2021, 10, 19)


def sample_rows() -> list[dict]:
    """Three communes with the hard parts: ễ/ậ/ợ names, big counts, notes with separators."""
    base = {c.name: 0 for c in COLUMNS if c.name in COUNT_COLUMNS}
    names = ["Phường Hồng Hải", "Xã Quảng Nghĩa", "Thị trấn Cái Rồng"]
    notes = ["", "Đã khử khuẩn, phong tỏa; theo dõi", "Chuyển 1 ca lên tuyến trên"]
    rows = []
    for i, (name, note) in enumerate(zip(names, notes, strict=True)):
        rows.append(
            base
            | {
                "report_date": DAY,
                "district_code": 193,
                "commune_code": 6640 + 3 * i,
                "commune_name": name,
                "new_cases": i,
                "new_cases_community": 0,
                "tests_performed": 950 + 40 * i,
                "tests_positive": i,
                "in_treatment": 3 * i,
                "severe": i,
                "quarantine_home": 12,
                "vaccinated_18plus_dose1": 12345 + i,
                "vaccinated_18plus_full": 1000 * (i + 1),
                "vaccinated_65plus_full": 999 + i,
                "mobile_medical_stations": 1 + i,
                "notes": note,
            }
        )
    return rows


CSV_VARIANTS = [
    dict(encoding="utf-8", separator=",", headers="machine", date_style="iso"),
    dict(encoding="utf-8-sig", separator=";", headers="vietnamese", date_style="dmy", thousands=True),
    dict(encoding="utf-16", separator="\t", headers="vietnamese", date_style="dmy"),
    dict(encoding="utf-16", separator="\t", headers="vietnamese", date_style="iso", thousands=True),
    dict(encoding="cp1258", separator=",", headers="vietnamese", date_style="dmy", thousands=True),
    dict(encoding="cp1258", separator=";", headers="machine", date_style="iso"),
    dict(encoding="utf-8", separator="\t", headers="vietnamese", date_style="dmy", thousands=" "),
]


# ---------------------------------------------------------------- CSV


@pytest.mark.parametrize("options", CSV_VARIANTS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_csv_round_trips(tmp_path, options):
    path = write_csv(sample_rows(), tmp_path / "f.csv", **options)
    rows, info = read_csv_back(path)
    assert rows == sample_rows()
    assert info["encoding"] == options["encoding"]
    assert info["separator"] == options["separator"]
    assert info["headers"] == options["headers"]
    assert info["crlf"]


def test_csv_dates_and_thousands_as_written(tmp_path):
    written = write_csv(sample_rows(), tmp_path / "f.csv", separator=";", date_style="dmy", thousands=True)
    text = written.read_text("utf-8")
    assert "19/10/2021;193;6640" in text
    assert ";12.345;" in text and ";999;" in text  # only counts >= 1000 get the mark
    assert ";6640;" in text  # codes are identifiers, never "6.640"
    iso = write_csv(sample_rows(), tmp_path / "g.csv").read_text("utf-8")
    assert "2021-10-19,193,6640" in iso and ",12345," in iso


def test_csv_quotes_notes_containing_the_separator(tmp_path):
    text = write_csv(sample_rows(), tmp_path / "f.csv").read_text("utf-8")
    assert '"Đã khử khuẩn, phong tỏa; theo dõi"' in text


def test_utf16_is_excel_unicode_text(tmp_path):
    data = write_csv(sample_rows(), tmp_path / "f.csv", encoding="utf-16").read_bytes()
    assert data.startswith(b"\xff\xfe")  # little-endian BOM
    assert "\t".join([COLUMNS[0].header_vi, COLUMNS[1].header_vi]) in data[2:].decode("utf-16-le")


def test_bom_only_for_utf8_sig(tmp_path):
    assert not write_csv(sample_rows(), tmp_path / "a.csv").read_bytes().startswith(codecs.BOM_UTF8)
    assert write_csv(sample_rows(), tmp_path / "b.csv", encoding="utf-8-sig").read_bytes().startswith(codecs.BOM_UTF8)


def test_thousands_mark_cannot_be_the_separator(tmp_path):
    with pytest.raises(ValueError):
        write_csv(sample_rows(), tmp_path / "f.csv", separator=" ", thousands=True)
    with pytest.raises(ValueError):
        write_csv(sample_rows(), tmp_path / "f.csv", thousands=",")


def test_unknown_options_are_refused(tmp_path):
    with pytest.raises(ValueError):
        write_csv(sample_rows(), tmp_path / "f.csv", encoding="latin-1")
    with pytest.raises(ValueError):
        write_csv(sample_rows(), tmp_path / "f.csv", separator="|")
    with pytest.raises(ValueError):
        write_csv(sample_rows(), tmp_path / "f.csv", headers="english")


# ---------------------------------------------------------------- cp1258


def test_cp1258_file_decodes_and_normalises_back(tmp_path):
    data = write_csv(sample_rows(), tmp_path / "f.csv", encoding="cp1258").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really a legacy file, not UTF-8 in disguise
    text = data.decode("cp1258")
    assert text != _nfc(text)  # the tone marks are combining characters in the file
    for column in COLUMNS:
        assert column.header_vi in _nfc(text)
    for row in sample_rows():
        assert row["commune_name"] in _nfc(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hồng", b"H\xf4\xccng"),  # ô precomposed + combining grave
        ("ễ", b"\xea\xde"),  # ê + combining tilde
        ("ậ", b"\xe2\xf2"),  # NFD puts the dot below first; Windows writes â + dot below
        ("ợ", b"\xf5\xf2"),  # ơ + dot below
        ("Ấ", b"\xc2\xec"),
        ("á", b"\xe1"),  # cp1258 has á whole: one byte, as Windows writes it
        ("Đường", b"\xd0\xfd\xf5\xccng"),  # ư, ơ + grave
        ("ã", b"a\xde"),  # no precomposed ã in cp1258 (0xC3 is Ă)
    ],
)
def test_cp1258_uses_the_windows_form(text, expected):
    assert encode_cp1258(text) == expected
    assert _nfc(expected.decode("cp1258")) == text


def test_cp1258_accepts_decomposed_input_and_refuses_the_impossible():
    assert encode_cp1258(unicodedata.normalize("NFD", "Quảng Ninh")) == encode_cp1258("Quảng Ninh")
    with pytest.raises(ValueError):
        encode_cp1258("中")


def test_every_vietnamese_header_encodes_in_cp1258():
    for column in COLUMNS:
        assert _nfc(encode_cp1258(column.header_vi).decode("cp1258")) == column.header_vi


# ---------------------------------------------------------------- XLSX


def _xlsx(tmp_path, **options) -> Path:
    return write_xlsx(
        sample_rows(),
        tmp_path / "f.xlsx",
        province_name="Tỉnh Quảng Ninh",
        district_name="Thành phố Hạ Long",
        report_date=DAY,
        **options,
    )


def test_xlsx_template_shape(tmp_path):
    rows, info = read_xlsx_back(_xlsx(tmp_path))
    assert info["sheet"] == "BaoCao"
    assert info["title_lines"] == [
        "SỞ Y TẾ TỈNH QUẢNG NINH",
        "BÁO CÁO TÌNH HÌNH DỊCH COVID-19 NGÀY 19/10/2021",
        "Đơn vị: Thành phố Hạ Long",
    ]
    assert info["merged"] == ["A1:V1", "A2:V2", "A3:V3"]  # one column per contract column
    assert info["header_row"] == 5  # three titles, one blank row
    assert rows == sample_rows()
    assert not info["numbers_as_text"] and not info["dates_as_text"]


def test_xlsx_totals_row_holds_column_sums(tmp_path):
    path = _xlsx(tmp_path)
    _, info = read_xlsx_back(path)
    expected = {name: sum(r[name] for r in sample_rows()) for name in COUNT_COLUMNS}
    assert info["totals"] == expected
    sheet = load_workbook(path).active
    assert sheet.cell(row=sheet.max_row, column=1).value == "Tổng cộng"
    assert sheet.max_row == 5 + len(sample_rows()) + 1


def test_xlsx_numbers_and_dates_as_text(tmp_path):
    path = _xlsx(tmp_path, numbers_as_text=True, dates_as_text=True)
    rows, info = read_xlsx_back(path)
    assert rows == sample_rows()
    assert info["numbers_as_text"] and info["dates_as_text"]
    sheet = load_workbook(path).active
    assert sheet.cell(row=6, column=1).value == "19/10/2021"
    total = sum(r["vaccinated_18plus_dose1"] for r in sample_rows())
    assert sheet.cell(row=sheet.max_row, column=17).value == str(total)


def test_xlsx_plain_without_titles_or_totals(tmp_path):
    rows, info = read_xlsx_back(_xlsx(tmp_path, title_rows=False, totals_row=False))
    assert info["header_row"] == 1 and info["merged"] == [] and info["totals"] is None
    assert rows == sample_rows()


def test_xlsx_bare_names_get_a_unit_type(tmp_path):
    path = write_xlsx(
        sample_rows(), tmp_path / "f.xlsx", province_name="Quảng Ninh", district_name="Cô Tô", report_date=DAY
    )
    _, info = read_xlsx_back(path)
    assert info["title_lines"][0] == "SỞ Y TẾ TỈNH QUẢNG NINH"
    assert info["title_lines"][2] == "Đơn vị: Huyện Cô Tô"


def test_xlsx_bytes_carry_no_clock(tmp_path):
    saved = datetime(2021, 10, 19, 15, 12, 30)
    first = _xlsx(tmp_path, saved_at=saved).read_bytes()
    second = write_xlsx(
        sample_rows(),
        tmp_path / "g.xlsx",
        province_name="Tỉnh Quảng Ninh",
        district_name="Thành phố Hạ Long",
        report_date=DAY,
        saved_at=saved,
    ).read_bytes()
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2021, 10, 19, 15, 12, 30)}
        core = archive.read("docProps/core.xml").decode()
    assert core.count("2021-10-19T15:12:30Z") == 2  # created and modified
