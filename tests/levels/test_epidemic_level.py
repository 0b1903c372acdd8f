"""The level models (transforms/models/intermediate/unit_level.sql, marts/epidemic_level.sql) run
for real, through dbt, over tiny synthetic inputs.

Each test writes a few `intermediate.unit_daily`-shaped rows into a temporary DuckDB file,
loads rule sets from files (the shipped 4800 one, or files the test writes),
runs the two models with dbt and reads `marts.epidemic_level`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from bantin import levels, models

DAY = date(2021, 10, 20)
POPULATION = 100_000  # so community_7d is the weekly rate per 100,000

UNIT_DAILY = """
CREATE TABLE intermediate.unit_daily (
    report_date DATE, unit_type VARCHAR, unit_code INTEGER, unit_name VARCHAR, province_code INTEGER,
    district_code INTEGER, has_data BOOLEAN, population BIGINT, new_cases_7d BIGINT, community_7d BIGINT,
    new_cases_14d BIGINT, community_14d BIGINT, coverage_18plus_dose1 DOUBLE, coverage_65plus_full DOUBLE,
    coverage_50plus_full DOUBLE, mobile_medical_stations BIGINT, treatment_beds BIGINT, icu_beds BIGINT,
    communes_expected BIGINT, commune_days_reported_7d BIGINT, commune_days_reported_14d BIGINT,
    population_days_7d BIGINT, population_days_14d BIGINT, missing_units_7d VARCHAR[], missing_units_14d VARCHAR[])
"""


def unit_day(
    code: int,
    *,
    day: date = DAY,
    rate: float = 0,
    coverage: float = 0.9,
    elderly: float = 0.9,
    stations: int = 1,
    has_data: bool = True,
    population: int = POPULATION,
    all_cases: float | None = None,
    rate_14d: float | None = None,
    elderly_50: float | None = None,
    days_reported: int = 7,
    unit_type: str = "commune",
    communes: int = 1,
    missing: list[str] | None = None,
    province: int = 1,
) -> dict:
    """One unit-day: `rate` community cases per 100,000 per week, coverage shares, mobile stations.

    `days_reported` of the 7-day window (×`communes` for a pooled unit) had data; `missing` names the rest.
    """
    community = round(rate * population / 100_000)
    cases = community if all_cases is None else round(all_cases * population / 100_000)
    return dict(
        report_date=day,
        unit_type="commune",
        unit_code=code,
        unit_name=f"Xã {code}",
        province_code=province,
        district_code=1,
        has_data=has_data,
        population=population,
        new_cases_7d=cases,
        community_7d=community,
        new_cases_14d=cases if rate_14d is None else round(rate_14d * 2),
        community_14d=community if rate_14d is None else round(rate_14d * 2),
        coverage_18plus_dose1=coverage,
        coverage_65plus_full=elderly,
        coverage_50plus_full=elderly_50,
        mobile_medical_stations=stations,
        treatment_beds=None,
        icu_beds=None,
        communes_expected=communes,
        commune_days_reported_7d=days_reported * communes,
        commune_days_reported_14d=(days_reported + 7) * communes,
        population_days_7d=population * days_reported,
        population_days_14d=population * (days_reported + 7),
        missing_units_7d=missing,
        missing_units_14d=missing,
    ) | (dict(unit_type=unit_type, treatment_beds=10) if unit_type != "commune" else {})


def _warehouse(rows: list[dict], rule_sets_dir) -> tuple[duckdb.DuckDBPyConnection, Path]:
    path = Path(tempfile.mkdtemp(prefix="bantin-levels-")) / "levels.duckdb"
    con = duckdb.connect(str(path), config={"threads": 2})
    con.execute("CREATE SCHEMA intermediate; CREATE SCHEMA ref; CREATE SCHEMA marts;")
    con.execute(UNIT_DAILY)
    _insert(con, rows)
    con.execute(  # one unit list, in force on every date
        "CREATE TABLE ref.reference_version AS SELECT 'all' AS reference_version, DATE '0001-01-01' AS valid_from, "
        "CAST(NULL AS DATE) AS valid_to; "
        "CREATE TABLE ref.commune AS SELECT DISTINCT 'all' AS reference_version, unit_code AS commune_code, "
        "unit_name AS commune_name FROM intermediate.unit_daily WHERE unit_type = 'commune'; "
        "CREATE TABLE ref.district AS SELECT DISTINCT 'all' AS reference_version, unit_code AS district_code, "
        "unit_name AS district_name FROM intermediate.unit_daily WHERE unit_type = 'district'; "
        "CREATE TABLE ref.province (reference_version VARCHAR, province_code INTEGER, province_name VARCHAR)"
    )
    levels.load_rule_sets(con, rule_sets_dir)
    return con, path


def _insert(con, rows: list[dict]) -> None:
    columns = list(rows[0])
    con.executemany(
        f"INSERT INTO intermediate.unit_daily ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [[r[c] for c in columns] for r in rows],
    )


def _levels(con, path: Path, rebuild_from: date | None = None) -> dict[tuple[int, date], dict]:
    models.run_dbt(
        ["run", "--select", "unit_level", "epidemic_level"],
        database=path,
        variables={"rebuild_from": rebuild_from.isoformat() if rebuild_from else None},
    )
    result = con.execute("SELECT * FROM marts.epidemic_level").df().to_dict("records")
    return {(r["unit_code"], r["report_date"].date()): r for r in result}


def assess(rows: list[dict], rule_sets_dir=levels.RULE_SETS_DIR) -> dict[tuple[int, date], dict]:
    con, path = _warehouse(rows, rule_sets_dir)
    try:
        return _levels(con, path)
    finally:
        con.close()
        shutil.rmtree(path.parent, ignore_errors=True)


def assess_day_by_day(
    rows: list[dict], first_incremental: date, rule_sets_dir=levels.RULE_SETS_DIR
) -> dict[tuple[int, date], dict]:
    """The rows before `first_incremental` built at once, then each later date added as the daily runs do."""
    days = sorted({r["report_date"] for r in rows if r["report_date"] >= first_incremental})
    con, path = _warehouse([r for r in rows if r["report_date"] < first_incremental], rule_sets_dir)
    try:
        result = _levels(con, path)
        for day in days:
            _insert(con, [r for r in rows if r["report_date"] == day])
            result = _levels(con, path, rebuild_from=day)
        return result
    finally:
        con.close()
        shutil.rmtree(path.parent, ignore_errors=True)


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
    (0, True, 1),
    (0, False, 2),
    (19.99, True, 1),
    (19.99, False, 2),
    (20, True, 2),
    (20, False, 3),
    (49.99, True, 2),
    (49.99, False, 3),
    (50, True, 3),
    (50, False, 4),
    (149.99, True, 3),
    (149.99, False, 4),
    (150, True, 4),
    (150, False, 4),
    (900, True, 4),
    (900, False, 4),
]


def test_every_cell_of_the_matrix():
    # population 10,000,000 so fractional rates (19.99) are whole case counts
    rows = [
        unit_day(i, rate=rate, coverage=0.70 if met else 0.6999, population=10_000_000)
        for i, (rate, met, _) in enumerate(MATRIX)
    ]
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
    assert result["reason"] == (
        "Tỷ lệ 31,0 ca cộng đồng/100.000 dân/tuần (7 ngày; 20 đến < 50: cấp 2); "
        "68% người ≥18 tuổi tiêm ≥1 mũi (< 70%) → cấp 3"
    )
    assert (result["transmission_band"], result["cases_per_100k_week"]) == (2, 31.0)


def test_elderly_adjustment_raises_one_level_unless_no_case_in_window():
    result = assess(
        [
            unit_day(1, rate=30, elderly=0.79),  # band 2, coverage met: 2, raised to 3
            unit_day(2, rate=200, coverage=0.5, elderly=0.5),  # already 4: stays 4
            unit_day(3, rate=0, elderly=0.10),  # no case in the window: exempt
            unit_day(4, rate=0, all_cases=5, elderly=0.79),  # non-community cases count as cases in the window
            unit_day(5, rate=30, elderly=0.80),  # at the threshold: met
        ]
    )
    assert [result[(i, DAY)]["level"] for i in range(1, 6)] == [3, 4, 1, 2, 2]
    # unit 2 was at 4 already: nothing was raised, and the reason does not say so
    assert [result[(i, DAY)]["elderly_raised"] for i in range(1, 6)] == [True, False, False, True, False]
    assert "79% người ≥65 tuổi tiêm đủ liều (< 80%): tăng 1 cấp" in result[(1, DAY)]["reason"]
    assert "tăng 1 cấp" not in result[(2, DAY)]["reason"] and "đã ở cấp 4" in result[(2, DAY)]["reason"]
    assert "không tăng vì không có ca mắc trong 7 ngày" in result[(3, DAY)]["reason"]


def test_elderly_adjustment_can_be_switched_off(rule_set_dir):
    folder, write = rule_set_dir
    write(
        "4800-no-elderly",
        replace_4800=True,
        parameters__elderly_adjustment={"enabled": False, "exempt_if_no_case_in_window": True},
    )
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
    write(
        "4800-capacity",
        replace_4800=True,
        parameters__capacity={
            "commune_min_mobile_stations": 1,
            "district_min_treatment_beds": 1,
            "province_min_icu_beds_per_100k": 4,
            "effect": effect,
        },
    )
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
    assert got[2]["reason"] == (
        f"Không có số liệu ngày {DAY + timedelta(days=2):%d/%m/%Y}; giữ cấp 2 đánh giá ngày {DAY:%d/%m/%Y}"
    )


def test_a_unit_without_population_is_assessed_without_dividing_by_zero():
    result = assess([unit_day(1, population=0, rate=0), unit_day(2, rate=0)])
    assert result[(1, DAY)]["level"] == 1 and result[(1, DAY)]["cases_per_100k_week"] == 0


def test_the_rule_set_in_force_is_picked_by_effective_date(rule_set_dir):
    folder, write = rule_set_dir
    # a stand-in for 218/QĐ-BYT: all cases, 14-day window halved, other bands and matrix
    write(
        "218-test",
        rule_set_id="218/QĐ-BYT (test)",
        effective_from="2022-01-27",
        parameters__transmission={"numerator": "all", "window_days": 14, "band_lower_bounds": [0, 50, 150, 300]},
        parameters__matrix={"1": [1, 1], "2": [2, 3], "3": [3, 4], "4": [4, 4]},
    )
    before, after = date(2022, 1, 26), date(2022, 1, 27)
    rows = [
        unit_day(1, day=before, rate=10, all_cases=100, rate_14d=100),
        unit_day(1, day=after, rate=10, all_cases=100, rate_14d=100),
    ]
    result = assess(rows, folder)
    assert (result[(1, before)]["rule_set_id"], result[(1, before)]["level"]) == ("4800/QĐ-BYT", 1)
    # 218 stand-in: all cases over 14 days halved = 100 per week: band 2 → level 2
    assert (result[(1, after)]["rule_set_id"], result[(1, after)]["level"]) == ("218/QĐ-BYT (test)", 2)
    assert result[(1, after)]["cases_per_100k_week"] == 100
    assert "(cộng đồng)" not in result[(1, after)]["reason"]


def test_no_level_before_the_first_rule_set():
    result = assess([unit_day(1, day=date(2021, 10, 11)), unit_day(1, day=date(2021, 10, 12))])
    assert list(result) == [(1, date(2021, 10, 12))]


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {
                "parameters__transmission": {
                    "numerator": "imported",
                    "window_days": 7,
                    "band_lower_bounds": [0, 20, 50, 150],
                }
            },
            "key 'parameters.transmission.numerator': must be one of",
        ),
        ({"parameters__matrix": {"1": [1, 2]}}, "key 'parameters.matrix': must have one entry per band"),
        (
            {
                "parameters__capacity": {
                    "commune_min_mobile_stations": 1,
                    "district_min_treatment_beds": 1,
                    "province_min_icu_beds_per_100k": 4,
                    "effect": "ignore",
                }
            },
            "key 'parameters.capacity.effect'",
        ),
        ({"effective_from": "12/10/2021"}, "key 'effective_from': must be a date"),
        ({"parameters__vaccine__elderly_age": 60}, r"key 'parameters.vaccine.elderly_age': must be one of \[65, 50\]"),
        (
            {"parameters__vaccine__main_threshold": "70%"},
            "key 'parameters.vaccine.main_threshold': must be int or float",
        ),
        ({"parameters__vaccine__elderly_treshold": 0.8}, "key 'parameters.vaccine.elderly_treshold': unknown key"),
        ({"parameters__coverage_raise": "twice"}, "key 'parameters.coverage_raise': must be one of"),
        ({"provinces": [38, 999]}, "key 'provinces': must be a non-empty list of GSO province codes"),
        ({"parameters__matrix__2": [2, 5]}, "key 'parameters.matrix.2'"),
    ],
)
def test_a_bad_rule_set_file_is_refused_with_its_name(rule_set_dir, change, message):
    folder, write = rule_set_dir
    write("bad", version=2, **change)
    with pytest.raises(levels.RuleSetError, match=message) as raised:
        levels.read_rule_sets(folder)
    assert "bad.json" in str(raised.value)


# ---------------------------------------------------------------- coverage raises (4800 as published)


def test_main_and_elderly_shortfalls_raise_one_level_by_default():
    """Thanh Hóa 21/10/2021's shape: band 1, 18+ coverage under 70%, elderly under 80% → level 2, not 3."""
    result = assess(
        [
            unit_day(1, rate=4, coverage=0.62, elderly=0.40),  # both short
            unit_day(2, rate=4, coverage=0.90, elderly=0.40),  # elderly short only (Hà Nội 1/11/2021: 2)
            unit_day(3, rate=4, coverage=0.62, elderly=0.90),  # main short only
            unit_day(4, rate=30, coverage=0.62, elderly=0.40),  # band 2, both short: 3
        ]
    )
    assert [result[(i, DAY)]["level"] for i in range(1, 5)] == [2, 2, 2, 3]
    assert [result[(i, DAY)]["elderly_raised"] for i in range(1, 5)] == [False, True, False, False]
    reason = result[(1, DAY)]["reason"]
    assert reason.startswith(
        "Tỷ lệ 4,0 ca cộng đồng/100.000 dân/tuần (7 ngày; < 20: cấp 1); "
        "62% người ≥18 tuổi tiêm ≥1 mũi (< 70%); 40% người ≥65 tuổi tiêm đủ liều (< 80%): "
        "không tăng thêm"
    )
    assert reason.endswith("→ cấp 2") and "tăng 1 cấp" not in reason


def test_a_rule_set_may_make_the_raises_add_up(rule_set_dir):
    folder, write = rule_set_dir
    write("4800-additive", replace_4800=True, parameters__coverage_raise="additive")
    result = assess(
        [unit_day(1, rate=4, coverage=0.62, elderly=0.40), unit_day(2, rate=30, coverage=0.62, elderly=0.4)], folder
    )
    assert [result[(i, DAY)]["level"] for i in (1, 2)] == [3, 4]
    assert result[(1, DAY)]["elderly_raised"] and "tăng 1 cấp → cấp 3" in result[(1, DAY)]["reason"]


def test_the_elderly_group_is_a_parameter(rule_set_dir):
    """65+ well covered, 50+ not: only a rule set on the 50+ group raises, and its reason names 50+."""
    folder, write = rule_set_dir
    rows = [unit_day(1, rate=4, coverage=0.9, elderly=0.95, elderly_50=0.55)]
    on_65 = assess(rows)[(1, DAY)]
    assert (on_65["level"], on_65["elderly_age"], on_65["coverage_elderly_full"]) == (1, 65, 0.95)
    write("4800-50plus", replace_4800=True, parameters__vaccine__elderly_age=50)
    on_50 = assess(rows, folder)[(1, DAY)]
    assert (on_50["level"], on_50["elderly_age"], on_50["coverage_elderly_full"]) == (2, 50, 0.55)
    assert "55% người ≥50 tuổi tiêm đủ liều (< 80%): tăng 1 cấp → cấp 2" in on_50["reason"]
    assert "65" not in on_50["reason"]
    # no 50+ figure at all: counted as not met (missing data never lowers a level), and said so
    unreported = assess([unit_day(1, rate=4, coverage=0.9, elderly=0.95)], folder)[(1, DAY)]
    assert unreported["level"] == 2
    assert "chưa có số liệu người ≥50 tuổi tiêm đủ liều (coi như < 80%)" in unreported["reason"]


def test_numbers_in_the_reason_never_contradict_their_threshold():
    result = assess(
        [
            unit_day(1, rate=19.99, coverage=0.7999, population=10_000_000),
            unit_day(2, rate=4, coverage=0.69996, population=10_000_000),
            unit_day(3, rate=4, coverage=0.7, elderly=0.7996, population=10_000_000, all_cases=5),
        ]
    )
    assert "Tỷ lệ 19,99 ca cộng đồng" in result[(1, DAY)]["reason"]
    assert "80% người ≥18 tuổi tiêm ≥1 mũi (≥ 70%)" in result[(1, DAY)]["reason"]  # true as it stands
    assert "69,996% người ≥18 tuổi tiêm ≥1 mũi (< 70%)" in result[(2, DAY)]["reason"]
    assert "70% người ≥18 tuổi tiêm ≥1 mũi (≥ 70%)" in result[(3, DAY)]["reason"]
    assert "79,96% người ≥65 tuổi tiêm đủ liều (< 80%)" in result[(3, DAY)]["reason"]


def test_the_reason_names_the_numerator_and_window_used(rule_set_dir):
    folder, write = rule_set_dir
    write(
        "4800-all-14",
        replace_4800=True,
        parameters__transmission={"numerator": "all", "window_days": 14, "band_lower_bounds": [0, 20, 50, 150]},
    )
    reason = assess([unit_day(1, rate=0, all_cases=10, rate_14d=30)], folder)[(1, DAY)]["reason"]
    assert reason.startswith("Tỷ lệ 30,0 ca mắc mới/100.000 dân/tuần (14 ngày chia 2; 20 đến < 50: cấp 2)")


# ---------------------------------------------------------------- rule sets per province


def test_a_province_scoped_rule_set_is_picked_for_that_province_only(rule_set_dir):
    folder, write = rule_set_dir
    write(
        "thanh-hoa",
        rule_set_id="4800/QĐ-BYT (Thanh Hóa)",
        provinces=[38],
        parameters__vaccine={"main_threshold": 0.5, "elderly_threshold": 0.8, "elderly_age": 65},
    )
    rows = [unit_day(1, rate=4, coverage=0.62, province=38), unit_day(2, rate=4, coverage=0.62, province=22)]
    result = assess(rows, folder)
    assert (result[(1, DAY)]["rule_set_id"], result[(1, DAY)]["level"]) == ("4800/QĐ-BYT (Thanh Hóa)", 1)
    assert "(≥ 50%)" in result[(1, DAY)]["reason"]
    assert (result[(2, DAY)]["rule_set_id"], result[(2, DAY)]["level"]) == ("4800/QĐ-BYT", 2)
    picked = levels.in_force(levels.read_rule_sets(folder), 38, DAY)
    assert (
        picked.file_name == "thanh-hoa.json"
        and levels.in_force(levels.read_rule_sets(folder), 22, DAY).file_name == "4800-QD-BYT.json"
    )


def test_the_rule_set_folder_comes_from_the_environment(tmp_path, monkeypatch):
    from bantin.config import load_settings

    assert load_settings().rule_sets_dir == levels.RULE_SETS_DIR
    monkeypatch.setenv("BANTIN_RULE_SETS", str(tmp_path))
    assert load_settings().rule_sets_dir == tmp_path


# ---------------------------------------------------------------- completeness


def test_an_incomplete_window_never_lowers_the_level_and_says_what_is_missing():
    rows = [
        unit_day(1, day=DAY, rate=60, unit_type="district", communes=3),
        # two communes short of days: on what came in the rate falls to band 1, but the window is incomplete
        unit_day(
            1,
            day=DAY + timedelta(days=1),
            rate=0,
            unit_type="district",
            communes=3,
            days_reported=6,
            missing=["Xã A (5/7 ngày)", "Xã B (6/7 ngày)"],
        ),
        unit_day(1, day=DAY + timedelta(days=2), rate=0, unit_type="district", communes=3),
    ]
    result = assess(rows)
    got = [result[(1, DAY + timedelta(days=i))] for i in range(3)]
    assert [g["level"] for g in got] == [3, 3, 1]
    assert [g["criteria_level"] for g in got] == [3, 1, 1]
    assert [g["is_complete"] for g in got] == [True, False, True]
    assert [g["completeness_held"] for g in got] == [False, True, False]
    assert (got[1]["commune_days_reported"], got[1]["commune_days_expected"]) == (18, 21)
    assert list(got[1]["missing_units"]) == ["Xã A (5/7 ngày)", "Xã B (6/7 ngày)"]
    assert (
        "số liệu chưa đủ: 18/21 xã-ngày trong 7 ngày, thiếu Xã A (5/7 ngày), Xã B (6/7 ngày) "
        "(giữ cấp 3, không hạ cấp khi thiếu số liệu; theo số liệu có: cấp 1) → cấp 3"
    ) in got[1]["reason"]


def test_an_incomplete_window_may_still_raise_the_level():
    rows = _series(dict(rate=0), dict(rate=30, days_reported=5), dict(rate=0, days_reported=5))
    result = assess(rows)
    assert [result[(1, DAY + timedelta(days=i))]["level"] for i in range(3)] == [1, 2, 2]


def test_days_before_the_first_data_are_not_zero_cases():
    """One day of data, 10 cases per 100,000 on it: a weekly rate of 70, not 10 (six days were never reported)."""
    first = assess([unit_day(1, rate=10, days_reported=1)])[(1, DAY)]
    assert first["cases_per_100k_week"] == 70 and first["level"] == 3
    assert not first["is_complete"] and "số liệu chưa đủ: 1/7 xã-ngày trong 7 ngày" in first["reason"]


def test_a_missing_key_is_named(rule_set_dir):
    folder, _ = rule_set_dir
    spec = json.loads((folder / "4800-QD-BYT.json").read_text(encoding="utf-8"))
    del spec["parameters"]["vaccine"]["elderly_threshold"]
    (folder / "dropped-in.json").write_text(json.dumps({**spec, "version": 3}), encoding="utf-8")
    with pytest.raises(
        levels.RuleSetError, match=r"rule set dropped-in.json: key 'parameters.vaccine.elderly_threshold': missing"
    ):
        levels.read_rule_sets(folder)
    (folder / "dropped-in.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(levels.RuleSetError, match="rule set dropped-in.json: not a readable JSON file"):
        levels.read_rule_sets(folder)


def test_a_malformed_rule_set_stops_the_build_before_anything_is_written(rule_set_dir, tmp_path):
    from bantin import store

    folder, write = rule_set_dir
    write("bad", version=2, parameters__vaccine__elderly_age=60)
    con = store.scratch()
    store.migrate(con)
    with pytest.raises(levels.RuleSetError, match="key 'parameters.vaccine.elderly_age'"):
        models.build(con, province_codes=[22], calendar_end=DAY, rule_sets_dir=folder)
    assert con.execute("SELECT count(*) FROM ops.build_state").fetchone()[0] == 0


def test_levels_built_day_by_day_equal_one_full_build():
    """Incremental builds start from each unit's kept state (capacity and completeness holds, values
    carried over days without data, the level 7 days before): the same levels as one build of all days."""
    capacity = [
        dict(rate=60),
        dict(rate=0, stations=0),
        dict(rate=25, stations=0),
        dict(rate=0, stations=0),
        dict(rate=160, stations=0),
        dict(rate=0, stations=0),
        dict(rate=0, stations=1),
        dict(rate=30),
        dict(rate=0, stations=0),
        dict(rate=0, stations=0),
        dict(rate=0),
        dict(rate=60, stations=0),
    ]
    stale = [
        dict(rate=30),
        dict(rate=0, has_data=False),
        dict(rate=0, has_data=False),
        dict(rate=0),
        dict(rate=55, coverage=0.5),
        *[dict(rate=0, has_data=False)] * 6,
        dict(rate=0),
    ]
    incomplete = [
        dict(rate=60),
        dict(rate=0, days_reported=6, missing=["Xã A (6/7 ngày)"]),
        dict(rate=0, days_reported=5, missing=["Xã A (5/7 ngày)"]),
        dict(rate=0),
        dict(rate=200, days_reported=4),
        *[dict(rate=10, days_reported=6)] * 5,
        dict(rate=0),
        dict(rate=0),
    ]
    rows = (
        [unit_day(1, day=DAY + timedelta(days=i), **kw) for i, kw in enumerate(capacity)]
        + [unit_day(2, day=DAY + timedelta(days=i), **kw) for i, kw in enumerate(stale)]
        + [
            unit_day(3, day=DAY + timedelta(days=i), unit_type="district", communes=3, **kw)
            for i, kw in enumerate(incomplete)
        ]
    )
    full = assess(rows)
    assert {r["level"] for r in full.values()} >= {1, 2, 3, 4}
    assert any(r["capacity_held"] for r in full.values()) and any(r["completeness_held"] for r in full.values())
    assert any(r["is_stale"] for r in full.values()) and any(r["level_7_days_ago"] for r in full.values())
    daily = assess_day_by_day(rows, DAY + timedelta(days=2))

    def comparable(result):
        return {key: {k: list(v) if k == "missing_units" else v for k, v in row.items()} for key, row in result.items()}

    assert repr(sorted(comparable(daily).items())) == repr(sorted(comparable(full).items()))
