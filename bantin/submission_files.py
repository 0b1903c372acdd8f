"""Writers of district submission files, in every variant contract v1 allows.

The demo-data generator, the tests and `bantin template` use these to produce
the files clerks really send: CSV in four encodings and three separators, with
machine or Vietnamese headers, ISO or dd/mm/yyyy dates, "1.234" thousands; and
XLSX shaped like the provincial template (title rows, merged cells, a totals
row, numbers stored as text).

Input is a list of row dicts keyed by machine column names
(`bantin.submission_format.COLUMNS`); values are int, str or date. Optional
columns (`notes`, `commune_name`) may be missing from a row.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.writer.excel import ExcelWriter

from bantin.submission_format import COLUMNS, COUNT_COLUMNS, SHEET_NAME, Column

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1258")
SEPARATORS = (",", ";", "\t")
HEADER_STYLES = ("vietnamese", "machine")
DATE_STYLES = ("iso", "dmy")

Row = Mapping[str, object]


# ---------------------------------------------------------------- values


def format_date(value: object, date_style: str) -> str:
    """`2021-10-19` (iso) or `19/10/2021` (dmy); strings pass through as written."""
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        return "" if value is None else str(value)
    if date_style == "dmy":
        return value.strftime("%d/%m/%Y")
    return value.isoformat()


def format_count(value: object, thousands: str = "") -> str:
    """A count as text; with `thousands` ("." or " ") 1234 becomes "1.234"."""
    if not isinstance(value, int) or not thousands or value < 1000:
        return "" if value is None else str(value)
    return f"{value:,}".replace(",", thousands)


def _thousands_mark(thousands: bool | str, separator: str) -> str:
    """True means the Vietnamese "." mark; a mark equal to the separator would split the number."""
    mark = "." if thousands is True else (thousands or "")
    if mark not in ("", ".", " "):
        raise ValueError(f"thousands mark must be '.' or ' ', not {mark!r}")
    if mark and mark == separator:
        raise ValueError(f"thousands mark {mark!r} cannot also be the CSV separator")
    return mark


def header_of(column: Column, headers: str) -> str:
    if headers not in HEADER_STYLES:
        raise ValueError(f"headers must be one of {HEADER_STYLES}, not {headers!r}")
    return column.header_vi if headers == "vietnamese" else column.name


def _text_cells(row: Row, *, date_style: str, thousands: str) -> list[str]:
    cells = []
    for column in COLUMNS:
        value = row.get(column.name)
        if column.type == "date":
            cells.append(format_date(value, date_style))
        elif column.name in COUNT_COLUMNS:
            cells.append(format_count(value, thousands))
        else:
            cells.append("" if value is None else str(value))
    return cells


# ---------------------------------------------------------------- cp1258

# Windows-1258 has the Vietnamese vowel shapes precomposed (â ê ô ă ơ ư đ and
# their capitals) but only five tone marks, as combining characters. Python's
# codec maps code points one to one, so "ễ" (U+1EC5) fails; Windows writes it
# as "ê" + combining tilde. Letters cp1258 does hold whole (á à é ó ú í ...)
# stay one byte, as Windows writes them.
_SHAPE_MARKS = frozenset("\u0302\u0306\u031b")  # circumflex, breve, horn


def encode_cp1258(text: str) -> bytes:
    """Encode Vietnamese text the way Windows does for code page 1258."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", char)
        # NFD orders marks by combining class, so a dot below may precede the
        # circumflex ("ậ" = a + U+0323 + U+0302): sort shape from tone by kind.
        shape = "".join(m for m in marks if m in _SHAPE_MARKS)
        tones = "".join(m for m in marks if m not in _SHAPE_MARKS)
        letter = unicodedata.normalize("NFC", base + shape)
        try:
            out += (letter + tones).encode("cp1258")
        except UnicodeEncodeError:
            raise ValueError(f"{char!r} (U+{ord(char):04X}) has no Windows-1258 form") from None
    return bytes(out)


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "cp1258":
        return encode_cp1258(text)
    if encoding == "utf-16":
        # Excel's "Unicode text": little-endian with a BOM, whatever the machine.
        return "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
    if encoding in ("utf-8", "utf-8-sig"):
        return text.encode(encoding)
    raise ValueError(f"encoding must be one of {ENCODINGS}, not {encoding!r}")


# ---------------------------------------------------------------- CSV


def write_csv(
    rows: Iterable[Row],
    path: Path | str,
    *,
    encoding: str = "utf-8",
    separator: str | None = None,
    headers: str = "vietnamese",
    date_style: str = "iso",
    thousands: bool | str = False,
) -> Path:
    """Write one submission as CSV.

    `separator` defaults to tab for "utf-16" (what Excel's "Unicode text" save
    produces) and comma otherwise. `thousands=True` writes counts >= 1000 as
    "1.234"; `thousands=" "` as "1 234". Lines end in CRLF, as Excel writes.
    """
    if separator is None:
        separator = "\t" if encoding == "utf-16" else ","
    if separator not in SEPARATORS:
        raise ValueError(f"separator must be one of {SEPARATORS!r}, not {separator!r}")
    if date_style not in DATE_STYLES:
        raise ValueError(f"date_style must be one of {DATE_STYLES}, not {date_style!r}")
    mark = _thousands_mark(thousands, separator)

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(header_of(c, headers) for c in COLUMNS)
    for row in rows:
        writer.writerow(_text_cells(row, date_style=date_style, thousands=mark))

    path = Path(path)
    path.write_bytes(_encode(buffer.getvalue(), encoding))
    return path


# ---------------------------------------------------------------- XLSX

_TITLE_FONT = Font(bold=True, size=12)
_BOLD = Font(bold=True)
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
_DATE_FORMAT = "DD/MM/YYYY"
_COUNT_FORMAT = "#,##0"


def _unit_title(name: str, default_type: str) -> str:
    """'Tỉnh Quảng Ninh' stays; a bare 'Quảng Ninh' gets the default unit type."""
    lowered = name.strip().lower()
    if lowered.startswith(("tỉnh ", "thành phố ", "huyện ", "quận ", "thị xã ", "khu vực ")):
        return name.strip()
    return f"{default_type} {name.strip()}"


def _title_lines(province_name: str, district_name: str, report_date: date) -> list[str]:
    return [
        f"SỞ Y TẾ {_unit_title(province_name, 'Tỉnh').upper()}",
        f"BÁO CÁO TÌNH HÌNH DỊCH COVID-19 NGÀY {report_date:%d/%m/%Y}",
        f"Đơn vị: {_unit_title(district_name, 'Huyện')}",
    ]


def _put(cell, column: Column, value: object, *, numbers_as_text: bool, dates_as_text: bool) -> None:
    if column.type == "date" and isinstance(value, date):
        if dates_as_text:
            cell.value = value.strftime("%d/%m/%Y")
        else:
            cell.value = value
            cell.number_format = _DATE_FORMAT
    elif column.type == "integer" and isinstance(value, int):
        if numbers_as_text:
            cell.value = str(value)
        else:
            cell.value = value
            if column.name in COUNT_COLUMNS:
                cell.number_format = _COUNT_FORMAT
    else:
        cell.value = value if value not in ("", None) else None


def _write_titles(sheet, lines: list[str]) -> int:
    """Merged title rows across the table's width, then a blank row; returns rows used."""
    last = get_column_letter(len(COLUMNS))
    for number, text in enumerate(lines, start=1):
        sheet.cell(row=number, column=1, value=text).font = _TITLE_FONT
        sheet.cell(row=number, column=1).alignment = Alignment(horizontal="center")
        sheet.merge_cells(f"A{number}:{last}{number}")
    return len(lines) + 1


def write_xlsx(
    rows: Iterable[Row],
    path: Path | str,
    *,
    province_name: str,
    district_name: str,
    report_date: date,
    title_rows: bool = True,
    totals_row: bool = True,
    numbers_as_text: bool = False,
    dates_as_text: bool = False,
    sheet_name: str = SHEET_NAME,
    saved_at: datetime | None = None,
    fill_in: bool = False,
) -> Path:
    """Write one submission as XLSX in the provincial template's shape.

    `province_name`/`district_name` are the full names ("Tỉnh Quảng Ninh",
    "Thành phố Hạ Long"); a bare name gets "Tỉnh"/"Huyện" in front.
    `numbers_as_text` stores integers as text cells (the clerk pasted them);
    `dates_as_text` writes "19/10/2021" text instead of an Excel date.
    `saved_at` (default: noon of the report date) goes into the document
    properties and the zip entries, so the same input gives the same bytes.
    `fill_in` makes the blank form a clerk fills in (`bantin template`): count
    and note cells unlocked, everything else (titles, header, codes) protected,
    counts restricted by Excel data validation to whole numbers >= 0, and the
    totals row as SUM formulas that Excel computes.
    """
    rows = list(rows)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_name
    cell_style = {"numbers_as_text": numbers_as_text, "dates_as_text": dates_as_text}

    header_row = 1
    if title_rows:
        header_row = _write_titles(sheet, _title_lines(province_name, district_name, report_date)) + 1
    _write_header(sheet, header_row)
    for offset, row in enumerate(rows, start=1):
        for index, column in enumerate(COLUMNS, start=1):
            _put(sheet.cell(row=header_row + offset, column=index), column, row.get(column.name), **cell_style)
    if totals_row:
        _write_totals(sheet, header_row + len(rows) + 1, rows, cell_style, formulas=fill_in)
    if fill_in and rows:
        _make_fill_in(sheet, header_row + 1, header_row + len(rows))

    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    path = Path(path)
    path.write_bytes(_reproducible_xlsx(workbook, saved_at or datetime.combine(report_date, time(12, 0))))
    return path


def _write_header(sheet, number: int) -> None:
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=number, column=index, value=column.header_vi)
        cell.font, cell.alignment = _BOLD, _CENTRE
        sheet.column_dimensions[get_column_letter(index)].width = 22 if column.name == "commune_name" else 14


def _write_totals(sheet, number: int, rows: list[Row], cell_style: dict, *, formulas: bool = False) -> None:
    """'Tổng cộng' in the first cell, then column sums of every count column (as SUM formulas if asked)."""
    sheet.cell(row=number, column=1, value="Tổng cộng").font = _BOLD
    for index, column in enumerate(COLUMNS, start=1):
        if column.name in COUNT_COLUMNS:
            if any(r.get(column.name) is None for r in rows):  # an optional column left empty has no total
                continue
            cell = sheet.cell(row=number, column=index)
            if formulas:
                letter = get_column_letter(index)
                cell.value = f"=SUM({letter}{number - len(rows)}:{letter}{number - 1})"
                cell.number_format = _COUNT_FORMAT
            else:
                _put(cell, column, sum(int(r[column.name]) for r in rows), **cell_style)
            cell.font = _BOLD


def _make_fill_in(sheet, first: int, last: int) -> None:
    """Unlock what the clerk types (counts, notes), allow only whole numbers >= 0, protect the rest."""
    rule = DataValidation(
        type="whole",
        operator="greaterThanOrEqual",
        formula1="0",
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop",
        errorTitle="Giá trị không hợp lệ / Invalid value",
        error="Chỉ nhập số nguyên từ 0 trở lên / Whole numbers >= 0 only",
        showInputMessage=True,
        promptTitle="Số nguyên ≥ 0",
        prompt="Ghi 0 nếu không có / Write 0 for none",
    )
    sheet.add_data_validation(rule)
    for index, column in enumerate(COLUMNS, start=1):
        if column.name not in COUNT_COLUMNS and column.name != "notes":
            continue
        letter = get_column_letter(index)
        for number in range(first, last + 1):
            sheet.cell(row=number, column=index).protection = Protection(locked=False)
        if column.name in COUNT_COLUMNS:
            rule.add(f"{letter}{first}:{letter}{last}")
    # No password: the protection prevents accidents (a typed-over header), not a determined user.
    sheet.protection.sheet = True
    sheet.protection.formatColumns = False
    sheet.protection.formatRows = False


def _reproducible_xlsx(workbook: Workbook, saved_at: datetime) -> bytes:
    """The workbook's bytes with no trace of the clock they were made at.

    openpyxl's save() stamps "now" into docProps/core.xml and zipfile stamps
    the local time into every entry; both would make each run's bytes differ.
    """
    utc = saved_at.astimezone(UTC).replace(tzinfo=None) if saved_at.tzinfo else saved_at
    workbook.properties.created = utc
    workbook.properties.modified = utc

    raw = io.BytesIO()
    # ExcelWriter directly: save_workbook() would overwrite `modified` with now.
    ExcelWriter(workbook, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()

    stamp = saved_at.timetuple()[:6]  # zip entry times are local wall-clock time
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.external_attr = 0o600 << 16
            target.writestr(info, source.read(entry.filename), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
