"""Bulletin: marts → the provincial daily bulletin (HTML, PDF, JSON summary).

Every figure comes from the marts, once, into one `summary` dict; the HTML,
the PDF and the JSON are all drawn from that dict, so they cannot disagree.

Versions: `bulletins/<date>/v<N>/`. A new version only when a figure, a level
or the reporting status changed (`substance`): a rerun, a rejected file or a
new note changes nothing; a late file or a correction makes a new version and
the old one stays.

Corrections to earlier days come from `marts.corrections`: those found since the
previous day's cutoff are listed apart from today's figures, one row per commune and
figure changed.

The reader is a Steering Committee member with a few minutes: page one is the
decision (`headline`, the level, rates, totals, coverage, `attention`), and
every list that grows with the epidemic is summarised or capped on paper
(communes, findings, notes, corrections) while the JSON keeps it whole, so any
province fits on four A4 pages on its busiest day.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version as package_version
from pathlib import Path

from bantin import reference
from bantin.config import Settings
from bantin.render import environment, html_to_pdf, signed, vn_date, vn_dec, vn_int, vn_pct, vn_time
from bantin.submission_format import COLUMN_BY_NAME, COUNT_COLUMNS

log = logging.getLogger(__name__)

TREND_DAYS = 56  # the province trend: 8 weeks
MULTIPLE_DAYS = 28  # the district small multiples: 4 weeks
AVERAGE_DAYS = 7
# What the printed bulletin shows of lists that grow with the epidemic; the JSON keeps them whole.
SHOWN = {
    "attention": 8,
    "commune_districts": 12,
    "communes_per_district": 6,
    "findings": 10,
    "communes_per_finding": 4,
    "notes": 6,
    "corrections": 8,
    "changes": 8,
}
RISE_SHARE, RISE_MIN_CASES = 0.5, 10  # a district whose 7-day cases rose ≥ 50% and by ≥ 10 needs attention


def software_version() -> str:
    try:
        return package_version("bantin")
    except PackageNotFoundError:
        return "dev"


def _records(con, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _one(con, sql: str, params: list) -> dict | None:
    rows = _records(con, sql, params)
    return rows[0] if rows else None


def build_summary(con, settings: Settings, report_date: date) -> dict:
    """Every figure the bulletin shows, from the marts, as plain JSON-able values."""
    province = _one(con, "SELECT * FROM marts.province_daily WHERE report_date = ?", [report_date])
    if province is None:
        raise LookupError(f"no marts for {report_date:%d/%m/%Y}: build the marts first")
    # computed levels with the Director's decision beside them (marts.level_signoff, bantin.signoff)
    levels = {
        (r["unit_type"], r["unit_code"]): r
        for r in _records(
            con,
            "SELECT l.*, s.declared_level, s.level_in_force, s.differs, s.status AS signoff_status, s.decided_by, "
            "s.decided_at, s.decision_reason FROM marts.epidemic_level AS l LEFT JOIN marts.level_signoff AS s "
            "USING (report_date, unit_type, unit_code) WHERE l.report_date = ?",
            [report_date],
        )
    }
    districts = _records(
        con,
        "SELECT d.*, s.status AS reporting_status, s.accepted_received_at, s.versions_received "
        "FROM marts.district_daily d LEFT JOIN marts.reporting_status s USING (report_date, district_code) "
        "WHERE d.report_date = ? AND d.communes_expected > 0 ORDER BY d.district_code",
        [report_date],
    )
    for row in districts:
        row["level"] = _level_of(levels.get(("district", row["district_code"])))
    province["level"] = _level_of(levels.get(("province", province["province_code"])))
    commune_levels = [r for (kind, _), r in levels.items() if kind == "commune"]
    status = [d for d in districts if d["reporting_status"] != "on_time"]
    province["change_7d"] = _difference(province["new_cases_7d"], province["new_cases_prev_7d"])
    names = {d["district_code"]: d["district_name"] for d in districts}
    summary = {
        "report_date": report_date.isoformat(),
        "cutoff": settings.cutoff.strftime("%H:%M"),
        "province": province,
        "districts": districts,
        "level_summary": _level_summary(districts, commune_levels),
        "communes_watch": _communes_watch(commune_levels, names),
        "communes_at_level_2_or_above": _communes_above_level_1(commune_levels),
        "reporting": {
            "not_on_time": [
                {
                    "district_code": d["district_code"],
                    "district_name": d["district_name"],
                    "status": d["reporting_status"],
                    "received_at": d["accepted_received_at"],
                }
                for d in status
            ],
            "missing_or_rejected": [
                d["district_name"] for d in status if d["reporting_status"] in ("missing", "rejected")
            ],
        },
        "trend": _trend(con, report_date),
        "district_trends": _district_trends(con, report_date),
        "level_history": _level_history(con, report_date, districts),
        "cumulative": _cumulative(con, report_date),
        "notes": _notes(con, report_date),
        "data_quality": _warnings(con, report_date),
        "corrections": _corrections(con, report_date, settings),
        "rule_set": _rule_set(con, report_date, settings.province_code),
        # the Director's sign-off: approved, overridden or provisional ("cấp độ đề xuất, chưa phê duyệt")
        "signoff": _signoff(con, report_date),
        "data_as_of": max((d["accepted_received_at"] for d in districts if d["accepted_received_at"]), default=None),
    }
    summary["data_quality_summary"] = _warnings_summary(summary["data_quality"])
    summary["form"] = document_form(settings, province, report_date)
    # on a two-tier list (after July 2025) the districts are reporting areas: their level is for reference
    summary["districts_are_areas"] = summary["form"]["two_tier"]
    summary["provisional"] = bool(summary["reporting"]["missing_or_rejected"])
    summary["as_of"] = _as_of(report_date, settings, summary["data_as_of"])
    return with_decision(_plain(summary))


def with_decision(figures: dict) -> dict:
    """The figures with page one's words (`attention`, `headline`) written from them.

    Done again at render time, so a level declared at sign-off (added to the figures after
    the marts are read) is what the sentence says.
    """
    figures = dict(figures)
    figures["attention"] = attention(figures)
    figures["headline"] = headline(figures)
    return figures


COLOURS = {1: ("green", "xanh"), 2: ("yellow", "vàng"), 3: ("orange", "cam"), 4: ("red", "đỏ")}


def _level_of(row: dict | None) -> dict | None:
    """A unit's level as the bulletin shows it: the declared one when the Director decided, else the computed one.

    `computed_level` and `declared_level` (None while provisional) are both kept, with the
    sign-off and the completeness of the window, so the bulletin can show where they differ.
    """
    if row is None:
        return None
    keep = (
        "reason",
        "is_stale",
        "assessed_on",
        "level_changed",
        "previous_level",
        "cases_per_100k_week",
        "coverage_18plus_dose1",
        "rule_set_id",
        "is_complete",
        "completeness_held",
        "commune_days_reported",
        "commune_days_expected",
    )
    shown = row["level_in_force"]
    return {
        **{k: row.get(k) for k in keep},
        "level": shown,
        "colour": COLOURS[shown][0],
        "colour_vi": COLOURS[shown][1],
        "computed_level": row["level"],
        "declared_level": row.get("declared_level"),
        "differs": bool(row["differs"]),
        "missing_units": list(row.get("missing_units") or []),
        "signoff": {
            "status": row.get("signoff_status") or "provisional",
            "decided_by": row.get("decided_by"),
            "decided_at": row.get("decided_at"),
            "reason": row.get("decision_reason"),
        },
    }


def _signoff(con, report_date: date) -> dict:
    from bantin import signoff

    return signoff.status(con, report_date)


def _difference(now, before):
    return None if now is None or before is None else now - before


def _level_summary(districts: list[dict], commune_levels: list[dict]) -> list[dict]:
    counts = {d["district_code"]: {1: 0, 2: 0, 3: 0, 4: 0} for d in districts}
    for row in commune_levels:
        if row["district_code"] in counts:
            counts[row["district_code"]][row["level"]] += 1
    return [
        {
            "district_code": d["district_code"],
            "district_name": d["district_name"],
            "communes": {str(k): v for k, v in counts[d["district_code"]].items()},
        }
        for d in districts
    ]


def _communes_watch(commune_levels: list[dict], district_names: dict) -> list[dict]:
    """Every commune at level 3–4 or whose level changed since the day before (the bulletin shows the first ones)."""
    rows = [
        {
            "commune_code": r["unit_code"],
            "commune_name": r["unit_name"],
            "district_code": r["district_code"],
            "district_name": district_names.get(r["district_code"]),
            "level": r["level_in_force"],
            "computed_level": r["level"],
            "declared_level": r["declared_level"],
            "previous_level": r["previous_level"],
            "level_changed": bool(r["level_changed"]),
            "reason": r["reason"],
            "is_stale": r["is_stale"],
        }
        for r in commune_levels
        if r["level_in_force"] >= 3 or r["level"] >= 3 or r["level_changed"]
    ]
    return sorted(rows, key=lambda r: (r["district_code"], -r["level"], r["commune_name"]))


def _communes_above_level_1(commune_levels: list[dict]) -> list[dict]:
    """Every commune whose computed or declared level is 2 or more: a new version's change list compares
    these (a commune absent is at level 1), which `communes_watch` (level 3–4 or changed since the day
    before) cannot tell."""
    return [
        {
            "commune_code": r["unit_code"],
            "commune_name": r["unit_name"],
            "level": r["level_in_force"],
            "computed_level": r["level"],
            "declared_level": r["declared_level"],
        }
        for r in sorted(commune_levels, key=lambda r: r["unit_code"])
        if max(r["level"] or 0, r["declared_level"] or 0) >= 2
    ]


def _days_before(report_date: date, days: int) -> list[date]:
    return [report_date - timedelta(days=n) for n in range(days - 1, -1, -1)]


def _trend(con, report_date: date) -> list[dict]:
    """The province's 8 weeks: new and community cases, the 7-day average, and whether each day is complete.

    A day with no row at all has no figures (None, drawn as "no report"); a day some
    district has not reported is incomplete (drawn pale): its total is not the
    province's. The average is over 7 days that all have figures, else None.
    """
    days = _days_before(report_date, TREND_DAYS + AVERAGE_DAYS - 1)
    rows = {
        r["report_date"]: r
        for r in _records(
            con,
            "SELECT report_date, new_cases, new_cases_community, districts_reported, districts_expected "
            "FROM marts.province_daily WHERE report_date BETWEEN ? AND ?",
            [days[0], report_date],
        )
    }
    cases = [(rows.get(d) or {}).get("new_cases") for d in days]
    trend = []
    for i, day in enumerate(days[AVERAGE_DAYS - 1 :], start=AVERAGE_DAYS - 1):
        row = rows.get(day) or {}
        window = cases[i - AVERAGE_DAYS + 1 : i + 1]
        trend.append(
            {
                "report_date": day,
                "new_cases": row.get("new_cases"),
                "new_cases_community": row.get("new_cases_community"),
                "complete": bool(row) and (row["districts_reported"] or 0) >= (row["districts_expected"] or 0),
                "average_7d": None if any(c is None for c in window) else round(sum(window) / AVERAGE_DAYS, 2),
            }
        )
    return trend


def _district_trends(con, report_date: date) -> dict[str, list]:
    """New cases of each district over 4 weeks (small multiples), None where the district did not report."""
    days = _days_before(report_date, MULTIPLE_DAYS)
    rows = _records(
        con,
        "SELECT district_code, report_date, new_cases FROM marts.district_daily "
        "WHERE report_date BETWEEN ? AND ? AND communes_expected > 0 ORDER BY district_code, report_date",
        [days[0], report_date],
    )
    known: dict[str, dict] = {}
    for row in rows:
        known.setdefault(str(row["district_code"]), {})[row["report_date"]] = row["new_cases"]
    return {code: [{"report_date": d, "new_cases": by_day.get(d)} for d in days] for code, by_day in known.items()}


def _level_history(con, report_date: date, districts: list[dict]) -> dict:
    """Each district's level on each of the 8 weeks (the level strip); None before the first assessment."""
    days = _days_before(report_date, TREND_DAYS)
    found = {
        (r["unit_code"], r["report_date"]): r
        for r in _records(
            con,
            "SELECT unit_code, report_date, level, is_stale FROM marts.epidemic_level "
            "WHERE unit_type = 'district' AND report_date BETWEEN ? AND ?",
            [days[0], report_date],
        )
    }
    rows = []
    for d in districts:
        cells = [found.get((d["district_code"], day)) for day in days]
        rows.append(
            {
                "district_code": d["district_code"],
                "name": d["district_name"],
                "levels": [c["level"] if c else None for c in cells],
                "stale": [bool(c and c["is_stale"]) for c in cells],
            }
        )
    return {"days": days, "rows": rows}


def _cumulative(con, report_date: date) -> dict:
    """Totals over every report date the warehouse holds up to this one (and since when)."""
    return (
        _one(
            con,
            "SELECT min(report_date) AS since, sum(new_cases) AS cases, sum(new_cases_community) AS community, "
            "sum(deaths) AS deaths, sum(recovered) AS recovered FROM marts.province_daily "
            "WHERE report_date <= ? AND new_cases IS NOT NULL",
            [report_date],
        )
        or {}
    )


def _as_of(report_date: date, settings: Settings, data_as_of) -> dict:
    """The moment the figures stand at: the cutoff, or the later receipt of a late file they include."""
    cutoff = datetime.combine(report_date, settings.cutoff)
    latest = datetime.fromisoformat(str(data_as_of)) if data_as_of else None
    late = latest is not None and latest > cutoff
    return {"at": (latest if late else cutoff).isoformat(timespec="minutes"), "includes_late_files": late}


DISTRICT_KINDS = ("quận", "huyện", "thị xã", "thành phố")
COMMUNE_KINDS = (("xa", "xã"), ("phuong", "phường"), ("thi_tran", "thị trấn"), ("dac_khu", "đặc khu"))


def document_form(settings: Settings, province: dict, report_date: date) -> dict:
    """The official report's heading, number, date line, recipients and signature (BANTIN_* settings)."""
    form = settings.document
    code = int(province["province_code"])
    short = str(province["province_name"])  # "Quảng Ninh", "Hà Nội"
    # "Tỉnh Quảng Ninh", "Thành phố Hà Nội"; as on the list in force (Huế: a tỉnh until 2025)
    full = reference.province(code, on=report_date).name_full
    unit = "thành phố" if full.lower().startswith("thành phố") else "tỉnh"
    # the kinds of district the province has, in the usual order: "huyện, thị xã, thành phố" (Quảng Ninh),
    # "quận, huyện, thị xã" (Hà Nội); after July 2025 no district tier: the province's reporting areas
    names = [d.name.lower() for d in reference.districts(code, on=report_date)]
    communes = [c.commune_type for c in reference.communes(province_code=code, on=report_date)]
    commune_kinds = ", ".join(name for kind, name in COMMUNE_KINDS if kind in communes)
    two_tier = not reference.has_district_tier(code, on=report_date)
    if two_tier:
        kinds, addressees = "khu vực", commune_kinds
    else:
        kinds = ", ".join(k for k in DISTRICT_KINDS if any(n.startswith(k + " ") for n in names)) or "huyện"
        addressees = kinds
    return {
        "parent_body": form.parent_body or f"UBND {full.upper()}",
        "scope": f"toàn {unit}",
        "two_tier": two_tier,
        "unit": unit,  # tỉnh, thành phố: who defines the reporting areas
        # the day the list in force (two-tier) began, for the note under the areas' table
        "list_since": reference.version_on(report_date).valid_from.strftime("%d/%m/%Y"),
        "district_kinds": kinds,
        "commune_kinds": commune_kinds or "xã, phường, thị trấn",
        "issuer": form.issuer or "SỞ Y TẾ",
        "number": f"{report_date.timetuple().tm_yday}/{form.symbol}",
        "place": form.place or short,
        "recipients": list(form.recipients)
        or [
            f"Ban Chỉ đạo phòng, chống dịch COVID-19 {unit}",
            f"UBND {unit} (b/c)",
            f"UBND các {addressees}",
            "Lưu: VT, NVY",
        ],
        "signer_authority": form.signer_authority,
        "signer_title": form.signer_title,
        "signer_name": form.signer_name,
    }


def level_view(unit: dict) -> dict:
    """The level to print for a unit: declared (once signed off, bantin.levels) and computed, and whether they differ.

    Reads `declared_level` / `computed_level` when the sign-off provides them (an int or
    a level dict); otherwise the computed level (`level`) alone.
    """

    def number(value):
        return value.get("level") if isinstance(value, dict) else value

    level = unit.get("level")
    if isinstance(level, dict) and "computed_level" in level:  # a unit of build_summary: _level_of says both
        unit = level

    computed = number(unit.get("computed_level")) or number(unit.get("level"))
    declared = number(unit.get("declared_level"))
    return {
        "shown": declared or computed,
        "computed": computed,
        "declared": declared,
        "differs": declared is not None and computed is not None and declared != computed,
    }


def attention(figures: dict) -> list[dict]:
    """Districts the Steering Committee should look at today, each with its reasons, most urgent first.

    A reporting area's level (two-tier list) is only for reference: the reasons say so."""
    out = []
    for_reference = " (tham khảo)" if figures.get("districts_are_areas") else ""
    for d in figures["districts"]:
        reasons, rank = [], 0
        if d["reporting_status"] in ("missing", "rejected"):
            reasons.append("chưa có báo cáo hợp lệ" if d["reporting_status"] == "rejected" else "chưa gửi báo cáo")
            rank += 100
        level = d.get("level") or {}
        if level.get("level") and level["level"] >= 3:
            reasons.append(f"cấp {level['level']} ({level['colour_vi']}){for_reference}")
            rank += 10 * level["level"]
        if level.get("level_changed") and level.get("previous_level") and level["level"] > level["previous_level"]:
            reasons.append(f"tăng từ cấp {level['previous_level']} lên cấp {level['level']}{for_reference}")
            rank += 30
        now, before = d.get("new_cases_7d"), d.get("new_cases_prev_7d")
        if (
            now is not None
            and before is not None
            and now - before >= RISE_MIN_CASES
            and (before == 0 or (now - before) / before >= RISE_SHARE)
        ):
            share = f" {vn_pct((now - before) / before)}" if before else ""
            reasons.append(f"ca mắc 7 ngày tăng{share} ({vn_int(before)} → {vn_int(now)})")
            rank += 5
        if reasons:
            out.append(
                {
                    "district_code": d["district_code"],
                    "district_name": d["district_name"],
                    "reasons": reasons,
                    "rank": rank,
                    "new_cases_7d": now or 0,
                }
            )
    return sorted(out, key=lambda a: (-a["rank"], -a["new_cases_7d"], a["district_name"]))


def _scope(figures: dict) -> str:
    """The province's words in a sentence: toàn tỉnh, or toàn thành phố for a centrally-run city (document_form)."""
    return (figures.get("form") or {}).get("scope", "toàn tỉnh")


def headline(figures: dict) -> str:
    """One Vietnamese sentence from the figures: what happened, which way it goes, the level, who is missing."""
    p = figures["province"]
    scope = _scope(figures)
    parts = [
        f"Ngày {vn_date(figures['report_date'])}, {scope} ghi nhận {vn_int(p['new_cases'])} ca mắc mới"
        + (f" ({vn_int(p['new_cases_community'])} ca trong cộng đồng)" if p["new_cases"] else "")
    ]
    now, before = p.get("new_cases_7d"), p.get("new_cases_prev_7d")
    if now is None or before is None:
        parts.append(f"7 ngày qua có {vn_int(now)} ca, chưa đủ số liệu để so sánh với 7 ngày trước đó")
    elif now == before:
        parts.append(f"7 ngày qua có {vn_int(now)} ca, không đổi so với 7 ngày trước đó")
    elif before == 0:
        parts.append(f"7 ngày qua có {vn_int(now)} ca, trong khi 7 ngày trước đó không có ca nào")
    else:
        direction = "tăng" if now > before else "giảm"
        parts.append(
            f"7 ngày qua có {vn_int(now)} ca, {direction} {vn_pct(abs(now - before) / before)} "
            f"({signed(now - before)} ca) so với 7 ngày trước đó"
        )
    view = level_view(p)
    level = p.get("level") or {}
    if not view["shown"]:
        parts.append(f"chưa đánh giá được cấp độ dịch {scope}")
    else:
        said = f"cấp độ dịch {scope} là cấp {view['shown']}"
        if view["differs"]:
            said += f" (công bố; kết quả tính toán: cấp {view['computed']})"
        previous = level.get("previous_level")
        if level.get("level_changed") and previous:
            said += f", {'tăng' if level['level'] > previous else 'giảm'} từ cấp {previous} so với hôm trước"
        else:
            said += ", không thay đổi so với hôm trước"
        parts.append(said)
    missing = figures["reporting"]["missing_or_rejected"]
    if missing:
        names = ", ".join(missing[:3]) + (f" và {len(missing) - 3} đơn vị khác" if len(missing) > 3 else "")
        parts.append(
            f"còn {len(missing)}/{p['districts_expected']} đơn vị chưa có báo cáo hợp lệ ({names}), số liệu là tạm thời"
        )
    else:
        parts.append(f"tất cả {p['districts_expected']} đơn vị đã báo cáo")
    return "; ".join(parts) + "."


def _notes(con, report_date: date) -> list[dict]:
    """Free-text notes the districts wrote for the day: untrusted, shown as plain text (autoescape)."""
    return _records(
        con,
        "SELECT c.district_code, d.district_name, c.commune_name, trim(c.notes) AS note "
        "FROM marts.commune_daily c JOIN marts.district_daily d USING (report_date, district_code) "
        "WHERE c.report_date = ? AND nullif(trim(c.notes), '') IS NOT NULL "
        "ORDER BY c.district_code, c.commune_code",
        [report_date],
    )


# Figures a correction can change: every count column of the contract, named by its Vietnamese header
# (marts.corrections has a `<name>_delta` each).
CORRECTED_METRICS = {name: COLUMN_BY_NAME[name].header_vi for name in COUNT_COLUMNS}


def _corrections(con, report_date: date, settings: Settings) -> list[dict]:
    """Changes to earlier report dates found since the previous bulletin's cutoff, one row per commune and figure.

    They are listed apart from today's figures (marts.corrections): a late
    correction never makes a day's "new cases" negative.
    """
    since = datetime.combine(report_date - timedelta(days=1), settings.cutoff)
    metrics = ", ".join(f"{name}_delta" for name in CORRECTED_METRICS)
    rows = _records(
        con,
        f"""
        WITH found AS (
            SELECT report_date, reference_version, district_code, unit_name, to_version, corrected_at,
                   new_cases_before, new_cases_after, {metrics}
            FROM marts.corrections
            WHERE unit_type = 'commune' AND report_date < ? AND corrected_at > ?
        )
        SELECT f.report_date, f.district_code, d.district_name, f.unit_name AS commune_name, f.to_version,
               f.corrected_at, replace(f.metric, '_delta', '') AS metric, f.delta,
               CASE WHEN f.metric = 'new_cases_delta' THEN f.new_cases_before END AS old_value,
               CASE WHEN f.metric = 'new_cases_delta' THEN f.new_cases_after END AS new_value
        FROM (UNPIVOT found ON {metrics} INTO NAME metric VALUE delta) AS f
        LEFT JOIN ref.district AS d USING (reference_version, district_code)  -- as on the date's unit list
        WHERE f.delta <> 0
        ORDER BY f.report_date, f.district_code, f.unit_name, f.metric
        """,
        [report_date, since],
    )
    return [{**row, "metric_vi": CORRECTED_METRICS[row["metric"]]} for row in rows]


def _warnings(con, report_date: date) -> list[dict]:
    """Every warning on the files in force for the day, with the commune its row is about (the full detail)."""
    return _records(
        con,
        "SELECT s.district_code, d.district_name, s.file_name, f.source_row AS row, f.header, f.column_name AS column, "
        "f.value, f.rule, f.message_vi, r.commune_name "
        "FROM ops.finding f JOIN ops.submission_in_force s USING (submission_id) "
        # the district's name on the unit list of the date: the calendar says which (one reading of the periods)
        "LEFT JOIN staging.calendar c ON c.report_date = s.report_date "
        "LEFT JOIN ref.district d ON d.district_code = s.district_code AND d.reference_version = c.reference_version "
        "LEFT JOIN raw.submission_row r ON r.submission_id = f.submission_id AND r.source_row = f.source_row "
        "WHERE s.report_date = ? AND f.severity = 'warning' "
        "ORDER BY s.district_code, f.source_row, f.rule",
        [report_date],
    )


# The warning rules as the Steering Committee reads them (one line per district and rule; clerks get the rows).
RULE_SUMMARIES = {
    "history.new_cases_spike": "Ca mắc mới tăng đột biến so với mức gần đây của xã",
    "history.stock_jump": "Số đang điều trị hoặc cách ly tăng nhiều hơn số mới vào",
    "history.burst_after_silence": "Báo nhiều ca sau nhiều ngày không có số liệu",
    "commune.missing": "Thiếu dòng của xã (tính là chưa báo cáo)",
    "commune.name_mismatch": "Tên xã không khớp danh mục",
    "file.unknown_column": "Tệp có cột không thuộc mẫu báo cáo",
}


def _warnings_summary(warnings: list[dict]) -> list[dict]:
    """Warnings counted per district and rule, naming the communes concerned, most frequent first."""
    groups: dict[tuple, dict] = {}
    for w in warnings:
        key = (w["district_code"], w["rule"])
        group = groups.setdefault(
            key,
            {
                "district_code": w["district_code"],
                "district_name": w["district_name"],
                "rule": w["rule"],
                "what": RULE_SUMMARIES.get(w["rule"], w["message_vi"]),
                "count": 0,
                "communes": [],
            },
        )
        group["count"] += 1
        if w.get("commune_name") and w["commune_name"] not in group["communes"]:
            group["communes"].append(w["commune_name"])
    return sorted(groups.values(), key=lambda g: (-g["count"], g["district_code"], g["rule"]))


def _rule_set(con, report_date: date, province_code: int) -> dict | None:
    """The rule set in force for the province (the level model's order: bantin.levels.in_force)."""
    return _one(
        con,
        "SELECT rule_set_id, version, name, legal_basis, effective_from, elderly_age, coverage_raise FROM ref.rule_set "
        "WHERE effective_from <= ? AND (province_codes IS NULL OR list_contains(province_codes, ?)) "
        "ORDER BY effective_from DESC, province_codes IS NOT NULL DESC, version DESC LIMIT 1",
        [report_date, province_code],
    )


def _plain(value):
    """JSON-able: dates as ISO strings, floats rounded so reruns compare equal."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


# --------------------------------------------------------------------------- output


def _latest_version(folder: Path) -> tuple[int, dict | None]:
    versions = sorted((int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit()), reverse=True)
    if not versions:
        return 0, None
    summary_path = folder / f"v{versions[0]}" / "bulletin.json"
    if not summary_path.exists():
        return versions[0], None
    return versions[0], json.loads(summary_path.read_text(encoding="utf-8"))["figures"]


def render(figures: dict, settings: Settings, report_date: date, *, run_id: str = "manual", pdf: bool = True) -> dict:
    """Render the bulletin of a report date from its figures (`build_summary`); returns the paths written or reused.

    Runs outside the warehouse lock; a lock of the date's own keeps two renders
    of one date (a rerun and a manual `bantin run`) from numbering the same version.
    """
    from bantin.store import exclusive_lock

    figures = with_decision(figures)
    folder = settings.bulletins / report_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(folder / ".render.lock", timeout=settings.lock_wait_seconds):
        return _render_version(figures, settings, report_date, folder, run_id=run_id, pdf=pdf)


# What a new file can change in the summary without changing what the bulletin tells its readers:
# which file is in force and when it came, how many versions arrived, the notes and quality warnings.
_CLERICAL_DISTRICT_KEYS = ("submission_id", "submission_version", "accepted_received_at", "versions_received")
# Page one's words (headline, attention, as-of line, the warnings' summary) are written from figures kept here.
_CLERICAL_KEYS = ("notes", "data_quality", "data_as_of", "data_quality_summary", "as_of", "headline", "attention")


def substance(figures: dict) -> dict:
    """The part of a bulletin's figures whose change makes a new version: a figure, a level, the reporting status.

    A rejected file alone (a district already in force, or one still without a
    valid report) changes none of them: no new version, no new mail. "Missing"
    and "rejected" are one status to a reader (no valid report yet).
    """

    def status(value):
        return "no_valid_report" if value in ("missing", "rejected") else value

    kept = {k: v for k, v in figures.items() if k not in _CLERICAL_KEYS}
    kept["districts"] = [
        {
            **{k: v for k, v in d.items() if k not in _CLERICAL_DISTRICT_KEYS},
            "reporting_status": status(d.get("reporting_status")),
        }
        for d in figures["districts"]
    ]
    kept["reporting"] = {
        "missing_or_rejected": sorted(figures["reporting"]["missing_or_rejected"]),
        "not_on_time": sorted((r["district_code"], status(r["status"])) for r in figures["reporting"]["not_on_time"]),
    }
    return kept


def _render_version(
    figures: dict, settings: Settings, report_date: date, folder: Path, *, run_id: str, pdf: bool
) -> dict:
    latest, latest_figures = _latest_version(folder)
    if latest_figures is not None and substance(latest_figures) == substance(figures):
        out = folder / f"v{latest}"
        log.info("bulletin %s: no figure, level or reporting status changed: keeping v%d", report_date, latest)
        return _paths(out, reused=True)
    number = latest + 1
    document = {
        "version": number,
        "generated_at": datetime.now(settings.timezone).replace(tzinfo=None).isoformat(timespec="seconds"),
        "run_id": run_id,
        "software_version": software_version(),
        "changes_from_previous": _changes(latest_figures, figures) if latest_figures else [],
        "figures": figures,
    }
    out = write_version(folder, document, pdf=pdf)
    log.info("bulletin %s: wrote v%d%s", report_date, number, " (provisional)" if figures["provisional"] else "")
    return _paths(out, reused=False)


MAIL_CHARTS = ("trend", "districts", "levels")  # the charts a mail body carries, as PNG (cid:<name>)


def render_html(document: dict, *, mail: bool = False, drawn: dict | None = None) -> str:
    """The bulletin page; `mail`: for a mail body, the charts as PNG images (`cid:`) instead of inline SVG.

    `drawn`: the charts already drawn from these figures (charts.bulletin_charts), when the caller has them.
    """
    from bantin import charts

    drawn = drawn or charts.bulletin_charts(document["figures"])
    svg = {name: charts.to_svg(chart) for name, chart in drawn.items() if name != "district_list"}
    return (
        environment()
        .get_template("bulletin.html.j2")
        .render(
            doc=document,
            s=document["figures"],
            shown=SHOWN,
            mail=mail,
            svg=svg,
            multiples=[charts.to_svg(c) for c in drawn["district_list"]],
            level_view=level_view,
            palette=charts.LEVEL_COLOURS,
            level_totals={k: sum(r["communes"][k] for r in document["figures"]["level_summary"]) for k in "1234"},
            as_of=as_of_text(document["figures"]),
            form=document["figures"]["form"],
        )
    )


def mail_images(document: dict, drawn: dict | None = None) -> dict[str, bytes]:
    """The mail body's charts as PNG, by content id.

    A chart that cannot be drawn as a PNG is left out and logged: the mail then shows its alt text, and the
    bulletin (page, PDF, mail) still goes out on time — a drawing bug must not hold the day's bulletin back.
    """
    from bantin import charts

    drawn = drawn or charts.bulletin_charts(document["figures"])
    images = {}
    for name in MAIL_CHARTS:
        try:
            images[name] = charts.to_png(drawn[name])
        except Exception:
            log.exception("chart %r could not be drawn as PNG: the mail goes out without it (alt text shown)", name)
    return images


def plain_text(document: dict) -> str:
    """The mail's text/plain part: the summary sentence and the figures of page one, for any mail client."""
    s, form = document["figures"], document["figures"]["form"]
    p = s["province"]
    view = level_view(p)
    lines = [
        f"{form['issuer']} {form['place'].upper()} – BẢN TIN COVID-19 NGÀY {vn_date(s['report_date'])}"
        + (" (SỐ LIỆU TẠM THỜI)" if s["provisional"] else ""),
        f"Phiên bản {document['version']}; {as_of_text(s)}.",
        "",
        s["headline"],
        "",
    ]
    level = f"cấp {view['shown']}" if view["shown"] else "chưa đánh giá"
    if view["differs"]:
        level += f" (công bố; tính toán: cấp {view['computed']})"
    lines += [
        f"- Cấp độ dịch {form['scope']}: {level}",
        f"- Ca mắc mới: {vn_int(p['new_cases'])} (cộng đồng: {vn_int(p['new_cases_community'])})",
        f"- Ca mắc 7 ngày: {vn_int(p['new_cases_7d'])} (7 ngày trước đó: {vn_int(p['new_cases_prev_7d'])})",
        f"- Ca mắc/100.000 dân/tuần: {vn_dec(p['cases_per_100k_week'])} (cộng đồng: "
        f"{vn_dec(p['community_per_100k_week'])})",
        f"- Cộng dồn từ {vn_date(s['cumulative'].get('since'))}: {vn_int(s['cumulative'].get('cases'))} ca, "
        f"{vn_int(s['cumulative'].get('deaths'))} tử vong",
        f"- Người ≥18 tuổi tiêm ≥1 mũi: {vn_pct(p['coverage_18plus_dose1'], 1)}; đủ liều: "
        f"{vn_pct(p['coverage_18plus_full'], 1)}",
        f"- Đơn vị đã báo cáo: {vn_int(p['districts_reported'])}/{vn_int(p['districts_expected'])}",
    ]
    if s["attention"]:
        lines += ["", "Đơn vị cần chú ý:"]
        lines += [f"- {a['district_name']}: {'; '.join(a['reasons'])}" for a in s["attention"][: SHOWN["attention"]]]
        if len(s["attention"]) > SHOWN["attention"]:
            lines.append(f"- và {len(s['attention']) - SHOWN['attention']} đơn vị khác")
    lines += ["", "Bản đầy đủ: tệp PDF đính kèm."]
    return "\n".join(lines) + "\n"


def as_of_text(figures: dict) -> str:
    """`Số liệu tính đến 17:00 ngày 19/10/2021`, or the later time of a late file a version includes."""
    at = figures["as_of"]["at"]
    text = f"Số liệu tính đến {vn_time(at)} ngày {vn_date(at)}"
    if figures["as_of"]["includes_late_files"]:
        text += f" (gồm báo cáo gửi muộn sau {figures['cutoff']})"
    return text


def write_version(folder: Path, document: dict, *, pdf: bool = True) -> Path:
    """Write v<N>/ (HTML, JSON, PDF) whole or not at all, then point `latest` at it; never touch older versions."""
    out = folder / f"v{document['version']}"
    if out.exists():
        raise FileExistsError(f"{out} exists: a bulletin version is never overwritten")
    staging = folder / f".v{document['version']}.partial"
    shutil.rmtree(staging, ignore_errors=True)  # debris of a killed run
    staging.mkdir(parents=True)
    from bantin import charts

    drawn = charts.bulletin_charts(document["figures"])  # once, for the page, the mail body and its images
    html = render_html(document, drawn=drawn)
    (staging / "bulletin.html").write_text(html, encoding="utf-8")
    (staging / "bulletin.json").write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    # the mail body: the same page with PNG charts (mail clients do not show SVG), and a plain-text part
    mail = staging / "mail"
    mail.mkdir()
    (mail / "body.html").write_text(render_html(document, mail=True, drawn=drawn), encoding="utf-8")
    (mail / "body.txt").write_text(plain_text(document), encoding="utf-8")
    for name, png in mail_images(document, drawn).items():
        (mail / f"{name}.png").write_bytes(png)
    if pdf:
        html_to_pdf(html, staging / "bulletin.pdf")
    staging.rename(out)
    link = folder / f".latest.{document['version']}"
    link.unlink(missing_ok=True)
    link.symlink_to(out.name)
    os.replace(link, folder / "latest")  # atomic: readers see the old or the new version
    return out


def _paths(out: Path, *, reused: bool) -> dict:
    paths = {"folder": out, "html": out / "bulletin.html", "json": out / "bulletin.json"}
    if (out / "bulletin.pdf").exists():
        paths["pdf"] = out / "bulletin.pdf"
    paths["reused"] = reused
    return paths


# Province figures whose change a new version lists: how many communes reported, then every count column.
PROVINCE_CHANGES = (("communes_reported", "Số xã đã báo cáo"), *CORRECTED_METRICS.items())


def _level_changes(old: dict, new: dict) -> list[str]:
    """Changes of computed and declared levels (province, districts, communes), of the sign-off and the rule set."""

    def levels(level: dict | None) -> tuple:
        level = level or {}
        return level.get("computed_level", level.get("level")), level.get("declared_level")

    def shown(value) -> str:
        return str(value) if value else "–"

    units = [(_scope(new), old["province"].get("level"), new["province"].get("level"))]
    old_districts = {d["district_code"]: d for d in old["districts"]}
    units += [
        (d["district_name"], (old_districts.get(d["district_code"]) or {}).get("level"), d.get("level"))
        for d in new["districts"]
    ]
    old_communes = {c["commune_code"]: c for c in old.get("communes_at_level_2_or_above") or []}
    new_communes = {c["commune_code"]: c for c in new.get("communes_at_level_2_or_above") or []}
    for code in sorted(set(old_communes) | set(new_communes)):
        # a commune absent from the list is at level 1, computed and (when decided) declared
        was, now = old_communes.get(code), new_communes.get(code)
        name = (now or was)["commune_name"]
        units.append(
            (
                name,
                {"computed_level": was.get("computed_level", was["level"]), "declared_level": was.get("declared_level")}
                if was
                else {"computed_level": 1},
                {"computed_level": now.get("computed_level", now["level"]), "declared_level": now.get("declared_level")}
                if now
                else {"computed_level": 1},
            )
        )
    changes = []
    for name, was, now in units:
        (computed_was, declared_was), (computed_now, declared_now) = levels(was), levels(now)
        if computed_was != computed_now:
            changes.append(f"Cấp độ đề xuất {name}: {shown(computed_was)} → {shown(computed_now)}")
        if declared_was != declared_now:
            changes.append(
                f"Cấp độ công bố {name}: {declared_was or 'chưa phê duyệt'} → {declared_now or 'chưa phê duyệt'}"
            )
    signed_was, signed_now = old.get("signoff") or {}, new.get("signoff") or {}
    if signed_was.get("status") != signed_now.get("status") and signed_now.get("status"):
        what = {
            "approved": "phê duyệt cấp độ đề xuất",
            "overridden": "công bố cấp độ khác cấp độ đề xuất",
            "provisional": "chưa phê duyệt (cấp độ đề xuất)",
        }[signed_now["status"]]
        who = (
            f" ({signed_now['decided_by']}, {vn_time(signed_now['decided_at'])} {vn_date(signed_now['decided_at'])})"
            if signed_now.get("decided_by")
            else ""
        )
        changes.append(f"Lãnh đạo Sở: {what}{who}")
    rule_was, rule_now = old.get("rule_set") or {}, new.get("rule_set") or {}
    if (rule_was.get("rule_set_id"), rule_was.get("version")) != (rule_now.get("rule_set_id"), rule_now.get("version")):
        changes.append(
            f"Bộ tiêu chí đánh giá: {rule_was.get('rule_set_id') or '–'} v{rule_was.get('version') or '–'}"
            f" → {rule_now.get('rule_set_id') or '–'} v{rule_now.get('version') or '–'}"
        )
    return changes


def _changes(old: dict, new: dict) -> list[str]:
    """A short list of what a new version changes, in Vietnamese."""
    changes = _level_changes(old, new)  # the decision first: levels, province first, sign-off, rule set
    before = set(old["reporting"]["missing_or_rejected"])
    after = set(new["reporting"]["missing_or_rejected"])
    changes += [f"Đã nhận báo cáo của {name}" for name in sorted(before - after)]
    changes += [f"Chưa có báo cáo hợp lệ của {name}" for name in sorted(after - before)]
    old_p, new_p = old["province"], new["province"]
    for key, label in PROVINCE_CHANGES:
        if old_p.get(key) != new_p.get(key):
            changes.append(f"{label} {_scope(new)}: {vn_int(old_p.get(key))} → {vn_int(new_p.get(key))}")
    old_districts = {d["district_code"]: d for d in old["districts"]}
    for d in new["districts"]:
        was = old_districts.get(d["district_code"], {})
        if was.get("new_cases") != d["new_cases"]:
            changes.append(
                f"Ca mắc mới {d['district_name']}: {vn_int(was.get('new_cases'))} → {vn_int(d['new_cases'])}"
            )
    if (old.get("corrections") or []) != (new.get("corrections") or []):
        changes.append(f"Điều chỉnh số liệu các ngày trước: {len(new.get('corrections') or [])} mục")
    return changes or ["Cập nhật số liệu chi tiết (cảnh báo chất lượng, ghi chú)"]
