"""All configuration in one place: environment variables with the BANTIN_ prefix.

Every knob an operator may turn is read here and nowhere else, so the README's
table of settings and this file cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(f"BANTIN_{name}", "").strip()
    return value or default


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


class SettingsError(ValueError):
    """A BANTIN_ variable with a value bantin cannot use: the message names it, in Vietnamese and English."""


def _parsed(name: str, default: str, parse):
    """BANTIN_<name> read by `parse`; a value it refuses is a SettingsError naming the variable."""
    text = _env(name, default)
    try:
        return parse(text)
    except (ValueError, KeyError):  # ZoneInfo's "no such zone" is a KeyError
        raise SettingsError(f"BANTIN_{name}={text!r}: giá trị không hợp lệ / not a valid value") from None


def _paths_under(home: Path) -> dict[str, Path]:
    return {
        "landing": home / "landing",
        "archive": home / "archive",
        "feedback": home / "feedback",
        "warehouse_dir": home / "warehouse",
        "bulletins": home / "bulletins",
        "outbox": home / "outbox",
        "receipts": home / "receipts",  # receipt register (docs/spec receipts contract): only bantin writes it
        "channels": home / "channels",  # the channels' memory: messages taken, replies and reminders sent
        "board": home / "board",
    }


@dataclass(frozen=True)
class Limits:
    """What one submission file may hold: anything beyond is refused while it is read, naming the limit.

    A district's file lists its communes (the largest district has under 100): the row limit
    leaves room for twenty times that. Counts never exceed COUNT_MAX at intake (larger than any
    commune's population, far below 64-bit and float precision), and the row rules then hold
    counts of people to the commune's population.
    """

    max_rows: int = 2000
    max_columns: int = 60
    max_cell_chars: int = 200
    max_note_chars: int = 1000
    max_findings_per_file: int = 200

    @property
    def max_lines(self) -> int:
        """Physical lines (rows of the sheet) read before giving up: the rows plus titles, blanks and totals."""
        return self.max_rows + 200


@dataclass(frozen=True)
class DocumentForm:
    """How the bulletin is issued as an official report (Decree 30/2020/NĐ-CP layout): who issues and signs it.

    Empty texts fall back to what the province implies (`Sở Y tế tỉnh …`), see `bulletin.document_form`.
    """

    parent_body: str = ""  # the issuing body's superior, first line of the heading (e.g. UBND TỈNH QUẢNG NINH)
    issuer: str = ""  # the issuing body (e.g. SỞ Y TẾ)
    symbol: str = "BC-SYT"  # document symbol after the number: Số: 292/BC-SYT
    place: str = ""  # place name in the date line (default: the province's name)
    # "Nơi nhận" (BANTIN_RECIPIENTS, ';'-separated); empty: the province's steering committee, people's
    # committee and its districts' committees, in the province's own words (bantin.bulletin.document_form)
    recipients: tuple[str, ...] = ()
    signer_authority: str = "KT. GIÁM ĐỐC"  # e.g. KT. GIÁM ĐỐC, TL. GIÁM ĐỐC, or empty
    signer_title: str = "PHÓ GIÁM ĐỐC"
    signer_name: str = ""  # empty: a blank line for the name, signed by hand


@dataclass(frozen=True)
class Settings:
    home: Path
    province_code: int
    timezone: ZoneInfo
    cutoff: time
    deadline: time
    max_file_bytes: int
    backdate_days: int
    mail_to: tuple[str, ...]
    alert_to: tuple[str, ...]
    smtp_conn_id: str
    rule_sets_dir: Path
    signoff: str  # wait (for the Director, until signoff_by) or skip (the bulletin goes out provisional)
    signoff_by: time
    paths: dict[str, Path] = field(repr=False)
    scheduled: bool = True  # BANTIN_SCHEDULE=off: the DAGs run only when triggered (demo data, rehearsals)
    limits: Limits = field(default_factory=Limits)
    duckdb_threads: int = 2
    duckdb_memory_limit: str = ""
    lock_wait_seconds: float = 30 * 60
    settle_seconds: float = 1.0
    document: DocumentForm = field(default_factory=DocumentForm)
    # District channels (bantin/channels): an empty connection id switches the channel off.
    imap_conn_id: str = ""
    imap_folder: str = "INBOX"
    imap_received_folder: str = "bantin-received"
    imap_quarantine_folder: str = "bantin-quarantine"
    mail_require_auth: bool = True  # a verdict spf=pass or dkim=pass in Authentication-Results is required
    mail_authserv_id: str = ""  # trust only Authentication-Results written by this server (empty: any)
    sftp_conn_id: str = ""
    sftp_root: str = "."
    sftp_settle_seconds: float = 5.0
    senders_path: Path | None = None
    reminder_times: tuple[time, ...] = (time(15, 0), time(16, 30))

    @property
    def landing(self) -> Path:
        return self.paths["landing"]

    @property
    def archive(self) -> Path:
        return self.paths["archive"]

    @property
    def feedback(self) -> Path:
        return self.paths["feedback"]

    @property
    def bulletins(self) -> Path:
        return self.paths["bulletins"]

    @property
    def outbox(self) -> Path:
        return self.paths["outbox"]

    @property
    def receipts(self) -> Path:
        return self.paths["receipts"]

    @property
    def channels(self) -> Path:
        return self.paths["channels"]

    @property
    def board(self) -> Path:
        return self.paths["board"]

    @property
    def senders(self) -> Path:
        return self.senders_path or self.home / "senders.csv"

    @property
    def warehouse_path(self) -> Path:
        return self.paths["warehouse_dir"] / "bantin.duckdb"

    @property
    def analytics_path(self) -> Path:
        return self.paths["warehouse_dir"] / "analytics.duckdb"


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _env(name, default).lower()
    if value not in allowed:
        raise SettingsError(
            f"BANTIN_{name} phải là một trong / must be one of {', '.join(allowed)}, không phải / not {value!r}"
        )
    return value


def _hhmm_list(text: str) -> tuple[time, ...]:
    return tuple(_hhmm(t) for t in text.replace(";", ",").split(",") if t.strip())


def _addresses(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.replace(";", ",").split(",") if a.strip())


def load_settings() -> Settings:
    """Read the environment now (not at import), so tests can point BANTIN_HOME elsewhere.

    A default the Settings class states is taken from it, never written a second time here.
    """
    home = Path(_env("HOME", str(REPO_ROOT / "var"))).expanduser().resolve()
    return Settings(
        home=home,
        province_code=_parsed("PROVINCE", "22", int),
        timezone=_parsed("TIMEZONE", "Asia/Ho_Chi_Minh", ZoneInfo),
        cutoff=_parsed("CUTOFF", "17:00", _hhmm),
        deadline=_parsed("DEADLINE", "20:00", _hhmm),
        max_file_bytes=int(_parsed("MAX_FILE_MB", "10", float) * 1024 * 1024),
        backdate_days=_parsed("BACKDATE_DAYS", "7", int),
        mail_to=_addresses(_env("MAIL_TO", "")),
        alert_to=_addresses(_env("ALERT_TO", "")),
        smtp_conn_id=_env("SMTP_CONN_ID", "smtp_default"),
        # epidemic-level rule sets (bantin.levels): a province drops its adapted rule set here
        rule_sets_dir=Path(_env("RULE_SETS", str(REPO_ROOT / "reference" / "rule_sets"))).expanduser().resolve(),
        signoff=_choice("SIGNOFF", "wait", ("wait", "skip")),
        signoff_by=_parsed("SIGNOFF_BY", "19:00", _hhmm),
        paths=_paths_under(home),
        scheduled=_env("SCHEDULE", "on").lower() not in ("off", "false", "0", "no"),
        limits=Limits(
            max_rows=_parsed("MAX_ROWS", str(Limits.max_rows), int),
            max_columns=_parsed("MAX_COLUMNS", str(Limits.max_columns), int),
            max_cell_chars=_parsed("MAX_CELL_CHARS", str(Limits.max_cell_chars), int),
            max_note_chars=_parsed("MAX_NOTE_CHARS", str(Limits.max_note_chars), int),
            max_findings_per_file=_parsed("MAX_FINDINGS_PER_FILE", str(Limits.max_findings_per_file), int),
        ),
        duckdb_threads=_parsed("DUCKDB_THREADS", str(Settings.duckdb_threads), int),
        duckdb_memory_limit=_env("DUCKDB_MEMORY_LIMIT", Settings.duckdb_memory_limit),
        lock_wait_seconds=_parsed("LOCK_WAIT_S", str(Settings.lock_wait_seconds), float),
        settle_seconds=_parsed("SETTLE_S", str(Settings.settle_seconds), float),
        imap_conn_id=_env("IMAP_CONN_ID", ""),
        imap_folder=_env("IMAP_FOLDER", Settings.imap_folder),
        imap_received_folder=_env("IMAP_RECEIVED_FOLDER", Settings.imap_received_folder),
        imap_quarantine_folder=_env("IMAP_QUARANTINE_FOLDER", Settings.imap_quarantine_folder),
        mail_require_auth=_env("MAIL_REQUIRE_AUTH", "yes").lower() not in ("0", "no", "false"),
        mail_authserv_id=_env("MAIL_AUTHSERV_ID", ""),
        sftp_conn_id=_env("SFTP_CONN_ID", ""),
        sftp_root=_env("SFTP_ROOT", Settings.sftp_root),
        sftp_settle_seconds=_parsed("SFTP_SETTLE_SECONDS", str(Settings.sftp_settle_seconds), float),
        senders_path=Path(_env("SENDERS", str(home / "senders.csv"))).expanduser(),
        reminder_times=_parsed("REMINDERS", "15:00,16:30", _hhmm_list),
        document=_document_form(),
    )


def _document_form() -> DocumentForm:
    default = DocumentForm()
    recipients = os.environ.get("BANTIN_RECIPIENTS", "").strip()
    return DocumentForm(
        parent_body=_env("ISSUER_PARENT", default.parent_body),
        issuer=_env("ISSUER", default.issuer),
        symbol=_env("DOC_SYMBOL", default.symbol),
        place=_env("DOC_PLACE", default.place),
        recipients=tuple(r.strip() for r in recipients.split(";") if r.strip()) if recipients else default.recipients,
        signer_authority=os.environ.get("BANTIN_SIGNER_AUTHORITY", default.signer_authority).strip(),
        signer_title=_env("SIGNER_TITLE", default.signer_title),
        signer_name=_env("SIGNER_NAME", default.signer_name),
    )
