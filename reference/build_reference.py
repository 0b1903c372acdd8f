"""Build the reference CSVs (provinces, districts, communes, treatment capacity).

Run from the repository root:

    .venv/bin/python reference/build_reference.py            # writes reference/*.csv
    .venv/bin/python reference/build_reference.py --out DIR  # writes into DIR instead

Inputs, and nothing else:
- the administrative units of the dev dependency `vietnam-provinces==0.6.0`
  (63 provinces, 696 districts, 10,051 communes, GSO codes);
- `data/real/province_population_vaccination_2021-08.csv` (2019 census
  population and population aged 18+ per province);
- the NCSC portal id → province table of `data/real/README.md` (copied below)
  and the ids present in `data/real/ncsc_province_daily_*.csv`;
- the 2019 census district figures for Quảng Ninh listed in that README.

The output is deterministic: integer arithmetic only (no floats), fixed
tie-breaks, rows sorted by code. See reference/README.md for the method.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO_ROOT / "reference"
REAL_DATA_DIR = REPO_ROOT / "data" / "real"

PACKAGE = "vietnam-provinces"
PACKAGE_VERSION = "0.6.0"  # another version may change codes or names: refuse it

EXPECTED_COUNTS = {"provinces": 63, "districts": 696, "communes": 10_051}

# Portal id → province name, verbatim from data/real/README.md. The portal
# numbers provinces its own way (no id 20; 64 is Hậu Giang by elimination).
NCSC_PORTAL_NAMES = {
    1: "Hà Nội",
    2: "TP Hồ Chí Minh",
    3: "Hải Phòng",
    4: "Đà Nẵng",
    5: "Hà Giang",
    6: "Cao Bằng",
    7: "Lai Châu",
    8: "Lào Cai",
    9: "Tuyên Quang",
    10: "Lạng Sơn",
    11: "Bắc Kạn",
    12: "Thái Nguyên",
    13: "Yên Bái",
    14: "Sơn La",
    15: "Phú Thọ",
    16: "Vĩnh Phúc",
    17: "Quảng Ninh",
    18: "Bắc Giang",
    19: "Bắc Ninh",
    21: "Hải Dương",
    22: "Hưng Yên",
    23: "Hòa Bình",
    24: "Hà Nam",
    25: "Nam Định",
    26: "Thái Bình",
    27: "Ninh Bình",
    28: "Thanh Hóa",
    29: "Nghệ An",
    30: "Hà Tĩnh",
    31: "Quảng Bình",
    32: "Quảng Trị",
    33: "Thừa Thiên Huế",
    34: "Quảng Nam",
    35: "Quảng Ngãi",
    36: "Kon Tum",
    37: "Bình Định",
    38: "Gia Lai",
    39: "Phú Yên",
    40: "Đắk Lắk",
    41: "Khánh Hòa",
    42: "Lâm Đồng",
    43: "Bình Phước",
    44: "Bình Dương",
    45: "Ninh Thuận",
    46: "Tây Ninh",
    47: "Bình Thuận",
    48: "Đồng Nai",
    49: "Long An",
    50: "Đồng Tháp",
    51: "An Giang",
    52: "Bà Rịa–Vũng Tàu",
    53: "Tiền Giang",
    54: "Kiên Giang",
    55: "Cần Thơ",
    56: "Bến Tre",
    57: "Vĩnh Long",
    58: "Trà Vinh",
    59: "Sóc Trăng",
    60: "Bạc Liêu",
    61: "Cà Mau",
    62: "Điện Biên",
    63: "Đắk Nông",
    64: "Hậu Giang",
}

# Names that normalisation alone cannot match. The package (0.6.0) already
# calls province 46 "Thành phố Huế" (its 2025 status); in 2021 and in both
# data/real sources it is "Thừa Thiên Huế".
NAME_ALIASES = {"thuathienhue": "hue"}

# 2019 census district populations (data/real/README.md), used exactly.
CENSUS_DISTRICTS = {
    (22, "Thành phố Cẩm Phả"): 190_232,
    (22, "Thành phố Uông Bí"): 120_982,
    (22, "Thành phố Móng Cái"): 108_553,
    (22, "Huyện Cô Tô"): 6_285,
}

# Island districts with no commune in the package: the district is its own and
# only reporting unit (a row in communes.csv whose commune code is the district
# code, commune_type ISLAND_UNIT_TYPE), so its clerk sends one row and it gets a
# level from its own figures. Their populations are published figures, not
# shares of the province (commune-type weights give them nothing); sources in
# reference/README.md. Huyện Hoàng Sa (Đà Nẵng, 48) is left out: it has no
# resident population under Vietnamese administration (the Paracels have been
# held by China since 1974), so it keeps population 0 and reports nothing.
ISLAND_DISTRICTS = {
    # 2019 census (GSO, complete results of the 2019 census, p. 35)
    (77, "Huyện Côn Đảo"): (8_827, "census2019"),
    # Quảng Ngãi statistical yearbook 2016, table 11: average population 2016 (prel.)
    (51, "Huyện Lý Sơn"): (19_307, "estimate(statistical yearbook 2016)"),
    # vi.wikipedia infobox (GSO administrative list); about 700–1,150 residents reported 2020–2025
    (31, "Huyện Bạch Long Vĩ"): (902, "estimate(published island figure)"),
    # vi.wikipedia / district portal: about 500 residents (2020), 400 in 2003
    (45, "Huyện Cồn Cỏ"): (500, "estimate(published island figure)"),
}
ISLAND_UNIT_TYPE = "huyen_dao"

# Share of people aged 65+ nationally (≈7.7%, data/real/README.md); no
# per-province figure is at hand, so every province gets the national share.
SHARE_65PLUS = Fraction(77, 1000)

# Share of people aged 50+ nationally (≈23%: the 2019 census age structure puts
# about 15.3% at 50–64 on top of the 7.7% at 65+; data/real/README.md). An
# approximate national figure, as for 65+: it only feeds rule sets that use the
# 50+ group for the elderly criterion (several provinces from November 2021).
SHARE_50PLUS = Fraction(230, 1000)

# Relative population weight of one commune by type: urban wards are denser
# than townships, townships denser than rural communes. Kept as exact
# fractions so the arithmetic is integer-only and reproducible.
COMMUNE_WEIGHTS = {"phuong": Fraction(16, 10), "thi_tran": Fraction(12, 10), "xa": Fraction(1)}
COMMUNE_PREFIXES = (("Phường ", "phuong"), ("Thị trấn ", "thi_tran"), ("Xã ", "xa"))
DISTRICT_PREFIXES = (("Quận ", "quan"), ("Thành phố ", "thanh_pho"), ("Thị xã ", "thi_xa"), ("Huyện ", "huyen"))

# The population columns of every level's CSV, in file order: the total, then the age groups.
POPULATION_COLUMNS = ("population", "population_18plus", "population_65plus", "population_50plus")

SOURCE_PROVINCE = "census2019(total,18+);estimate(65+ at 7.7%, 50+ at 23% national shares)"
SOURCE_CENSUS = "census2019"
SOURCE_ESTIMATE = "estimate(commune-type weights)"
SOURCE_DEMO = "demo"
SOURCE_UNPOPULATED = "none(no communes, no resident population)"


class BuildError(Exception):
    """The inputs do not fit together; the build must not write anything."""


# ---------------------------------------------------------------- helpers


def normalise_name(name: str) -> str:
    """Fold a province name to a key: no diacritics, no prefix, letters only.

    "Tỉnh Hoà Bình", "Hòa Bình" → "hoabinh"; "TP Hồ Chí Minh" → "hochiminh";
    "Bà Rịa - Vũng Tàu", "Bà Rịa–Vũng Tàu" → "bariavungtau".
    """
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"^(tinh|thanh pho|tp\.?)\s+", "", text.strip())
    key = re.sub(r"[^a-z0-9]", "", text)
    return NAME_ALIASES.get(key, key)


def type_from_prefix(name: str, prefixes: tuple[tuple[str, str], ...]) -> str:
    # Case-insensitive: the package writes "Thành Phố Bắc Kạn" and
    # "Thành Phố Đồng Hới" with a capital P. (Its division_type field is no
    # help: every district says "huyện" and every commune "xã".)
    for prefix, kind in prefixes:
        if name.casefold().startswith(prefix.casefold()):
            return kind
    raise BuildError(f"no known type prefix in {name!r}")


def short_province_name(full: str) -> str:
    for prefix in ("Tỉnh ", "Thành phố "):
        if full.startswith(prefix):
            return full[len(prefix) :]
    raise BuildError(f"unexpected province name {full!r}")


def round_half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2)) if value >= 0 else -round_half_up(-value)


def largest_remainder(total: int, weights: list[Fraction]) -> list[int]:
    """Split the integer `total` in proportion to `weights`; the parts sum to `total`.

    Each part gets the floor of its exact quota; the units left over go one
    each to the largest fractional remainders, ties to the earlier item (the
    callers pass items sorted by code, so ties go to the lower code).
    All-zero weights get all-zero parts (only valid when total is 0).
    """
    weight_sum = sum(weights, Fraction(0))
    if weight_sum == 0:
        if total != 0:
            raise BuildError(f"cannot split {total} over zero weight")
        return [0] * len(weights)
    quotas = [total * w / weight_sum for w in weights]
    parts = [int(q) for q in quotas]  # floor: quotas are >= 0
    leftover = total - sum(parts)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return parts


# ---------------------------------------------------------------- inputs


@dataclass
class Unit:
    """One row being built; the population fields are filled in step by step."""

    code: int
    name: str
    kind: str  # district_type or commune_type
    parent_code: int  # district's province / commune's district
    weight: Fraction = Fraction(0)
    population: int = 0
    population_18plus: int = 0
    population_65plus: int = 0
    population_50plus: int = 0
    source: str = SOURCE_ESTIMATE


def load_divisions() -> list[dict]:
    version = importlib.metadata.version(PACKAGE)
    if version != PACKAGE_VERSION:
        raise BuildError(f"{PACKAGE}=={version} is installed; the reference is built from {PACKAGE_VERSION}")
    import vietnam_provinces  # dev dependency; imported late so the version check speaks first

    path = Path(vietnam_provinces.__file__).resolve().parent / "data" / "nested-divisions.json"
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def load_census_provinces(real_dir: Path) -> dict[int, tuple[str, int, int]]:
    """GSO code → (name, population, population aged 18+)."""
    out = {}
    with (real_dir / "province_population_vaccination_2021-08.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            code = int(row["provinceCode"])
            if code in out:
                raise BuildError(f"province code {code} twice in the population file")
            out[code] = (row["provinceName"], int(row["population"]), int(row["popOverEighteen"]))
    return out


def portal_ids_in_series(real_dir: Path) -> set[int]:
    ids: set[int] | None = None
    for name in ("ncsc_province_daily_cases.csv", "ncsc_province_daily_deaths.csv"):
        with (real_dir / name).open(encoding="utf-8", newline="") as f:
            found = {int(row[0]) for i, row in enumerate(csv.reader(f)) if i > 0}
        if ids is not None and found != ids:
            raise BuildError(f"{name} has other portal ids than the cases file")
        ids = found
    return ids or set()


def map_portal_ids(provinces: list[dict], series_ids: set[int]) -> dict[int, int]:
    """GSO code → portal id, matched by normalised name; fails unless one-to-one."""
    if set(NCSC_PORTAL_NAMES) != series_ids:
        raise BuildError(
            f"portal ids in the README table and in the series differ: {sorted(set(NCSC_PORTAL_NAMES) ^ series_ids)}"
        )
    by_key: dict[str, int] = {}
    for portal_id, name in NCSC_PORTAL_NAMES.items():
        key = normalise_name(name)
        if key in by_key:
            raise BuildError(f"portal ids {by_key[key]} and {portal_id} both normalise to {key!r}")
        by_key[key] = portal_id
    mapping = {}
    for p in provinces:
        key = normalise_name(p["name"])
        if key not in by_key:
            raise BuildError(f"no portal id for province {p['code']} {p['name']!r} (key {key!r})")
        mapping[p["code"]] = by_key.pop(key)
    if by_key:
        raise BuildError(f"portal ids matched no province: {sorted(by_key.values())}")
    return mapping


# ---------------------------------------------------------------- build


def build(real_dir: Path = REAL_DATA_DIR, sources_dir: Path | None = None) -> dict[str, tuple[list[str], list[list]]]:
    """Return {file path under reference/: (header, rows)} for every CSV; raise BuildError on any inconsistency.

    The top-level files are the current list (the last of VERSIONS); `by_version/` holds every
    version with its validity and the succession of communes from one list to the next.
    """
    sources_dir = sources_dir or SOURCES_DIR
    current = build_current(real_dir)
    earlier = build_2021(current, load_source_units(sources_dir, VERSIONS[0]))
    later = build_two_tier(current, load_two_tier_units(sources_dir), load_reporting_areas(sources_dir))
    tables = {name: (header, rows) for name, (header, rows) in current_tables(*current).items()}
    tables.update(
        version_tables(
            [(VERSIONS[0], earlier[:3]), (VERSIONS[1], current), (TWO_TIER, later[:3])], earlier[3] + later[3]
        )
    )
    return tables


def build_current(real_dir: Path) -> tuple[list[list], list[Unit], list[Unit]]:
    """The current list (vietnam-provinces 0.6.0): province rows, districts, communes (island units included)."""
    divisions = load_divisions()
    census = load_census_provinces(real_dir)
    portal = map_portal_ids(divisions, portal_ids_in_series(real_dir))

    if set(census) != {p["code"] for p in divisions}:
        raise BuildError("the population file and the package disagree on the province codes")

    province_rows, districts, communes, island_units = [], [], [], []
    for p in sorted(divisions, key=lambda p: p["code"]):
        census_name, population, population_18plus = census[p["code"]]
        if normalise_name(census_name) != normalise_name(p["name"]):
            raise BuildError(
                f"province {p['code']}: {census_name!r} in the population file, {p['name']!r} in the package"
            )
        population_65plus = round_half_up(population * SHARE_65PLUS)
        population_50plus = round_half_up(population * SHARE_50PLUS)
        province_rows.append(
            [
                p["code"],
                short_province_name(p["name"]),
                p["name"],
                portal[p["code"]],
                population,
                population_18plus,
                population_65plus,
                population_50plus,
                SOURCE_PROVINCE,
            ]
        )

        p_districts, p_communes = [], {}
        for d in sorted(p["districts"], key=lambda d: d["code"]):
            district = Unit(d["code"], d["name"], type_from_prefix(d["name"], DISTRICT_PREFIXES), p["code"])
            own = []
            for w in sorted(d["wards"], key=lambda w: w["code"]):
                commune = Unit(w["code"], w["name"], type_from_prefix(w["name"], COMMUNE_PREFIXES), d["code"])
                commune.weight = COMMUNE_WEIGHTS[commune.kind]
                own.append(commune)
            # A district with no communes (island districts such as Côn Đảo,
            # Bạch Long Vĩ, Hoàng Sa) has weight 0: it gets population only from
            # ISLAND_DISTRICTS, and then reports as its own unit (below).
            district.weight = sum((c.weight for c in own), Fraction(0))
            p_districts.append(district)
            p_communes[d["code"]] = own

        split_province(p["code"], population, population_18plus, population_65plus, population_50plus, p_districts)
        for district in p_districts:
            if (p["code"], district.name) in ISLAND_DISTRICTS:
                if p_communes[district.code]:
                    raise BuildError(f"island district {district.code} {district.name!r} has communes in the package")
                island_units.append(island_unit(district))
                continue
            split_district(district, p_communes[district.code])
            communes.extend(p_communes[district.code])
        districts.extend(p_districts)

    names = {(d.parent_code, d.name) for d in districts}
    missing = [key for key in (*CENSUS_DISTRICTS, *ISLAND_DISTRICTS) if key not in names]
    if missing:
        raise BuildError(f"census or island districts not found in the package: {missing}")

    counts = {"provinces": len(province_rows), "districts": len(districts), "communes": len(communes)}
    if counts != EXPECTED_COUNTS:
        raise BuildError(f"unit counts {counts}, expected {EXPECTED_COUNTS}")
    clash = {u.code for u in island_units} & {c.code for c in communes}
    if clash:
        raise BuildError(f"island district codes {sorted(clash)} are also commune codes")
    communes.extend(island_units)
    check_invariants(province_rows, districts, communes)
    # Output sorted by each level's own code: codes do not follow province
    # order everywhere (Hà Nội's Mê Linh is district 250, for example).
    districts.sort(key=lambda d: d.code)
    communes.sort(key=lambda c: c.code)
    return province_rows, districts, communes


def current_tables(
    province_rows: list[list], districts: list[Unit], communes: list[Unit]
) -> dict[str, tuple[list[str], list[list]]]:
    province_of = {d.code: d.parent_code for d in districts}
    return {
        "provinces.csv": (
            [
                "province_code",
                "province_name",
                "province_name_full",
                "ncsc_portal_id",
                *POPULATION_COLUMNS,
                "source",
            ],
            province_rows,
        ),
        "districts.csv": (
            [
                "district_code",
                "district_name",
                "province_code",
                "district_type",
                *POPULATION_COLUMNS,
                "source",
            ],
            [
                [d.code, d.name, d.parent_code, d.kind, *(getattr(d, c) for c in POPULATION_COLUMNS), d.source]
                for d in districts
            ],
        ),
        "communes.csv": (
            [
                "commune_code",
                "commune_name",
                "commune_type",
                "district_code",
                "province_code",
                *POPULATION_COLUMNS,
                "source",
            ],
            [
                [
                    c.code,
                    c.name,
                    c.kind,
                    c.parent_code,
                    province_of[c.parent_code],
                    *(getattr(c, column) for column in POPULATION_COLUMNS),
                    c.source,
                ]
                for c in communes
            ],
        ),
        "treatment_capacity.csv": (
            ["unit_type", "unit_code", "treatment_beds", "icu_beds", "source"],
            treatment_capacity(province_rows, districts),
        ),
    }


def split_province(
    province_code: int,
    population: int,
    population_18plus: int,
    population_65plus: int,
    population_50plus: int,
    districts: list[Unit],
) -> None:
    """Fill the districts' population columns from the province's."""
    known = {
        d.code: (CENSUS_DISTRICTS[(province_code, d.name)], SOURCE_CENSUS)
        for d in districts
        if (province_code, d.name) in CENSUS_DISTRICTS
    }
    known.update(
        {
            d.code: ISLAND_DISTRICTS[(province_code, d.name)]
            for d in districts
            if (province_code, d.name) in ISLAND_DISTRICTS
        }
    )
    rest = [d for d in districts if d.code not in known]
    remaining = population - sum(n for n, _source in known.values())
    if remaining < 0:
        raise BuildError(f"province {province_code}: census districts exceed the province")
    for d, share in zip(rest, largest_remainder(remaining, [d.weight for d in rest]), strict=True):
        d.population = share
    for d in districts:
        if d.code in known:
            d.population, d.source = known[d.code]
        elif d.weight == 0:
            d.source = SOURCE_UNPOPULATED  # Hoàng Sa: no commune, no figure, reports nothing

    # Age groups: each district gets the province's share, so the splits follow
    # population (a district's own age structure is not known).
    weights = [Fraction(d.population) for d in districts]
    province_ages = {
        "population_18plus": population_18plus,
        "population_65plus": population_65plus,
        "population_50plus": population_50plus,
    }
    for column, province_total in province_ages.items():
        for d, n in zip(districts, largest_remainder(province_total, weights), strict=True):
            setattr(d, column, n)


def split_district(district: Unit, communes: list[Unit]) -> None:
    """Fill the communes' population columns from their district's."""
    weights = [c.weight for c in communes]
    for column in POPULATION_COLUMNS:
        for c, n in zip(communes, largest_remainder(getattr(district, column), weights), strict=True):
            setattr(c, column, n)
    for c in communes:
        c.source = SOURCE_ESTIMATE


def island_unit(district: Unit) -> Unit:
    """The commune-level row of an island district without communes: the district itself.

    Same code, name and figures as the district, so its one report row pools
    into the district exactly as a commune's rows do.
    """
    unit = Unit(district.code, district.name, ISLAND_UNIT_TYPE, district.code)
    for column in (*POPULATION_COLUMNS, "source"):
        setattr(unit, column, getattr(district, column))
    return unit


def treatment_capacity(province_rows: list[list], districts: list[Unit]) -> list[list]:
    """Made-up demo capacity, generous enough that every unit meets criterion 3."""
    rows = []
    per_province: dict[int, tuple[int, int]] = {}
    for d in districts:
        beds = max(20, round_half_up(Fraction(d.population * 60, 100_000)))
        icu = max(2, round_half_up(Fraction(d.population * 5, 100_000)))
        rows.append(["district", d.code, beds, icu, SOURCE_DEMO])
        total_beds, total_icu = per_province.get(d.parent_code, (0, 0))
        per_province[d.parent_code] = (total_beds + beds, total_icu + icu)
    for row in province_rows:
        code, population = row[0], row[4]
        total_beds, total_icu = per_province[code]
        beds = total_beds + round_half_up(Fraction(population * 40, 100_000))
        icu = total_icu + round_half_up(Fraction(population * 4, 100_000))
        rows.append(["province", code, beds, icu, SOURCE_DEMO])
    return sorted(rows, key=lambda r: (r[0], r[1]))


def check_invariants(province_rows: list[list], districts: list[Unit], communes: list[Unit]) -> None:
    columns = POPULATION_COLUMNS
    by_district: dict[int, list[Unit]] = {}
    for c in communes:
        by_district.setdefault(c.parent_code, []).append(c)
    for d in districts:
        for column in columns:
            total = sum(getattr(c, column) for c in by_district.get(d.code, []))
            if by_district.get(d.code) and total != getattr(d, column):
                raise BuildError(f"district {d.code}: communes' {column} sum to {total}")
        if not by_district.get(d.code) and d.population != 0:
            raise BuildError(f"district {d.code} has people but no communes")
    for row in province_rows:
        for i, column in enumerate(columns, start=4):
            total = sum(getattr(d, column) for d in districts if d.parent_code == row[0])
            if total != row[i]:
                raise BuildError(f"province {row[0]}: districts' {column} sum to {total}, not {row[i]}")
    for unit in [*districts, *communes]:
        if not 0 <= unit.population_65plus <= unit.population_50plus <= unit.population_18plus <= unit.population:
            raise BuildError(f"unit {unit.code}: age groups out of order")
    for c in communes:
        if c.population < 1:
            raise BuildError(f"commune {c.code} {c.name!r} got population {c.population}")


# ---------------------------------------------------------------- versions
#
# A unit list is in force over a period. Reports are checked, rolled up and
# rated on the list in force on their report date, so the 2021 bulletins
# (Quảng Ninh's 177 communes) can be reproduced, and a series spanning a
# change can be restated on either list through the commune succession.


@dataclass(frozen=True)
class Version:
    name: str  # the date of the GSO list the package release was built from
    valid_from: str  # first report date the list is in force (ISO)
    valid_to: str  # last report date, inclusive; "" while it is the newest list
    package_version: str  # vietnam-provinces release carrying the list
    wheel_sha256: str  # of the PyPI wheel the list was extracted from
    counts: tuple[int, int, int]  # provinces, districts, communes (island units not counted)


VERSIONS = (
    # GSO list downloaded 2021-02-03 (package commit "Data of 2021"); the same
    # nested-divisions.json ships in 0.3.0 and 0.4.0 (..0.4.3). In force for the
    # COVID-19 years 2020–2022; the 2019–2021 round of commune merges was done by then.
    Version(
        "2021-02-03",
        "2020-01-01",
        "2022-12-31",
        "0.4.0",
        "eb26eb8346906f48a8439c8936a59163d6a67a753691fed4028e22f07fc007f2",
        (63, 705, 10_603),
    ),
    # GSO list downloaded 2025-01-04: after the 2023–2025 round of commune merges,
    # before the July 2025 reform (no district tier). Its valid_from is the day after
    # the 2021 list ends; see reference/README.md for what it describes exactly.
    Version("2025-01-04", "2023-01-01", "2025-06-30", PACKAGE_VERSION, "", (63, 696, 10_051)),
    # The list after the reform of 1 July 2025 (Resolution 202/2025/QH15 and the
    # Standing Committee's resolutions on communes): 34 provinces, communes directly
    # under the province, no district tier. vietnam-provinces 2025.10.1 (GSO's list
    # of new units). Its middle tier here is the province's reporting areas
    # (reference/sources/reporting_areas_2025-07-01.csv), not an administrative level.
    Version(
        "2025-07-01",
        "2025-07-01",
        "",
        "2025.10.1",
        "1693dece496b1e04e2b637a3dd79a87a22666e13c91c51cf06dc27e482987f57",
        (34, 0, 3_321),  # no districts; 3,321 communes including Hoàng Sa (left out, below)
    ),
)
TWO_TIER = VERSIONS[2]
SOURCES_DIR = REFERENCE_DIR / "sources"
SOURCE_HEADER = ["province_code", "province_name", "district_code", "district_name", "commune_code", "commune_name"]
SOURCE_SPLIT = "estimate(successor's figures split by commune-type weights)"
SOURCE_SUM = "estimate(sum of its communes)"


def source_units_path(sources_dir: Path, version: Version) -> Path:
    return sources_dir / f"units_{version.name}.csv"


def wheel_version(wheel: Path) -> Version:
    """The entry of VERSIONS a vietnam-provinces wheel carries, checked by its digest."""
    import hashlib

    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    for version in VERSIONS:
        if version.wheel_sha256 == digest:
            return version
    raise BuildError(
        f"{wheel.name}: sha256 {digest} is none of the wheels the reference is built from "
        f"({', '.join(f'vietnam-provinces {v.package_version}' for v in VERSIONS if v.wheel_sha256)})"
    )


def extract_units(wheel: Path, sources_dir: Path) -> Path:
    """Write the unit list of a vietnam-provinces wheel as a flat CSV (one row per commune).

    The other lists cannot be installed beside the current package, so their
    units are committed as extracted, and the wheel is checked by its digest.
    A two-tier list (no district tier) leaves the district columns empty.
    """
    import zipfile

    version = wheel_version(wheel)
    with zipfile.ZipFile(wheel) as z:
        divisions = json.loads(z.read("vietnam_provinces/data/nested-divisions.json").decode("utf-8"))
    rows = []
    for p in sorted(divisions, key=lambda p: p["code"]):
        if "districts" not in p:  # two-tier: communes (wards) directly under the province
            rows.extend(
                [p["code"], p["name"], "", "", w["code"], w["name"]]
                for w in sorted(p["wards"], key=lambda w: w["code"])
            )
            continue
        for d in sorted(p["districts"], key=lambda d: d["code"]):
            wards = sorted(d["wards"], key=lambda w: w["code"]) or [{"code": "", "name": ""}]
            rows.extend([p["code"], p["name"], d["code"], d["name"], w["code"], w["name"]] for w in wards)
    path = source_units_path(sources_dir, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(path, SOURCE_HEADER, rows)
    return path


def source_unit_rows(sources_dir: Path, version: Version) -> tuple[Path, list[list[str]]]:
    """The rows of an extracted list (SOURCE_HEADER checked), and its path for messages."""
    path = source_units_path(sources_dir, version)
    if not path.exists():
        raise BuildError(
            f"{path} is missing: run build_reference.py --extract-units "
            f"vietnam_provinces-{version.package_version}-py3-none-any.whl"
        )
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        if next(reader) != SOURCE_HEADER:
            raise BuildError(f"{path}: unexpected header")
        return path, list(reader)


def load_source_units(sources_dir: Path, version: Version) -> list[dict]:
    """The extracted list, back in the package's nested shape (provinces → districts → wards)."""
    path, rows = source_unit_rows(sources_dir, version)
    provinces: dict[int, dict] = {}
    for p_code, p_name, d_code, d_name, c_code, c_name in rows:
        p = provinces.setdefault(int(p_code), {"code": int(p_code), "name": p_name, "districts": {}})
        d = p["districts"].setdefault(int(d_code), {"code": int(d_code), "name": d_name, "wards": []})
        if c_code:
            d["wards"].append({"code": int(c_code), "name": c_name})
    divisions = [{**p, "districts": list(p["districts"].values())} for p in provinces.values()]
    counts = (
        len(divisions),
        sum(len(p["districts"]) for p in divisions),
        sum(len(d["wards"]) for p in divisions for d in p["districts"]),
    )
    if counts != version.counts:
        raise BuildError(f"{path}: unit counts {counts}, expected {version.counts}")
    return divisions


def name_key(name: str) -> str:
    """A commune's name without its type prefix, case and diacritics: "Phường Hoà Lạc" → "hoa lac"."""
    for prefix, _kind in COMMUNE_PREFIXES:
        if name.casefold().startswith(prefix.casefold()):
            name = name[len(prefix) :]
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    return " ".join("".join(ch for ch in text if not unicodedata.combining(ch)).lower().split())


@dataclass(frozen=True)
class Succession:
    """Where an earlier unit's people are on the later list (one row per piece)."""

    old_code: int
    new_code: int
    method: str  # code, name, name_syllables or nearest_code (see reference/README.md)


def match_successors(old: dict[int, tuple[str, int, int]], new: dict[int, tuple[str, int, int]]) -> list[Succession]:
    """Each earlier commune-level unit → the later unit it became part of.

    `old`/`new`: code → (name, district code, province code). By code first (a
    unit keeps its GSO code when others merge into it); then, for a vanished
    code, within the district(s) its former neighbours are in now: the same
    name, else the changed unit (new code, new name) sharing most syllables with
    it (merged communes are often named from their parts: Cộng Hòa + Cẩm Hải →
    Hải Hòa), else the nearest code (GSO numbers communes in geographic order
    within a district). The last two are heuristics, flagged in `method`.
    """
    changed = {
        c
        for c, (name, district, _p) in new.items()
        if c not in old or name_key(old[c][0]) != name_key(name) or old[c][1] != district
    }
    new_districts_of: dict[int, set[int]] = {}
    for c, (_name, district, _p) in old.items():
        if c in new:
            new_districts_of.setdefault(district, set()).add(new[c][1])
    new_district_codes = {district for _n, district, _p in new.values()}
    out = []
    for code in sorted(old):
        name, district, province = old[code]
        if code in new:
            if new[code][2] != province:
                raise BuildError(f"commune {code} moved from province {province} to {new[code][2]}")
            out.append(Succession(code, code, "code"))
            continue
        districts = set(new_districts_of.get(district, set()))
        if district in new_district_codes:
            districts.add(district)
        pool = sorted(c for c, (_n, d, p) in new.items() if d in districts and p == province)
        if not pool:
            raise BuildError(f"commune {code} {name!r}: no unit of its district {district} on the later list")
        same_name = [c for c in pool if name_key(new[c][0]) == name_key(name)]
        if same_name:
            out.append(Succession(code, min(same_name, key=lambda c: abs(c - code)), "name"))
            continue
        words = set(name_key(name).split())
        scored = [(len(words & set(name_key(new[c][0]).split())), c) for c in pool if c in changed]
        best = max((score for score, _c in scored), default=0)
        if best > 0:
            candidates = [c for score, c in scored if score == best]
            out.append(Succession(code, min(candidates, key=lambda c: (abs(c - code), c)), "name_syllables"))
            continue
        out.append(Succession(code, min(pool, key=lambda c: (abs(c - code), c)), "nearest_code"))
    # A code can be reused for another unit (Bắc Giang's Thị trấn Tân An 7682 is Xã Tân An 7693
    # on the later list, 7682 another commune): a later unit left with no earlier one takes
    # the earlier unit of its own name whose code-match changed its name.
    taken = {s.new_code for s in out}
    for orphan in sorted(set(new) - taken):
        o_name, _d, o_province = new[orphan]
        same = [
            i
            for i, s in enumerate(out)
            if old[s.old_code][2] == o_province
            and name_key(old[s.old_code][0]) == name_key(o_name)
            and name_key(new[s.new_code][0]) != name_key(o_name)
        ]
        if same:
            i = min(same, key=lambda i: (abs(out[i].old_code - orphan), out[i].old_code))
            out[i] = Succession(out[i].old_code, orphan, "name")
    # The 0.6.0 list carries a few units the 2021 list does not and that no
    # vanished unit explains (Bắc Giang's Xã Nham Sơn 7732, merged into Nham Biền
    # in 2020; a second Xã Đông Khê 16387 beside 16408 in Thanh Hóa): each is fed
    # by a share of the earlier unit of its name in the province, else of the
    # earlier unit nearest in code among those now in its district (a split).
    successors = {s.new_code for s in out}
    for orphan in sorted(set(new) - successors):
        o_name, o_district, o_province = new[orphan]
        same = [c for c, (n, _d, p) in old.items() if p == o_province and name_key(n) == name_key(o_name)]
        if same:
            out.append(Succession(min(same, key=lambda c: (abs(c - orphan), c)), orphan, "split_name"))
            continue
        near = [s.old_code for s in out if new[s.new_code][1] == o_district]
        if not near:
            raise BuildError(f"later unit {orphan} {o_name!r} has no earlier unit")
        out.append(Succession(min(near, key=lambda c: (abs(c - orphan), c)), orphan, "split_nearest_code"))
    orphans = sorted(set(new) - {s.new_code for s in out})
    if orphans:
        raise BuildError(f"later units with no earlier unit: {orphans[:10]}")
    return out


def succession_rows(
    lists: tuple[Version, Version],
    succession: list[Succession],
    earlier: tuple[dict[int, tuple[str, int, int]], list[Unit]],
    later: tuple[dict[int, tuple[str, int, int]], list[Unit]],
    pieces: dict[tuple[int, int], int],
) -> list[list]:
    """commune_succession.csv's rows from one list to the next: both units (name, district, population),
    the later unit's province, the piece's population and how the pair was matched."""
    (old_units, old_communes), (new_units, new_communes) = earlier, later
    old_population = {c.code: c.population for c in old_communes}
    new_population = {c.code: c.population for c in new_communes}
    return [
        [
            lists[0].name,
            lists[1].name,
            s.old_code,
            old_units[s.old_code][0],
            old_units[s.old_code][1],
            old_population[s.old_code],
            s.new_code,
            new_units[s.new_code][0],
            new_units[s.new_code][1],
            new_population[s.new_code],
            new_units[s.new_code][2],
            pieces[(s.old_code, s.new_code)],
            s.method,
        ]
        for s in sorted(succession, key=lambda s: (s.old_code, s.new_code))
    ]


def build_2021(
    current: tuple[list[list], list[Unit], list[Unit]], divisions: list[dict]
) -> tuple[list[list], list[Unit], list[Unit], list[list]]:
    """The 2021 list with figures derived from the current ones, and its succession rows.

    A commune that continues (same code) keeps its figures where nothing
    merged into it; the figures of a later commune are otherwise split among
    the earlier communes that became it by commune-type weights (the package
    has no areas or populations; the weights are the ones the whole reference
    uses). Districts are the sum of their communes, provinces the census, so
    every province totals the same on both lists.
    """
    province_rows, new_districts, new_communes = current
    new_district = {d.code: d for d in new_districts}
    island_names = {name for (_p, name) in ISLAND_DISTRICTS}
    old_units: dict[int, tuple[str, int, int]] = {}
    old_kind: dict[int, str] = {}
    old_districts: list[Unit] = []
    names = {}
    for p in divisions:
        names[p["code"]] = p["name"]
        for d in p["districts"]:
            old_districts.append(Unit(d["code"], d["name"], type_from_prefix(d["name"], DISTRICT_PREFIXES), p["code"]))
            for w in d["wards"]:
                old_units[w["code"]] = (w["name"], d["code"], p["code"])
                old_kind[w["code"]] = type_from_prefix(w["name"], COMMUNE_PREFIXES)
            if not d["wards"] and d["name"] in island_names:
                old_units[d["code"]] = (d["name"], d["code"], p["code"])
                old_kind[d["code"]] = ISLAND_UNIT_TYPE
    new_units = {c.code: (c.name, c.parent_code, new_district[c.parent_code].parent_code) for c in new_communes}
    succession = match_successors(old_units, new_units)

    # Each later unit's figures are split among the earlier units that fed it
    # (pieces); an earlier unit is the sum of its pieces.
    predecessors: dict[int, list[int]] = {}
    successors: dict[int, list[int]] = {}
    for s in succession:
        predecessors.setdefault(s.new_code, []).append(s.old_code)
        successors.setdefault(s.old_code, []).append(s.new_code)
    columns = ("population", "population_18plus", "population_65plus", "population_50plus")
    old_communes = {c: Unit(c, old_units[c][0], old_kind[c], old_units[c][1]) for c in old_units}
    pieces: dict[tuple[int, int], int] = {}
    for n in new_communes:
        preds = sorted(predecessors[n.code])
        weights = [COMMUNE_WEIGHTS.get(old_kind[c], Fraction(1)) for c in preds]
        for column in columns:
            for c, part in zip(preds, largest_remainder(getattr(n, column), weights), strict=True):
                setattr(old_communes[c], column, getattr(old_communes[c], column) + part)
                if column == "population":
                    pieces[(c, n.code)] = part
    new_by_code = {n.code: n for n in new_communes}
    for c, unit in old_communes.items():
        (only,) = successors[c] if len(successors[c]) == 1 else (None,)
        unchanged = only == c and predecessors[c] == [c]
        unit.source = new_by_code[c].source if unchanged else SOURCE_SPLIT

    by_district: dict[int, list[Unit]] = {}
    for c in old_communes.values():
        by_district.setdefault(c.parent_code, []).append(c)
    for d in old_districts:
        own = by_district.get(d.code, [])
        for column in ("population", "population_18plus", "population_65plus", "population_50plus"):
            setattr(d, column, sum(getattr(c, column) for c in own))
        same = new_district.get(d.code)
        if not own:
            d.source = SOURCE_UNPOPULATED
        elif same and all(getattr(same, col) == getattr(d, col) for col in ("population", "population_18plus")):
            d.source = same.source
        else:
            d.source = SOURCE_SUM
    old_province_rows = []
    for row in province_rows:
        name = names[row[0]]
        old_province_rows.append([row[0], short_province_name(name), name, *row[3:]])
    communes = sorted(old_communes.values(), key=lambda c: c.code)
    old_districts.sort(key=lambda d: d.code)
    check_invariants(old_province_rows, old_districts, communes)

    rows = succession_rows(
        (VERSIONS[0], VERSIONS[1]), succession, (old_units, communes), (new_units, new_communes), pieces
    )
    return old_province_rows, old_districts, communes, rows


# ---------------------------------------------------------------- the two-tier list (July 2025)
#
# After the reform communes sit directly under the province. bantin's intake,
# ledger and roll-ups still want a unit between commune and province that sends
# one file a day: the province's reporting areas. By default one per former
# district (the regional health centres, Trung tâm Y tế khu vực, took over the
# former district centres), named "Khu vực <former district>"; a province that
# groups its communes otherwise edits sources/reporting_areas_2025-07-01.csv and
# rebuilds. An area is not an administrative unit: no level is announced for it.

TWO_TIER_COMMUNE_PREFIXES = (*COMMUNE_PREFIXES, ("Đặc khu ", "dac_khu"))
AREA_TYPE = "khu_vuc"
AREA_HEADER = ["province_code", "area_code", "area_name", "commune_code", "commune_name", "method"]
# Đặc khu Hoàng Sa is on the list with no resident population under Vietnamese
# administration (as Huyện Hoàng Sa before it): no reporting unit.
UNPOPULATED_UNITS = {(48, "Đặc khu Hoàng Sa")}
SOURCE_MERGED = "estimate(sum of the 2025-01-04 units that became it)"
SOURCE_PROVINCE_MERGED = (
    "census2019(total,18+: sum of the provinces merged into it);estimate(65+ at 7.7%, 50+ at 23% national shares)"
)


def areas_path(sources_dir: Path) -> Path:
    return sources_dir / f"reporting_areas_{TWO_TIER.name}.csv"


def load_two_tier_units(sources_dir: Path) -> list[dict]:
    """The extracted two-tier list: provinces with their communes (no district tier)."""
    path, rows = source_unit_rows(sources_dir, TWO_TIER)
    provinces: dict[int, dict] = {}
    for p_code, p_name, d_code, _d_name, c_code, c_name in rows:
        if d_code:
            raise BuildError(f"{path}: commune {c_code} has a district on a two-tier list")
        p = provinces.setdefault(int(p_code), {"code": int(p_code), "name": p_name, "wards": []})
        p["wards"].append({"code": int(c_code), "name": c_name})
    counts = (len(provinces), 0, sum(len(p["wards"]) for p in provinces.values()))
    if counts != TWO_TIER.counts:
        raise BuildError(f"{path}: unit counts {counts}, expected {TWO_TIER.counts}")
    return list(provinces.values())


def unit_key(name: str) -> str:
    """A unit's name without any type prefix (district or commune): "Huyện Cô Tô", "Đặc khu Cô Tô" → "co to"."""
    for prefix in ("Đặc khu ", *(p for p, _k in DISTRICT_PREFIXES)):
        if name.casefold().startswith(prefix.casefold()):
            return name_key(name[len(prefix) :])
    return name_key(name)


def province_map(current: tuple[list[list], list[Unit], list[Unit]], units: list[dict]) -> dict[int, int]:
    """Each province of the 2025-01-04 list → the province it is part of after the reform (by kept codes)."""
    _rows, districts, communes = current
    province_of_district = {d.code: d.parent_code for d in districts}
    new_province = {w["code"]: p["code"] for p in units for w in p["wards"]}
    seen: dict[int, set[int]] = {}
    for c in communes:
        if c.code in new_province and c.kind != ISLAND_UNIT_TYPE:
            seen.setdefault(province_of_district[c.parent_code], set()).add(new_province[c.code])
    split = {old: new for old, new in seen.items() if len(new) != 1}
    if split or len(seen) != len({d.parent_code for d in districts}):
        raise BuildError(f"provinces not mapped to exactly one province after the reform: {split or 'some unmatched'}")
    return {old: new.pop() for old, new in seen.items()}


def default_areas(current: tuple[list[list], list[Unit], list[Unit]], units: list[dict]) -> list[list]:
    """One reporting area per former district: a commune goes to the district of the unit whose code it
    kept; else of the unit of its name in the province; else of the nearest code (flagged in `method`)."""
    _rows, districts, communes = current
    district = {d.code: d for d in districts}
    old_province = province_map(current, units)
    rows = []
    for p in sorted(units, key=lambda p: p["code"]):
        here = [c for c in communes if old_province[district[c.parent_code].parent_code] == p["code"]]
        by_code = {c.code: c for c in here}
        for w in sorted(p["wards"], key=lambda w: w["code"]):
            if (p["code"], w["name"]) in UNPOPULATED_UNITS:
                continue
            # an island district that was its own unit became a special zone of its name (Huyện → Đặc khu);
            # a new ward's name may repeat a ward of another former province (HCMC's Phú Thọ), so
            # otherwise the nearest code decides (GSO numbers units in geographic order)
            same = [c for c in here if c.kind == ISLAND_UNIT_TYPE and unit_key(c.name) == unit_key(w["name"])]
            if w["code"] in by_code:
                source, method = by_code[w["code"]], "code"
            elif same:
                source, method = min(same, key=lambda c: (abs(c.code - w["code"]), c.code)), "name"
            else:
                source, method = min(here, key=lambda c: (abs(c.code - w["code"]), c.code)), "nearest_code"
            area = district[source.parent_code]
            rows.append([p["code"], area.code, f"Khu vực {unit_key_name(area.name)}", w["code"], w["name"], method])
    return rows


def unit_key_name(name: str) -> str:
    """A district's name without its type prefix, as written: "Thành phố Hạ Long" → "Hạ Long" ("Quận 11" stays)."""
    for prefix, _kind in DISTRICT_PREFIXES:
        if name.casefold().startswith(prefix.casefold()) and not name[len(prefix) :].isdigit():
            return name[len(prefix) :]
    return name


def write_default_areas(sources_dir: Path) -> Path:
    path = areas_path(sources_dir)
    write_csv(path, AREA_HEADER, default_areas(build_current(REAL_DATA_DIR), load_two_tier_units(sources_dir)))
    return path


def load_reporting_areas(sources_dir: Path) -> dict[int, tuple[int, str, int, str]]:
    """Commune code → (area code, area name, province code, commune name), as the province grouped them."""
    path = areas_path(sources_dir)
    if not path.exists():
        raise BuildError(f"{path} is missing: run build_reference.py --default-areas")
    out: dict[int, tuple[int, str, int, str]] = {}
    names: dict[int, tuple[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        if next(reader) != AREA_HEADER:
            raise BuildError(f"{path}: unexpected header, expected {','.join(AREA_HEADER)}")
        for line, (p_code, a_code, a_name, c_code, c_name, _method) in enumerate(reader, start=2):
            area = (a_name, int(p_code))
            if names.setdefault(int(a_code), area) != area:
                raise BuildError(f"{path}:{line}: area {a_code} is {names[int(a_code)]} on an earlier line")
            if int(c_code) in out:
                raise BuildError(f"{path}:{line}: commune {c_code} is in two areas")
            out[int(c_code)] = (int(a_code), a_name, int(p_code), c_name)
    return out


def build_two_tier(
    current: tuple[list[list], list[Unit], list[Unit]],
    units: list[dict],
    areas: dict[int, tuple[int, str, int, str]],
) -> tuple[list[list], list[Unit], list[Unit], list[list]]:
    """The two-tier list with figures carried forward from the 2025-01-04 list, and its succession rows.

    Each earlier unit's figures go to the later unit(s) it became (split by
    commune-type weights when it went to several), so every later unit is the
    sum of its pieces and a merged province the sum of its parts; a reporting
    area is the sum of its communes.
    """
    province_rows, districts, communes = current
    old_province = province_map(current, units)
    district_province = {d.code: d.parent_code for d in districts}
    areas = dict(areas)
    new_units: dict[int, tuple[str, int, int]] = {}
    area_units: dict[int, Unit] = {}
    for p in sorted(units, key=lambda p: p["code"]):
        for w in p["wards"]:
            if (p["code"], w["name"]) in UNPOPULATED_UNITS:
                continue
            if w["code"] not in areas:
                raise BuildError(f"commune {w['code']} {w['name']!r} is in no reporting area")
            area_code, area_name, area_province, name = areas.pop(w["code"])
            if (area_province, name) != (p["code"], w["name"]):
                raise BuildError(f"reporting areas: commune {w['code']} is {w['name']!r} of province {p['code']}")
            new_units[w["code"]] = (w["name"], area_code, p["code"])
            area_units.setdefault(area_code, Unit(area_code, area_name, AREA_TYPE, p["code"], source=SOURCE_SUM))
    if areas:
        raise BuildError(f"reporting areas list communes not on the list: {sorted(areas)[:10]}")
    old_units = {c.code: (c.name, c.parent_code, old_province[district_province[c.parent_code]]) for c in communes}
    succession = match_successors(old_units, new_units)

    kind = {code: type_from_prefix(name, TWO_TIER_COMMUNE_PREFIXES) for code, (name, _a, _p) in new_units.items()}
    later = {code: Unit(code, name, kind[code], area) for code, (name, area, _p) in new_units.items()}
    earlier = {c.code: c for c in communes}
    successors: dict[int, list[int]] = {}
    predecessors: dict[int, list[int]] = {}
    for s in succession:
        successors.setdefault(s.old_code, []).append(s.new_code)
        predecessors.setdefault(s.new_code, []).append(s.old_code)
    pieces: dict[tuple[int, int], int] = {}
    for code in sorted(successors):
        targets = sorted(successors[code])
        weights = [COMMUNE_WEIGHTS.get(kind[t], Fraction(1)) for t in targets]
        for column in POPULATION_COLUMNS:
            for t, part in zip(targets, largest_remainder(getattr(earlier[code], column), weights), strict=True):
                setattr(later[t], column, getattr(later[t], column) + part)
                if column == "population":
                    pieces[(code, t)] = part
    for unit in later.values():
        unchanged = predecessors[unit.code] == [unit.code] and successors.get(unit.code) == [unit.code]
        unit.source = earlier[unit.code].source if unchanged else SOURCE_MERGED
        area = area_units[unit.parent_code]
        for column in POPULATION_COLUMNS:
            setattr(area, column, getattr(area, column) + getattr(unit, column))

    old_rows = {row[0]: row for row in province_rows}
    new_rows = []
    for p in sorted(units, key=lambda p: p["code"]):
        parts = [row for code, row in sorted(old_rows.items()) if old_province[code] == p["code"]]
        same = old_rows.get(p["code"])
        if same is None:
            raise BuildError(f"province {p['code']} {p['name']!r} kept no earlier province's code")
        city = p["name"].startswith("Thành phố ")
        short, full = (short_province_name(p["name"]), p["name"]) if city else (p["name"], f"Tỉnh {p['name']}")
        figures = [sum(row[i] for row in parts) for i in range(4, 8)]
        source = same[8] if len(parts) == 1 else SOURCE_PROVINCE_MERGED
        # ncsc_portal_id: the 2021 portal's id of the province that kept the code (the portal predates the reform)
        new_rows.append([p["code"], short, full, same[3], *figures, source])

    provinces_left = {row[0] for row in new_rows}
    areas_sorted = sorted(area_units.values(), key=lambda a: a.code)
    if any(a.parent_code not in provinces_left for a in areas_sorted):
        raise BuildError("a reporting area outside the list's provinces")
    communes_sorted = sorted(later.values(), key=lambda c: c.code)
    check_invariants(new_rows, areas_sorted, communes_sorted)
    rows = succession_rows(
        (VERSIONS[1], TWO_TIER), succession, (old_units, communes), (new_units, communes_sorted), pieces
    )
    return new_rows, areas_sorted, communes_sorted, rows


def version_tables(
    versions: list[tuple[Version, tuple[list[list], list[Unit], list[Unit]]]], succession_rows: list[list]
) -> dict[str, tuple[list[str], list[list]]]:
    """`by_version/`: each table of every version, with the version and its validity leading each row."""
    out: dict[str, tuple[list[str], list[list]]] = {}
    head = ["version", "valid_from", "valid_to"]
    for version, (province_rows, districts, communes) in versions:
        for name, (header, rows) in current_tables(province_rows, districts, communes).items():
            _header, existing = out.setdefault(f"by_version/{name}", (head + header, []))
            existing.extend([version.name, version.valid_from, version.valid_to, *row] for row in rows)
    out["by_version/versions.csv"] = (
        [
            "version",
            "valid_from",
            "valid_to",
            "package",
            "package_version",
            "provinces",
            "districts",
            "communes",
            "reporting_units",
        ],
        [
            [
                v.name,
                v.valid_from,
                v.valid_to,
                PACKAGE,
                v.package_version,
                len(p),
                len(d),
                len([c for c in c_ if c.kind != ISLAND_UNIT_TYPE]),
                len(c_),
            ]
            for v, (p, d, c_) in versions
        ],
    )
    out["by_version/commune_succession.csv"] = (
        [
            "from_version",
            "to_version",
            "from_code",
            "from_name",
            "from_district_code",
            "from_population",
            "to_code",
            "to_name",
            "to_district_code",
            "to_population",
            "province_code",
            "population",
            "method",
        ],
        succession_rows,
    )
    return out


# ---------------------------------------------------------------- output


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REFERENCE_DIR, help="output folder (default: reference/)")
    parser.add_argument(
        "--real-data", type=Path, default=REAL_DATA_DIR, help="folder of the real data (default: data/real/)"
    )
    parser.add_argument(
        "--extract-units",
        type=Path,
        metavar="WHEEL",
        help="write reference/sources/units_<list>.csv from a vietnam-provinces wheel "
        f"({', '.join(v.package_version for v in VERSIONS if v.wheel_sha256)}), then build",
    )
    parser.add_argument(
        "--default-areas",
        action="store_true",
        help=f"(re)write reference/sources/reporting_areas_{TWO_TIER.name}.csv with one reporting area per "
        "former district (overwrites a province's own grouping), then build",
    )
    args = parser.parse_args(argv)
    try:
        if args.extract_units:
            print(f"wrote {extract_units(args.extract_units, SOURCES_DIR)}")
        if args.default_areas:
            print(f"wrote {write_default_areas(SOURCES_DIR)}")
        tables = build(args.real_data)
    except BuildError as exc:
        print(f"build_reference: FAILED: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in tables.items():
        (args.out / name).parent.mkdir(parents=True, exist_ok=True)
        write_csv(args.out / name, header, rows)
        print(f"wrote {args.out / name} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
