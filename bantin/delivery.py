"""Delivery: the bulletin by email (HTML body, PDF attached), and a copy in the outbox.

The body is the bulletin page with its charts as inline PNG images (mail clients
do not show SVG) and a plain-text part carrying the summary sentence, both
written with the version (`v<N>/mail/`, bantin.bulletin.write_version).

The outbox copy (`outbox/<report_date>/v<N>.eml`) is written first and always:
it is the record of what was sent, and what an operator forwards by hand if
the mail server is down. Mail goes through the SMTP connection configured in
Airflow (`BANTIN_SMTP_CONN_ID`, default `smtp_default`; e.g. the environment
variable `AIRFLOW_CONN_SMTP_DEFAULT` as JSON or URI). A successful send leaves
`v<N>.sent.json` beside the copy, so a rerun never mails the same version twice.

One retry policy: the Airflow task's (`operations.NETWORK_RETRIES`, growing
pauses over minutes). A send here is one attempt (`send`), on a session opened
from SmtpHook's public reading of the connection (deploy/smtp-connection.sh
writes it, with the provider's `disable_tls`/`disable_ssl` extras).
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from bantin.config import Settings
from bantin.render import vn_date

log = logging.getLogger(__name__)


def subject_of(report_date: date, document: dict) -> str:
    figures = document["figures"]
    unit = "thành phố" if (figures.get("form") or {}).get("scope") == "toàn thành phố" else "tỉnh"
    province = figures["province"]["province_name"]
    provisional = " (số liệu tạm thời)" if figures["provisional"] else ""
    version = f" – cập nhật lần {document['version'] - 1}" if document["version"] > 1 else ""
    return f"Bản tin COVID-19 {unit} {province} ngày {vn_date(report_date)}{provisional}{version}"


def attachment_name(report_date: date, version: int) -> str:
    return f"ban-tin-covid19-{report_date:%Y-%m-%d}-v{version}.pdf"


def build_message(settings: Settings, report_date: date, paths: dict[str, Path], sender: str) -> EmailMessage:
    """The outbox copy (.eml): what an operator forwards by hand when the mail server is down."""
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    message = EmailMessage()
    message["Subject"] = subject_of(report_date, document)
    message["From"] = sender
    message["To"] = ", ".join(settings.mail_to) or "undisclosed-recipients:;"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="bantin.local")
    mail = paths["json"].parent / "mail"  # the version's mail body (bulletin.write_version): PNG charts, text part
    if (mail / "body.html").exists():
        message.set_content((mail / "body.txt").read_text(encoding="utf-8"))
        message.add_alternative((mail / "body.html").read_text(encoding="utf-8"), subtype="html")
        body = message.get_payload()[1]
        for image in sorted(mail.glob("*.png")):  # shown inline where the body says <img src="cid:<name>">
            body.add_related(
                image.read_bytes(),
                maintype="image",
                subtype="png",
                cid=f"<{image.stem}>",
                filename=image.name,
                disposition="inline",
            )
    else:  # a version written before the mail body existed
        message.set_content(f"{message['Subject']}.\nXem nội dung trong tệp đính kèm (PDF) hoặc bản HTML.")
        message.add_alternative(paths["html"].read_text(encoding="utf-8"), subtype="html")
    if paths.get("pdf") and paths["pdf"].exists():
        message.add_attachment(
            paths["pdf"].read_bytes(),
            maintype="application",
            subtype="pdf",
            filename=attachment_name(report_date, document["version"]),
        )
    return message


def deliver(settings: Settings, report_date: date, paths: dict[str, Path]) -> dict:
    """Write the outbox copy, then mail it unless this very version was already mailed (reruns send nothing twice).

    Sending a version is exclusive across processes (a lock of the date's outbox):
    two runs behind a slow relay queue, and the second finds the first's receipt.
    """
    from bantin.store import exclusive_lock

    outbox = settings.outbox / report_date.isoformat()
    outbox.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(outbox / ".deliver.lock", timeout=settings.lock_wait_seconds):
        return _deliver_once(settings, report_date, paths, outbox)


def _deliver_once(settings: Settings, report_date: date, paths: dict[str, Path], outbox: Path) -> dict:
    version = json.loads(paths["json"].read_text(encoding="utf-8"))["version"]
    copy, receipt = outbox / f"v{version}.eml", outbox / f"v{version}.sent.json"
    result = {"outbox": str(copy), "recipients": len(settings.mail_to), "sent": False, "version": version}
    if receipt.exists():
        log.info("bulletin %s v%d was already mailed (%s): not sending again", report_date, version, receipt)
        return {**result, "sent": True, "already_sent": True}
    sender = sender_address(settings) if settings.mail_to else "bantin@localhost"
    message = build_message(settings, report_date, paths, sender)
    copy.write_bytes(bytes(message))
    if not settings.mail_to:
        log.warning("BANTIN_MAIL_TO is empty: the bulletin is in the outbox only (%s)", copy)
        return result
    send(message, settings.smtp_conn_id)
    receipt.write_text(
        json.dumps(
            {
                "sent_at": datetime.now(settings.timezone).isoformat(timespec="seconds"),
                "to": list(settings.mail_to),
                "message_id": message["Message-ID"],
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    return {**result, "sent": True}


def alert(settings: Settings, subject: str, body: str) -> bool:
    """A plain-text alert to the operators (`BANTIN_ALERT_TO`) through the same SMTP connection."""
    if not settings.alert_to:
        log.warning("BANTIN_ALERT_TO is empty: alert only logged: %s", subject)
        return False
    send(envelope(settings, list(settings.alert_to), subject, body), settings.smtp_conn_id)
    return True


def envelope(
    settings: Settings, to: list[str], subject: str, body: str, *, auto_submitted: str = "auto-generated"
) -> EmailMessage:
    """A plain-text mail from bantin's sender: alerts, reminders, replies to clerks.

    `Auto-Submitted` (RFC 3834: `auto-generated`, or `auto-replied` for an answer) keeps
    the recipient's autoresponder from answering back.
    """
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender_address(settings)
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="bantin.local")
    message["Auto-Submitted"] = auto_submitted
    message.set_content(body)
    return message


def sender_address(settings: Settings) -> str:
    """The connection's `from_email` extra, as SmtpHook reads it."""
    from airflow.sdk import BaseHook

    extra = BaseHook.get_connection(settings.smtp_conn_id).extra_dejson or {}
    return extra.get("from_email") or "bantin@localhost"


def send(message: EmailMessage, conn_id: str) -> None:
    """One attempt to send `message` through Airflow's SMTP connection `conn_id`.

    The session is opened as SmtpHook opens it, from the hook's public reading of
    the connection (host, port, implicit TLS unless `disable_ssl`, STARTTLS unless
    `disable_tls`, `ssl_context`, `timeout`, login when a password is set). The
    message is ours, whole: `send_email_smtp` can only build an HTML body with
    attachments, and a bulletin needs inline PNG charts and a plain-text part, a
    reply its In-Reply-To. A failure raises: the Airflow task's retries are the
    one retry policy.
    """
    import smtplib
    import ssl

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    hook = SmtpHook(smtp_conn_id=conn_id)
    hook.smtp_connection = hook.get_connection(conn_id)
    if hook.ssl_context not in (None, "default", "none"):
        raise ValueError(f"SMTP connection {conn_id}: extra ssl_context must be 'default' or 'none'")
    context = None if hook.ssl_context == "none" else ssl.create_default_context()
    options = {"timeout": hook.timeout, **({"port": hook.port} if hook.port else {})}
    client = (
        smtplib.SMTP_SSL(hook.host, context=context, **options) if hook.use_ssl else smtplib.SMTP(hook.host, **options)
    )
    with client:
        if hook.smtp_starttls and not hook.use_ssl:
            client.starttls(context=context)
            client.ehlo()
        if hook.smtp_user and hook.smtp_password:
            client.login(hook.smtp_user, hook.smtp_password)
        if not message["Message-ID"]:
            message["Message-ID"] = make_msgid(domain="bantin.local")
        client.send_message(message)
    log.info("mailed %r to %s", message["Subject"], message["To"])
