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
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version as package_version
from pathlib import Path

from bantin.config import Settings
from bantin.render import environment, html_to_pdf, vn_date, vn_int, vn_time

log = logging.getLogger(__name__)

TREND_DAYS = 14
LEVEL_NAMES = {
    1: "Cấp 1 – nguy cơ thấp (xanh)",
    2: "Cấp 2 – nguy cơ trung bình (vàng)",
    3: "Cấp 3 – nguy cơ cao (cam)",
    4: "Cấp 4 – nguy cơ rất cao (đỏ)",
}


def software_version() -> str:
    try:
        return package_version("bantin")
    except PackageNotFoundError:
        return "dev"


def _records(con, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


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
        for r in _records(con, "SELECT l.*, s.declared_level, s.status AS signoff_status, s.decided_by, s.decided_at, "
                               "s.decision_reason FROM marts.epidemic_level AS l LEFT JOIN marts.level_signoff AS s "
                               "USING (report_date, unit_type, unit_code) WHERE l.report_date = ?", [report_date])
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
    summary = {
        "report_date": report_date.isoformat(),
        "cutoff": settings.cutoff.strftime("%H:%M"),
        "province": province,
        "districts": districts,
        "level_summary": _level_summary(districts, commune_levels),
        "communes_at_level_2_or_above": sorted(
            ({"commune_code": r["unit_code"], "commune_name": r["unit_name"], "district_code": r["district_code"],
              "level": r["declared_level"] or r["level"], "computed_level": r["level"],
              "declared_level": r["declared_level"], "reason": r["reason"], "is_stale": r["is_stale"]}
             for r in commune_levels if (r["declared_level"] or r["level"]) >= 2 or r["level"] >= 2),
            key=lambda r: (-r["level"], r["district_code"], r["commune_code"]),
        ),
        "reporting": {
            "not_on_time": [{"district_code": d["district_code"], "district_name": d["district_name"],
                             "status": d["reporting_status"], "received_at": d["accepted_received_at"]}
                            for d in status],
            "missing_or_rejected": [d["district_name"] for d in status
                                    if d["reporting_status"] in ("missing", "rejected")],
        },
        "trend": _trend(con, report_date),
        "district_trends": _district_trends(con, report_date),
        "notes": _notes(con, report_date),
        "data_quality": _warnings(con, report_date),
        "corrections": _corrections(con, report_date, settings),
        "rule_set": _rule_set(con, report_date, settings.province_code),
        # the Director's sign-off: approved, overridden or provisional ("cấp độ đề xuất, chưa phê duyệt")
        "signoff": _signoff(con, report_date),
        "data_as_of": max((d["accepted_received_at"] for d in districts if d["accepted_received_at"]), default=None),
    }
    summary["provisional"] = bool(summary["reporting"]["missing_or_rejected"])
    return _plain(summary)


COLOURS = {1: ("green", "xanh"), 2: ("yellow", "vàng"), 3: ("orange", "cam"), 4: ("red", "đỏ")}


def _level_of(row: dict | None) -> dict | None:
    """A unit's level as the bulletin shows it: the declared one when the Director decided, else the computed one.

    `computed_level` and `declared_level` (None while provisional) are both kept, with the
    sign-off and the completeness of the window, so the bulletin can show where they differ.
    """
    if row is None:
        return None
    keep = ("reason", "is_stale", "assessed_on", "level_changed",
            "previous_level", "cases_per_100k_week", "coverage_18plus_dose1", "rule_set_id",
            "is_complete", "completeness_held", "commune_days_reported", "commune_days_expected")
    shown = row.get("declared_level") or row["level"]
    return {
        **{k: row.get(k) for k in keep},
        "level": shown, "colour": COLOURS[shown][0], "colour_vi": COLOURS[shown][1],
        "computed_level": row["level"],
        "declared_level": row.get("declared_level"),
        "differs": row.get("declared_level") is not None and row["declared_level"] != row["level"],
        "missing_units": list(row.get("missing_units") or []),
        "signoff": {"status": row.get("signoff_status") or "provisional", "decided_by": row.get("decided_by"),
                    "decided_at": row.get("decided_at"), "reason": row.get("decision_reason")},
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
    return [{"district_code": d["district_code"], "district_name": d["district_name"],
             "communes": {str(k): v for k, v in counts[d["district_code"]].items()}} for d in districts]


def _trend(con, report_date: date) -> list[dict]:
    return _records(
        con,
        "SELECT report_date, new_cases, new_cases_community, new_cases_7d FROM marts.province_daily "
        "WHERE report_date BETWEEN ? AND ? ORDER BY report_date",
        [report_date - timedelta(days=TREND_DAYS - 1), report_date],
    )


def _district_trends(con, report_date: date) -> dict[str, list]:
    """New cases of each district over the 14 days (small multiples), NULL where the district did not report."""
    rows = _records(
        con,
        "SELECT district_code, report_date, new_cases FROM marts.district_daily "
        "WHERE report_date BETWEEN ? AND ? AND communes_expected > 0 ORDER BY district_code, report_date",
        [report_date - timedelta(days=TREND_DAYS - 1), report_date],
    )
    trends: dict[str, list] = {}
    for row in rows:
        trends.setdefault(str(row["district_code"]), []).append(
            {"report_date": row["report_date"], "new_cases": row["new_cases"]})
    return trends


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


# Figures a correction can change, as the bulletin names them (marts.corrections has a `<name>_delta` each).
CORRECTED_METRICS = {
    "new_cases": "Ca mắc mới", "new_cases_community": "Ca cộng đồng", "deaths": "Tử vong",
    "recovered": "Khỏi bệnh", "tests_performed": "Số mẫu xét nghiệm", "tests_positive": "Mẫu dương tính",
    "in_treatment": "Đang điều trị", "severe": "Ca nặng", "f1_traced": "F1 truy vết",
}


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
            SELECT report_date, district_code, unit_name, to_version, corrected_at, new_cases_before,
                   new_cases_after, {metrics}
            FROM marts.corrections
            WHERE unit_type = 'commune' AND report_date < ? AND corrected_at > ?
        )
        SELECT f.report_date, f.district_code, d.district_name, f.unit_name AS commune_name, f.to_version,
               f.corrected_at, replace(f.metric, '_delta', '') AS metric, f.delta,
               CASE WHEN f.metric = 'new_cases_delta' THEN f.new_cases_before END AS old_value,
               CASE WHEN f.metric = 'new_cases_delta' THEN f.new_cases_after END AS new_value
        FROM (UNPIVOT found ON {metrics} INTO NAME metric VALUE delta) AS f
        LEFT JOIN ref.district AS d USING (district_code)
        WHERE f.delta <> 0
        ORDER BY f.report_date, f.district_code, f.unit_name, f.metric
        """,
        [report_date, since],
    )
    return [{**row, "metric_vi": CORRECTED_METRICS[row["metric"]]} for row in rows]


def _warnings(con, report_date: date) -> list[dict]:
    return _records(
        con,
        "SELECT s.district_code, d.district_name, s.file_name, f.source_row AS row, f.header, f.column_name AS column, f.value, "
        "f.rule, f.message_vi FROM ops.finding f JOIN ops.submission s USING (submission_id) "
        "LEFT JOIN ref.district d ON d.district_code = s.district_code "
        "WHERE s.report_date = ? AND s.status = 'accepted' AND f.severity = 'warning' "
        "ORDER BY s.district_code, f.source_row, f.rule",
        [report_date],
    )


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
    from bantin.warehouse import exclusive_lock

    folder = settings.bulletins / report_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(folder / ".render.lock"):
        return _render_version(figures, settings, report_date, folder, run_id=run_id, pdf=pdf)


# What a new file can change in the summary without changing what the bulletin tells its readers:
# which file is in force and when it came, how many versions arrived, the notes and quality warnings.
_CLERICAL_DISTRICT_KEYS = ("submission_id", "submission_version", "accepted_received_at", "versions_received")
_CLERICAL_KEYS = ("notes", "data_quality", "data_as_of")


def substance(figures: dict) -> dict:
    """The part of a bulletin's figures whose change makes a new version: a figure, a level, the reporting status.

    A rejected file alone (a district already in force, or one still without a
    valid report) changes none of them: no new version, no new mail. "Missing"
    and "rejected" are one status to a reader (no valid report yet).
    """
    def status(value):
        return "no_valid_report" if value in ("missing", "rejected") else value

    kept = {k: v for k, v in figures.items() if k not in _CLERICAL_KEYS}
    kept["districts"] = [{**{k: v for k, v in d.items() if k not in _CLERICAL_DISTRICT_KEYS},
                          "reporting_status": status(d.get("reporting_status"))} for d in figures["districts"]]
    kept["reporting"] = {
        "missing_or_rejected": sorted(figures["reporting"]["missing_or_rejected"]),
        "not_on_time": sorted((r["district_code"], status(r["status"])) for r in figures["reporting"]["not_on_time"]),
    }
    return kept


def _render_version(figures: dict, settings: Settings, report_date: date, folder: Path, *, run_id: str,
                    pdf: bool) -> dict:
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


def render_html(document: dict) -> str:
    return environment().get_template("bulletin.html.j2").render(
        doc=document, s=document["figures"], level_names=LEVEL_NAMES)


def write_version(folder: Path, document: dict, *, pdf: bool = True) -> Path:
    """Write v<N>/ (HTML, JSON, PDF) whole or not at all, then point `latest` at it; never touch older versions."""
    out = folder / f"v{document['version']}"
    if out.exists():
        raise FileExistsError(f"{out} exists: a bulletin version is never overwritten")
    staging = folder / f".v{document['version']}.partial"
    shutil.rmtree(staging, ignore_errors=True)  # debris of a killed run
    staging.mkdir(parents=True)
    html = render_html(document)
    (staging / "bulletin.html").write_text(html, encoding="utf-8")
    (staging / "bulletin.json").write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
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


PROVINCE_CHANGES = (("new_cases", "Ca mắc mới"), ("new_cases_community", "Ca trong cộng đồng"),
                    ("tests_performed", "Số mẫu xét nghiệm"), ("in_treatment", "Đang điều trị"),
                    ("severe", "Ca nặng"), ("deaths", "Tử vong"), ("recovered", "Khỏi bệnh"),
                    ("communes_reported", "Số xã đã báo cáo"))


def _level_changes(old: dict, new: dict) -> list[str]:
    """Changes of computed and declared levels (province, districts, communes), of the sign-off and the rule set."""
    def levels(level: dict | None) -> tuple:
        level = level or {}
        return level.get("computed_level", level.get("level")), level.get("declared_level")

    def shown(value) -> str:
        return str(value) if value else "–"

    units = [(f"toàn tỉnh", old["province"].get("level"), new["province"].get("level"))]
    old_districts = {d["district_code"]: d for d in old["districts"]}
    units += [(d["district_name"], (old_districts.get(d["district_code"]) or {}).get("level"), d.get("level"))
              for d in new["districts"]]
    old_communes = {c["commune_code"]: c for c in old.get("communes_at_level_2_or_above") or []}
    new_communes = {c["commune_code"]: c for c in new.get("communes_at_level_2_or_above") or []}
    for code in sorted(set(old_communes) | set(new_communes)):
        # a commune absent from the list is at level 1, computed and (when decided) declared
        was, now = old_communes.get(code), new_communes.get(code)
        name = (now or was)["commune_name"]
        units.append((name, {"computed_level": was.get("computed_level", was["level"]),
                             "declared_level": was.get("declared_level")} if was else {"computed_level": 1},
                      {"computed_level": now.get("computed_level", now["level"]),
                       "declared_level": now.get("declared_level")} if now else {"computed_level": 1}))
    changes = []
    for name, was, now in units:
        (computed_was, declared_was), (computed_now, declared_now) = levels(was), levels(now)
        if computed_was != computed_now:
            changes.append(f"Cấp độ đề xuất {name}: {shown(computed_was)} → {shown(computed_now)}")
        if declared_was != declared_now:
            changes.append(f"Cấp độ công bố {name}: {declared_was or 'chưa phê duyệt'} → "
                           f"{declared_now or 'chưa phê duyệt'}")
    signed_was, signed_now = old.get("signoff") or {}, new.get("signoff") or {}
    if signed_was.get("status") != signed_now.get("status") and signed_now.get("status"):
        what = {"approved": "phê duyệt cấp độ đề xuất", "overridden": "công bố cấp độ khác cấp độ đề xuất",
                "provisional": "chưa phê duyệt (cấp độ đề xuất)"}[signed_now["status"]]
        who = (f" ({signed_now['decided_by']}, {vn_time(signed_now['decided_at'])} {vn_date(signed_now['decided_at'])})"
               if signed_now.get("decided_by") else "")
        changes.append(f"Lãnh đạo Sở: {what}{who}")
    rule_was, rule_now = old.get("rule_set") or {}, new.get("rule_set") or {}
    if (rule_was.get("rule_set_id"), rule_was.get("version")) != (rule_now.get("rule_set_id"), rule_now.get("version")):
        changes.append(f"Bộ tiêu chí đánh giá: {rule_was.get('rule_set_id') or '–'} v{rule_was.get('version') or '–'}"
                       f" → {rule_now.get('rule_set_id') or '–'} v{rule_now.get('version') or '–'}")
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
            changes.append(f"{label} toàn tỉnh: {vn_int(old_p.get(key))} → {vn_int(new_p.get(key))}")
    old_districts = {d["district_code"]: d for d in old["districts"]}
    for d in new["districts"]:
        was = old_districts.get(d["district_code"], {})
        if was.get("new_cases") != d["new_cases"]:
            changes.append(f"Ca mắc mới {d['district_name']}: {vn_int(was.get('new_cases'))} → {vn_int(d['new_cases'])}")
    if (old.get("corrections") or []) != (new.get("corrections") or []):
        changes.append(f"Điều chỉnh số liệu các ngày trước: {len(new.get('corrections') or [])} mục")
    return changes or ["Cập nhật số liệu chi tiết (cảnh báo chất lượng, ghi chú)"]
