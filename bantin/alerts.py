"""Urgent alerts: a new F0 in the community is reported at once, not at the 20:00 bulletin.

The provincial directive: when a commune that had no community case in the
previous 14 days reports one, the Steering Committee (`BANTIN_ALERT_TO`) is told
immediately. `collect_submissions` runs this after every validation, so the
alert leaves within minutes of the district's upload.

Which files count: accepted ones only (a rejected file's figures are not
known to be right), and only the accepted version of each earlier day decides
whether the commune "had none". Every alert is recorded in `ops.f0_alert`, one
row per (report date, commune): a rerun, a retry or a resubmission never
alerts twice for the same commune and day. A copy of each message goes to
`outbox/alerts/` first, like the bulletin's, as the record of what was said.

Everything in the message comes from the reference lists and the counts, never
from free text in the file (notes are untrusted), and the message is plain text.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from bantin.config import Settings

log = logging.getLogger(__name__)

QUIET_DAYS = 14  # "no community case in the previous 14 days" (provincial directive)


def new_f0(con, *, window_start: date) -> list[dict]:
    """Communes whose accepted file reports community cases after 14 days without any, not yet alerted.

    Only report dates from `window_start` on are considered: an old backfill
    is history, not news.
    """
    cursor = con.execute(
        f"""
        WITH accepted AS (
            SELECT s.submission_id, s.district_code, s.report_date, s.file_name, s.received_at,
                   r.commune_code, r.new_cases_community
            FROM ops.submission_in_force AS s JOIN raw.submission_row AS r USING (submission_id)
        )
        SELECT a.report_date, a.district_code, a.commune_code, a.new_cases_community,
               a.submission_id, a.file_name, a.received_at
        FROM accepted AS a
        WHERE a.new_cases_community > 0
          AND a.report_date >= ?
          AND NOT EXISTS (
              SELECT 1 FROM accepted AS before
              WHERE before.commune_code = a.commune_code
                AND before.new_cases_community > 0
                AND before.report_date >= a.report_date - INTERVAL {QUIET_DAYS} DAY
                AND before.report_date < a.report_date)
          AND NOT EXISTS (
              SELECT 1 FROM ops.f0_alert AS sent
              WHERE sent.report_date = a.report_date AND sent.commune_code = a.commune_code)
        ORDER BY a.report_date, a.district_code, a.commune_code
        """,
        [window_start],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def compose(settings: Settings, found: list[dict]) -> tuple[str, str]:
    """Subject and plain-text body of one alert listing every new-F0 commune."""
    from bantin import reference

    province = reference.province(settings.province_code, on=found[0]["report_date"] if found else None).name
    lines, places = [], []
    for item in found:
        on = item["report_date"]  # names as on the list in force that day
        commune = _name(reference.commune, item["commune_code"], on)
        district = _name(reference.district, item["district_code"], on)
        places.append(commune)
        lines.append(
            f"- {commune}, {district}: {item['new_cases_community']} ca mắc mới trong cộng đồng "
            f"ngày {item['report_date']:%d/%m/%Y} / {item['new_cases_community']} new community case(s) "
            f"(tệp / file {item['submission_id']}, nhận lúc / received {item['received_at']:%H:%M %d/%m/%Y})"
        )
    shown = ", ".join(places[:3]) + (f" và {len(places) - 3} nơi khác" if len(places) > 3 else "")
    subject = f"[KHẨN] Ca F0 mới trong cộng đồng tại {shown} – tỉnh {province}"
    body = (
        "Báo cáo khẩn: xuất hiện ca mắc mới trong cộng đồng tại xã, phường không có ca "
        f"cộng đồng nào trong {QUIET_DAYS} ngày trước đó.\n"
        f"URGENT: new community cases in communes that had none in the previous {QUIET_DAYS} days.\n\n"
        + "\n".join(lines)
        + "\n\nSố liệu theo báo cáo đã được tiếp nhận của đơn vị; chi tiết trong bản tin ngày.\n"
        "Figures as reported in the district's accepted file; details follow in the daily bulletin.\n"
    )
    return subject, body


def _name(lookup, code: int, on) -> str:
    try:
        return lookup(code, on=on).name
    except LookupError:  # not on the list in force
        return str(code)


def notify_new_f0(settings: Settings) -> dict:
    """Send one alert for every new F0 commune not alerted yet; record each. Returns a summary.

    The warehouse is read, then let go while the mail goes out (SMTP retries can
    take minutes and collections must not wait), then written; an alert lock of
    its own (about the news, not the warehouse: it never holds up another stage)
    keeps the two DAGs' alert tasks from sending the same news twice.
    The message is sent before the rows are written: if sending fails the task
    fails and its retry sends again; a crash between the two (rare) can repeat
    an alert, which beats losing one.
    """
    from bantin import delivery, store

    (settings.outbox / "alerts").mkdir(parents=True, exist_ok=True)
    with store.exclusive_lock(settings.outbox / "alerts" / ".alert.lock", timeout=settings.lock_wait_seconds):
        with store.writer(settings) as con:
            today = datetime.now(settings.timezone).date()
            # News is the latest report days: in production that is today; on a replayed past day, that day.
            latest = con.execute("SELECT max(report_date) FROM ops.submission_in_force").fetchone()[0]
            newest = min(today, latest or today)
            found = new_f0(con, window_start=newest - timedelta(days=settings.backdate_days))
        stats = {"new_f0_communes": len(found), "sent": False}
        if not found:
            return stats
        subject, body = compose(settings, found)
        now = datetime.now(settings.timezone)
        folder = settings.outbox / "alerts" / now.date().isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / f"f0-{now:%H%M%S}-{found[0]['commune_code']}.txt"
        copy.write_text(f"To: {', '.join(settings.alert_to)}\nSubject: {subject}\n\n{body}", encoding="utf-8")
        stats["sent"] = delivery.alert(settings, subject, body)  # logs a warning when BANTIN_ALERT_TO is empty
        local_now = now.replace(tzinfo=None)
        with store.writer(settings) as con, store.transaction(con):
            con.executemany(
                "INSERT INTO ops.f0_alert VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (
                        f["report_date"],
                        f["commune_code"],
                        f["district_code"],
                        f["submission_id"],
                        f["new_cases_community"],
                        local_now,
                        ", ".join(settings.alert_to),
                        stats["sent"],
                        str(copy.relative_to(settings.home)),
                    )
                    for f in found
                ],
            )
    stats["outbox"] = str(copy)
    log.warning("new F0 alert for %d commune(s): %s", len(found), ", ".join(str(f["commune_code"]) for f in found))
    return stats
