"""District channels: how a district's file reaches `landing/<district>/` from the district's own office.

- `mailbox`: attachments pulled over IMAP from registered senders (bantin/channels/mailbox.py);
- `sftp_inbox`: files pulled from each district's folder on an SFTP server (bantin/channels/sftp_inbox.py).

Both only *bring* files: collect, validate and the ledger treat them exactly as a
file dropped into the local inbox. What a channel adds is the receipt
(docs/spec/receipts-contract.md): `receipts/<district>/<sha256>.json`, written
before the file appears in the inbox, with the time the channel's *server*
received it (never a time the sender controls) and where it came from, so
lateness is decided by that time and the reply finds its way back.

This module holds what the channels share: the receipt register, the atomic
landing of a file, and the operators' registry of sender addresses.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bantin import intake
from bantin.config import Settings

ACCEPTED_SUFFIXES = (".csv", ".xlsx", ".xls")  # .xls is taken so intake can say "save it as .xlsx"
_UNSAFE = re.compile(r"[^\w.\- ()]+", re.UNICODE)


class ChannelUnavailable(RuntimeError):
    """The mail or SFTP server could not be reached: the Airflow task retries; the local inbox is unaffected."""


# --------------------------------------------------------------------------- receipts


def write_receipt(settings: Settings, district_code: int, sha256: str, receipt: dict) -> Path:
    """Write the receipt of a file before the file enters the inbox (the intake's register; the first receipt wins).

    The same bytes sent twice keep the receipt of their first arrival: the
    ledger records them once, and that first arrival is what counts.
    """
    fields = dict(receipt)
    received_at = datetime.fromisoformat(fields.pop("received_at"))
    channel, file_name = fields.pop("channel"), fields.pop("file_name")
    return intake.write_receipt(settings.receipts, district_code, sha256, received_at, channel, file_name, **fields)


def read_receipt(settings: Settings, district_code: int, sha256: str) -> dict | None:
    """The receipt as written (JSON object): provenance for the replies (message id, sender, remote path)."""
    try:
        return json.loads(intake.receipt_path(settings.receipts, district_code, sha256).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def land(settings: Settings, district_code: int, file_name: str, data: bytes, receipt: dict) -> tuple[Path, str]:
    """Put `data` into the district's inbox under a safe form of `file_name`, receipt first.

    Written under a dot-name (ignored by the inbox scan), then renamed: collect
    never sees half a file. A name already taken by other bytes gets the
    content hash appended (clerks send `baocao.xlsx` every day).
    Returns the inbox path and the file's sha256.
    """
    sha = hashlib.sha256(data).hexdigest()
    write_receipt(settings, district_code, sha, {**receipt, "file_name": file_name})
    inbox = settings.landing / str(district_code)
    inbox.mkdir(parents=True, exist_ok=True)
    name = safe_name(file_name)
    target = inbox / name
    if target.exists():
        with target.open("rb") as existing:
            if hashlib.file_digest(existing, "sha256").hexdigest() == sha:
                return target, sha
        stem, dot, suffix = name.rpartition(".")
        target = inbox / (f"{stem}-{sha[:12]}.{suffix}" if dot else f"{name}-{sha[:12]}")
        if target.exists():
            return target, sha
    partial = inbox / f".{target.name}.{os.getpid()}.part"
    with partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, target)
    return target, sha


def safe_name(file_name: str) -> str:
    """The last path component, without characters a file system or a shell would trip on."""
    name = _UNSAFE.sub("_", Path(file_name.replace("\\", "/")).name).strip(" .")
    return name[:150] or "tep-dinh-kem"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# --------------------------------------------------------------------------- sender registry


@dataclass(frozen=True)
class Sender:
    address: str
    district_code: int
    name: str = ""


def load_senders(settings: Settings) -> dict[str, Sender]:
    """The operators' registry `senders.csv` (address,district_code,name), keyed by lower-case address.

    A missing file is an empty registry: every e-mail is then quarantined and answered.
    """
    path = settings.senders
    if not path.exists():
        return {}
    senders: dict[str, Sender] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            address = (row.get("address") or "").strip().lower()
            code = (row.get("district_code") or "").strip()
            if not address or address.startswith("#") or not code.isdigit():
                continue
            senders[address] = Sender(address, int(code), (row.get("name") or "").strip())
    return senders


def addresses_of(settings: Settings, district_code: int) -> list[str]:
    """Every registered address of a district (replies to SFTP files and reminders go to them)."""
    return sorted(s.address for s in load_senders(settings).values() if s.district_code == district_code)


# --------------------------------------------------------------------------- small shared state


def pull_lock(settings: Settings, channel: str):
    """One puller per channel at a time: collect_submissions and daily_bulletin both pull at the cutoff."""
    from bantin.store import exclusive_lock

    settings.channels.mkdir(parents=True, exist_ok=True)
    return exclusive_lock(settings.channels / f"{channel}.lock", timeout=settings.lock_wait_seconds)


def write_atomic(path: Path, text: str) -> None:
    """Written beside, then renamed: a reader never sees half a file (the partial name is per process)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def remember(path: Path, record: dict) -> None:
    """A small JSON record in the channels' memory (messages taken, replies and reminders sent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(record, ensure_ascii=False, indent=2, default=str) + "\n")
