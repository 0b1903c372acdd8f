"""The demo-data generator: real province totals, contract-valid rows, reproducible files."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bantin import demo_data, intake, reference
from bantin.submission_format import COUNT_COLUMNS, CUMULATIVE_COLUMNS

from plain_reader import read_back

QN, TH = 22, 38
QN_RANGE = (date(2021, 10, 1), date(2021, 10, 19))
TH_RANGE = (date(2021, 10, 10), date(2021, 10, 21))
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def qn_rows():
    return demo_data.generate_rows(QN, *QN_RANGE)


@pytest.fixture(scope="module")
def th_rows():
    return demo_data.generate_rows(TH, *TH_RANGE)


@pytest.fixture(scope="module")
def hcm_rows():
    return demo_data.generate_rows(79, date(2021, 10, 1), date(2021, 10, 2))  # ~100 deaths a day


@pytest.fixture(scope="module")
def qn_files(tmp_path_factory):
    landing = tmp_path_factory.mktemp("landing")
    return landing, demo_data.generate(QN, *QN_RANGE, landing)


@pytest.fixture(scope="module")
def qn_read(qn_files):
    """Each QN file read back once: (path, rows, info)."""
    return [(path, *read_back(path)) for path in qn_files[1]]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _province_totals(rows_by_key, column="new_cases") -> dict[date, int]:
    totals: Counter = Counter()
    for (day, _district), rows in rows_by_key.items():
        totals[day] += sum(r[column] for r in rows)
    return dict(totals)


def _by_commune(rows_by_key) -> dict[int, list[dict]]:
    """Each commune's rows in date order."""
    out = defaultdict(list)
    for key in sorted(rows_by_key):
        for row in rows_by_key[key]:
            out[row["commune_code"]].append(row)
    return out


def contract_violations(rows_by_key, province_code: int) -> list[str]:
    """Every rule of docs/spec/submission-format.md a row set can break, as messages."""
    problems = []
    for (day, district_code), rows in rows_by_key.items():
        communes = {c.code: c for c in reference.communes(province_code=province_code, on=day)}  # the list in force
        where = f"{day} district {district_code}"
        codes = [r["commune_code"] for r in rows]
        if len(set(codes)) != len(codes):
            problems.append(f"{where}: duplicate commune codes")
        expected = {c.code for c in reference.communes(district_code=district_code, on=day)}
        if set(codes) != expected:
            problems.append(f"{where}: communes {sorted(set(codes) ^ expected)} missing or foreign")
        for r in rows:
            at = f"{where} commune {r['commune_code']}"
            ref = communes[r["commune_code"]]
            if r["report_date"] != day or r["district_code"] != district_code:
                problems.append(f"{at}: wrong date or district")
            if r["commune_name"] != ref.name:
                problems.append(f"{at}: name {r['commune_name']!r} != {ref.name!r}")
            for name in COUNT_COLUMNS:
                if not isinstance(r[name], int) or isinstance(r[name], bool) or r[name] < 0:
                    problems.append(f"{at}: {name}={r[name]!r} not a count")
            checks = {
                "community <= new": r["new_cases_community"] <= r["new_cases"],
                "positive <= performed": r["tests_positive"] <= r["tests_performed"],
                "severe <= in_treatment": r["severe"] <= r["in_treatment"],
                "dose1 <= pop18": r["vaccinated_18plus_dose1"] <= ref.population_18plus,
                "full <= dose1": r["vaccinated_18plus_full"] <= r["vaccinated_18plus_dose1"],
                "65 full <= pop65": r["vaccinated_65plus_full"] <= ref.population_65plus,
                "1-3 mobile stations": 1 <= r["mobile_medical_stations"] <= 3,
            }
            problems += [f"{at}: {rule}" for rule, ok in checks.items() if not ok]
    for code, series in _by_commune(rows_by_key).items():
        for before, after in pairwise(series):
            for name in CUMULATIVE_COLUMNS:
                if after[name] < before[name]:
                    problems.append(f"commune {code} {after['report_date']}: {name} decreased")
    return problems


# ---------------------------------------------------------------- real totals


@pytest.mark.parametrize("province_code, start, end", [(QN, *QN_RANGE), (TH, *TH_RANGE)])
def test_province_daily_totals_are_the_real_series(province_code, start, end):
    totals = _province_totals(demo_data.generate_rows(province_code, start, end))
    real = reference.real_daily_cases(province_code)
    assert totals == {day: real.get(day, 0) for day in _days(start, end)}


def test_known_published_days(qn_rows, th_rows):
    qn, th = _province_totals(qn_rows), _province_totals(th_rows)
    assert qn[date(2021, 10, 2)] == 2 and qn[date(2021, 10, 19)] == 0
    assert th[date(2021, 10, 14)] == 6 and th[date(2021, 10, 21)] == 21


def test_a_day_missing_from_the_series_counts_zero():
    missing = date(2020, 4, 11)  # the NCSC file has no column for it
    assert missing not in reference.real_daily_cases(QN)
    assert _province_totals(demo_data.generate_rows(QN, missing, missing)) == {missing: 0}


def test_deaths_are_the_real_series(hcm_rows):
    deaths, cases = _province_totals(hcm_rows, "deaths"), _province_totals(hcm_rows)
    for day in deaths:
        assert deaths[day] == reference.real_daily_deaths(79)[day] > 50
        assert cases[day] == reference.real_daily_cases(79)[day]


def test_a_death_with_no_one_in_treatment_goes_to_the_biggest_district():
    """The fallback the real series never triggers: a death the demo never admitted."""
    rng = random.Random(1)
    communes = [demo_data._Commune(c, rng) for c in reference.communes(province_code=QN, on=QN_RANGE[1])]
    placed = demo_data._place_deaths(communes, 2, rng)
    biggest = max(
        reference.districts(QN, on=QN_RANGE[1]),
        key=lambda d: sum(c.ref.population for c in communes if c.ref.district_code == d.code),
    )
    in_biggest = [i for i, c in enumerate(communes) if c.ref.district_code == biggest.code]
    assert placed[max(in_biggest, key=lambda i: communes[i].ref.population)] == 2 and sum(placed) == 2
    assert all(c.treatment.level == 0 for c in communes)


def test_national_day_matches_every_province():
    day = date(2021, 10, 19)
    rows, files = 0, set()
    for province in reference.provinces(on=day):
        generated = demo_data.generate_rows(province.code, day, day)
        rows += sum(len(r) for r in generated.values())
        files |= set(generated)
        assert _province_totals(generated) == {day: reference.real_daily_cases(province.code).get(day, 0)}
    # the 2021 list: 10,603 communes, and the four island districts send their own row
    assert rows == len(reference.communes(on=day)) == 10_603 + 4
    # every district has a file but Hoàng Sa (no resident population); each island's file is its one row
    assert {d for _, d in files} == {d.code for d in reference.districts(on=day)} - {498}
    for island in (318, 471, 536, 755):
        (row,) = demo_data.generate_rows(reference.district(island, on=day).province_code, day, day)[(day, island)]
        assert row["commune_code"] == row["district_code"] == island


# ---------------------------------------------------------------- the unit list in force


def test_quang_ninh_october_2021_is_on_the_2021_list(qn_rows):
    """The seeds' count: 13 districts and 177 communes, Phường Yết Kiêu (merged by 2025) among them."""
    day = QN_RANGE[1]
    files = {key: rows for key, rows in qn_rows.items() if key[0] == day}
    assert len(files) == 13 and sum(len(rows) for rows in files.values()) == 177
    (yet_kieu,) = [r for rows in files.values() for r in rows if r["commune_code"] == 6682]
    assert (yet_kieu["commune_name"], yet_kieu["district_code"]) == ("Phường Yết Kiêu", 193)


def test_a_date_on_the_current_list_gets_its_communes():
    day = date(2023, 3, 1)
    rows = demo_data.generate_rows(QN, day, day)
    assert sum(len(r) for r in rows.values()) == 171 and all(
        r["commune_code"] != 6682 for v in rows.values() for r in v
    )


def test_a_period_across_a_change_of_list_is_refused():
    with pytest.raises(ValueError, match="spans a change of unit list"):
        demo_data.generate_rows(QN, date(2022, 12, 30), date(2023, 1, 2))


# ---------------------------------------------------------------- contract and plausibility


@pytest.mark.parametrize("fixture, province_code", [("qn_rows", QN), ("th_rows", TH), ("hcm_rows", 79)])
def test_every_row_keeps_every_contract_rule(request, fixture, province_code):
    assert contract_violations(request.getfixturevalue(fixture), province_code) == []


@pytest.mark.parametrize("fixture", ["qn_rows", "th_rows", "hcm_rows"])
def test_in_treatment_is_a_consistent_stock(request, fixture):
    """Yesterday's patients + new cases - recovered - deaths = today's patients, commune by commune.

    With deaths (HCMC), this also shows each death was placed on a commune
    that had the patient in treatment.
    """
    for code, series in _by_commune(request.getfixturevalue(fixture)).items():
        for before, after in pairwise(series):
            flow = before["in_treatment"] + after["new_cases"] - after["recovered"] - after["deaths"]
            assert after["in_treatment"] == flow, (code, after["report_date"])


def test_cases_before_the_range_are_already_in_treatment(qn_rows):
    # 2 cases on 27/9 and 2 on 28/9 (real series) are still in treatment on 1/10.
    first_day = _province_totals(qn_rows, "in_treatment")[QN_RANGE[0]]
    assert first_day == 4


def test_quang_ninh_has_no_community_case(qn_rows):
    assert sum(_province_totals(qn_rows, "new_cases_community").values()) == 0


def test_quang_ninh_coverage_above_thresholds_in_every_commune(qn_rows):
    communes = {c.code: c for c in reference.communes(province_code=QN, on=QN_RANGE[0])}
    for rows in qn_rows.values():
        for r in rows:
            ref = communes[r["commune_code"]]
            assert r["vaccinated_18plus_dose1"] >= 0.70 * ref.population_18plus
            assert r["vaccinated_65plus_full"] >= 0.80 * ref.population_65plus


def test_thanh_hoa_first_dose_below_seventy_percent(th_rows):
    day = TH_RANGE[1]
    dose1 = sum(r["vaccinated_18plus_dose1"] for (d, _), rows in th_rows.items() if d == day for r in rows)
    share = dose1 / sum(c.population_18plus for c in reference.communes(province_code=TH, on=day))
    assert 0.58 <= share < 0.70


def test_assumptions_are_data():
    rows = demo_data.load_assumptions()
    qn = demo_data.assumptions_for(QN, date(2021, 10, 19))
    assert qn.dose1_18plus_share >= 0.95 and qn.full_65plus_share >= 0.88 and qn.community_share == 0.0
    assert demo_data.assumptions_for(QN, date(2022, 1, 1)).community_share > 0  # the winter wave (make demo-busy)
    assert demo_data.assumptions_for(TH, date(2021, 10, 19)).dose1_18plus_share < 0.70
    default = demo_data.assumptions_for(1, date(2021, 10, 19))
    assert default.province_code is None and default.dose1_18plus_share == 0.75
    assert all(a.note for a in rows)


def test_same_seed_same_figures_other_seed_other_figures():
    day = (date(2021, 10, 10), date(2021, 10, 12))
    assert demo_data.generate_rows(TH, *day) == demo_data.generate_rows(TH, *day)
    assert demo_data.generate_rows(TH, *day, seed=7) != demo_data.generate_rows(TH, *day)


# ---------------------------------------------------------------- files


def _digests(landing: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(landing)): (intake.sha256_of(p), p.stat().st_mtime_ns)
        for p in sorted(landing.rglob("*"))
        if p.is_file()
    }


def test_one_file_per_district_per_day_in_its_folder(qn_files, qn_read):
    landing, paths = qn_files
    districts = {d.code for d in reference.districts(QN, on=QN_RANGE[0])}
    assert {int(p.name) for p in landing.iterdir()} == districts
    assert len(paths) == len(set(paths)) == len(districts) * len(_days(*QN_RANGE))
    seen = Counter()
    for path, rows, _ in qn_read:
        assert {r["district_code"] for r in rows} == {int(path.parent.name)}
        seen[(rows[0]["report_date"], int(path.parent.name))] += 1
    assert set(seen.values()) == {1}


def test_files_hold_exactly_the_generated_rows(qn_read, qn_rows):
    for path, rows, info in qn_read:
        assert rows == qn_rows[(rows[0]["report_date"], rows[0]["district_code"])], path
        if info["format"] == "xlsx" and info["totals"] is not None:
            assert info["totals"] == {n: sum(r[n] for r in rows) for n in COUNT_COLUMNS}


def test_files_are_valid_for_the_pipeline(qn_files):
    """The pipeline's own reader finds no error in any demo file."""
    intake = pytest.importorskip("bantin.intake")
    _, paths = qn_files
    for path in paths:
        parsed = intake.read_submission(path, int(path.parent.name), max_bytes=10 * 1024 * 1024)
        errors = [f for f in parsed.findings if f.severity == "error"]
        assert errors == [], (path, errors)


def test_receipt_times_are_on_the_report_date_before_the_cutoff(qn_read):
    for path, rows, _ in qn_read:
        received = datetime.fromtimestamp(path.stat().st_mtime, tz=ZONE)
        assert received.date() == rows[0]["report_date"], path
        assert time(14, 0) <= received.time() <= time(16, 55), path


def test_a_realistic_mix_of_variants(qn_read):
    infos = [info for _, _, info in qn_read]
    xlsx = [i for i in infos if i["format"] == "xlsx"]
    csvs = [i for i in infos if i["format"] == "csv"]
    assert 0.35 <= len(xlsx) / len(infos) <= 0.65
    assert any(i["totals"] and i["merged"] for i in xlsx)
    assert any(i["numbers_as_text"] for i in xlsx)
    assert any(i["header_row"] == 1 for i in xlsx)
    assert {(i["encoding"], i["separator"]) for i in csvs} == {
        ("utf-8", ","),
        ("utf-8-sig", ";"),
        ("utf-16", "\t"),
        ("cp1258", ","),
    }
    assert any(i["headers"] == "machine" for i in csvs) and any(i["headers"] == "vietnamese" for i in csvs)
    assert any(i["thousands"] for i in csvs)
    assert any(r["notes"] for _, rows, _ in qn_read for r in rows)


def test_same_inputs_same_bytes_in_another_process(tmp_path):
    """Byte-identical files and mtimes from a fresh interpreter with another hash seed and clock zone."""
    start, end = date(2021, 10, 1), date(2021, 10, 3)
    here = tmp_path / "here"
    demo_data.generate(QN, start, end, here)
    there = tmp_path / "there"
    script = (
        f"from datetime import date; from pathlib import Path; from bantin import demo_data; "
        f"demo_data.generate({QN}, date(2021, 10, 1), date(2021, 10, 3), Path({str(there)!r}))"
    )
    env = os.environ | {"PYTHONHASHSEED": "12345", "TZ": "America/New_York"}
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO, env=env)
    assert _digests(here) == _digests(there)
    assert len(_digests(here)) == 3 * len(reference.districts(QN, on=QN_RANGE[0]))


def test_the_busy_evening_has_a_missing_a_late_and_a_rejected_then_corrected_district(tmp_path):
    from bantin import intake

    day = date(2022, 1, 21)
    landing, later = tmp_path / "landing", tmp_path / "evening"
    demo_data.generate(QN, day - timedelta(days=1), day, landing)
    evening = demo_data.busy_evening(QN, day, landing, later)
    names = {d.code: d.name for d in reference.districts(QN, on=QN_RANGE[0])}
    code = {name: c for c, name in names.items()}

    def received(path):
        return datetime.fromtimestamp(path.stat().st_mtime, ZONE)

    def files_of(folder, district):
        return sorted((folder / str(district)).iterdir()) if (folder / str(district)).exists() else []

    missing = code[evening["missing"]]
    assert [received(p).date() for p in files_of(landing, missing)] == [day - timedelta(days=1)]
    assert files_of(later, missing) == []
    [late] = files_of(later, code[evening["late"]])
    assert received(late) == datetime(2022, 1, 21, 19, 10, tzinfo=ZONE)
    assert [received(p).date() for p in files_of(landing, code[evening["late"]])] == [day - timedelta(days=1)]
    rejected = code[evening["rejected_then_corrected"]]
    [bad] = [p for p in files_of(landing, rejected) if received(p).date() == day]
    assert received(bad).time() == time(16, 20)
    parsed = intake.read_submission(bad, rejected, max_bytes=10**8)
    assert min(r["new_cases"] for r in parsed.rows) == -3  # what validation rejects (count.non_negative)
    [corrected] = files_of(later, rejected)
    assert received(corrected).time() == time(19, 25) and "(sua lai)" in corrected.name
    fixed = intake.read_submission(corrected, rejected, max_bytes=10**8)
    assert len(fixed.rows) == len(parsed.rows) and min(r["new_cases"] for r in fixed.rows) >= 0
