"""Answers to the clerk, where the clerk is: by e-mail and, for SFTP files, beside the file on the server.

After validation, each file that came by a channel gets one reply with the
verdict in the subject ("Đã nhận" / "Cần gửi lại", district, report date) and
every finding in the body (row, column, value, what to do), Vietnamese first,
English below; the HTML feedback report (bantin.feedback) is attached.

- a file from the e-mail channel: a reply to its sender, `In-Reply-To` the
  original message, so it sits in the clerk's thread;
- a file from the SFTP channel: the report written to the district's
  `feedback/` folder on the server, and mailed to the district's registered
  addresses (if any).

Mail goes through an outbox (`channels/outbox/*.eml`, sent ones moved to
`channels/sent/`): a reply is composed once, and an SMTP outage only delays it
to the next try (the task retries; the next collection flushes it too).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from bantin import channels
from bantin.config import Settings

log = logging.getLogger(__name__)

# Headers unfolded up to RFC 5322's 998: Python's folding at 78 drops the space between two encoded words
# ("Hạ Long –báo cáo" in the clerk's subject line).
MAIL_POLICY = policy.default.clone(max_line_length=998)
ANSWER_WINDOW_DAYS = 3  # files recorded longer ago than this were answered (or never will be)

REASONS = {
    "unknown_sender": (
        "địa chỉ thư {detail} chưa được đăng ký gửi báo cáo cho đơn vị nào.",
        "Đề nghị gửi từ địa chỉ đã đăng ký của đơn vị, hoặc liên hệ bộ phận vận hành của Sở Y tế để đăng ký "
        "địa chỉ này.",
        "the address {detail} is not registered to send reports for any district.",
        "Please send from your unit's registered address, or ask the Department's operators to register this one.",
    ),
    "no_attachment": (
        "thư không có tệp đính kèm.",
        "Đề nghị gửi lại thư kèm tệp báo cáo (.xlsx hoặc .csv theo mẫu của Sở).",
        "the message has no attachment.",
        "Please send the message again with the report file attached (.xlsx or .csv, the Department's template).",
    ),
    "refused_type": (
        "tệp đính kèm {detail} không thuộc định dạng được nhận (.xlsx, .csv).",
        "Đề nghị chỉ đính kèm tệp báo cáo dạng .xlsx hoặc .csv, không nén, không kèm tệp khác.",
        "the attachment {detail} is not an accepted type (.xlsx, .csv).",
        "Please attach only the report as .xlsx or .csv, not compressed, with no other files.",
    ),
    "unreadable": (
        "không đọc được nội dung thư hoặc tệp đính kèm.",
        "Đề nghị gửi lại thư mới, đính kèm tệp báo cáo (.xlsx hoặc .csv); thư này được giữ lại để bộ phận vận "
        "hành của Sở kiểm tra.",
        "the message or its attachment could not be read.",
        "Please send a new message with the report attached (.xlsx or .csv); this one is kept for the "
        "Department's operators to look at.",
    ),
    "auth_failed": (
        "máy chủ thư của Sở không xác thực được thư này là gửi từ hộp thư của đơn vị (SPF/DKIM: {detail}).",
        "Đề nghị gửi lại từ hộp thư công vụ của đơn vị; nếu vẫn bị từ chối, nhờ quản trị thư của đơn vị kiểm tra "
        "cấu hình SPF/DKIM.",
        "the Department's mail server could not verify that it came from your unit's mailbox (SPF/DKIM: {detail}).",
        "Please send it again from your unit's official mailbox; if it is refused again, ask your mail "
        "administrator to check SPF/DKIM.",
    ),
}


# --------------------------------------------------------------------------- the outbox


def queue(settings: Settings, name: str, message: EmailMessage) -> Path | None:
    """Put a reply in the outbox once: a name already queued or sent is never composed again."""
    outbox, sent = settings.channels / "outbox", settings.channels / "sent"
    if (outbox / f"{name}.eml").exists() or (sent / f"{name}.eml").exists():
        return None
    outbox.mkdir(parents=True, exist_ok=True)
    partial = outbox / f".{name}.eml.partial"
    partial.write_bytes(message.as_bytes(policy=MAIL_POLICY))
    os.replace(partial, outbox / f"{name}.eml")
    return outbox / f"{name}.eml"


def flush_outbox(settings: Settings) -> int:
    """Send what the outbox holds, oldest first; stop at the first failure (the server is down). Returns sent."""
    from bantin import delivery

    outbox, sent_dir = settings.channels / "outbox", settings.channels / "sent"
    if not outbox.is_dir():
        return 0
    sent = 0
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = message_from_bytes(path.read_bytes(), policy=MAIL_POLICY)
        try:
            delivery.send(message, settings.smtp_conn_id)
        except Exception as problem:
            log.warning("reply %s not sent yet (%s): it stays in %s", path.name, problem, outbox)
            break
        sent_dir.mkdir(parents=True, exist_ok=True)
        os.replace(path, sent_dir / path.name)
        sent += 1
    return sent


def pending(settings: Settings) -> int:
    outbox = settings.channels / "outbox"
    return len(list(outbox.glob("*.eml"))) if outbox.is_dir() else 0


# --------------------------------------------------------------------------- a message we could not take


def quarantine_reply(settings: Settings, record: dict) -> EmailMessage:
    """The answer to a message we could not take: why, and what to do, in Vietnamese then English."""
    from bantin import delivery

    vi_why, vi_do, en_why, en_do = REASONS[record["reason"]]
    detail = record.get("detail") or ""
    received = datetime.fromisoformat(record["received_at"]).astimezone(settings.timezone)
    subject = record.get("subject") or "(không tiêu đề)"
    body = (
        "Kính gửi anh/chị,\n\n"
        f'Hệ thống tiếp nhận báo cáo COVID-19 của Sở Y tế đã nhận thư "{subject}" lúc '
        f"{received:%H:%M ngày %d/%m/%Y}, nhưng CHƯA tiếp nhận được báo cáo vì {vi_why.format(detail=detail)}\n"
        f"{vi_do}\n\nThư của anh/chị được lưu lại, không bị xoá.\n\n"
        "Trân trọng,\nHệ thống bantin – Sở Y tế\n\n"
        "------------------------------------------------------------ English\n\n"
        f'The Department of Health\'s COVID-19 reporting system received your message "{subject}" at '
        f"{received:%H:%M on %d/%m/%Y}, but could NOT take the report because {en_why.format(detail=detail)}\n"
        f"{en_do}\n\nYour message is kept, not deleted.\n\nbantin – Department of Health\n"
    )
    reply = delivery.envelope(
        settings,
        [record["sender"]],
        f"Chưa tiếp nhận được báo cáo / Report not taken: {subject}",
        body,
        auto_submitted="auto-replied",
    )
    reply["In-Reply-To"] = record["message_id"]
    reply["References"] = record["message_id"]
    return reply


# --------------------------------------------------------------------------- verdicts on validated files


def answer_senders(settings: Settings) -> dict:
    """Reply for every validated file that came by a channel and has no reply yet; then send the outbox."""
    from bantin import delivery, feedback, store

    stats = {"replies": 0, "sftp_reports": 0}
    if not settings.warehouse_path.exists():
        return stats
    since = datetime.now(settings.timezone).replace(tzinfo=None) - timedelta(days=ANSWER_WINDOW_DAYS)
    with store.writer(settings) as con:  # held only to read; the mail goes out after it is let go
        cursor = con.execute(
            "SELECT submission_id, district_code, report_date, file_name, sha256, received_at, status, version, "
            "error_count, warning_count, is_late FROM ops.submission WHERE status <> 'received' AND recorded_at >= ? "
            "ORDER BY received_at",
            [since],
        )
        names = [d[0] for d in cursor.description]
        todo = []
        for row in cursor.fetchall():
            submission = dict(zip(names, row, strict=True))
            if (_answered_path(settings, submission["submission_id"])).exists():
                continue
            receipt = channels.read_receipt(settings, submission["district_code"], submission["sha256"])
            if receipt and receipt.get("channel") in ("imap", "sftp"):
                todo.append((submission, receipt))
        findings = feedback.findings_of_files(con, [s["submission_id"] for s, _ in todo]) if todo else {}
    for submission, receipt in todo:
        report = _report_html(settings, submission)
        done = {"answered_at": channels.iso(datetime.now(settings.timezone)), "channel": receipt["channel"]}
        subject, body = verdict_text(settings, submission, findings[submission["submission_id"]], receipt)
        if receipt["channel"] == "sftp":
            from bantin.channels import sftp_inbox

            done["sftp_feedback"] = sftp_inbox.write_feedback(settings, receipt, subject, body, report)
            stats["sftp_reports"] += 1
            to = channels.addresses_of(settings, submission["district_code"])
        else:
            to = [receipt["sender"]]
        if to:
            message = delivery.envelope(settings, to, subject, body, auto_submitted="auto-replied")
            if receipt["channel"] == "imap":
                message["In-Reply-To"] = receipt["message_id"]
                message["References"] = receipt["message_id"]
            if report is not None:
                message.add_attachment(
                    report.read_bytes(),
                    maintype="text",
                    subtype="html",
                    filename=f"phan-hoi-{submission['submission_id']}.html",
                )
            queue(settings, f"verdict-{submission['submission_id']}", message)
            done["to"] = to
            stats["replies"] += 1
        channels.remember(_answered_path(settings, submission["submission_id"]), done)
    stats["sent"] = flush_outbox(settings)
    stats["waiting"] = pending(settings)
    if stats["waiting"]:
        raise channels.ChannelUnavailable(
            f"{stats['waiting']} replies wait in the outbox: the mail server refused "
            "them; the task retries (nothing is lost)"
        )
    return stats


def _answered_path(settings: Settings, submission_id: str) -> Path:
    return settings.channels / "answered" / f"{submission_id}.json"


def _report_html(settings: Settings, submission: dict) -> Path | None:
    from bantin import feedback

    stem = f"{submission['received_at']:%Y%m%dT%H%M%S}_{submission['submission_id']}"
    path = feedback.report_folder(settings, submission) / f"{stem}.html"
    return path if path.exists() else None


def verdict_text(settings: Settings, submission: dict, findings: list[dict], receipt: dict) -> tuple[str, str]:
    """The reply's subject and body: verdict, then each finding with row, column, value, what to do."""
    from bantin import feedback

    district = feedback.district_name(submission["district_code"], submission["report_date"])
    accepted = submission["status"] in ("accepted", "superseded")
    day = submission["report_date"]
    day_vi = f"ngày {day:%d/%m/%Y}" if day else "không rõ ngày"
    day_en = f"{day:%d/%m/%Y}" if day else "date unknown"
    subject = f"{'Đã nhận' if accepted else 'Cần gửi lại'} – {district} – báo cáo {day_vi}"
    received = datetime.fromisoformat(receipt["received_at"]).astimezone(settings.timezone)
    late_vi = f" (sau giờ chốt {settings.cutoff:%H:%M}: báo cáo muộn)" if submission["is_late"] else ""
    late_en = f" (after the {settings.cutoff:%H:%M} cutoff: late)" if submission["is_late"] else ""
    errors = [f for f in findings if f["severity"] == "error"]
    warnings = [f for f in findings if f["severity"] != "error"]
    vi = [
        f"Kính gửi {district},",
        "",
        f'Tệp "{submission["file_name"]}" (báo cáo {day_vi}) nhận lúc {received:%H:%M %d/%m/%Y}{late_vi}.',
    ]
    en = [
        f"To {district},",
        "",
        f'The file "{submission["file_name"]}" (report of {day_en}) was received at '
        f"{received:%H:%M on %d/%m/%Y}{late_en}.",
    ]
    if accepted:
        vi.append("KẾT QUẢ: ĐÃ NHẬN. Số liệu được đưa vào bản tin; không cần gửi lại.")
        en.append("RESULT: ACCEPTED. The figures go into the bulletin; nothing to resend.")
        if submission["status"] == "superseded":
            vi.append("Một tệp gửi sau cho cùng ngày đã thay thế tệp này.")
            en.append("A file sent later for the same date has replaced this one.")
    else:
        vi.append(
            f"KẾT QUẢ: CẦN GỬI LẠI. Tệp có {len(errors)} lỗi, số liệu chưa được dùng. Hãy sửa đúng các ô dưới "
            f"đây và gửi lại cả tệp, trước {settings.cutoff:%H:%M}."
        )
        en.append(
            f"RESULT: PLEASE RESEND. The file has {len(errors)} error(s); its figures are not used. Correct "
            f"the cells below and send the whole file again, before {settings.cutoff:%H:%M}."
        )
    for title_vi, title_en, items in (
        ("Lỗi (phải sửa)", "Errors (must be corrected)", errors),
        ("Lưu ý (không bắt buộc sửa)", "Warnings (no resend needed)", warnings),
    ):
        if items:
            vi += ["", f"{title_vi}:"] + [f"  {n}. {_where(f, 'vi')}{f['message_vi']}" for n, f in enumerate(items, 1)]
            en += ["", f"{title_en}:"] + [f"  {n}. {_where(f, 'en')}{f['message_en']}" for n, f in enumerate(items, 1)]
    vi += ["", "Báo cáo chi tiết (HTML) được đính kèm.", "", "Hệ thống bantin – Sở Y tế"]
    en += ["", "The detailed report (HTML) is attached.", "", "bantin – Department of Health"]
    body = (
        "\n".join(vi)
        + "\n\n------------------------------------------------------------ English\n\n"
        + "\n".join(en)
        + "\n"
    )
    return subject, body


def _where(finding: dict, language: str) -> str:
    """'Dòng 7, cột "Ca mắc mới", giá trị "-3": ' — what the clerk looks for in the sheet."""
    parts = []
    if finding.get("row"):
        parts.append(f"{'Dòng' if language == 'vi' else 'Row'} {finding['row']}")
    if finding.get("column"):
        header = finding.get("header") or finding["column"]
        parts.append(f'{"cột" if language == "vi" else "column"} "{header}"')
    if finding.get("value") not in (None, ""):
        parts.append(f'{"giá trị" if language == "vi" else "value"} "{finding["value"]}"')
    return (", ".join(parts) + ": ") if parts else ""


def answered(settings: Settings, submission_id: str) -> dict | None:
    path = _answered_path(settings, submission_id)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
