"""Intake: inbox → archive → parsed rows.

Reads what districts send (CSV in the encodings and separators met in practice,
XLSX from the provincial template), types every cell by the contract, and
checks what only the file itself can tell: headers, identity (the inbox folder
is the sender), commune membership, the report date. Numeric rules are
Great Expectations' job (`bantin.validation`).

Nothing here raises on bad input: every problem becomes a `Finding` with the
row and column as the clerk sees them. Hostile files are refused before they
cost anything: the size limit first, then an XLSX's declared sizes (a zip bomb
is refused from its directory, nothing inflated); formulas are never evaluated
(a formula cell without the value Excel saved is `cell.formula`), and XML the
parser refuses (entity expansion) makes the file unreadable, not the run fail.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from bantin.findings import ERROR, WARNING, Finding
from bantin.submission_format import (
    COLUMN_BY_NAME,
    COLUMNS,
    COUNT_COLUMNS,
    HEADER_LOOKUP,
    SHEET_NAME,
    TOTALS_LABELS,
    normalise_header,
)

# XLSX is a zip: refuse archives that would inflate past this before parsing them.
MAX_XLSX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_XLSX_RATIO = 200
HEADER_SEARCH_ROWS = 30
IGNORED_NAME_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload")


# --------------------------------------------------------------------------- inbox


@dataclass(frozen=True)
class IncomingFile:
    path: Path
    district_code: int
    size: int
    received_at: datetime  # the inbox file's modification time, timezone-aware


def scan_inboxes(landing: Path, timezone) -> list[IncomingFile]:
    """Every candidate file in `landing/<district_code>/`, oldest first.

    The receipt time is the file's modification time in the inbox: it is when
    the district's upload finished, and it does not change if we scan late.
    """
    found: list[IncomingFile] = []
    if not landing.is_dir():
        return found
    for folder in sorted(landing.iterdir()):
        if not folder.is_dir() or not folder.name.isdigit():
            continue
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or _ignored(path.name):
                continue
            stat = path.stat()
            received = datetime.fromtimestamp(stat.st_mtime, tz=timezone)
            found.append(IncomingFile(path, int(folder.name), stat.st_size, received))
    found.sort(key=lambda f: (f.received_at, str(f.path)))
    return found


# ---- minimal reading side of the receipt contract (issue #15; #11 owns receipts in intake/collect: reconcile) ----
def receipt_for(receipts: Path, district_code: int, sha256: str) -> dict | None:
    """The receipt a channel wrote for (district, sha256), if any (docs: receipts contract).

    Its `received_at` (the channel server's receipt time) replaces the inbox
    file's mtime, which a channel sets to the moment it wrote the file.
    """
    import json

    try:
        return json.loads((receipts / str(district_code) / f"{sha256}.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def _ignored(name: str) -> bool:
    return name.startswith(IGNORED_NAME_PREFIXES) or name.lower().endswith(IGNORED_SUFFIXES)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def archive_file(path: Path, sha256: str, archive: Path) -> Path:
    """Copy a received file into the content-addressed archive, byte for byte.

    The archive is append-only: an existing copy is never rewritten. The copy
    goes to a temporary name first so a crash never leaves a partial file
    under the final name.
    """
    suffix = path.suffix.lower() if len(path.suffix) <= 8 else ""
    target = archive / sha256[:2] / f"{sha256}{suffix}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.copyfile(path, partial)
    if sha256_of(partial) != sha256:  # the inbox file changed while we copied it
        partial.unlink()
        raise OSError(f"{path} changed while it was being archived")
    os.replace(partial, target)
    os.chmod(target, 0o444)
    return target


# --------------------------------------------------------------------------- parsing


@dataclass
class ParsedSubmission:
    """A file read and typed. `rows` hold machine-named values (None where a cell could not be typed)."""

    file_name: str
    district_code: int
    report_date: date | None = None
    rows: list[dict] = field(default_factory=list)
    source_rows: list[int] = field(default_factory=list)  # row number of each entry of `rows`
    headers: dict[str, str] = field(default_factory=dict)  # machine name -> header as written
    findings: list[Finding] = field(default_factory=list)

    def error(self, rule, vi, en, **where):
        self.findings.append(Finding(ERROR, rule, vi, en, **where))

    def warning(self, rule, vi, en, **where):
        self.findings.append(Finding(WARNING, rule, vi, en, **where))


class UnreadableFile(Exception):
    """The file cannot be read as a table at all; carries both languages."""

    def __init__(self, rule: str, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.rule, self.message_vi, self.message_en = rule, message_vi, message_en


def read_submission(
    path: Path,
    district_code: int,
    *,
    max_bytes: int,
    file_name: str | None = None,
) -> ParsedSubmission:
    """Read, type and check one file exactly as the pipeline does."""
    parsed = ParsedSubmission(file_name=file_name or path.name, district_code=district_code)
    try:
        grid = _read_grid(path, max_bytes)
        _parse_grid(grid, parsed)
    except UnreadableFile as problem:
        parsed.error(problem.rule, problem.message_vi, problem.message_en)
        return parsed
    # The file's report date is its first dated row; whether the rows agree, and
    # identity and date rules, are the file suite's job (bantin.validation).
    parsed.report_date = next((r["report_date"] for r in parsed.rows if r["report_date"]), None)
    return parsed


def _read_grid(path: Path, max_bytes: int) -> list[tuple[int, list]]:
    """The file as (row number, cells) pairs, whatever its format."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile("file.empty", "Tệp rỗng, không có dữ liệu.", "The file is empty.")
    if size > max_bytes:
        mb = max_bytes / 1024 / 1024
        raise UnreadableFile(
            "file.too_large",
            f"Tệp quá lớn ({size:,} byte); giới hạn là {mb:g} MB.",
            f"The file is too large ({size:,} bytes); the limit is {mb:g} MB.",
        )
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK\x03\x04"):
        return _read_xlsx(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(
            "file.format",
            "Tệp Excel cũ (.xls) hoặc tệp được đặt mật khẩu: hãy lưu lại dưới dạng .xlsx hoặc .csv.",
            "Legacy Excel (.xls) or password-protected file: save it as .xlsx or .csv.",
        )
    return _read_csv(path.read_bytes())


def _read_xlsx(path: Path) -> list[tuple[int, list]]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            total = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos) or 1
            if total > MAX_XLSX_UNCOMPRESSED or total / packed > MAX_XLSX_RATIO:
                raise UnreadableFile(
                    "file.decompression_bomb",
                    "Tệp Excel giải nén ra quá lớn, không thể là một báo cáo: tệp bị từ chối.",
                    "The Excel file expands to an implausible size and is refused.",
                )
            if "xl/workbook.xml" not in {i.filename for i in infos}:
                raise zipfile.BadZipFile("no workbook")
    except zipfile.BadZipFile:
        raise UnreadableFile(
            "file.broken_archive",
            "Tệp .xlsx bị hỏng hoặc không phải tệp Excel.",
            "The .xlsx file is damaged or is not an Excel workbook.",
        ) from None

    import openpyxl  # heavy: only when an XLSX arrives

    try:
        # data_only: cached values, never formulas; read_only: streams the sheet.
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:
        raise UnreadableFile(
            "file.broken_archive",
            "Không mở được tệp Excel (hỏng hoặc được đặt mật khẩu).",
            "The Excel file cannot be opened (damaged or password-protected).",
        ) from None
    try:
        sheet = book[SHEET_NAME] if SHEET_NAME in book.sheetnames else book.worksheets[0]
        formulas = _uncomputed_formulas(path, sheet.title) if _has_formulas(path) else {}
        grid = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            values = list(values)
            for (row, index), text in formulas.items():
                if row == number and index < len(values) and values[index] is None:
                    values[index] = UncomputedFormula(text)
            if any(v is not None and str(v).strip() != "" for v in values):
                grid.append((number, values))
        return grid
    except UnreadableFile:
        raise
    except Exception:  # malformed XML, entity expansion refused by expat, cells openpyxl cannot type
        raise UnreadableFile(
            "file.broken_archive",
            "Nội dung tệp Excel bị hỏng hoặc không hợp lệ, không đọc được.",
            "The Excel file's content is damaged or invalid and cannot be read.",
        ) from None
    finally:
        book.close()


class UncomputedFormula(str):
    """A formula cell with no value saved by Excel: we never evaluate formulas, so it has no value."""


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet holds a formula (`<f>` element), read as a stream (sizes already bounded)."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with archive.open(name) as stream:
                    tail = b""
                    for chunk in iter(lambda: stream.read(1 << 20), b""):
                        if re.search(rb"<(\w+:)?f[ >/]", tail + chunk):
                            return True
                        tail = chunk[-16:]
    return False


def _uncomputed_formulas(path: Path, sheet_name: str) -> dict[tuple[int, int], str]:
    """(row, column index) -> formula text of every formula cell: they only matter where no value was saved."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        found = {}
        for number, values in enumerate(book[sheet_name].iter_rows(values_only=True), start=1):
            for index, value in enumerate(values):
                if isinstance(value, str) and value.startswith("="):
                    found[(number, index)] = value
        return found
    finally:
        book.close()


def decode_text(data: bytes) -> str:
    """Decode CSV bytes: BOMs first, then UTF-8, then UTF-16 without BOM, then Windows-1258."""
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="strict")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            zeros_odd = data[1::2].count(0)
            if len(data) > 3 and zeros_odd > len(data) // 4:
                text = data.decode("utf-16-le", errors="strict")
            else:
                text = data.decode("cp1258")
    if "\x00" in text:
        raise UnicodeDecodeError("bantin", data, 0, 1, "NUL in text")
    # cp1258 writes base letter + combining tone mark; everything else compares in NFC.
    return unicodedata.normalize("NFC", text)


def _read_csv(data: bytes) -> list[tuple[int, list]]:
    try:
        text = decode_text(data)
    except (UnicodeDecodeError, UnicodeError):
        raise UnreadableFile(
            "file.encoding",
            "Không đọc được tệp: không phải tệp văn bản CSV hay Excel (.xlsx).",
            "The file cannot be read: it is neither CSV text nor an Excel (.xlsx) workbook.",
        ) from None
    if _looks_binary(text):
        raise UnreadableFile(
            "file.format",
            "Không đọc được tệp: không phải tệp văn bản CSV hay Excel (.xlsx).",
            "The file cannot be read: it is neither CSV text nor an Excel (.xlsx) workbook.",
        )
    separator = _sniff_separator(text)
    grid = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    line = 1
    try:
        for values in reader:
            if any(v.strip() for v in values):
                grid.append((line, values))
            line = reader.line_num + 1
    except csv.Error:
        raise UnreadableFile(
            "file.csv_syntax",
            f"Tệp CSV sai cú pháp gần dòng {line}.",
            f"CSV syntax error near line {line}.",
        ) from None
    return grid


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    control = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\r\n\t")
    return control > len(sample) // 100 + 1


def _sniff_separator(text: str) -> str:
    """The separator that makes the most recognised headers out of one of the first lines."""
    best, best_hits = ",", -1
    for line in text.splitlines()[:HEADER_SEARCH_ROWS]:
        for separator in (",", ";", "\t"):
            hits = sum(normalise_header(c.strip('"')) in HEADER_LOOKUP for c in line.split(separator))
            if hits > best_hits:
                best, best_hits = separator, hits
    return best


# --------------------------------------------------------------------------- typing


def _parse_grid(grid: list[tuple[int, list]], parsed: ParsedSubmission) -> None:
    header_at = _find_header(grid)
    if header_at is None:
        raise UnreadableFile(
            "file.no_header",
            "Không tìm thấy dòng tiêu đề cột (ví dụ \"Mã xã\", \"Ca mắc mới\") trong tệp.",
            "No header row found (expected column headers such as \"Mã xã\", \"Ca mắc mới\").",
        )
    header_row, header_cells = grid[header_at]
    positions = _map_columns(header_cells, header_row, parsed)
    missing = [c for c in COLUMNS if c.required and c.name not in positions]
    for column in missing:
        parsed.error(
            "file.missing_column",
            f"Thiếu cột bắt buộc \"{column.header_vi}\" ({column.name}).",
            f"Required column \"{column.header_vi}\" ({column.name}) is missing.",
            row=header_row,
            column=column.name,
        )
    if missing:
        return

    body = grid[header_at + 1 :]
    if body and _is_totals_row(body[-1][1], positions):
        *body, totals = body
    else:
        totals = None
    for number, cells in body:
        parsed.rows.append(_type_row(number, cells, positions, parsed))
        parsed.source_rows.append(number)
    if not parsed.rows:
        parsed.error("file.no_rows", "Tệp không có dòng dữ liệu xã nào.", "The file has no commune rows.")
        return
    if totals is not None:
        _check_totals(totals, positions, parsed)


def _find_header(grid) -> int | None:
    for index, (_, cells) in enumerate(grid[:HEADER_SEARCH_ROWS]):
        names = {HEADER_LOOKUP.get(normalise_header(c)) for c in cells if c is not None}
        if {"commune_code", "new_cases"} <= names or len(names - {None}) >= 4:
            return index
    return None


def _map_columns(cells: list, header_row: int, parsed: ParsedSubmission) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        if cell is None or str(cell).strip() == "":
            continue
        written = str(cell).strip()
        name = HEADER_LOOKUP.get(normalise_header(written))
        if name is None:
            parsed.warning(
                "file.unknown_column",
                f"Cột \"{written}\" không có trong mẫu báo cáo và được bỏ qua.",
                f"Column \"{written}\" is not part of the format and is ignored.",
                row=header_row,
                header=written,
            )
        elif name in positions:
            parsed.error(
                "file.duplicate_column",
                f"Cột \"{written}\" xuất hiện hai lần.",
                f"Column \"{written}\" appears twice.",
                row=header_row,
                column=name,
                header=written,
            )
        else:
            positions[name] = index
            parsed.headers[name] = written
    return positions


def _cell(cells: list, positions: dict[str, int], name: str):
    index = positions.get(name)
    if index is None or index >= len(cells):
        return None
    value = cells[index]
    if isinstance(value, str) and not isinstance(value, UncomputedFormula):
        value = value.strip()
        return value or None
    return value


def _is_totals_row(cells: list, positions: dict[str, int]) -> bool:
    if _cell(cells, positions, "commune_code") not in (None,) and not _is_label(
        _cell(cells, positions, "commune_code")
    ):
        return False
    return any(_is_label(c) for c in cells)


def _is_label(value) -> bool:
    return isinstance(value, str) and normalise_header(value).rstrip(":") in TOTALS_LABELS


def _type_row(number: int, cells: list, positions: dict[str, int], parsed: ParsedSubmission) -> dict:
    row: dict = {}
    for column in COLUMNS:
        raw = _cell(cells, positions, column.name)
        where = dict(row=number, column=column.name, header=parsed.headers.get(column.name))
        if column.type == "text":
            row[column.name] = None if raw is None else unicodedata.normalize("NFC", str(raw))
        elif column.type == "date":
            row[column.name] = _typed(parse_date, raw, column, where, parsed)
        else:
            row[column.name] = _typed(parse_count, raw, column, where, parsed)
    return row


def _typed(parser, raw, column, where, parsed: ParsedSubmission):
    if raw is None:
        if column.required:
            parsed.error(
                "cell.required",
                f"Ô trống ở cột \"{column.header_vi}\": phải ghi số (ghi 0 nếu không có).",
                f"Empty cell in \"{column.header_vi}\": a value is required (write 0 for none).",
                value="",
                **where,
            )
        return None
    if isinstance(raw, UncomputedFormula):
        parsed.error(
            "cell.formula",
            f"Ô ở cột \"{column.header_vi}\" chứa công thức chưa được tính; hệ thống không tính công thức: "
            "hãy nhập số (hoặc mở tệp bằng Excel và lưu lại).",
            f"The cell in \"{column.header_vi}\" holds a formula with no saved value; formulas are never "
            "evaluated: type the number (or open the file in Excel and save it again).",
            value=str(raw), **where,
        )
        return None
    try:
        return parser(raw)
    except ValueError as problem:
        rule, vi, en = problem.args
        parsed.error(rule, f"{vi} (cột \"{column.header_vi}\").", f"{en} (column \"{column.header_vi}\").",
                     value=_shown(raw), **where)
        return None


def _shown(raw) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.strftime("%d/%m/%Y")
    return str(raw)


_SPACES = re.compile(r"[\s\u00a0\u202f]")
_GROUPED_DOTS = re.compile(r"^-?\d{1,3}(\.\d{3})+$")
_PLAIN = re.compile(r"^-?\d+$")


def parse_count(raw) -> int:
    """A whole number as a Vietnamese clerk writes it: `1234`, `1.234`, `1 234`.

    A decimal (`1,5`, `2.5`) is refused, never rounded: in Vietnamese the comma
    is the decimal mark, so `1,234` is refused too rather than guessed.
    """
    if isinstance(raw, bool):
        raise ValueError("cell.not_a_number", "Giá trị không phải là số", "Not a number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if raw.is_integer():
            return int(raw)
        raise ValueError("cell.decimal", "Số thập phân trong cột đếm, phải là số nguyên",
                         "A decimal in a count column; a whole number is required")
    text = _SPACES.sub("", str(raw))
    if _PLAIN.match(text):
        return int(text)
    if _GROUPED_DOTS.match(text):
        return int(text.replace(".", ""))
    if re.match(r"^-?\d*[.,]\d+$", text) or re.match(r"^-?\d{1,3}(,\d{3})+$", text):
        raise ValueError("cell.decimal", "Số thập phân trong cột đếm, phải là số nguyên",
                         "A decimal in a count column; a whole number is required")
    raise ValueError("cell.not_a_number", "Giá trị không phải là số", "Not a number")


def parse_date(raw) -> date:
    """`YYYY-MM-DD` or `dd/mm/yyyy` (also `d/m/yyyy`), or an Excel date cell."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    try:
        if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
            return date.fromisoformat(text)
        match = re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", text)
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day)
    except ValueError:
        pass
    raise ValueError("cell.date", "Ngày không hợp lệ; ghi dạng dd/mm/yyyy hoặc yyyy-mm-dd",
                     "Invalid date; write dd/mm/yyyy or yyyy-mm-dd")


def _check_totals(totals_cells: list, positions: dict[str, int], parsed: ParsedSubmission) -> None:
    number, cells = totals_cells
    for name in COUNT_COLUMNS:
        raw = _cell(cells, positions, name)
        if raw is None:
            continue
        try:
            written = parse_count(raw)
        except ValueError:
            continue
        values = [r[name] for r in parsed.rows]
        if any(v is None for v in values):
            continue
        if written != sum(values):
            column = COLUMN_BY_NAME[name]
            parsed.error(
                "file.totals_mismatch",
                f"Dòng tổng cột \"{column.header_vi}\" ghi {written}, nhưng tổng các xã là {sum(values)}.",
                f"The totals row of \"{column.header_vi}\" says {written} but the communes add up to {sum(values)}.",
                row=number,
                column=name,
                header=parsed.headers.get(name),
                value=_shown(raw),
            )
