"""Sign-off: the Director's decision on the computed levels (computed → declared).

The level bantin computes is a proposal (docs/spec/epidemic-levels.md): the
Director of Health approves it, or overrides the level of some units with a
reason, and the province announces the declared level. Each decision is a row
per unit in `ops.level_decision` (computed level at the time, declared level,
who, when, why, through which channel); a later decision for the same date
supersedes an earlier one and both stay. `marts.level_signoff` shows analysts
the computed and the declared level side by side, and the bulletin reads it.

Two channels record decisions, with the same code:
- the `daily_bulletin` DAG's `director_signoff` task (Airflow's human-in-the-loop
  operator, bantin/signoff_operator.py): the run waits after the marts are
  built, until the Director answers or the sign-off time passes (then the
  bulletin goes out marked "cấp độ đề xuất, chưa phê duyệt");
- `bantin levels approve|override` from a terminal; after a provisional
  bulletin, it renders and delivers the new version at once.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bantin.config import Settings

log = logging.getLogger(__name__)

APPROVED, OVERRIDDEN, PROVISIONAL = "approved", "overridden", "provisional"
PROVISIONAL_LABEL = "cấp độ đề xuất, chưa phê duyệt"

# The options the Director sees in Airflow (Required actions). LATER is also what a timeout chooses.
APPROVE_OPTION = "Phê duyệt cấp độ đề xuất"
OVERRIDE_OPTION = "Công bố cấp độ khác (ghi ở ô Điều chỉnh)"
LATER_OPTION = "Chưa quyết định: phát hành bản tin với cấp độ đề xuất"
OPTIONS = [APPROVE_OPTION, OVERRIDE_OPTION, LATER_OPTION]

UNIT_WORDS = {
    "tỉnh": "province",
    "tinh": "province",
    "province": "province",
    "huyện": "district",
    "huyen": "district",
    "district": "district",
    "xã": "commune",
    "xa": "commune",
    "commune": "commune",
}
_OVERRIDE = re.compile(r"^\s*(\w+)\s*[: ]?\s*(\d*)\s*=\s*(\d)\s*$")


class SignoffError(ValueError):
    """A decision that cannot be recorded; `message_vi` for the Director, the str() in English."""

    def __init__(self, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.message_vi = message_vi


@dataclass(frozen=True)
class Decision:
    report_date: date
    decided_by: str
    decided_at: datetime  # local wall-clock time
    reason: str
    overrides: dict[tuple[str, int], int]  # (unit_type, unit_code) -> declared level
    channel: str  # airflow_hitl or cli


def parse_overrides(text: str | None, province_code: int) -> dict[tuple[str, int], int]:
    """`tỉnh=2; huyện 193=3; xã 6655=2` (or province=2, district:193=3, commune:6655=2), one per line or `;`."""
    overrides: dict[tuple[str, int], int] = {}
    for part in re.split(r"[;\n,]", text or ""):
        if not part.strip():
            continue
        match = _OVERRIDE.match(part.strip().casefold())
        kind = UNIT_WORDS.get(match.group(1)) if match else None
        if not match or kind is None or (kind != "province" and not match.group(2)):
            raise SignoffError(
                f'Không hiểu "{part.strip()}": ghi dạng tỉnh=2; huyện 193=3; xã 6655=2 (mã đơn vị theo TCTK).',
                f'Cannot read "{part.strip()}": write province=2; district 193=3; commune 6655=2 (GSO codes).',
            )
        code = province_code if kind == "province" else int(match.group(2))
        level = int(match.group(3))
        if level not in (1, 2, 3, 4):
            raise SignoffError(
                f'Cấp độ {level} không hợp lệ (1 đến 4): "{part.strip()}".',
                f'Level {level} is not 1 to 4: "{part.strip()}".',
            )
        overrides[(kind, code)] = level
    return overrides


def record_answer(
    settings: Settings,
    report_date: date,
    *,
    chosen: str,
    params: dict,
    user: dict,
    responded_at: datetime | None,
) -> dict:
    """The Director's answer in Airflow (the `director_signoff` task), recorded; the task's result.

    `chosen`: one of OPTIONS; `params`: the form (dieu_chinh, ly_do, nguoi_quyet_dinh); `user`: who
    answered (empty when the sign-off time passed and the scheduler chose LATER_OPTION). An answer that
    cannot be recorded (an override with no level, a unit not on the list, no reason) leaves the date
    provisional, so the bulletin still goes out on time, and is mailed to the operators (BANTIN_ALERT_TO)
    with the command that records it from a terminal: someone is told, not only the task's log.
    """
    from bantin import delivery, store

    outcome = {"report_date": report_date.isoformat(), "waited": True, "chosen": chosen}
    if chosen == LATER_OPTION:
        outcome["status"] = PROVISIONAL
        outcome["why"] = "timed out" if not user else "the Director chose to decide later"
        log.info("sign-off of %s: %s; the bulletin goes out provisional", report_date, outcome["why"])
        return outcome
    decided_at = responded_at or datetime.now(settings.timezone)
    if decided_at.tzinfo is not None:
        decided_at = decided_at.astimezone(settings.timezone).replace(tzinfo=None)
    decision = Decision(
        report_date=report_date,
        decided_by=(params.get("nguoi_quyet_dinh") or "").strip() or user.get("name") or user.get("id") or "?",
        decided_at=decided_at,
        reason=params.get("ly_do") or "",
        overrides={},
        channel="airflow_hitl",
    )
    try:
        if chosen == OVERRIDE_OPTION:
            overrides = parse_overrides(params.get("dieu_chinh"), settings.province_code)
            if not overrides:
                raise SignoffError(
                    "Chọn công bố cấp khác nhưng ô Điều chỉnh để trống.", "Override chosen but no unit level given."
                )
            decision = dataclasses.replace(decision, overrides=overrides)
        with store.writer(settings) as con:
            outcome.update(record(con, decision, engine_config=store.engine_config(settings)))
    except SignoffError as problem:
        # the bulletin must still go out: provisional; the log, the run summary and the operators say why
        log.error("sign-off of %s not recorded: %s / %s", report_date, problem.message_vi, problem)
        outcome.update(status=PROVISIONAL, error_vi=problem.message_vi, error_en=str(problem))
        subject, body = unrecorded_answer_mail(decision, chosen, params, problem)
        try:
            outcome["operators_told"] = delivery.alert(settings, subject, body)
        except Exception as undelivered:  # the mail server is down: the run goes on, the log has it
            log.error("sign-off of %s: the operators could not be told: %s", report_date, undelivered)
            outcome["operators_told"] = False
    return outcome


def unrecorded_answer_mail(decision: Decision, chosen: str, params: dict, problem: SignoffError) -> tuple[str, str]:
    """The operators' mail about an answer that could not be recorded: what was answered, why it was not
    recorded, what the bulletin says meanwhile, and the command that records the decision (Vietnamese, English)."""
    day = decision.report_date
    command = (
        f'bantin levels override --date {day.isoformat()} --by "{decision.decided_by}" --reason "…" --set "tỉnh=…"'
        if chosen == OVERRIDE_OPTION
        else f'bantin levels approve --date {day.isoformat()} --by "{decision.decided_by}"'
    )
    subject = f"[bantin] Quyết định cấp độ ngày {day:%d/%m/%Y} chưa được ghi / sign-off of {day} not recorded"
    body = "\n".join(
        [
            f"Câu trả lời của {decision.decided_by} lúc {decision.decided_at:%H:%M %d/%m/%Y} ({chosen}) chưa được ghi:",
            f"  {problem.message_vi}",
            f"  Điều chỉnh: {params.get('dieu_chinh') or '(trống)'}; lý do: {params.get('ly_do') or '(trống)'}",
            f"Bản tin ngày {day:%d/%m/%Y} phát hành với {PROVISIONAL_LABEL}.",
            "Ghi lại quyết định (bản tin sẽ có phiên bản mới):",
            f"  {command}",
            "",
            f"The answer of {decision.decided_by} at {decision.decided_at:%Y-%m-%d %H:%M} ({chosen}) was not recorded:",
            f"  {problem}",
            f"The bulletin of {day} goes out with the computed levels, marked provisional.",
            f"Record the decision (a new version of the bulletin follows): {command}",
        ]
    )
    return subject, body


def record(con, decision: Decision, *, engine_config: dict | None = None) -> dict:
    """Write the decision for every unit of the date (in one transaction), then refresh marts.level_signoff (dbt).

    Approving is declaring every computed level; an override declares its own
    level for the units it names (a reason is required) and the computed one
    for the rest. Returns a summary (status, who, when, units overridden). `con` is the writer's
    connection, idle; `engine_config` the configuration it was opened with (bantin.models.run_dbt).
    """
    from bantin import models, store

    computed = {
        (t, c): (level, rule_set_id, rule_set_version)
        for t, c, level, rule_set_id, rule_set_version in con.execute(
            "SELECT unit_type, unit_code, level, rule_set_id, rule_set_version "
            "FROM marts.epidemic_level WHERE report_date = ?",
            [decision.report_date],
        ).fetchall()
    }
    if not computed:
        raise SignoffError(
            f"Chưa có cấp độ tính cho ngày {decision.report_date:%d/%m/%Y}: chạy build_marts trước.",
            f"No computed levels for {decision.report_date}: build the marts first.",
        )
    unknown = [key for key in decision.overrides if key not in computed]
    if unknown:
        raise SignoffError(
            f"Không có đơn vị {', '.join(f'{t} {c}' for t, c in unknown)} trong cấp độ ngày "
            f"{decision.report_date:%d/%m/%Y}.",
            f"No unit {', '.join(f'{t} {c}' for t, c in unknown)} among the levels of {decision.report_date}.",
        )
    changed = {key: level for key, level in decision.overrides.items() if level != computed[key][0]}
    if changed and not decision.reason.strip():
        raise SignoffError(
            "Công bố cấp độ khác với cấp độ đề xuất phải ghi lý do.",
            "Declaring a level other than the computed one needs a reason.",
        )
    if not decision.decided_by.strip():
        raise SignoffError("Thiếu tên người quyết định.", "Who decided is missing.")
    rows = [
        (
            decision.report_date,
            unit_type,
            unit_code,
            level,
            changed.get((unit_type, unit_code), level),
            OVERRIDDEN if (unit_type, unit_code) in changed else APPROVED,
            decision.decided_by.strip(),
            decision.decided_at,
            decision.reason.strip() or None,
            decision.channel,
            rule_set_id,
            rule_set_version,
        )
        for (unit_type, unit_code), (level, rule_set_id, rule_set_version) in computed.items()
    ]
    with store.transaction(con):
        con.executemany("INSERT INTO ops.level_decision VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    # the decision is the record; the mart follows it (a rerun of the date's build refreshes it too)
    models.refresh_signoff(con, decision.report_date, engine_config=engine_config)
    return {
        "status": OVERRIDDEN if changed else APPROVED,
        "decided_by": decision.decided_by.strip(),
        "decided_at": decision.decided_at.isoformat(timespec="seconds"),
        "overridden": [f"{t} {c}: {computed[(t, c)][0]} → {level}" for (t, c), level in sorted(changed.items())],
        "channel": decision.channel,
    }


def status(con, report_date: date) -> dict:
    """The date's sign-off at a glance: approved, overridden or provisional, with who and when."""
    row = con.execute(
        "SELECT max(decided_by), max(decided_at), bool_or(status = 'overridden'), count(*) FILTER (WHERE status <> ?)"
        " FROM marts.level_signoff WHERE report_date = ?",
        [PROVISIONAL, report_date],
    ).fetchone()
    if not row or not row[3]:
        return {"status": PROVISIONAL, "label": PROVISIONAL_LABEL}
    return {
        "status": OVERRIDDEN if row[2] else APPROVED,
        "decided_by": row[0],
        "decided_at": row[1].isoformat(timespec="seconds") if row[1] else None,
    }


def has_decision(con, report_date: date) -> bool:
    return con.execute("SELECT count(*) FROM ops.level_decision WHERE report_date = ?", [report_date]).fetchone()[0] > 0


def wait_for(settings: Settings, report_date: date, now: datetime, wait_minutes: float | None = None) -> timedelta:
    """How long the run waits for the Director: until the sign-off time of the report date (BANTIN_SIGNOFF_BY,
    local), or `wait_minutes` when the run says so. Zero or less: do not wait (the time has passed).

    Never past the operators' deadline warning (BANTIN_DEADLINE − 30 min): a sign-off time set later
    than that would hold the bulletin back past the deadline, so the earlier of the two ends the wait.
    """
    from bantin import deadlines

    if wait_minutes is not None:
        return timedelta(minutes=float(wait_minutes))
    signoff_by = datetime.combine(report_date, settings.signoff_by, tzinfo=settings.timezone)
    warned_at = (
        datetime.combine(report_date, settings.cutoff, tzinfo=settings.timezone)
        + deadlines.intervals(settings)["warning"]
    )
    return min(signoff_by, warned_at) - now.astimezone(settings.timezone)


def _unit_label(unit_type: str, code: int, areas: bool) -> str:
    """How the Director's table names a unit: "tỉnh", "huyện 193"; "khu vực 193, tham khảo" when the districts are
    reporting areas (a two-tier list, after July 2025): not administrative units, no level to announce."""
    if unit_type == "province":
        return "tỉnh"
    return f"khu vực {code}, tham khảo" if areas else f"huyện {code}"


def request_body(con, report_date: date) -> str:
    """What the Director reads in Airflow before deciding: the province and districts, level and reason (Markdown)."""
    rows = con.execute(
        "SELECT unit_type, unit_code, unit_name, level, reason, is_complete, province_code FROM marts.epidemic_level "
        "WHERE report_date = ? AND unit_type IN ('province', 'district') "
        "ORDER BY unit_type = 'district', unit_code",
        [report_date],
    ).fetchall()
    communes = con.execute(
        "SELECT level, count(*) FROM marts.epidemic_level WHERE report_date = ? "
        "AND unit_type = 'commune' GROUP BY level ORDER BY level",
        [report_date],
    ).fetchall()
    lines = [
        f"**Cấp độ dịch đề xuất ngày {report_date:%d/%m/%Y}** (đơn vị: mã TCTK).",
        "",
        "| Đơn vị | Mã | Cấp đề xuất | Lý do |",
        "|---|---|---|---|",
    ]
    from bantin import reference

    areas = bool(rows) and not reference.has_district_tier(rows[0][6], on=report_date)
    for unit_type, code, name, level, reason, complete, _ in rows:
        flag = "" if complete else " ⚠ số liệu chưa đủ"
        lines.append(f"| {name} | {_unit_label(unit_type, code, areas)} | {level}{flag} | {reason.replace('|', '/')} |")
    lines += [
        "",
        "Xã theo cấp: " + ", ".join(f"cấp {level}: {n}" for level, n in communes),
        "",
        f'Phê duyệt: chọn "{APPROVE_OPTION}". Công bố cấp khác: chọn "{OVERRIDE_OPTION}", ghi ở ô '
        "Điều chỉnh `tỉnh=2; huyện 193=3; xã 6655=2` và ghi lý do. Không trả lời trước giờ chốt: bản tin "
        f'phát hành với ghi chú "{PROVISIONAL_LABEL}"; quyết định sau đó tạo phiên bản mới '
        "(`bantin levels approve|override`).",
        "",
        f'*English:* above, the computed levels of {report_date:%d/%m/%Y}. To approve them, choose "{APPROVE_OPTION}"; '
        f'to declare other levels, choose "{OVERRIDE_OPTION}", write them in Điều chỉnh (`province=2; district 193=3; '
        "commune 6655=2`) and give the reason in Lý do. With no answer by the sign-off time the bulletin goes out "
        "with the computed levels marked provisional; a later decision makes a new version.",
    ]
    return "\n".join(lines)
