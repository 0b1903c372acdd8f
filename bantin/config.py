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
    paths: dict[str, Path] = field(repr=False)
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


def _addresses(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.replace(";", ",").split(",") if a.strip())


def load_settings() -> Settings:
    """Read the environment now (not at import), so tests can point BANTIN_HOME elsewhere."""
    home = Path(_env("HOME", str(REPO_ROOT / "var"))).expanduser().resolve()
    return Settings(
        home=home,
        province_code=int(_env("PROVINCE", "22")),
        timezone=ZoneInfo(_env("TIMEZONE", "Asia/Ho_Chi_Minh")),
        cutoff=_hhmm(_env("CUTOFF", "17:00")),
        deadline=_hhmm(_env("DEADLINE", "20:00")),
        max_file_bytes=int(float(_env("MAX_FILE_MB", "10")) * 1024 * 1024),
        backdate_days=int(_env("BACKDATE_DAYS", "7")),
        mail_to=_addresses(_env("MAIL_TO", "")),
        alert_to=_addresses(_env("ALERT_TO", "")),
        smtp_conn_id=_env("SMTP_CONN_ID", "smtp_default"),
        paths=_paths_under(home),
        imap_conn_id=_env("IMAP_CONN_ID", ""),
        imap_folder=_env("IMAP_FOLDER", "INBOX"),
        imap_received_folder=_env("IMAP_RECEIVED_FOLDER", "bantin-received"),
        imap_quarantine_folder=_env("IMAP_QUARANTINE_FOLDER", "bantin-quarantine"),
        mail_require_auth=_env("MAIL_REQUIRE_AUTH", "yes").lower() not in ("0", "no", "false"),
        mail_authserv_id=_env("MAIL_AUTHSERV_ID", ""),
        sftp_conn_id=_env("SFTP_CONN_ID", ""),
        sftp_root=_env("SFTP_ROOT", "."),
        sftp_settle_seconds=float(_env("SFTP_SETTLE_SECONDS", "5")),
        senders_path=Path(_env("SENDERS", str(home / "senders.csv"))).expanduser(),
        reminder_times=tuple(_hhmm(t) for t in _env("REMINDERS", "15:00,16:30").replace(";", ",").split(",")
                             if t.strip()),
    )
