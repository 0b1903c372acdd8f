"""The SFTP channel: files pulled from each district's folder on the province's SFTP server.

Layout on the server, below `BANTIN_SFTP_ROOT` (what the pipeline's login sees):

    <district_code>/inbox/      the clerk uploads here (the district's chrooted login can write only here)
    <district_code>/processed/  files bantin has taken, moved here, never deleted
    <district_code>/feedback/   bantin's report on each file, beside it (text and HTML)

The folder is the identity, as with the local inbox. A file is taken only when
its size and modification time are the same at two looks `BANTIN_SFTP_SETTLE_SECONDS`
apart (a clerk's upload in progress is left for the next run), and never when its
name says it is partial (`.part`, `.filepart`, dot-names). It is copied into the
district's inbox with its receipt, then moved to `processed/` on the server.

The receipt time is the file's modification time on the server (the server's
clock at the last byte written; the compose service refuses client `setstat`,
so a sender cannot set it), kept no earlier than the previous look at the
folder, when the file was not there yet.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import posixpath
import stat
import time
from datetime import datetime
from pathlib import Path

from bantin import channels
from bantin.config import Settings

log = logging.getLogger(__name__)

CONNECT_ATTEMPTS = 3
CONNECT_PAUSE_SECONDS = 2.0
PARTIAL_SUFFIXES = (".part", ".filepart", ".tmp", ".crdownload", ".partial")


def pull_sftp(settings: Settings) -> dict:
    """Take every complete new file of every district folder; returns what happened."""
    stats = {"enabled": bool(settings.sftp_conn_id), "files": 0, "still_uploading": 0}
    if not settings.sftp_conn_id:
        return stats
    with channels.pull_lock(settings, "sftp"):
        stats.update(_pull(settings))
    return stats


def _pull(settings: Settings) -> dict:
    stats = {"files": 0, "still_uploading": 0}
    hook, sftp = _connect(settings)
    try:
        state = _load_state(settings)
        looked_at = datetime.now(settings.timezone)
        first = _look(sftp, settings)
        if first:
            time.sleep(settings.sftp_settle_seconds)
        second = _look(sftp, settings)
        taken = set()
        for remote, (district, attrs) in sorted(first.items()):
            again = second.get(remote)
            if again is None or (again[1].st_size, again[1].st_mtime) != (attrs.st_size, attrs.st_mtime):
                stats["still_uploading"] += 1
                continue
            before = state["listed"].get(str(district))
            seen_before = remote in state["seen"]
            received_at = _received_at(attrs.st_mtime, None if seen_before else before, looked_at, settings)
            if _take(settings, sftp, remote, district, attrs, received_at):
                taken.add(remote)
                stats["files"] += 1
        state["listed"].update({str(d): channels.iso(looked_at) for d in _districts(sftp, settings)})
        state["seen"] = sorted(set(second) - taken)  # there at this look: its upload began before the next one
        _save_state(settings, state)
    except OSError as problem:
        raise channels.ChannelUnavailable(f"SFTP connection lost: {problem}") from problem
    finally:
        hook.close_conn()
    return stats


def _connect(settings: Settings):
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            hook = SFTPHook(ssh_conn_id=settings.sftp_conn_id, use_managed_conn=False)
            return hook, hook.get_conn()
        except Exception as problem:  # paramiko's SSHException, socket errors, refused authentication
            if attempt == CONNECT_ATTEMPTS:
                raise channels.ChannelUnavailable(
                    f"SFTP server of connection {settings.sftp_conn_id!r} unreachable: {problem}"
                ) from problem
            log.warning("SFTP attempt %d/%d failed (%s); retrying", attempt, CONNECT_ATTEMPTS, problem)
            time.sleep(CONNECT_PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")


def _districts(sftp, settings: Settings) -> list[int]:
    return sorted(int(n) for n in sftp.listdir(settings.sftp_root) if n.isdigit())


def _look(sftp, settings: Settings) -> dict[str, tuple[int, object]]:
    """remote path -> (district, attributes) of every candidate file in every district's inbox."""
    found = {}
    for district in _districts(sftp, settings):
        inbox = posixpath.join(settings.sftp_root, str(district), "inbox")
        try:
            entries = sftp.listdir_attr(inbox)
        except FileNotFoundError:
            continue
        for entry in entries:
            name = entry.filename
            if (
                not stat.S_ISREG(entry.st_mode or 0)
                or name.startswith((".", "~$"))
                or name.lower().endswith(PARTIAL_SUFFIXES)
            ):
                continue
            found[posixpath.join(inbox, name)] = (district, entry)
    return found


def _received_at(mtime: float, listed_before: str | None, looked_at: datetime, settings: Settings) -> datetime:
    moment = datetime.fromtimestamp(mtime, tz=settings.timezone)
    if listed_before:
        moment = max(moment, datetime.fromisoformat(listed_before))  # it was not there at the previous look
    return min(moment, looked_at)


def _take(settings: Settings, sftp, remote: str, district: int, attrs, received_at: datetime) -> bool:
    """Copy into the inbox (receipt first), then move to processed/ on the server."""
    name = posixpath.basename(remote)
    buffer = io.BytesIO()  # in memory, as channels.land takes it: no download file written and read back
    sftp.getfo(remote, buffer)
    data = buffer.getvalue()
    if len(data) != attrs.st_size:  # rewritten between the second look and the copy
        return False
    stamp = received_at.strftime("%Y%m%dT%H%M%S")
    processed_dir = posixpath.join(posixpath.dirname(posixpath.dirname(remote)), "processed")
    processed = posixpath.join(processed_dir, f"{stamp}_{hashlib.sha256(data).hexdigest()[:8]}_{name}")
    path, sha = channels.land(
        settings,
        district,
        name,
        data,
        {"received_at": channels.iso(received_at), "channel": "sftp", "remote_path": processed, "uploaded_as": remote},
    )
    _mkdir(sftp, processed_dir)
    sftp.posix_rename(remote, processed)
    channels.remember(
        settings.channels / "sftp" / "taken" / f"{district}-{sha}.json",
        {"remote_path": remote, "processed": processed, "inbox_path": str(path)},
    )
    log.info("sftp %s -> %s (received %s)", remote, path, received_at)
    return True


def write_feedback(settings: Settings, receipt: dict, subject: str, body: str, report_html: Path | None) -> str:
    """The reply to an SFTP file, beside it on the server: `<district>/feedback/<processed name>.txt` (+ .html)."""
    hook, sftp = _connect(settings)
    try:
        processed = receipt["remote_path"]
        folder = posixpath.join(posixpath.dirname(posixpath.dirname(processed)), "feedback")
        _mkdir(sftp, folder)
        target = posixpath.join(folder, posixpath.basename(processed))
        _put_text(sftp, f"{target}.txt", f"{subject}\n\n{body}".encode())
        if report_html is not None:
            _put_text(sftp, f"{target}.html", report_html.read_bytes())
        return f"{target}.txt"
    finally:
        hook.close_conn()


def _put_text(sftp, remote: str, data: bytes) -> None:
    """Written under a dot-name and renamed: a clerk never opens half a report."""
    partial = posixpath.join(posixpath.dirname(remote), f".{posixpath.basename(remote)}.part")
    with sftp.open(partial, "wb") as handle:
        handle.write(data)
    sftp.posix_rename(partial, remote)


def _mkdir(sftp, folder: str) -> None:
    try:
        sftp.stat(folder)
    except FileNotFoundError:
        sftp.mkdir(folder)


# --------------------------------------------------------------------------- what the puller remembers


def _state_path(settings: Settings) -> Path:
    return settings.channels / "sftp" / "looks.json"


def _load_state(settings: Settings) -> dict:
    try:
        state = json.loads(_state_path(settings).read_text(encoding="utf-8"))
    except FileNotFoundError:
        state = {}
    return {"listed": state.get("listed", {}), "seen": state.get("seen", [])}


def _save_state(settings: Settings, state: dict) -> None:
    channels.remember(_state_path(settings), state)
