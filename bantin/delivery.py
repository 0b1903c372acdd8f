"""Delivery: the bulletin by email (HTML body, PDF attached), and a copy in the outbox.

The outbox copy (`outbox/<report_date>/v<N>.eml`) is written first and always:
it is the record of what was sent, and what an operator forwards by hand if
the mail server is down. Mail goes through the SMTP connection configured in
Airflow (`BANTIN_SMTP_CONN_ID`, default `smtp_default`).
"""

from __future__ import annotations

import json
import logging
import smtplib
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from bantin.config import Settings

log = logging.getLogger(__name__)


def build_message(settings: Settings, report_date: date, paths: dict[str, Path], sender: str) -> EmailMessage:
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    figures = document["figures"]
    province = figures["province"]["province_name"]
    provisional = " (số liệu tạm thời)" if figures["provisional"] else ""
    version = f" – cập nhật lần {document['version'] - 1}" if document["version"] > 1 else ""
    message = EmailMessage()
    message["Subject"] = f"Bản tin COVID-19 tỉnh {province} ngày {report_date:%d/%m/%Y}{provisional}{version}"
    message["From"] = sender
    message["To"] = ", ".join(settings.mail_to) or "undisclosed-recipients:;"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="bantin.local")
    message.set_content(
        f"Bản tin COVID-19 tỉnh {province} ngày {report_date:%d/%m/%Y}{provisional}.\n"
        "Xem nội dung trong tệp đính kèm (PDF) hoặc bản HTML."
    )
    message.add_alternative(paths["html"].read_text(encoding="utf-8"), subtype="html")
    if paths.get("pdf") and paths["pdf"].exists():
        message.add_attachment(paths["pdf"].read_bytes(), maintype="application", subtype="pdf",
                               filename=f"ban-tin-covid19-{report_date:%Y-%m-%d}-v{document['version']}.pdf")
    return message


def deliver(settings: Settings, report_date: date, paths: dict[str, Path]) -> dict:
    smtp = smtp_connection(settings.smtp_conn_id) if settings.mail_to else None
    sender = (smtp or {}).get("from_email") or "bantin@localhost"
    message = build_message(settings, report_date, paths, sender)
    version = json.loads(paths["json"].read_text(encoding="utf-8"))["version"]
    outbox = settings.outbox / report_date.isoformat()
    outbox.mkdir(parents=True, exist_ok=True)
    copy = outbox / f"v{version}.eml"
    copy.write_bytes(bytes(message))
    result = {"outbox": str(copy), "recipients": len(settings.mail_to), "sent": False}
    if settings.mail_to:
        send(message, smtp)
        result["sent"] = True
    else:
        log.warning("BANTIN_MAIL_TO is empty: the bulletin is in the outbox only (%s)", copy)
    return result


def smtp_connection(conn_id: str) -> dict:
    """Host, port, login and sender from the Airflow connection `conn_id`."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    return {
        "host": conn.host or "localhost",
        "port": int(conn.port or 25),
        "login": conn.login,
        "password": conn.password,
        "starttls": bool(extra.get("starttls", False)),
        "ssl": bool(extra.get("ssl", False)),
        "timeout": int(extra.get("timeout", 30)),
        "from_email": extra.get("from_email"),
    }


def send(message: EmailMessage, smtp: dict) -> None:
    client_class = smtplib.SMTP_SSL if smtp["ssl"] else smtplib.SMTP
    with client_class(smtp["host"], smtp["port"], timeout=smtp["timeout"]) as client:
        if smtp["starttls"]:
            client.starttls()
        if smtp["login"]:
            client.login(smtp["login"], smtp["password"] or "")
        client.send_message(message)
    log.info("bulletin mailed to %s via %s:%s", message["To"], smtp["host"], smtp["port"])
