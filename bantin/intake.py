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
import errno
import hashlib
import io
import json
import logging
import os
import re
import stat
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from bantin.config import Limits
from bantin.findings import ERROR, WARNING, Finding, capped
from bantin.submission_format import (
    COLUMN_BY_NAME,
    COLUMNS,
    COUNT_COLUMNS,
    HEADER_LOOKUP,
    SHEET_NAME,
    TOTALS_LABELS,
    normalise_header,
)

log = logging.getLogger(__name__)

# XLSX is a zip: refuse archives that would inflate past this before parsing them.
MAX_XLSX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_XLSX_RATIO = 200
HEADER_SEARCH_ROWS = 30
IGNORED_NAME_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload")
# Counts at intake: above any commune's population, far below 64-bit integers and float precision (2**53).
COUNT_MAX = 100_000_000
DIGITS_MAX = 12  # a written count longer than this is not a count (and int() of 4,300+ digits raises)
YEARS = (2000, 2100)  # a report date outside these is a typo (and pandas cannot hold year 1 or 9999)
SHOWN_CHARS = 80  # file text quoted in a finding (value, header) is clipped to this


# --------------------------------------------------------------------------- inbox


@dataclass(frozen=True)
class IncomingFile:
    """A regular file in `landing/<district_code>/`, as bantin saw it (lstat: links are never followed)."""

    path: Path
    district_code: int
    size: int
    first_seen: datetime  # when bantin first saw these bytes at this path (timezone-aware)
    stable: bool  # same size and modification time at two looks
    regular: bool = True  # False: a link, pipe or device, refused without being opened


def scan_inboxes(
    landing: Path, timezone, *, seen_register: Path | None = None, settle_seconds: float = 0.0
) -> list[IncomingFile]:
    """Every regular file in `landing/<district_code>/`, in the order bantin first saw them.

    Links, devices and pipes are listed as not `regular`, never followed nor
    opened (a link to `/proc/self/environ` is not a submission: it is refused);
    folders that are links are not entered. A file is `stable` when its size
    and modification time did not change between two looks: an earlier scan's
    (remembered in `seen_register`) or, for a file seen for the first time, a
    second look `settle_seconds` later. The time of the first look is kept in
    the register, so a later rescan never moves it: it is the file's receipt
    time when no channel wrote one (never the file's own mtime, which the
    sender controls).
    """
    found: list[tuple[Path, int, os.stat_result]] = []
    if not landing.is_dir() or landing.is_symlink():
        return []
    for folder in sorted(landing.iterdir()):
        # An inbox is named by a district code: ASCII digits of a plausible length ("²" and "٣" are digits too).
        if folder.is_symlink() or not folder.is_dir() or not re.fullmatch(r"[0-9]{1,6}", folder.name):
            continue
        for root, dirs, files in os.walk(folder, followlinks=False):
            linked = [d for d in dirs if os.path.islink(os.path.join(root, d))]
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in linked)
            for name in sorted(files + linked):
                path = Path(root) / name
                if _ignored(name):
                    continue
                try:
                    info = path.lstat()
                except OSError:
                    continue  # gone since the listing
                found.append((path, int(folder.name), info))
    now = datetime.now(timezone)
    register = _SeenRegister(seen_register) if seen_register else None
    looks = {path: (info.st_size, info.st_mtime_ns) for path, _, info in found}
    # Files first seen at the same look arrived in an order bantin did not see: they are given the
    # order the sender wrote them in, a microsecond apart (the mtime orders them, it never dates them).
    by_mtime = sorted(looks, key=lambda p: (looks[p][1], str(p)))
    at = {path: now + timedelta(microseconds=rank) for rank, path in enumerate(by_mtime)}
    first_looks = {
        path: register.first_seen(path, *looks[path], at[path]) if register else (at[path], False)
        for path, _, _ in found
    }
    if settle_seconds > 0 and any(not known for _, known in first_looks.values()):
        time.sleep(settle_seconds)
    incoming = []
    for path, district, info in found:
        first_seen, known = first_looks[path]
        if not stat.S_ISREG(info.st_mode):
            incoming.append(IncomingFile(path, district, info.st_size, first_seen, True, regular=False))
            continue
        if known:
            stable = True
        else:
            try:
                again = path.lstat()
            except OSError:
                continue
            stable = stat.S_ISREG(again.st_mode) and (again.st_size, again.st_mtime_ns) == looks[path]
            if stable and register:
                register.settled(path)
        incoming.append(IncomingFile(path, district, info.st_size, first_seen, stable))
    if register:
        register.forget_except(set(looks))
    incoming.sort(key=lambda f: (f.first_seen, str(f.path)))
    return incoming


class _SeenRegister:
    """bantin's memory of what it saw in the inboxes: path -> (size, mtime) and when it first saw them.

    One JSON file written atomically; only the collector (under the warehouse lock) uses it.
    """

    def __init__(self, path: Path):
        self.path = path
        try:
            self.entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}
        if not isinstance(self.entries, dict):
            self.entries = {}
        self.changed = False

    def first_seen(self, file: Path, size: int, mtime_ns: int, now: datetime) -> tuple[datetime, bool]:
        """(first look, whether an earlier look saw the same size and mtime)."""
        key = str(file)
        entry = self.entries.get(key)
        try:
            earlier = datetime.fromisoformat(entry["first_seen"]) if entry else None
        except (TypeError, KeyError, ValueError):  # a damaged register forgets, it never fails the collection
            entry, earlier = None, None
        if entry and entry.get("size") == size and entry.get("mtime_ns") == mtime_ns:
            return earlier, True
        first = earlier if entry and entry.get("growing") else now
        # A file still growing keeps its first look: the upload started then.
        self.entries[key] = {"size": size, "mtime_ns": mtime_ns, "first_seen": first.isoformat(), "growing": True}
        self.changed = True
        return first, False

    def settled(self, file: Path) -> None:
        entry = self.entries.get(str(file))
        if entry and entry.pop("growing", None):
            self.changed = True

    def forget_except(self, present: set[Path]) -> None:
        keep = {str(p) for p in present}
        for key in [k for k in self.entries if k not in keep]:
            del self.entries[key]
            self.changed = True
        if self.changed:
            _write_json_atomic(self.path, self.entries)


def _write_json_atomic(path: Path, document) -> None:
    _private_folder(path.parent)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    # ASCII escapes: a file name that is not UTF-8 (undecodable bytes) is still written, and read back the same.
    partial.write_text(json.dumps(document, ensure_ascii=True, indent=1, default=str) + "\n", encoding="utf-8")
    os.replace(partial, path)


def display_name(text: str) -> str:
    """A file name or path as text the ledger and reports can hold: bytes that are not UTF-8 shown as U+FFFD."""
    return os.fsencode(text).decode("utf-8", errors="replace")


def _ignored(name: str) -> bool:
    return name.startswith(IGNORED_NAME_PREFIXES) or name.lower().endswith(IGNORED_SUFFIXES)


# --------------------------------------------------------------------------- receipts


@dataclass(frozen=True)
class Receipt:
    """When and how a file reached bantin (docs/operations.md, "Receipt times")."""

    received_at: datetime
    channel: str
    provenance: dict


def receipt_path(receipts: Path, district_code: int, sha256: str) -> Path:
    return receipts / str(int(district_code)) / f"{sha256}.json"


def read_receipt(receipts: Path, district_code: int, sha256: str, timezone) -> Receipt | None:
    """The receipt a channel (or an earlier collection) wrote for these bytes, or None.

    A receipt that cannot be read (damaged, no offset in its time) is treated as
    absent: the time bantin first saw the file is used instead.
    """
    path = receipt_path(receipts, district_code, sha256)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        received = datetime.fromisoformat(document["received_at"])
        if received.tzinfo is None:
            raise ValueError("receipt time without offset")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("receipt %s unreadable: using the time bantin first saw the file", path)
        return None
    provenance = {k: v for k, v in document.items() if k not in ("received_at", "channel")}
    return Receipt(received.astimezone(timezone), str(document.get("channel") or "inbox"), provenance)


def write_receipt(
    receipts: Path, district_code: int, sha256: str, received_at: datetime, channel: str, file_name: str, **provenance
) -> Path:
    """Record (atomically) when a file was received and through which channel; never overwrites one."""
    if received_at.tzinfo is None:
        raise ValueError("a receipt time needs its UTC offset")
    path = receipt_path(receipts, district_code, sha256)
    if path.exists():
        return path
    _write_json_atomic(
        path, {"received_at": received_at.isoformat(), "channel": channel, "file_name": file_name, **provenance}
    )
    return path


# --------------------------------------------------------------------------- reading the inbox file once


class RefusedFile(Exception):
    """The inbox entry is not taken at all (not a regular file, over the size limit): carries both languages."""

    def __init__(self, rule: str, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.rule, self.message_vi, self.message_en = rule, message_vi, message_en


def open_regular(path: Path, max_bytes: int):
    """The file opened for reading, never through a link, and its size checked before a byte is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as problem:
        if problem.errno == errno.ELOOP:
            raise RefusedFile(
                "file.not_regular",
                "Không phải tệp thông thường (liên kết): bỏ qua.",
                "Not a regular file (a link): ignored.",
            ) from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise RefusedFile("file.not_regular", "Không phải tệp thông thường: bỏ qua.", "Not a regular file: ignored.")
    if info.st_size > max_bytes:
        os.close(fd)
        raise RefusedFile("file.too_large", *_too_large(info.st_size, max_bytes))
    return os.fdopen(fd, "rb")


def _too_large(size: int, max_bytes: int) -> tuple[str, str]:
    mb = max_bytes / 1024 / 1024
    return (
        f"Tệp quá lớn ({size:,} byte); giới hạn là {mb:g} MB (BANTIN_MAX_FILE_MB).",
        f"The file is too large ({size:,} bytes); the limit is {mb:g} MB (BANTIN_MAX_FILE_MB).",
    )


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def hash_file(path: Path, max_bytes: int) -> str:
    """The sha256 of a regular inbox file, read through one descriptor opened without following links."""
    with open_regular(path, max_bytes) as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def take_file(path: Path, sha256: str, archive: Path, max_bytes: int) -> Path:
    """Copy an inbox file into the content-addressed archive, byte for byte; returns the archived copy.

    The copy goes to a temporary name first (a crash never leaves a partial file
    under the final name) and must hash to `sha256` (bytes that changed since
    they were hashed are not taken: OSError, the next collection tries again).
    The archive is append-only and readable by the pipeline's account only.
    """
    suffix = path.suffix.lower()
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,7}", suffix) else ""
    target = archive / sha256[:2] / f"{sha256}{suffix}"
    if target.exists():
        return target
    _private_folder(archive)
    _private_folder(target.parent)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with open_regular(path, max_bytes) as source, open(partial, "wb") as copy:
            os.fchmod(copy.fileno(), 0o600)
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
                copy.write(chunk)
        if digest.hexdigest() != sha256:
            raise OSError(f"{path} changed while it was being archived")
        os.chmod(partial, 0o400)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _private_folder(folder: Path) -> None:
    """A folder only the pipeline's account can enter (made so even if someone created it before)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.stat().st_mode & 0o077:
        os.chmod(folder, 0o700)


def remove_leftovers(archive: Path) -> int:
    """Partial copies a killed or disk-full collection left in the archive (only the collector writes there)."""
    removed = 0
    if archive.is_dir():
        for leftover in archive.glob("**/.*.partial"):
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


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
    limits: Limits = field(default_factory=Limits, repr=False)

    def error(self, rule, vi, en, **where):
        self._add(Finding(ERROR, rule, vi, en, **_clipped(where)))

    def warning(self, rule, vi, en, **where):
        self._add(Finding(WARNING, rule, vi, en, **_clipped(where)))

    def _add(self, finding: Finding) -> None:
        # Past twice the cap only the count matters (capped() summarises): memory stays bounded.
        if (
            len(self.findings) < 2 * self.limits.max_findings_per_file
            or finding.severity == ERROR
            and not any(f.severity == ERROR for f in self.findings)
        ):
            self.findings.append(finding)
        else:
            self.dropped[finding.severity] = self.dropped.get(finding.severity, 0) + 1

    @property
    def dropped(self) -> dict:
        if not hasattr(self, "_dropped"):
            self._dropped = {}
        return self._dropped


def _clipped(where: dict) -> dict:
    return {k: clip(v) if isinstance(v, str) else v for k, v in where.items()}


def clip(text: str, limit: int = SHOWN_CHARS) -> str:
    """File text quoted back (a value, a header): bounded, so a 1 MB cell makes a short finding."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"… (+{len(text) - limit:,})"


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
    limits: Limits | None = None,
) -> ParsedSubmission:
    """Read, type and check one file exactly as the pipeline does.

    Every limit (`Limits`: rows, columns, cell and note length, counts) is
    checked while reading, so a file over one is refused after reading at most
    the limit, with a finding that names it; findings are capped per file.
    """
    limits = limits or Limits()
    parsed = ParsedSubmission(file_name=file_name or path.name, district_code=district_code, limits=limits)
    try:
        grid = _read_grid(path, max_bytes, limits)
        _parse_grid(grid, parsed)
    except UnreadableFile as problem:
        parsed.rows, parsed.source_rows = [], []
        parsed.findings = []  # what was said about a file refused whole is moot
        parsed.error(problem.rule, problem.message_vi, problem.message_en)
        return parsed
    # The file's report date is its first dated row; whether the rows agree, and
    # identity and date rules, are the file suite's job (bantin.validation).
    parsed.report_date = next((r["report_date"] for r in parsed.rows if r["report_date"]), None)
    parsed.findings = capped(parsed.findings, limits.max_findings_per_file, parsed.dropped)
    return parsed


def _read_grid(path: Path, max_bytes: int, limits: Limits) -> list[tuple[int, list]]:
    """The file as (row number, cells) pairs, whatever its format."""
    try:
        handle = open_regular(path, max_bytes)
    except RefusedFile as problem:
        raise UnreadableFile(problem.rule, problem.message_vi, problem.message_en) from None
    with handle:  # one descriptor from the size check to the last byte: what was checked is what is read
        head = handle.read(8)
        if not head:
            raise UnreadableFile("file.empty", "Tệp rỗng, không có dữ liệu.", "The file is empty.")
        if head.startswith(b"PK\x03\x04"):
            handle.seek(0)
            return _read_xlsx(handle, limits)  # streamed from the zip: never all in memory
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise UnreadableFile(
                "file.format",
                "Tệp Excel cũ (.xls) hoặc tệp được đặt mật khẩu: hãy lưu lại dưới dạng .xlsx hoặc .csv.",
                "Legacy Excel (.xls) or password-protected file: save it as .xlsx or .csv.",
            )
        data = head + handle.read(max_bytes)
    if len(data) > max_bytes:
        raise UnreadableFile("file.too_large", *_too_large(len(data), max_bytes))
    return _read_csv(data, limits)


def _too_many_lines(limits: Limits) -> UnreadableFile:
    return UnreadableFile(
        "file.too_many_rows",
        f"Tệp có quá nhiều dòng; một báo cáo có tối đa {limits.max_rows:,} dòng xã "
        "(BANTIN_MAX_ROWS): tệp bị từ chối.".replace(",", "."),
        f"The file has too many lines; a report has at most {limits.max_rows:,} commune rows "
        "(BANTIN_MAX_ROWS): the file is refused.",
    )


def _check_width(values: list, line: int, limits: Limits) -> None:
    """Refuse a row with cells past the column limit (trailing empty cells do not count)."""
    if len(values) <= limits.max_columns:
        return
    last = max((i for i, v in enumerate(values) if v is not None and str(v).strip() != ""), default=-1)
    if last >= limits.max_columns:
        raise UnreadableFile(
            "file.too_many_columns",
            f"Dòng {line} có {last + 1:,} cột; mẫu báo cáo cho phép tối đa {limits.max_columns} cột "
            "(BANTIN_MAX_COLUMNS): tệp bị từ chối.",
            f"Line {line} has {last + 1:,} columns; at most {limits.max_columns} are allowed "
            "(BANTIN_MAX_COLUMNS): the file is refused.",
        )


def _read_xlsx(path, limits: Limits) -> list[tuple[int, list]]:
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
        formulas = _uncomputed_formulas(path, sheet.title, limits) if _has_formulas(path) else {}
        grid = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > limits.max_lines:
                raise _too_many_lines(limits)
            values = list(values)
            _check_width(values, number, limits)
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


def _has_formulas(path) -> bool:
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


def _uncomputed_formulas(path, sheet_name: str, limits: Limits) -> dict[tuple[int, int], str]:
    """(row, column index) -> formula text of every formula cell: they only matter where no value was saved."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        found = {}
        for number, values in enumerate(book[sheet_name].iter_rows(values_only=True), start=1):
            if number > limits.max_lines:
                break  # the values pass refuses the file
            for index, value in enumerate(values[: limits.max_columns + 1]):
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


def _read_csv(data: bytes, limits: Limits) -> list[tuple[int, list]]:
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
            if reader.line_num > limits.max_lines:
                raise _too_many_lines(limits)
            _check_width(values, line, limits)
            if any(v.strip() for v in values):
                grid.append((line, values))
            line = reader.line_num + 1
    except csv.Error as problem:
        if "field limit" in str(problem):  # a cell of over 128 KB: no cell of a report is anywhere near that
            limit = max(limits.max_note_chars, limits.max_cell_chars)
            raise UnreadableFile(
                "cell.too_long",
                f"Một ô gần dòng {line} dài hơn 131.072 ký tự; ô dài nhất cho phép là {limit:,} ký tự "
                "(BANTIN_MAX_NOTE_CHARS): tệp bị từ chối.".replace(",", "."),
                f"A cell near line {line} is longer than 131,072 characters; the longest allowed is {limit:,} "
                "(BANTIN_MAX_NOTE_CHARS): the file is refused.",
            ) from None
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
            'Không tìm thấy dòng tiêu đề cột (ví dụ "Mã xã", "Ca mắc mới") trong tệp.',
            'No header row found (expected column headers such as "Mã xã", "Ca mắc mới").',
        )
    header_row, header_cells = grid[header_at]
    positions = _map_columns(header_cells, header_row, parsed)
    missing = [c for c in COLUMNS if c.required and c.name not in positions]
    for column in missing:
        parsed.error(
            "file.missing_column",
            f'Thiếu cột bắt buộc "{column.header_vi}" ({column.name}).',
            f'Required column "{column.header_vi}" ({column.name}) is missing.',
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
    if len(body) > parsed.limits.max_rows:
        raise _too_many_lines(parsed.limits)
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
                f'Cột "{written}" không có trong mẫu báo cáo và được bỏ qua.',
                f'Column "{written}" is not part of the format and is ignored.',
                row=header_row,
                header=written,
            )
        elif name in positions:
            parsed.error(
                "file.duplicate_column",
                f'Cột "{written}" xuất hiện hai lần.',
                f'Column "{written}" appears twice.',
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
            row[column.name] = _text(raw, column, where, parsed)
        elif column.type == "date":
            row[column.name] = _typed(parse_date, raw, column, where, parsed)
        else:
            row[column.name] = _typed(parse_count, raw, column, where, parsed)
    return row


def _text(raw, column, where, parsed: ParsedSubmission) -> str | None:
    """A text cell, NFC; one longer than its limit is an error (and kept only up to the limit)."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFC", str(raw))
    limit = parsed.limits.max_note_chars if column.name == "notes" else parsed.limits.max_cell_chars
    setting = "BANTIN_MAX_NOTE_CHARS" if column.name == "notes" else "BANTIN_MAX_CELL_CHARS"
    if len(text) > limit:
        parsed.error(
            "cell.too_long",
            f'Ô ở cột "{column.header_vi}" dài {len(text):,} ký tự; tối đa {limit:,} ({setting}).',
            f'The cell in "{column.header_vi}" is {len(text):,} characters long; at most {limit:,} ({setting}).',
            value=text,
            **where,
        )
        return text[:limit]
    return text


def _typed(parser, raw, column, where, parsed: ParsedSubmission):
    if raw is None:
        if column.required:
            parsed.error(
                "cell.required",
                f'Ô trống ở cột "{column.header_vi}": phải ghi số (ghi 0 nếu không có).',
                f'Empty cell in "{column.header_vi}": a value is required (write 0 for none).',
                value="",
                **where,
            )
        return None
    if isinstance(raw, UncomputedFormula):
        parsed.error(
            "cell.formula",
            f'Ô ở cột "{column.header_vi}" chứa công thức chưa được tính; hệ thống không tính công thức: '
            "hãy nhập số (hoặc mở tệp bằng Excel và lưu lại).",
            f'The cell in "{column.header_vi}" holds a formula with no saved value; formulas are never '
            "evaluated: type the number (or open the file in Excel and save it again).",
            value=str(raw),
            **where,
        )
        return None
    try:
        return parser(raw)
    except ValueError as problem:
        if len(problem.args) != 3:  # a parser's own refusal always names its rule; anything else is not a value
            problem = ValueError("cell.not_a_number", "Giá trị không đọc được", "Unreadable value")
        rule, vi, en = problem.args
        parsed.error(
            rule,
            f'{vi} (cột "{column.header_vi}").',
            f'{en} (column "{column.header_vi}").',
            value=_shown(raw),
            **where,
        )
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
    return _bounded(_whole_number(raw))


def _bounded(value: int) -> int:
    if abs(value) > COUNT_MAX:
        raise ValueError(
            "cell.too_large",
            f"Số quá lớn (tối đa {COUNT_MAX:,})".replace(",", "."),
            f"Number too large (at most {COUNT_MAX:,})",
        )
    return value


def _whole_number(raw) -> int:
    if isinstance(raw, bool):
        raise ValueError("cell.not_a_number", "Giá trị không phải là số", "Not a number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ValueError("cell.not_a_number", "Giá trị không phải là số", "Not a number")
        if raw.is_integer():
            return int(raw)
        raise ValueError(
            "cell.decimal",
            "Số thập phân trong cột đếm, phải là số nguyên",
            "A decimal in a count column; a whole number is required",
        )
    text = _SPACES.sub("", str(raw))
    if sum(ch.isdigit() for ch in text) > DIGITS_MAX and re.fullmatch(r"-?[\d.,]+", text):
        raise ValueError(
            "cell.too_large",
            f"Số quá lớn (tối đa {COUNT_MAX:,})".replace(",", "."),
            f"Number too large (at most {COUNT_MAX:,})",
        )
    if len(text) > DIGITS_MAX + 8:
        raise ValueError("cell.not_a_number", "Giá trị không phải là số", "Not a number")
    if _PLAIN.match(text):
        return int(text)
    if _GROUPED_DOTS.match(text):
        return int(text.replace(".", ""))
    if re.match(r"^-?\d*[.,]\d+$", text) or re.match(r"^-?\d{1,3}(,\d{3})+$", text):
        raise ValueError(
            "cell.decimal",
            "Số thập phân trong cột đếm, phải là số nguyên",
            "A decimal in a count column; a whole number is required",
        )
    raise ValueError("cell.not_a_number", "Giá trị không phải là số", "Not a number")


def parse_date(raw) -> date:
    """`YYYY-MM-DD` or `dd/mm/yyyy` (also `d/m/yyyy`), or an Excel date cell; years 2000–2100."""
    parsed = _date(raw)
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise ValueError(
            "cell.date", f"Ngày ngoài khoảng năm {YEARS[0]}–{YEARS[1]}", f"Date outside the years {YEARS[0]}–{YEARS[1]}"
        )
    return parsed


def _date(raw) -> date:
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
    raise ValueError(
        "cell.date",
        "Ngày không hợp lệ; ghi dạng dd/mm/yyyy hoặc yyyy-mm-dd",
        "Invalid date; write dd/mm/yyyy or yyyy-mm-dd",
    )


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
                f'Dòng tổng cột "{column.header_vi}" ghi {written}, nhưng tổng các xã là {sum(values)}.',
                f'The totals row of "{column.header_vi}" says {written} but the communes add up to {sum(values)}.',
                row=number,
                column=name,
                header=parsed.headers.get(name),
                value=_shown(raw),
            )
