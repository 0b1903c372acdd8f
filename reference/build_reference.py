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


def build(real_dir: Path = REAL_DATA_DIR) -> dict[str, tuple[list[str], list[list]]]:
    """Return {file name: (header, rows)} for every CSV; raise BuildError on any inconsistency."""
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
    args = parser.parse_args(argv)
    try:
        tables = build(args.real_data)
    except BuildError as exc:
        print(f"build_reference: FAILED: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in tables.items():
        write_csv(args.out / name, header, rows)
        print(f"wrote {args.out / name} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
