"""The level model (transforms/marts/epidemic_level.sql) run for real over tiny synthetic inputs.

Each test writes a few `staging.unit_daily`-shaped rows into a temporary DuckDB,
loads rule sets from files (the shipped 4800 one, or files the test writes),
runs the model's own SQL and reads `marts.epidemic_level`.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import duckdb
import pytest

from bantin import levels, warehouse

DAY = date(2021, 10, 20)
POPULATION = 100_000  # so community_7d is the weekly rate per 100,000
MODEL = next(m for m in warehouse.discover_models() if m.name == "marts.epidemic_level")

UNIT_DAILY = """
CREATE TABLE staging.unit_daily (
    report_date DATE, unit_type VARCHAR, unit_code INTEGER, unit_name VARCHAR, province_code INTEGER,
    district_code INTEGER, has_data BOOLEAN, population BIGINT, new_cases_7d BIGINT, community_7d BIGINT,
    new_cases_14d BIGINT, community_14d BIGINT, coverage_18plus_dose1 DOUBLE, coverage_65plus_full DOUBLE,
    mobile_medical_stations BIGINT, treatment_beds BIGINT, icu_beds BIGINT)
"""


def unit_day(code: int, *, day: date = DAY, rate: float = 0, coverage: float = 0.9, elderly: float = 0.9,
             stations: int = 1, has_data: bool = True, population: int = POPULATION, all_cases: float | None = None,
             rate_14d: float | None = None) -> dict:
    """One commune-day: `rate` community cases per 100,000 per week, coverage shares, mobile stations."""
    community = round(rate * population / 100_000)
    cases = community if all_cases is None else round(all_cases * population / 100_000)
    return dict(report_date=day, unit_type="commune", unit_code=code, unit_name=f"Xã {code}", province_code=1,
                district_code=1, has_data=has_data, population=population, new_cases_7d=cases,
                community_7d=community, new_cases_14d=cases if rate_14d is None else round(rate_14d * 2),
                community_14d=community if rate_14d is None else round(rate_14d * 2),
                coverage_18plus_dose1=coverage, coverage_65plus_full=elderly, mobile_medical_stations=stations,
                treatment_beds=None, icu_beds=None)


def assess(rows: list[dict], rule_sets_dir=levels.RULE_SETS_DIR) -> dict[tuple[int, date], dict]:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA ref; CREATE SCHEMA marts;")
    con.execute(UNIT_DAILY)
    columns = list(rows[0])
    con.executemany(f"INSERT INTO staging.unit_daily ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                    [[r[c] for c in columns] for r in rows])
    con.execute("CREATE TABLE ref.commune AS SELECT DISTINCT unit_code AS commune_code, unit_name AS commune_name "
                "FROM staging.unit_daily; CREATE TABLE ref.district (district_code INTEGER, district_name VARCHAR); "
                "CREATE TABLE ref.province (province_code INTEGER, province_name VARCHAR)")
    levels.load_rule_sets(con, rule_sets_dir)
    con.execute(f"CREATE TABLE marts.epidemic_level AS {MODEL.sql}")
    result = con.execute("SELECT * FROM marts.epidemic_level").df().to_dict("records")
    return {(r["unit_code"], r["report_date"].date()): r for r in result}


@pytest.fixture
def rule_set_dir(tmp_path):
    """A folder holding a copy of the 4800 rule set; `write(**changes)` adds a variant of it."""
    folder = tmp_path / "rule_sets"
    folder.mkdir()
    shutil.copy(levels.RULE_SETS_DIR / "4800-QD-BYT.json", folder)
    base = json.loads((folder / "4800-QD-BYT.json").read_text(encoding="utf-8"))

    def write(name: str, *, replace_4800: bool = False, **changes) -> None:
        spec = json.loads(json.dumps(base))
        for path, value in changes.items():
            *parents, leaf = path.split("__")
            node = spec
            for key in parents:
                node = node[key]
            node[leaf] = value
        if replace_4800:
            (folder / "4800-QD-BYT.json").unlink()
        (folder / f"{name}.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")

    return folder, write


# every cell of the 4800 matrix: (weekly rate, main coverage met?) -> level
MATRIX = [
    (0, True, 1), (0, False, 2), (19.99, True, 1), (19.99, False, 2),
    (20, True, 2), (20, False, 3), (49.99, True, 2), (49.99, False, 3),
    (50, True, 3), (50, False, 4), (149.99, True, 3), (149.99, False, 4),
    (150, True, 4), (150, False, 4), (900, True, 4), (900, False, 4),
]


def test_every_cell_of_the_matrix():
    # population 10,000,000 so fractional rates (19.99) are whole case counts
    rows = [unit_day(i, rate=rate, coverage=0.70 if met else 0.6999, population=10_000_000)
            for i, (rate, met, _) in enumerate(MATRIX)]
    result = assess(rows)
    for i, (rate, met, expected) in enumerate(MATRIX):
        got = result[(i, DAY)]
        assert got["level"] == expected, (rate, met, got["reason"])
        assert got["main_coverage_met"] == met
        assert got["colour"] == ["green", "yellow", "orange", "red"][expected - 1]
        assert got["reason"].endswith(f"→ cấp {expected}")
        assert not got["elderly_raised"] and not got["capacity_held"] and not got["is_stale"]
        assert got["rule_set_id"] == "4800/QĐ-BYT"


def test_reason_spells_out_the_criteria_in_vietnamese():
    result = assess([unit_day(1, rate=31, coverage=0.68)])[(1, DAY)]
    assert result["reason"] == "Tỷ lệ 31,0 ca/100.000 dân/tuần (cộng đồng); 68% người ≥18 tuổi tiêm ≥1 mũi (< 70%) → cấp 3"
    assert (result["transmission_band"], result["cases_per_100k_week"]) == (2, 31.0)


def test_elderly_adjustment_raises_one_level_unless_no_case_in_window():
    result = assess([
        unit_day(1, rate=30, elderly=0.79),             # band 2, coverage met: 2, raised to 3
        unit_day(2, rate=200, coverage=0.5, elderly=0.5),  # already 4: stays 4
        unit_day(3, rate=0, elderly=0.10),              # no case in the window: exempt
        unit_day(4, rate=0, all_cases=5, elderly=0.79),  # non-community cases count as cases in the window
        unit_day(5, rate=30, elderly=0.80),             # at the threshold: met
    ])
    assert [result[(i, DAY)]["level"] for i in range(1, 6)] == [3, 4, 1, 2, 2]
    assert [result[(i, DAY)]["elderly_raised"] for i in range(1, 6)] == [True, True, False, True, False]
    assert "người ≥65 tuổi tiêm đủ liều (< 80%): tăng 1 cấp" in result[(1, DAY)]["reason"]


def test_elderly_adjustment_can_be_switched_off(rule_set_dir):
    folder, write = rule_set_dir
    write("4800-no-elderly", replace_4800=True, parameters__elderly_adjustment={
        "enabled": False, "exempt_if_no_case_in_window": True})
    assert assess([unit_day(1, rate=30, elderly=0.1)], folder)[(1, DAY)]["level"] == 2


def _series(*days: dict) -> list[dict]:
    return [unit_day(1, day=DAY + timedelta(days=i), **kwargs) for i, kwargs in enumerate(days)]


def test_capacity_failing_keeps_the_level_from_falling_by_default():
    rows = _series(dict(rate=60), dict(rate=0, stations=0), dict(rate=25, stations=0), dict(rate=0, stations=1))
    result = assess(rows)
    got = [result[(1, DAY + timedelta(days=i))] for i in range(4)]
    assert [g["level"] for g in got] == [3, 3, 3, 1]
    assert [g["capacity_held"] for g in got] == [False, True, True, False]
    assert [g["capacity_met"] for g in got] == [True, False, False, True]
    assert "chưa đáp ứng năng lực điều trị: không hạ cấp" in got[1]["reason"]
    assert [g["level_changed"] for g in got] == [False, False, False, True]
    assert got[3]["previous_level"] == 3


@pytest.mark.parametrize("effect, expected", [("raise_one", [4, 2, 3]), ("none", [3, 1, 2])])
def test_capacity_effect_is_a_parameter(rule_set_dir, effect, expected):
    folder, write = rule_set_dir
    write("4800-capacity", replace_4800=True, parameters__capacity={
        "commune_min_mobile_stations": 1, "district_min_treatment_beds": 1,
        "province_min_icu_beds_per_100k": 4, "effect": effect})
    rows = _series(dict(rate=60, stations=0), dict(rate=0, stations=0), dict(rate=25, stations=0))
    result = assess(rows, folder)
    assert [result[(1, DAY + timedelta(days=i))]["level"] for i in range(3)] == expected


def test_a_unit_without_data_keeps_its_last_level_marked_stale():
    rows = _series(dict(rate=30), dict(rate=0, has_data=False), dict(rate=0, has_data=False), dict(rate=0))
    result = assess(rows)
    got = [result[(1, DAY + timedelta(days=i))] for i in range(4)]
    assert [g["level"] for g in got] == [2, 2, 2, 1]
    assert [g["is_stale"] for g in got] == [False, True, True, False]
    assert [g["assessed_on"].date() for g in got[:3]] == [DAY] * 3
    assert got[2]["unit_name"] == "Xã 1"
    assert got[2]["reason"] == f"Không có số liệu ngày {DAY + timedelta(days=2):%d/%m/%Y}; giữ cấp 2 đánh giá ngày {DAY:%d/%m/%Y}"


def test_a_unit_without_population_is_assessed_without_dividing_by_zero():
    result = assess([unit_day(1, population=0, rate=0), unit_day(2, rate=0)])
    assert result[(1, DAY)]["level"] == 1 and result[(1, DAY)]["cases_per_100k_week"] == 0


def test_the_rule_set_in_force_is_picked_by_effective_date(rule_set_dir):
    folder, write = rule_set_dir
    # a stand-in for 218/QĐ-BYT: all cases, 14-day window halved, other bands and matrix
    write("218-test", rule_set_id="218/QĐ-BYT (test)", effective_from="2022-01-27",
          parameters__transmission={"numerator": "all", "window_days": 14, "band_lower_bounds": [0, 50, 150, 300]},
          parameters__matrix={"1": [1, 1], "2": [2, 3], "3": [3, 4], "4": [4, 4]})
    before, after = date(2022, 1, 26), date(2022, 1, 27)
    rows = [unit_day(1, day=before, rate=10, all_cases=100, rate_14d=100),
            unit_day(1, day=after, rate=10, all_cases=100, rate_14d=100)]
    result = assess(rows, folder)
    assert (result[(1, before)]["rule_set_id"], result[(1, before)]["level"]) == ("4800/QĐ-BYT", 1)
    # 218 stand-in: all cases over 14 days halved = 100 per week: band 2 → level 2
    assert (result[(1, after)]["rule_set_id"], result[(1, after)]["level"]) == ("218/QĐ-BYT (test)", 2)
    assert result[(1, after)]["cases_per_100k_week"] == 100
    assert "(cộng đồng)" not in result[(1, after)]["reason"]


def test_no_level_before_the_first_rule_set():
    result = assess([unit_day(1, day=date(2021, 10, 11)), unit_day(1, day=date(2021, 10, 12))])
    assert list(result) == [(1, date(2021, 10, 12))]


@pytest.mark.parametrize("change, message", [
    ({"parameters__transmission": {"numerator": "imported", "window_days": 7, "band_lower_bounds": [0, 20]}},
     "numerator"),
    ({"parameters__matrix": {"1": [1, 2]}}, "matrix must have one entry per band"),
    ({"parameters__capacity": {"commune_min_mobile_stations": 1, "district_min_treatment_beds": 1,
                               "province_min_icu_beds_per_100k": 4, "effect": "ignore"}}, "capacity effect"),
    ({"effective_from": "12/10/2021"}, "malformed"),
])
def test_a_bad_rule_set_file_is_refused_with_its_name(rule_set_dir, change, message):
    folder, write = rule_set_dir
    write("bad", version=2, **change)
    with pytest.raises(levels.RuleSetError, match=message) as raised:
        levels.read_rule_sets(folder)
    assert "bad.json" in str(raised.value)
