"""The e-mail channel: attachments pulled over IMAP from registered senders into the district inboxes.

Each message in the mailbox folder (`BANTIN_IMAP_FOLDER`, default INBOX) is
read once, through Airflow's IMAP connection `BANTIN_IMAP_CONN_ID` (the
provider's ImapHook opens and logs in the client), and then *moved*, never
deleted:

- to `BANTIN_IMAP_RECEIVED_FOLDER` when its attachments went to the sender's
  district inbox, each with a receipt (Message-ID, sender, and the time the
  mail server received the message: its IMAP INTERNALDATE, which decides
  lateness; the time of the pull does not);
- to `BANTIN_IMAP_QUARANTINE_FOLDER` when it cannot be taken: unknown sender,
  no attachment, an attachment type we do not read, or the receiving server's
  SPF/DKIM verdict (`Authentication-Results`) fails. The sender gets a polite
  answer in Vietnamese and English saying why and what to do.

A message is taken once: its Message-ID and the hash of its bytes are kept in
`channels/imap/`; a message seen again (a crash before the move, a copy put
back in the inbox) is only moved. An operator releases a quarantined message
(after registering its sender, say) by moving it back to the inbox folder.
"""

from __future__ import annotations

import contextlib
import email
import hashlib
import imaplib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from bantin import channels
from bantin.config import Settings

log = logging.getLogger(__name__)

CONNECT_ATTEMPTS = 3
CONNECT_PAUSE_SECONDS = 2.0
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)


@dataclass
class Decision:
    """What to do with one message: the attachments to land, or why it is quarantined."""

    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    reason: str | None = None  # unknown_sender, no_attachment, refused_type, auth_failed, unreadable
    detail: str = ""


def pull_mailbox(settings: Settings) -> dict:
    """Take every new message of the mailbox folder; returns what happened (the task's summary)."""
    stats = {"enabled": bool(settings.imap_conn_id), "messages": 0, "files": 0, "quarantined": 0, "already_taken": 0}
    if not settings.imap_conn_id:
        return stats
    with channels.pull_lock(settings, "imap"):
        stats.update(_pull(settings))
    from bantin import replies

    stats["replies_sent"] = replies.flush_outbox(settings)
    return stats


def _pull(settings: Settings) -> dict:
    stats = {"messages": 0, "files": 0, "quarantined": 0, "already_taken": 0}
    senders = channels.load_senders(settings)
    client = _connect(settings)
    try:
        for folder in (settings.imap_received_folder, settings.imap_quarantine_folder):
            client.create(_quoted(folder))  # "already exists" is a NO reply, not an exception
        _ok(client.select(_quoted(settings.imap_folder)), "SELECT")
        uids = _ok(client.uid("SEARCH", None, "ALL"), "SEARCH")[0].split()
        for uid in uids:
            outcome = _take_one(settings, client, uid, senders)
            stats["messages"] += 1
            stats[outcome["key"]] += outcome.get("count", 1)
        client.expunge()  # MOVE already expunges; servers without MOVE get COPY + \Deleted of the moved copies
    except (OSError, imaplib.IMAP4.abort) as problem:
        raise channels.ChannelUnavailable(f"IMAP connection lost: {problem}") from problem
    finally:
        with contextlib.suppress(Exception):  # the connection may already be gone
            client.logout()
    return stats


def _connect(settings: Settings) -> imaplib.IMAP4:
    """Log in through the ImapHook (host, port, TLS, login as the Airflow connection says), a few tries."""
    from airflow.providers.imap.hooks.imap import ImapHook

    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            hook = ImapHook(imap_conn_id=settings.imap_conn_id)
            return hook.get_conn().mail_client
        except (OSError, imaplib.IMAP4.abort) as problem:
            if attempt == CONNECT_ATTEMPTS:
                raise channels.ChannelUnavailable(
                    f"IMAP server of connection {settings.imap_conn_id!r} unreachable: {problem}"
                ) from problem
            log.warning("IMAP attempt %d/%d failed (%s); retrying", attempt, CONNECT_ATTEMPTS, problem)
            time.sleep(CONNECT_PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")


def _take_one(settings: Settings, client: imaplib.IMAP4, uid: bytes, senders: dict) -> dict:
    response = _ok(client.uid("FETCH", uid, "(UID INTERNALDATE BODY.PEEK[])"), "FETCH")
    meta, raw = next((part[0], part[1]) for part in response if isinstance(part, tuple))
    received_at = datetime.strptime(_INTERNALDATE.search(meta).group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
    message = email.message_from_bytes(raw, policy=policy.default)
    raw_sha = hashlib.sha256(raw).hexdigest()
    message_id = (message.get("Message-ID") or "").strip() or f"<sha256-{raw_sha}@bantin.invalid>"
    seen = _seen_record(settings, message_id, raw_sha)
    if seen is not None and not seen.get("reason"):
        _move(client, uid, settings.imap_received_folder)
        return {"key": "already_taken"}
    # A quarantined message back in the inbox was released by an operator (sender registered since):
    # it is decided again; if it is still refused, its sender is not answered a second time.

    sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    try:
        decision = decide(settings, message, sender, senders)
    except Exception:  # a malformed message must not block the mailbox: quarantined for a person to read
        log.exception("mail %s from %s could not be read", message_id, sender)
        decision = Decision(reason="unreadable")
    record = {
        "message_id": message_id,
        "raw_sha256": raw_sha,
        "sender": sender,
        "subject": str(message.get("Subject", "")),
        "received_at": channels.iso(received_at),
        "taken_at": channels.iso(datetime.now(settings.timezone)),
        "reason": decision.reason,
        "detail": decision.detail,
        "files": [],
    }
    if decision.reason is None:
        district = senders[sender].district_code
        for file_name, data in decision.attachments:
            path, sha = channels.land(
                settings,
                district,
                file_name,
                data,
                {
                    "received_at": channels.iso(received_at),
                    "channel": "imap",
                    "message_id": message_id,
                    "sender": sender,
                    "subject": record["subject"],
                },
            )
            record["files"].append({"district_code": district, "sha256": sha, "inbox_path": str(path)})
        folder, key = settings.imap_received_folder, "files"
    else:
        _keep_quarantined(settings, raw, record)
        from bantin import replies

        if not _automatic(message):  # never answer an autoresponder or a bounce: no mail loops
            replies.queue(settings, f"quarantine-{raw_sha[:24]}", replies.quarantine_reply(settings, record))
        folder, key = settings.imap_quarantine_folder, "quarantined"
    _remember(settings, record)  # before the move: a crash in between only re-moves the message next run
    _move(client, uid, folder)
    log.info("mail %s from %s: %s", message_id, sender, decision.reason or f"{len(record['files'])} file(s)")
    return {"key": key, "count": len(record["files"]) if key == "files" else 1}


def decide(settings: Settings, message: EmailMessage, sender: str, senders: dict) -> Decision:
    """Whether a message is taken, and which attachments; the first reason to refuse it wins."""
    if sender not in senders:
        return Decision(reason="unknown_sender", detail=sender)
    verdict = authentication_verdict(message, settings.mail_authserv_id)
    if verdict != "pass" and (settings.mail_require_auth or verdict == "fail"):
        return Decision(reason="auth_failed", detail=verdict)
    attachments, refused = [], []
    for part in message.iter_attachments():
        name = part.get_filename()
        if not name:
            continue
        if name.lower().endswith(channels.ACCEPTED_SUFFIXES):
            attachments.append((name, part.get_payload(decode=True) or b""))
        elif part.get_content_disposition() == "attachment":
            refused.append(name)
    if refused:
        return Decision(reason="refused_type", detail=", ".join(refused))
    if not attachments:
        return Decision(reason="no_attachment")
    return Decision(attachments=attachments)


def authentication_verdict(message: EmailMessage, authserv_id: str = "") -> str:
    """`pass`, `fail` or `none` from the receiving server's Authentication-Results (RFC 8601).

    Pass: SPF or DKIM passed and DMARC did not fail. Only headers written by
    `authserv_id` count when it is set (the province's own mail server, which
    must strip such headers from incoming mail; a sender can write one too).
    """
    results = []
    for header in message.get_all("Authentication-Results") or []:
        text = str(header)
        server = text.split(";", 1)[0].strip().split()[0] if text.strip() else ""
        if authserv_id and server.lower() != authserv_id.lower():
            continue
        results += [(kind.lower(), value.lower()) for kind, value in _RESULT.findall(text.split(";", 1)[-1])]
    if not results:
        return "none"
    passed = {kind for kind, value in results if value == "pass"}
    if ("dmarc", "fail") in results or not passed & {"spf", "dkim"}:
        return "fail"
    return "pass"


def _automatic(message: EmailMessage) -> bool:
    auto = str(message.get("Auto-Submitted", "no")).lower()
    precedence = str(message.get("Precedence", "")).lower()
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    return (
        auto != "no"
        or precedence in ("bulk", "list", "junk")
        or not sender
        or sender.startswith(("mailer-daemon", "postmaster"))
    )


# --------------------------------------------------------------------------- once only


def _keys(message_id: str, raw_sha: str) -> list[str]:
    return [hashlib.sha256(message_id.encode()).hexdigest(), raw_sha]


def _seen_record(settings: Settings, message_id: str, raw_sha: str) -> dict | None:
    for key in _keys(message_id, raw_sha):
        path = settings.channels / "imap" / f"{key}.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
    return None


def _remember(settings: Settings, record: dict) -> None:
    for key in _keys(record["message_id"], record["raw_sha256"]):
        channels.remember(settings.channels / "imap" / f"{key}.json", record)


def _keep_quarantined(settings: Settings, raw: bytes, record: dict) -> Path:
    """A local copy for the operators (the mailbox keeps the original in its quarantine folder)."""
    folder = settings.channels / "quarantine" / record["received_at"][:10]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['raw_sha256'][:24]}.eml"
    path.write_bytes(raw)
    return path


# --------------------------------------------------------------------------- IMAP details


def _move(client: imaplib.IMAP4, uid: bytes, folder: str) -> None:
    typ, _ = client.uid("MOVE", uid, _quoted(folder))
    if typ != "OK":  # a server without MOVE (RFC 6851): copy, then flag the original; EXPUNGE at the end
        _ok(client.uid("COPY", uid, _quoted(folder)), "COPY")
        _ok(client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(reply: tuple, what: str):
    typ, data = reply
    if typ != "OK":
        raise channels.ChannelUnavailable(f"IMAP {what} refused: {data!r}")
    return data
