"""The 50+ elderly group end to end: template (XLSX) → file → GX → warehouse → level → reason.

Quảng Ninh adapts 4800/QĐ-BYT to the 50+ group (a province-scoped file dropped
into BANTIN_RULE_SETS, as an operator would). Its districts send the provincial
template with the optional "Người từ 50 tuổi tiêm đủ liều" column filled: 65+
well covered, 50+ at about half. The province is raised one level on the 50+
group, and the reason names that group; the national rule set (65+) would have
left it at level 1.
"""

from __future__ import annotations

import json
import math
import shutil
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

PROVINCE = 22
FIRST, LAST = date(2021, 10, 13), date(2021, 10, 19)


@pytest.fixture(scope="module")
def province_level(tmp_path_factory):
    from bantin import demo_data, intake, levels, pipeline, reference, store
    from bantin.config import load_settings
    from bantin.submission_files import write_xlsx

    root = tmp_path_factory.mktemp("fifty")
    rule_sets = root / "rule_sets"
    rule_sets.mkdir()
    shutil.copy(levels.RULE_SETS_DIR / "4800-QD-BYT.json", rule_sets)
    spec = json.loads((rule_sets / "4800-QD-BYT.json").read_text(encoding="utf-8"))
    spec.update(rule_set_id="4800/QĐ-BYT (Quảng Ninh, 50+)", provinces=[PROVINCE])
    spec["parameters"]["vaccine"]["elderly_age"] = 50
    (rule_sets / "quang-ninh-50plus.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")

    home = root / "var"
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    communes = {c.code: c for c in reference.communes(province_code=PROVINCE, on=LAST)}  # the 2021 list
    province_name = reference.province(PROVINCE, on=LAST).name_full
    for (day, district), rows in demo_data.generate_rows(PROVINCE, FIRST, LAST).items():
        rows = [
            {**r, "vaccinated_50plus_full": math.floor(communes[r["commune_code"]].population_50plus * 0.5)}
            for r in rows
        ]
        if district == 193 and day == LAST:  # one case in the window: the elderly criterion applies
            rows[0] = {
                **rows[0],
                "new_cases": rows[0]["new_cases"] + 1,
                "tests_positive": rows[0]["tests_positive"] + 1,
            }
        folder = home / "landing" / str(district)
        folder.mkdir(parents=True, exist_ok=True)
        path = write_xlsx(
            rows,
            folder / f"BaoCao_{district}_{day:%Y%m%d}.xlsx",
            province_name=province_name,
            district_name=reference.district(district, on=day).name,
            report_date=day,
        )
        received = datetime.combine(day, time(15, 0), tzinfo=zone)  # the demo channel's receipt time
        intake.write_receipt(home / "receipts", district, intake.sha256_of(path), received, "demo", path.name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BANTIN_HOME", str(home))
        patch.setenv("BANTIN_PROVINCE", str(PROVINCE))
        patch.setenv("BANTIN_RULE_SETS", str(rule_sets))
        settings = load_settings()
        pipeline.collect(settings)
        validated = pipeline.validate(settings)
        pipeline.build_marts(settings, LAST)
    with store.reader(settings.warehouse_path) as con:
        cursor = con.execute(
            "SELECT * FROM marts.epidemic_level WHERE report_date = ? AND unit_type = 'province'", [LAST]
        )
        level = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
        raw = con.execute("SELECT count(*), count(vaccinated_50plus_full) FROM raw.submission_row").fetchone()
        coverage = con.execute(
            "SELECT coverage_50plus_full, coverage_65plus_full FROM marts.province_daily WHERE report_date = ?", [LAST]
        ).fetchone()
    yield level, validated, raw, coverage


def test_the_50plus_column_travels_from_the_template_to_the_warehouse(province_level):
    level, validated, raw, coverage = province_level
    assert validated["accepted"] == validated["validated"] > 0 and validated["rejected"] == 0
    assert raw[0] == raw[1] > 0  # every row carries the 50+ count
    assert 0.49 < coverage[0] < 0.51 and coverage[1] >= 0.8


def test_the_province_rule_set_on_the_50plus_group_raises_the_level_and_says_so(province_level):
    level, *_ = province_level
    assert level["rule_set_id"] == "4800/QĐ-BYT (Quảng Ninh, 50+)" and level["elderly_age"] == 50
    assert level["transmission_band"] == 1 and level["main_coverage_met"]
    assert level["elderly_raised"] and level["level"] == 2
    assert "người ≥50 tuổi tiêm đủ liều (< 80%): tăng 1 cấp → cấp 2" in level["reason"]
    assert "65" not in level["reason"]
