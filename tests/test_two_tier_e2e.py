"""A province on the two-tier list (after the reform of 1 July 2025) end to end.

Quảng Ninh's demo from 27/06/2025 (the 2025-01-04 list: 13 districts, 171 communes)
across the reform to 08/07/2025 (the 2025-07-01 list: 54 communes under the province,
reported by 13 reporting areas): `bantin run` loads the days up to the 7th, then
`airflow dags test daily_bulletin 2025-07-08` runs the DAG. The portal's series ended
in 2022, so the demo replays Quảng Ninh's November 2021 (cases every day) onto these dates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from bantin import demo_data, reference

from conftest import DEMO_PROVINCE, assert_dag_run_succeeded, run_airflow, warehouse_rows

START, REFORM, END = date(2025, 6, 27), date(2025, 7, 1), date(2025, 7, 8)
SERIES_FROM = date(2021, 11, 2)  # replayed onto START: 16 cases on the 30th, 43 on the 1st, 13 on the 8th


def _replayed(day: date) -> int:
    return reference.real_daily_cases(DEMO_PROVINCE).get(day - (START - SERIES_FROM), 0)


@pytest.fixture(scope="module")
def two_tier_run(tmp_path_factory, airflow_home):
    home = tmp_path_factory.mktemp("two_tier") / "var"
    env = {
        **os.environ,
        **airflow_home,
        "BANTIN_HOME": str(home),
        "BANTIN_PROVINCE": str(DEMO_PROVINCE),
        "BANTIN_SIGNOFF": "skip",
    }
    landing, receipts = home / "landing", home / "receipts"
    # one call per unit list: a demo period across a change of list is refused
    for first, last in ((START, REFORM - timedelta(days=1)), (REFORM, END)):
        demo_data.generate(
            DEMO_PROVINCE,
            first,
            last,
            landing,
            receipts_dir=receipts,
            series_from=SERIES_FROM + (first - START),
        )
    bantin = [sys.executable, "-m", "bantin.cli"]
    loaded = subprocess.run(
        [*bantin, "run", "--start", START.isoformat(), "--end", (END - timedelta(days=1)).isoformat(), "--no-deliver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert loaded.returncode == 0, (loaded.stdout + loaded.stderr)[-5000:]
    result = run_airflow(env, "dags", "test", "daily_bulletin", END.isoformat())
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    from bantin.config import load_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BANTIN_HOME", str(home))
        patch.setenv("BANTIN_PROVINCE", str(DEMO_PROVINCE))
        return load_settings(), result


def test_every_task_of_the_dag_succeeded(two_tier_run):
    _, result = two_tier_run
    assert_dag_run_succeeded(result)


def test_province_totals_are_the_replayed_series_on_both_sides_of_the_reform(two_tier_run):
    settings, _ = two_tier_run
    rows = warehouse_rows(
        settings, "SELECT report_date, new_cases, new_cases_7d, reference_version FROM marts.province_daily"
    )
    days = [START + timedelta(days=i) for i in range((END - START).days + 1)]
    assert sorted(r[0] for r in rows) == days
    for day, new_cases, new_cases_7d, version in rows:
        assert new_cases == _replayed(day), day
        assert version == ("2025-01-04" if day < REFORM else "2025-07-01")
        if day >= START + timedelta(days=6):  # the 7-day window runs across the change of list
            assert new_cases_7d == sum(_replayed(day - timedelta(days=k)) for k in range(7)), day
    assert _replayed(REFORM) == 43 and _replayed(END) == 13


def test_the_trailing_windows_run_on_across_the_reform(two_tier_run):
    """The days before 1/7 count in the windows after it, also those of communes whose code vanished."""
    settings, _ = two_tier_run
    day = REFORM + timedelta(days=2)
    ((new_cases_7d,),) = warehouse_rows(
        settings, "SELECT new_cases_7d FROM marts.province_daily WHERE report_date = ?", [day]
    )
    assert new_cases_7d == sum(_replayed(day - timedelta(days=k)) for k in range(7)) == 101
    # the week before: on 07/07 it is 24–30/06, all on the earlier list (27 cases from the 27th)
    week_after = REFORM + timedelta(days=6)
    ((previous_7d,),) = warehouse_rows(
        settings, "SELECT new_cases_prev_7d FROM marts.province_daily WHERE report_date = ?", [week_after]
    )
    assert previous_7d == sum(_replayed(START + timedelta(days=k)) for k in range(4)) == 27
    # the areas too: every area's window holds the cases its communes (on either list) reported
    by_area = warehouse_rows(
        settings,
        "SELECT sum(new_cases_7d) FROM marts.district_daily WHERE report_date = ?",
        [day],
    )
    assert by_area == [(101,)]


def test_levels_are_on_the_list_in_force_each_day(two_tier_run):
    settings, _ = two_tier_run
    rows = warehouse_rows(
        settings,
        "SELECT report_date, unit_type, count(*), any_value(reference_version) FROM marts.epidemic_level "
        "WHERE report_date IN (?, ?) GROUP BY ALL ORDER BY ALL",
        [REFORM - timedelta(days=1), END],
    )
    assert rows == [
        (REFORM - timedelta(days=1), "commune", 171, "2025-01-04"),
        (REFORM - timedelta(days=1), "district", 13, "2025-01-04"),
        (REFORM - timedelta(days=1), "province", 1, "2025-01-04"),
        (END, "commune", 54, "2025-07-01"),
        (END, "district", 13, "2025-07-01"),  # the reporting areas
        (END, "province", 1, "2025-07-01"),
    ]
    areas = warehouse_rows(
        settings,
        "SELECT unit_code, unit_name FROM marts.epidemic_level WHERE report_date = ? AND unit_type = 'district'",
        [END],
    )
    assert all(name.startswith("Khu vực ") for _code, name in areas)
    # every one of the 54 communes reported through its area's file
    complete = warehouse_rows(
        settings,
        "SELECT count(*) FROM marts.commune_daily WHERE report_date = ? AND reported",
        [END],
    )
    assert complete == [(54,)]


def test_the_bulletin_speaks_of_areas_and_communes_not_districts(two_tier_run):
    settings, _ = two_tier_run
    folder = settings.bulletins / END.isoformat() / "v1"
    document = json.loads((folder / "bulletin.json").read_text(encoding="utf-8"))
    assert document["figures"]["province"]["new_cases"] == 13
    assert document["figures"]["reporting"]["missing_or_rejected"] == []
    assert document["figures"]["districts_are_areas"] is True
    html = (folder / "bulletin.html").read_text(encoding="utf-8")
    assert "1. Số liệu theo khu vực" in html
    assert "54/54 xã, phường, đặc khu" in html
    assert "không còn cấp huyện" in html and "cấp độ của khu vực chỉ để tham khảo" in html
    assert "Mỗi hàng một khu vực (cấp độ chỉ để tham khảo)" in html  # the 8-week level chart's caption
    assert "UBND các xã, phường, đặc khu" in html
    assert "Khu vực Hạ Long" in html
    for district_word in ("theo huyện", "Thành phố Hạ Long", "các huyện"):
        assert district_word not in html


def test_the_directors_table_names_areas_for_reference_after_the_reform(two_tier_run):
    """What the Director reads before signing (bantin.signoff.request_body): districts before, areas after."""
    from bantin import signoff, store

    settings, _ = two_tier_run
    with store.reader(settings.warehouse_path) as con:
        before, after = (signoff.request_body(con, day) for day in (REFORM - timedelta(days=1), END))
    assert "| Thành phố Hạ Long | huyện 193 |" in before and "tham khảo" not in before
    assert "| Khu vực Hạ Long | khu vực 193, tham khảo |" in after and "| huyện " not in after
    assert "| tỉnh |" in before and "| tỉnh |" in after


def test_an_older_commune_code_is_refused_after_the_reform(two_tier_run):
    """Phường Hà Khánh (6649, Hạ Long) is on the 2025-01-04 list and merged by the reform."""
    on_before, on_after = REFORM - timedelta(days=1), REFORM
    assert reference.commune(6649, on=on_before).name == "Phường Hà Khánh"
    with pytest.raises(KeyError, match="unknown commune code 6649 on the 2025-07-01 list"):
        reference.commune(6649, on=on_after)


def test_the_analysts_restatement_recipe_keeps_the_province_total(two_tier_run):
    """docs/models.md's SQL, run on the warehouse: 30/06's cases on the two-tier list, same total."""
    settings, _ = two_tier_run
    text = (Path(__file__).parent.parent / "docs" / "models.md").read_text(encoding="utf-8")
    recipe = text.split("### A series on another list, in SQL")[1].split("```sql")[1].split("```")[0]
    restated = dict(warehouse_rows(settings, recipe))
    new_codes = {c.code for c in reference.communes(province_code=DEMO_PROVINCE, on=REFORM)}
    assert set(restated) <= new_codes
    assert (
        sum(restated.values()) == pytest.approx(_replayed(REFORM - timedelta(days=1)))
        and _replayed(REFORM - timedelta(days=1)) == 16
    )
