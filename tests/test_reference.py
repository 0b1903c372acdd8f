"""Reference data: unit counts, census figures, cross-level sums, real series, reproducibility."""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from collections import defaultdict
from datetime import date

import pytest

from bantin import reference as ref

POPULATION_COLUMNS = ("population", "population_18plus", "population_65plus", "population_50plus")
QUANG_NINH, THANH_HOA = 22, 38


def test_unit_counts():
    assert len(ref.provinces(on=MAR_2025)) == 63
    assert len(ref.districts(on=MAR_2025)) == 696
    # the package's 10,051 communes, plus four island districts that are their own reporting unit
    assert len(ref.communes(on=MAR_2025)) == 10_051 + 4
    assert len([c for c in ref.communes(on=MAR_2025) if c.commune_type != "huyen_dao"]) == 10_051


def test_codes_are_unique_and_sorted():
    for units in (ref.provinces(on=MAR_2025), ref.districts(on=MAR_2025), ref.communes(on=MAR_2025)):
        codes = [u.code for u in units]
        assert codes == sorted(set(codes))


def test_quang_ninh_units():
    assert ref.province(QUANG_NINH, on=MAR_2025).name == "Quảng Ninh"
    assert ref.province(QUANG_NINH, on=MAR_2025).name_full == "Tỉnh Quảng Ninh"
    assert len(ref.districts(QUANG_NINH, on=MAR_2025)) == 13
    assert len(ref.communes(province_code=QUANG_NINH, on=MAR_2025)) == 171
    assert (
        sum(len(ref.communes(district_code=d.code, on=MAR_2025)) for d in ref.districts(QUANG_NINH, on=MAR_2025)) == 171
    )


def test_province_census_figures():
    qn, th = ref.province(QUANG_NINH, on=MAR_2025), ref.province(THANH_HOA, on=MAR_2025)
    assert (qn.population, qn.population_18plus) == (1_320_324, 935_854)
    assert (th.population, th.population_18plus) == (3_640_128, 2_605_729)
    # 65+ is the national share, rounded half up.
    assert qn.population_65plus == round(1_320_324 * 0.077)
    # 50+ (for rule sets using that elderly group) likewise, at 23%.
    assert qn.population_50plus == round(1_320_324 * 0.23)


@pytest.mark.parametrize(
    "name, population",
    [
        ("Thành phố Cẩm Phả", 190_232),
        ("Thành phố Uông Bí", 120_982),
        ("Thành phố Móng Cái", 108_553),
        ("Huyện Cô Tô", 6_285),
    ],
)
def test_census_districts_are_exact(name, population):
    (district,) = [d for d in ref.districts(QUANG_NINH, on=MAR_2025) if d.name == name]
    assert district.population == population
    assert district.source == "census2019"


@pytest.mark.parametrize(
    "code, population, source",
    [
        (755, 8_827, "census2019"),  # Côn Đảo
        (536, 19_307, "estimate(statistical yearbook 2016)"),  # Lý Sơn
        (318, 902, "estimate(published island figure)"),  # Bạch Long Vĩ
        (471, 500, "estimate(published island figure)"),  # Cồn Cỏ
    ],
)
def test_island_district_is_its_own_reporting_unit(code, population, source):
    district = ref.district(code, on=MAR_2025)
    (unit,) = ref.communes(district_code=code, on=MAR_2025)
    assert (unit.code, unit.name, unit.commune_type) == (code, district.name, "huyen_dao")
    assert (district.population, district.source, unit.source) == (population, source, source)
    for column in POPULATION_COLUMNS:
        assert getattr(unit, column) == getattr(district, column) > 0
    # the age groups follow the province's ratios, as for every other district
    province = ref.province(district.province_code, on=MAR_2025)
    assert abs(district.population_18plus / population - province.population_18plus / province.population) < 0.001


def test_hoang_sa_has_no_one_to_report():
    hoang_sa = ref.district(498, on=MAR_2025)
    assert hoang_sa.population == 0 and ref.communes(district_code=498, on=MAR_2025) == ()
    assert hoang_sa.source == "none(no communes, no resident population)"


def test_types_come_from_name_prefixes():
    assert {d.district_type for d in ref.districts(on=MAR_2025)} == {"quan", "thanh_pho", "thi_xa", "huyen"}
    assert {c.commune_type for c in ref.communes(on=MAR_2025)} == {"phuong", "thi_tran", "xa", "huyen_dao"}
    assert ref.district(193, on=MAR_2025).name == "Thành phố Hạ Long"
    assert ref.district(193, on=MAR_2025).district_type == "thanh_pho"
    hk = [c for c in ref.communes(district_code=193, on=MAR_2025) if c.name == "Phường Hà Khánh"]
    assert len(hk) == 1 and hk[0].commune_type == "phuong"


@pytest.mark.parametrize("column", POPULATION_COLUMNS)
def test_communes_sum_to_districts_sum_to_provinces(column):
    by_district, by_province = defaultdict(int), defaultdict(int)
    for c in ref.communes(on=MAR_2025):
        by_district[c.district_code] += getattr(c, column)
        assert ref.district(c.district_code, on=MAR_2025).province_code == c.province_code
    for d in ref.districts(on=MAR_2025):
        # An island district without communes is its own unit (same code, same figures); Hoàng Sa has 0.
        assert by_district[d.code] == getattr(d, column), (d.code, d.name)
        by_province[d.province_code] += getattr(d, column)
    for p in ref.provinces(on=MAR_2025):
        assert by_province[p.code] == getattr(p, column), (p.code, p.name)


def test_age_groups_are_nested_everywhere():
    for unit in (*ref.provinces(on=MAR_2025), *ref.districts(on=MAR_2025), *ref.communes(on=MAR_2025)):
        assert 0 <= unit.population_65plus <= unit.population_50plus <= unit.population_18plus <= unit.population, unit
    assert all(c.population >= 1 for c in ref.communes(on=MAR_2025))


def test_portal_ids_are_complete_and_unique():
    ids = [p.ncsc_portal_id for p in ref.provinces(on=MAR_2025)]
    assert len(set(ids)) == 63
    assert set(ids) == set(range(1, 65)) - {20}
    assert ref.province(93, on=MAR_2025).ncsc_portal_id == 64  # Hậu Giang, by elimination
    assert ref.province(QUANG_NINH, on=MAR_2025).ncsc_portal_id == 17
    assert ref.province(THANH_HOA, on=MAR_2025).ncsc_portal_id == 28


def test_real_daily_cases_spot_checks():
    qn = ref.real_daily_cases(QUANG_NINH)
    assert qn[date(2021, 10, 2)] == 2
    assert qn[date(2021, 10, 19)] == 0
    th = ref.real_daily_cases(THANH_HOA)  # published in the Ministry's and the province's bulletins
    assert th[date(2021, 10, 14)] == 6
    assert th[date(2021, 10, 21)] == 21


def test_real_series_shape():
    cases = ref.real_daily_cases(QUANG_NINH)
    deaths = ref.real_daily_deaths(QUANG_NINH)
    assert min(cases) == date(2020, 3, 18) and max(cases) == date(2022, 1, 22)
    assert all(isinstance(v, int) and v >= 0 for v in (*cases.values(), *deaths.values()))
    # Continuous from 1/1/2021 (empty cells aside, which are omitted).
    all_dates = set(ref._wide_series("ncsc_province_daily_cases.csv")[0])
    assert all(
        date.fromordinal(n) in all_dates for n in range(date(2021, 1, 1).toordinal(), date(2022, 1, 23).toordinal())
    )
    # Callers get their own copy.
    cases.clear()
    assert ref.real_daily_cases(QUANG_NINH)


def test_treatment_capacity_is_complete_and_meets_criterion_3():
    capacity = ref.treatment_capacity(on=MAR_2025)
    assert len(capacity) == 696 + 63
    for d in ref.districts(on=MAR_2025):
        beds, icu = capacity[("district", d.code)]
        assert beds > 0 and icu > 0
    for p in ref.provinces(on=MAR_2025):
        beds, icu = capacity[("province", p.code)]
        assert icu * 100_000 >= 4 * p.population
        district_beds = sum(capacity[("district", d.code)][0] for d in ref.districts(p.code, on=MAR_2025))
        assert beds == district_beds + round(p.population * 40 / 100_000)


def test_unknown_codes_raise_clear_key_errors():
    with pytest.raises(KeyError, match="unknown province code 99"):
        ref.province(99)
    with pytest.raises(KeyError, match="unknown district code"):
        ref.district(0)
    with pytest.raises(KeyError, match="unknown commune code"):
        ref.commune(-1)


def test_loader_does_not_import_pandas():
    code = "import sys, bantin.reference as r; r.communes(); r.real_daily_cases(22); print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_build_script_reproduces_committed_csvs(tmp_path):
    script = ref.REFERENCE_DIR / "build_reference.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True)
    tables = ["provinces.csv", "districts.csv", "communes.csv", "treatment_capacity.csv"]
    names = [*tables, *(f"by_version/{n}" for n in [*tables, "versions.csv", "commune_succession.csv"])]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.csv")) == sorted(names)
    for name in names:
        assert (tmp_path / name).read_bytes() == (ref.REFERENCE_DIR / name).read_bytes(), name


@functools.cache
def _build_module():
    """The build script, imported as a module (reference/ is not a package)."""
    spec = importlib.util.spec_from_file_location("build_reference", ref.REFERENCE_DIR / "build_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_province_names_normalise_across_sources():
    build = _build_module()
    n = build.normalise_name
    assert n("Tỉnh Hoà Bình") == n("Hòa Bình")
    assert n("Thành phố Hồ Chí Minh") == n("TP Hồ Chí Minh") == n("Hồ Chí Minh")
    assert n("Tỉnh Bà Rịa - Vũng Tàu") == n("Bà Rịa–Vũng Tàu")
    assert n("Thành phố Huế") == n("Thừa Thiên Huế")  # the one alias
    assert n("Tỉnh Đắk Nông") != n("Tỉnh Đắk Lắk")


def test_portal_mapping_fails_loudly_when_a_name_does_not_match():
    build = _build_module()
    provinces = [{"code": code, "name": name} for code, name in [(1, "Thành phố Hà Nội"), (2, "Tỉnh Hà Giang")]]
    ids = set(build.NCSC_PORTAL_NAMES)
    with pytest.raises(build.BuildError, match="matched no province"):
        build.map_portal_ids(provinces, ids)
    provinces.append({"code": 99, "name": "Tỉnh Không Có"})
    with pytest.raises(build.BuildError, match="no portal id for province 99"):
        build.map_portal_ids(provinces, ids)
    with pytest.raises(build.BuildError, match="differ"):
        build.map_portal_ids(provinces, ids - {64})


def test_largest_remainder_sums_exactly():
    from fractions import Fraction

    build = _build_module()
    weights = [Fraction(16, 10), Fraction(12, 10), Fraction(1), Fraction(1)]
    for total in (0, 1, 7, 1_320_324):
        parts = build.largest_remainder(total, weights)
        assert sum(parts) == total
        assert all(abs(p - total * w / sum(weights)) < 1 for p, w in zip(parts, weights, strict=True))
    assert build.largest_remainder(0, []) == []


# ---------------------------------------------------------------- versions: the list in force on the report date

OCT_2021, MAR_2025, AUG_2025 = date(2021, 10, 19), date(2025, 3, 1), date(2025, 8, 1)
YET_KIEU = 6682  # Phường Yết Kiêu (Hạ Long): on the 2021 list, merged before the 2025-01-04 list


def test_versions_follow_each_other():
    first, districts_last, two_tier = ref.versions()
    assert (first.name, first.valid_from, first.valid_to, first.package_version) == (
        "2021-02-03",
        date(2020, 1, 1),
        date(2022, 12, 31),
        "0.4.0",
    )
    assert (districts_last.name, districts_last.valid_from, districts_last.valid_to) == (
        "2025-01-04",
        date(2023, 1, 1),
        date(2025, 6, 30),
    )
    assert (two_tier.name, two_tier.valid_from, two_tier.valid_to, two_tier.package_version) == (
        "2025-07-01",
        date(2025, 7, 1),
        None,
        "2025.10.1",
    )
    assert ref.version_on(date(2022, 12, 31)) == first and ref.version_on(date(2023, 1, 1)) == districts_last
    assert ref.version_on(date(2025, 6, 30)) == districts_last and ref.version_on(date(2025, 7, 1)) == two_tier
    assert ref.version_on(None) == two_tier
    with pytest.raises(ref.NoReferenceVersion, match="2020-01-01"):
        ref.version_on(date(2019, 12, 31))


def test_the_2021_list_has_the_published_unit_counts():
    """The counts of the 2021 bulletins: Quảng Ninh 13/177, Hà Nội 30/579, Thanh Hóa 27/559, 10,603 nationally."""
    on = OCT_2021
    assert len(ref.provinces(on=on)) == 63
    assert len(ref.districts(on=on)) == 705
    assert len([c for c in ref.communes(on=on) if c.commune_type != "huyen_dao"]) == 10_603
    for province, n_districts, n_communes in ((QUANG_NINH, 13, 177), (1, 30, 579), (THANH_HOA, 27, 559)):
        assert len(ref.districts(province, on=on)) == n_districts
        assert len(ref.communes(province_code=province, on=on)) == n_communes
    assert ref.province(46, on=on).name == "Thừa Thiên Huế" and ref.province(46, on=MAR_2025).name == "Huế"


def test_a_code_merged_later_is_known_in_2021_and_unknown_in_2025():
    assert ref.commune(YET_KIEU, on=OCT_2021).name == "Phường Yết Kiêu"
    with pytest.raises(KeyError, match="unknown commune code 6682 on the 2025-01-04 list.*2021-02-03"):
        ref.commune(YET_KIEU, on=MAR_2025)
    # and the reverse: a unit only on the current list (a 0.6.0 quirk, see reference/README.md)
    assert ref.commune(7732, on=MAR_2025).name == "Xã Nham Sơn"
    with pytest.raises(KeyError, match="on the 2021-02-03 list"):
        ref.commune(7732, on=OCT_2021)


@pytest.mark.parametrize("on", [OCT_2021, MAR_2025, AUG_2025])
def test_every_version_adds_up_to_the_same_census(on):
    for p in ref.provinces(on=on):
        for column in POPULATION_COLUMNS:
            assert sum(getattr(d, column) for d in ref.districts(p.code, on=on)) == getattr(p, column)
    for d in ref.districts(QUANG_NINH, on=on):
        for column in POPULATION_COLUMNS:
            assert sum(getattr(c, column) for c in ref.communes(district_code=d.code, on=on)) == getattr(d, column)
    assert ref.province(QUANG_NINH, on=on).population == 1_320_324


def test_census_districts_keep_their_figure_on_the_2021_list():
    cam_pha = [d for d in ref.districts(QUANG_NINH, on=OCT_2021) if d.name == "Thành phố Cẩm Phả"][0]
    assert (cam_pha.population, cam_pha.source) == (190_232, "census2019")  # Cẩm Hải merged within Cẩm Phả


def test_the_top_level_tables_are_the_installed_packages_list():
    """The top-level CSVs are the list of the installed vietnam-provinces (0.6.0), the last with districts."""
    import csv

    for name in ("provinces.csv", "districts.csv", "communes.csv", "treatment_capacity.csv"):
        with (ref.REFERENCE_DIR / name).open(encoding="utf-8") as f:
            top = list(csv.reader(f))[1:]
        with (ref.REFERENCE_DIR / "by_version" / name).open(encoding="utf-8") as f:
            newest = [row[3:] for row in csv.reader(f) if row[0] == "2025-01-04"]
        assert top == newest, name


def test_succession_pieces_add_up_to_both_lists():
    pieces = ref.succession("2021-02-03", "2025-01-04")
    old = {c.code: c.population for c in ref.communes(on=OCT_2021)}
    new = {c.code: c.population for c in ref.communes(on=MAR_2025)}
    from_sum, to_sum = defaultdict(int), defaultdict(int)
    for piece in pieces:
        from_sum[piece.from_code] += piece.population
        to_sum[piece.to_code] += piece.population
    assert dict(from_sum) == old and dict(to_sum) == new
    cam_hai = [p for p in pieces if p.from_code == 6802]
    assert [(p.to_code, p.method) for p in cam_hai] == [(6799, "name_syllables")]  # Cẩm Hải + Cộng Hòa → Hải Hòa


def test_restating_keeps_province_totals_and_follows_merges():
    values = {c.code: (c.code % 7) for c in ref.communes(province_code=QUANG_NINH, on=OCT_2021)}
    values[YET_KIEU] = 5
    on_2025 = ref.restate(values, "2021-02-03", "2025-01-04")
    assert set(on_2025) == {c.code for c in ref.communes(province_code=QUANG_NINH, on=MAR_2025)}
    assert sum(on_2025.values()) == sum(values.values())
    back = ref.restate(on_2025, "2025-01-04", "2021-02-03")
    assert set(back) == set(values) and sum(back.values()) == sum(values.values())
    merged_into = [p.to_code for p in ref.succession("2021-02-03", "2025-01-04") if p.from_code == YET_KIEU][0]
    assert on_2025[merged_into] == values[YET_KIEU] + values[merged_into]


def test_restate_refuses_a_code_not_on_the_list():
    with pytest.raises(KeyError, match="not on the 2025-01-04 list"):
        ref.restate({YET_KIEU: 1}, "2025-01-04", "2021-02-03")


def test_split_is_whole_and_exact():
    assert ref._split(7, [1, 1]) == [4, 3]
    assert ref._split(-3, [1, 1]) == [-2, -1]
    assert ref._split(5, [0, 0]) == [3, 2]
    assert sum(ref._split(1_000_003, [4627, 4628, 1])) == 1_000_003


def test_a_series_replayed_across_the_change_of_list_has_equal_province_totals_on_both_lists():
    """Quảng Ninh's last 30 real days, replayed a year later so that they span the change of list
    (2021-02-03 list until 31/12/2022, 2025-01-04 list from 1/1/2023): each day is reported on the
    units in force that day, then shown on either list, with the province totals of the real series."""
    from datetime import timedelta

    real = ref.real_daily_cases(QUANG_NINH)
    days = sorted(real)[-30:]
    series = {}
    for day in days:
        on = day + timedelta(days=365)
        units = ref.communes(province_code=QUANG_NINH, on=on)
        series[on] = dict(
            zip([c.code for c in units], ref._split(real[day], [c.population for c in units]), strict=True)
        )
    assert {len(v) for v in series.values()} == {177, 171}  # the replay really spans both lists

    for onto in ("2021-02-03", "2025-01-04"):
        shown = ref.restate_series(series, onto)
        codes = {c.code for c in ref.communes(province_code=QUANG_NINH, on=ref.version(onto).valid_from)}
        for on, day in zip(sorted(shown), days, strict=True):
            assert set(shown[on]) == codes
            assert sum(shown[on].values()) == real[day]
    assert sum(real[d] for d in days) > 0  # a series of zeros would prove nothing


# ---------------------------------------------------------------- the two-tier list (July 2025)


def test_the_two_tier_list_has_no_district_tier_but_reporting_areas():
    """34 provinces, communes under the province; the middle tier is the province's reporting areas."""
    assert len(ref.provinces(on=AUG_2025)) == 34
    assert {d.district_type for d in ref.districts(on=AUG_2025)} == {"khu_vuc"}
    assert {c.commune_type for c in ref.communes(on=AUG_2025)} == {"phuong", "xa", "dac_khu"}
    assert len(ref.communes(on=AUG_2025)) == 3_321 - 1  # Đặc khu Hoàng Sa: no one to report
    assert len(ref.communes(province_code=QUANG_NINH, on=AUG_2025)) == 54
    areas = ref.districts(QUANG_NINH, on=AUG_2025)
    assert len(areas) == 13 and ref.district(193, on=AUG_2025).name == "Khu vực Hạ Long"
    assert ref.commune(26732, on=AUG_2025).name == "Đặc khu Côn Đảo"
    assert ref.commune(26732, on=AUG_2025).population == 8_827  # the island's census figure, carried over


def test_merged_provinces_are_the_sum_of_their_parts():
    before = {p.code: p for p in ref.provinces(on=MAR_2025)}
    after = ref.province(24, on=AUG_2025)  # Bắc Ninh now: Bắc Giang (24) and Bắc Ninh (27)
    assert after.name_full == "Tỉnh Bắc Ninh"
    assert after.population == before[24].population + before[27].population
    assert sum(p.population for p in ref.provinces(on=AUG_2025)) == sum(p.population for p in before.values())
    assert ref.province(1, on=AUG_2025).name_full == "Thành phố Hà Nội"


def test_restating_2021_onto_the_two_tier_list_keeps_province_totals():
    values = {c.code: (c.code % 5) for c in ref.communes(province_code=QUANG_NINH, on=OCT_2021)}
    on_two_tier = ref.restate(values, "2021-02-03", "2025-07-01")
    assert set(on_two_tier) <= {c.code for c in ref.communes(province_code=QUANG_NINH, on=AUG_2025)}
    assert sum(on_two_tier.values()) == sum(values.values())
    assert sum(ref.restate(on_two_tier, "2025-07-01", "2021-02-03").values()) == sum(values.values())


def test_a_province_regroups_its_communes_into_reporting_areas_of_its_own(tmp_path):
    """The areas are the province's: edit sources/reporting_areas_2025-07-01.csv and rebuild."""
    import shutil

    build = _build_module()
    sources = tmp_path / "sources"
    shutil.copytree(build.SOURCES_DIR, sources)
    path = build.areas_path(sources)
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    ha_long = [i for i, row in enumerate(rows) if row.startswith("22,193,")]
    for i in ha_long[:3]:  # three of Hạ Long's eleven communes report as "Khu vực Vịnh Hạ Long", 9001
        rows[i] = rows[i].replace("22,193,Khu vực Hạ Long,", "22,9001,Khu vực Vịnh Hạ Long,")
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    tables = build.build(sources_dir=sources)
    _header, districts = tables["by_version/districts.csv"]
    areas = {row[3]: row for row in districts if row[0] == "2025-07-01" and row[5] == QUANG_NINH}
    assert len(areas) == 14 and areas[9001][4] == "Khu vực Vịnh Hạ Long" and areas[9001][6] == "khu_vuc"
    assert sum(row[7] for row in areas.values()) == 1_320_324  # the areas still add up to the province

    path.write_text("\n".join([header, *rows, rows[ha_long[0]]]) + "\n", encoding="utf-8")
    with pytest.raises(build.BuildError, match="in two areas"):
        build.load_reporting_areas(sources)
    path.write_text("\n".join([header, *rows[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(build.BuildError, match="is in no reporting area"):
        build.build(sources_dir=sources)
