"""Today's reporting status per district: the live board, the reminders before the cutoff, the bulletin's section.

`district_status` is the one reading of the ledger all three use, so the
board, the reminders and the bulletin never disagree about who has reported:

- `accepted`  a file in force, received before the cutoff;
- `late`      a file in force, received after the cutoff;
- `rejected`  files came, none passed (why: their first errors);
- `received`  a file came and waits for validation (minutes);
- `missing`   nothing came.

`bulletin_status` maps these onto `marts.reporting_status`'s words (on_time,
late, rejected, missing) for the bulletin's reporting section.

Every collection run rewrites the board (`board/<date>/status.html` and
`.json`, and `board/index.html` + `board/status.json` for today) and, at the
reminder times (`BANTIN_REMINDERS`, default 15:00 and 16:30 local), mails each
district with no accepted file at its registered addresses, once per district
and time, and sends the operators the list.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, time
from email.message import EmailMessage
from pathlib import Path

from bantin import channels, reference
from bantin.config import Settings

log = logging.getLogger(__name__)

TO_BULLETIN = {
    "accepted": "on_time",
    "late": "late",
    "rejected": "rejected",
    "received": "missing",
    "missing": "missing",
}
LABELS_VI = {
    "accepted": "Đã nhận",
    "late": "Nhận muộn",
    "rejected": "Bị từ chối",
    "received": "Đang kiểm tra",
    "missing": "Chưa gửi",
}
REASONS_SHOWN = 3


def reporting_districts(province_code: int, on: date | None = None) -> list:
    """Districts that report on `on` (the report date): every district with a reporting unit on the list in force.

    An island district is its own reporting unit; Hoàng Sa has none.
    """
    return [d for d in reference.districts(province_code, on=on) if reference.communes(district_code=d.code, on=on)]


def district_status(con, settings: Settings, report_date: date) -> list[dict]:
    """One dict per reporting district for the report date, from the ledger as it stands (see module doc)."""
    cursor = con.execute(
        "SELECT submission_id, district_code, file_name, received_at, status, error_count, is_late "
        "FROM ops.submission WHERE report_date = ? ORDER BY district_code, received_at",
        [report_date],
    )
    names = [d[0] for d in cursor.description]
    files: dict[int, list[dict]] = {}
    for row in cursor.fetchall():
        item = dict(zip(names, row, strict=True))
        files.setdefault(item["district_code"], []).append(item)
    in_force_ids = {
        r[0]
        for r in con.execute(
            "SELECT submission_id FROM ops.submission_in_force WHERE report_date = ?", [report_date]
        ).fetchall()
    }
    rejected_ids = [f["submission_id"] for fs in files.values() for f in fs if f["status"] == "rejected"]
    reasons = _first_errors(con, rejected_ids)
    result = []
    for district in reporting_districts(settings.province_code, on=report_date):
        versions = files.get(district.code, [])
        in_force = next((f for f in versions if f["submission_id"] in in_force_ids), None)
        if in_force is not None:
            state = "late" if in_force["is_late"] else "accepted"
        elif any(f["status"] == "received" for f in versions):
            state = "received"
        elif versions:
            state = "rejected"
        else:
            state = "missing"
        last_rejected = next((f for f in reversed(versions) if f["status"] == "rejected"), None)
        result.append(
            {
                "district_code": district.code,
                "district_name": district.name,
                "status": state,
                "bulletin_status": TO_BULLETIN[state],
                "received": len(versions),
                "rejected": sum(f["status"] == "rejected" for f in versions),
                "superseded": sum(f["status"] == "superseded" for f in versions),
                "first_received_at": _iso(versions[0]["received_at"]) if versions else None,
                "accepted_received_at": _iso(in_force["received_at"]) if in_force else None,
                "accepted_file": in_force["file_name"] if in_force else None,
                "why_rejected": reasons.get(last_rejected["submission_id"], [])
                if last_rejected and not in_force
                else [],
                "files": [
                    {
                        "file_name": f["file_name"],
                        "received_at": _iso(f["received_at"]),
                        "status": f["status"],
                        "errors": f["error_count"],
                        "late": f["is_late"],
                    }
                    for f in versions
                ],
            }
        )
    return result


def _first_errors(con, submission_ids: list[str]) -> dict[str, list[str]]:
    if not submission_ids:
        return {}
    rows = con.execute(
        "SELECT submission_id, source_row, header, column_name, value, message_vi FROM ops.finding "
        "WHERE severity = 'error' AND list_contains(?, submission_id) "
        "ORDER BY submission_id, coalesce(source_row, 0), column_name",
        [submission_ids],
    ).fetchall()
    found: dict[str, list[str]] = {}
    for sid, row, header, column, value, message in rows:
        where = ", ".join(
            p
            for p in (
                f"dòng {row}" if row else "",
                f"cột {header or column}" if column else "",
                f"giá trị {value}" if value not in (None, "") else "",
            )
            if p
        )
        found.setdefault(sid, [])
        if len(found[sid]) < REASONS_SHOWN:
            found[sid].append(f"{where}: {message}" if where else message)
    return found


def _iso(moment) -> str | None:
    return moment.isoformat(timespec="minutes") if moment is not None else None


def today_status(settings: Settings, report_date: date) -> list[dict]:
    """`district_status` read from the warehouse (waits for the writer lock, holds it only to read)."""
    from bantin import store

    with store.writer(settings) as con:
        return district_status(con, settings, report_date)


# --------------------------------------------------------------------------- the board


def write_board(settings: Settings, report_date: date, statuses: list[dict], now: datetime) -> Path:
    """The day's board as JSON and a self-contained HTML page; `board/index.html` is always today's."""
    from bantin.render import environment

    cutoff = datetime.combine(report_date, settings.cutoff, tzinfo=settings.timezone)
    deadline = datetime.combine(report_date, settings.deadline, tzinfo=settings.timezone)
    counts = {state: sum(s["status"] == state for s in statuses) for state in LABELS_VI}
    document = {
        "report_date": report_date.isoformat(),
        "updated_at": now.isoformat(timespec="seconds"),
        "cutoff": cutoff.isoformat(timespec="minutes"),
        "deadline": deadline.isoformat(timespec="minutes"),
        "after_cutoff": now >= cutoff,
        "counts": counts,
        "districts": statuses,
    }
    html = (
        environment()
        .get_template("board.html.j2")
        .render(board=document, labels=LABELS_VI, province=reference.province(settings.province_code, on=report_date))
    )
    folder = settings.board / report_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    channels.write_atomic(folder / "status.json", text)
    channels.write_atomic(folder / "status.html", html)
    if report_date == now.astimezone(settings.timezone).date():
        channels.write_atomic(settings.board / "status.json", text)
        channels.write_atomic(settings.board / "index.html", html)
    return folder / "status.html"


# --------------------------------------------------------------------------- reminders


def due_reminder(settings: Settings, now: datetime) -> time | None:
    """The latest reminder time already passed today and before the cutoff (an earlier one missed is not sent late)."""
    local = now.astimezone(settings.timezone)
    passed = [t for t in settings.reminder_times if t <= local.time() < settings.cutoff]
    return max(passed) if passed else None


def send_reminders(settings: Settings, report_date: date, statuses: list[dict], now: datetime) -> dict:
    """Remind every district with no accepted file, once per district and reminder time; tell the operators."""
    from bantin import replies

    when = due_reminder(settings, now)
    if when is None or now.astimezone(settings.timezone).date() != report_date:
        return {"reminder": None}
    stamp = f"{when:%H%M}"
    folder = settings.channels / "reminders" / report_date.isoformat() / stamp
    waiting = [s for s in statuses if s["status"] in ("missing", "rejected")]
    reminded, no_address = [], []
    for status in waiting:
        record = folder / f"{status['district_code']}.json"
        if record.exists():
            continue
        to = channels.addresses_of(settings, status["district_code"])
        if to:
            replies.queue(
                settings,
                f"reminder-{report_date}-{stamp}-{status['district_code']}",
                reminder_message(settings, status, report_date, to, now),
            )
            reminded.append(status)
        else:
            no_address.append(status)
        channels.remember(record, {"to": to, "status": status["status"], "at": now.isoformat(timespec="seconds")})
    if (reminded or no_address) and settings.alert_to:
        replies.queue(
            settings,
            f"reminder-{report_date}-{stamp}-operators",
            operators_message(settings, report_date, when, reminded, no_address),
        )
    sent = replies.flush_outbox(settings)
    return {
        "reminder": f"{when:%H:%M}",
        "reminded": [s["district_code"] for s in reminded],
        "no_address": [s["district_code"] for s in no_address],
        "sent": sent,
    }


def reminder_message(settings: Settings, status: dict, report_date: date, to: list[str], now: datetime) -> EmailMessage:
    from bantin import delivery

    rejected = status["status"] == "rejected"
    vi_state = (
        "tệp đã gửi chưa đạt (xem thư phản hồi) và chưa có tệp thay thế" if rejected else "Sở chưa nhận được báo cáo"
    )
    en_state = (
        "the file sent was not accepted (see the reply) and no corrected file has come"
        if rejected
        else "the Department has not received the report"
    )
    body = (
        f"Kính gửi {status['district_name']},\n\n"
        f"Đến {now.astimezone(settings.timezone):%H:%M}, {vi_state} ngày {report_date:%d/%m/%Y}.\n"
        f"Đề nghị gửi báo cáo trước {settings.cutoff:%H:%M} hôm nay (thư điện tử tới hộp thư báo cáo của Sở, hoặc "
        "thư mục SFTP của đơn vị). Nếu đã gửi trong vài phút vừa qua, xin bỏ qua thư này.\n\n"
        "Hệ thống bantin – Sở Y tế\n\n"
        "------------------------------------------------------------ English\n\n"
        f"To {status['district_name']}: as of {now.astimezone(settings.timezone):%H:%M}, {en_state} for "
        f"{report_date:%d/%m/%Y}. Please send it before {settings.cutoff:%H:%M} today (by e-mail to the "
        "Department's reporting mailbox, or to your SFTP folder). If you sent it in the last few minutes, please "
        "ignore this message.\n"
    )
    return delivery.envelope(
        settings, to, f"Nhắc gửi báo cáo COVID-19 ngày {report_date:%d/%m/%Y} – {status['district_name']}", body
    )


def operators_message(
    settings: Settings, report_date: date, when: time, reminded: list[dict], no_address: list[dict]
) -> EmailMessage:
    from bantin import delivery

    def lines(items):
        return (
            "\n".join(f"  - {s['district_name']} ({s['district_code']}): {LABELS_VI[s['status']]}" for s in items)
            or "  (không có)"
        )

    body = (
        f"Nhắc gửi báo cáo lúc {when:%H:%M} ngày {report_date:%d/%m/%Y}.\n\n"
        f"Đã nhắc qua thư ({len(reminded)}):\n{lines(reminded)}\n\n"
        f"Chưa có địa chỉ đăng ký, cần gọi điện ({len(no_address)}):\n{lines(no_address)}\n\n"
        f"Bảng theo dõi: {settings.board / 'index.html'}\n\n"
        "------------------------------------------------------------ English\n\n"
        f"Reminders at {when:%H:%M} for the report of {report_date:%d/%m/%Y}: {len(reminded)} district(s) mailed, "
        f"{len(no_address)} with no registered address, to be called (the lists above). "
        f"Board: {settings.board / 'index.html'}\n"
    )
    return delivery.envelope(
        settings,
        list(settings.alert_to),
        f"[bantin] Nhắc báo cáo {when:%H:%M} {report_date:%d/%m/%Y}: "
        f"{len(reminded) + len(no_address)} đơn vị chưa có báo cáo đạt / "
        f"{len(reminded) + len(no_address)} district(s) without an accepted report",
        body,
    )


# --------------------------------------------------------------------------- after each collection


def after_collection(settings: Settings, now: datetime, *, remind: bool = True) -> dict:
    """Rewrite the board for the day of `now`, and send the reminders due at `now`."""
    report_date = now.astimezone(settings.timezone).date()
    statuses = today_status(settings, report_date)
    result = {
        "report_date": report_date.isoformat(),
        "board": str(write_board(settings, report_date, statuses, now)),
        "missing": [s["district_code"] for s in statuses if s["status"] in ("missing", "rejected")],
    }
    if remind:
        result.update(send_reminders(settings, report_date, statuses, now))
    return result
