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
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from bantin.config import Settings
from bantin.render import vn_date

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 5.0  # grows with each attempt: 5 s, 10 s


def build_message(settings: Settings, report_date: date, paths: dict[str, Path], sender: str) -> EmailMessage:
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    figures = document["figures"]
    unit = "thành phố" if (figures.get("form") or {}).get("scope") == "toàn thành phố" else "tỉnh"
    province = figures["province"]["province_name"]
    provisional = " (số liệu tạm thời)" if figures["provisional"] else ""
    version = f" – cập nhật lần {document['version'] - 1}" if document["version"] > 1 else ""
    message = EmailMessage()
    message["Subject"] = f"Bản tin COVID-19 {unit} {province} ngày {vn_date(report_date)}{provisional}{version}"
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
            body.add_related(image.read_bytes(), maintype="image", subtype="png", cid=f"<{image.stem}>",
                             filename=image.name, disposition="inline")
    else:  # a version written before the mail body existed
        message.set_content(
            f"Bản tin COVID-19 {unit} {province} ngày {vn_date(report_date)}{provisional}.\n"
            "Xem nội dung trong tệp đính kèm (PDF) hoặc bản HTML."
        )
        message.add_alternative(paths["html"].read_text(encoding="utf-8"), subtype="html")
    if paths.get("pdf") and paths["pdf"].exists():
        message.add_attachment(paths["pdf"].read_bytes(), maintype="application", subtype="pdf",
                               filename=f"ban-tin-covid19-{report_date:%Y-%m-%d}-v{document['version']}.pdf")
    return message


def deliver(settings: Settings, report_date: date, paths: dict[str, Path]) -> dict:
    """Write the outbox copy, then mail it unless this very version was already mailed (reruns send nothing twice)."""
    version = json.loads(paths["json"].read_text(encoding="utf-8"))["version"]
    outbox = settings.outbox / report_date.isoformat()
    outbox.mkdir(parents=True, exist_ok=True)
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
    attempts = send(message, settings.smtp_conn_id)
    receipt.write_text(json.dumps({"sent_at": datetime.now(settings.timezone).isoformat(timespec="seconds"),
                                   "to": list(settings.mail_to), "attempts": attempts,
                                   "message_id": message["Message-ID"]}, ensure_ascii=False) + "\n", encoding="utf-8")
    return {**result, "sent": True, "attempts": attempts}


def alert(settings: Settings, subject: str, body: str) -> bool:
    """A plain-text alert to the operators (`BANTIN_ALERT_TO`) through the same SMTP connection."""
    if not settings.alert_to:
        log.warning("BANTIN_ALERT_TO is empty: alert only logged: %s", subject)
        return False
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender_address(settings)
    message["To"] = ", ".join(settings.alert_to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="bantin.local")
    message.set_content(body)
    send(message, settings.smtp_conn_id)
    return True


def sender_address(settings: Settings) -> str:
    """The connection's `from_email` extra, as SmtpHook reads it."""
    from airflow.sdk import BaseHook

    extra = BaseHook.get_connection(settings.smtp_conn_id).extra_dejson or {}
    return extra.get("from_email") or "bantin@localhost"


def _transient(problem: Exception) -> bool:
    """Worth another try: 4xx replies, a dropped connection, a refused or timed-out connect."""
    if isinstance(problem, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in problem.recipients.values())
    if isinstance(problem, smtplib.SMTPResponseException):
        return 400 <= problem.smtp_code < 500
    return isinstance(problem, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError))


def send(message: EmailMessage, conn_id: str) -> int:
    """Send through Airflow's SMTP connection `conn_id` (SmtpHook: host, port, TLS, login as configured).

    Transient failures are retried here with a growing pause; a permanent one
    (5xx) fails at once, and the Airflow task's own retries are the outer layer.
    Returns the number of attempts it took.
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    attempts = SEND_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            with SmtpHook(smtp_conn_id=conn_id) as hook:
                # The hook opens and authenticates the client per the connection; our message
                # (text + HTML + named PDF) is richer than send_email_smtp() builds.
                hook._smtp_client.send_message(message)
            log.info("mailed %r to %s (attempt %d)", message["Subject"], message["To"], attempt)
            return attempt
        except Exception as problem:
            if attempt == attempts or not _transient(problem):
                raise
            log.warning("SMTP attempt %d/%d failed (%s); retrying", attempt, attempts, problem)
            time.sleep(RETRY_PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")
