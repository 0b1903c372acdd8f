"""A plain reader of submission files for tests: csv module and openpyxl only.

Independent of bantin.intake on purpose, so writer tests do not trust the
reader they are meant to check.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook

from bantin.submission_format import COLUMNS, COUNT_COLUMNS, TOTALS_LABELS

DAY = date(2021, 10, 19)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


HEADER_TO_NAME = {_nfc(c.header_vi).casefold(): c.name for c in COLUMNS} | {c.name: c.name for c in COLUMNS}


# ---------------------------------------------------------------- plain reader


def _count(value) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    assert re.fullmatch(r"\d{1,3}([. ]\d{3})+|\d+", text), f"not a count: {text!r}"
    return int(text.replace(".", "").replace(" ", ""))


def _day(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    text = str(value)
    if "/" in text:
        d, m, y = text.split("/")
        return date(int(y), int(m), int(d))
    return date.fromisoformat(text)


def _typed(raw: dict) -> dict:
    row = {}
    for column in COLUMNS:
        value = raw.get(column.name)
        if column.type == "date":
            row[column.name] = _day(value)
        elif column.type == "integer":
            row[column.name] = _count(value)
        else:
            row[column.name] = "" if value is None else _nfc(str(value))
    return row


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le"), "utf-16"
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return _nfc(data.decode("cp1258")), "cp1258"


def read_csv_back(path: Path) -> tuple[list[dict], dict]:
    text, encoding = _decode(path.read_bytes())
    first_line = text.split("\r\n", 1)[0]
    separator = max("\t;,", key=first_line.count)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
    header = [HEADER_TO_NAME[_nfc(h).casefold()] for h in records[0]]
    rows = [_typed(dict(zip(header, record, strict=False))) for record in records[1:]]
    info = {
        "format": "csv",
        "encoding": encoding,
        "separator": separator,
        "headers": "machine" if records[0][0] == COLUMNS[0].name else "vietnamese",
        "thousands": bool(re.search(r"(^|[,;\t])\d{1,3}\.\d{3}([,;\t]|$)", text, re.M)),
        "crlf": text.count("\r\n") == len(records),
    }
    return rows, info


def _is_totals(cells) -> bool:
    return any(isinstance(c, str) and _nfc(c).casefold() in TOTALS_LABELS for c in cells)


def read_xlsx_back(path: Path) -> tuple[list[dict], dict]:
    workbook = load_workbook(path)
    sheet = workbook["BaoCao"] if "BaoCao" in workbook.sheetnames else workbook.worksheets[0]
    grid = [list(r) for r in sheet.iter_rows(values_only=True)]
    header_index = next(i for i, r in enumerate(grid) if r[0] in (COLUMNS[0].header_vi, COLUMNS[0].name))
    header = [HEADER_TO_NAME[_nfc(h).casefold()] for h in grid[header_index]]
    rows, totals = [], None
    for cells in grid[header_index + 1 :]:
        if _is_totals(cells):
            totals = {name: _count(v) for name, v in zip(header, cells, strict=False) if name in COUNT_COLUMNS}
            continue
        rows.append(_typed(dict(zip(header, cells, strict=False))))
    first_count = grid[header_index + 1][header.index("new_cases")]
    info = {
        "format": "xlsx",
        "sheet": sheet.title,
        "title_lines": [r[0] for r in grid[:header_index] if r[0]],
        "header_row": header_index + 1,
        "merged": sorted(str(m) for m in sheet.merged_cells.ranges),
        "totals": totals,
        "numbers_as_text": isinstance(first_count, str),
        "dates_as_text": isinstance(grid[header_index + 1][0], str),
        "created": workbook.properties.created,
        "modified": workbook.properties.modified,
    }
    return rows, info


def read_back(path: Path) -> tuple[list[dict], dict]:
    """Rows typed by machine name, plus what the file looked like."""
    return read_xlsx_back(path) if path.suffix == ".xlsx" else read_csv_back(path)


# ---------------------------------------------------------------- sample
