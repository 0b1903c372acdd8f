"""Reference data: administrative units, populations, treatment capacity, real series.

Reads the committed CSVs in `reference/` (built by `reference/build_reference.py`,
documented in `reference/README.md`) and the real NCSC series in `data/real/`.
Units are effective-dated: each lookup takes `on`, the report date, and answers
from the unit list in force then (the 2021 list for 2020–2022, today's after);
`restate` moves commune counts from one list to another.
Only the standard library, and every table is read once per process
(lru_cache), because intake and validation call these on hot paths.
Everything returned is immutable (frozen dataclasses, tuples) except the
dicts, which are fresh copies on each call so a caller cannot corrupt the cache.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO_ROOT / "reference"
REAL_DATA_DIR = REPO_ROOT / "data" / "real"


@dataclass(frozen=True)
class Province:
    code: int  # GSO code
    name: str  # short, e.g. "Quảng Ninh"
    name_full: str  # e.g. "Tỉnh Quảng Ninh"
    ncsc_portal_id: int  # the national portal's own id, NOT the GSO code
    population: int
    population_18plus: int
    population_65plus: int
    population_50plus: int
    source: str


AREA_TYPE = "khu_vuc"  # a reporting area: the middle tier of a two-tier list (after July 2025)


@dataclass(frozen=True)
class District:
    """A district (quận, huyện, thị xã, thành phố), or on a two-tier list a reporting area (khu vực).

    A reporting area is a group of communes the province defines that sends one
    file a day (reference/sources/reporting_areas_2025-07-01.csv); it is not an
    administrative unit, so no level is announced for it.
    """

    code: int
    name: str  # full, e.g. "Thành phố Hạ Long", "Khu vực Hạ Long"
    province_code: int
    district_type: str  # quan, thanh_pho, thi_xa, huyen; khu_vuc (a reporting area)
    population: int
    population_18plus: int
    population_65plus: int
    population_50plus: int
    source: str


@dataclass(frozen=True)
class Commune:
    code: int
    name: str  # full, e.g. "Phường Hà Khánh"
    # phuong, thi_tran, xa; dac_khu (a special zone, after July 2025);
    # huyen_dao: an island district that is its own unit (code = district code)
    commune_type: str
    district_code: int
    province_code: int
    population: int
    population_18plus: int
    population_65plus: int
    population_50plus: int
    source: str


def _rows(path: Path, header: str) -> list[list[str]]:
    """Data rows of a reference CSV, after checking its header.

    The callers unpack rows by position, so a reordered or renamed column must
    fail here rather than silently shift values.
    """
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        found = next(reader)
        if found != header.split(","):
            raise ValueError(f"{path}: header {found}, expected {header!r}")
        return list(reader)


# ---------------------------------------------------------------- versions
#
# Units change (communes merge, districts are abolished) while a report must be
# checked, rolled up and rated on the units in force on its report date. Every
# lookup below takes `on`, the report date, and answers from the list in force
# then; `on=None` means the newest list (today's units, what the warehouse's
# `ref` schema holds). reference/README.md describes the versions.


@dataclass(frozen=True)
class ReferenceVersion:
    name: str  # the date of the GSO list, e.g. "2021-02-03"
    valid_from: date  # first report date it is in force
    valid_to: date | None  # last report date, inclusive; None while it is the newest list
    package_version: str  # vietnam-provinces release it comes from

    def in_force(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class NoReferenceVersion(LookupError):
    """No unit list is in force on the date (before the earliest one)."""


VERSIONS_HEADER = "version,valid_from,valid_to"


@cache
def versions() -> tuple[ReferenceVersion, ...]:
    """The unit lists, oldest first; their periods follow each other without gap or overlap."""
    rows = _rows(
        REFERENCE_DIR / "by_version" / "versions.csv",
        f"{VERSIONS_HEADER},package,package_version,provinces,districts,communes,reporting_units",
    )
    out = tuple(
        ReferenceVersion(name, date.fromisoformat(start), date.fromisoformat(end) if end else None, pkg_version)
        for name, start, end, _pkg, pkg_version, *_counts in rows
    )
    for earlier, later in zip(out, out[1:], strict=False):
        if earlier.valid_to is None or (later.valid_from - earlier.valid_to).days != 1:
            raise ValueError(f"reference versions {earlier.name} and {later.name} do not follow each other")
    return out


def version_on(day: date | None = None) -> ReferenceVersion:
    """The unit list in force on `day` (the report date); the newest list when `day` is None."""
    if day is None:
        return versions()[-1]
    if isinstance(day, datetime):
        day = day.date()
    for version in versions():
        if version.in_force(day):
            return version
    raise NoReferenceVersion(
        f"no unit list is in force on {day.isoformat()}: the earliest, "
        f"{versions()[0].name}, is in force from {versions()[0].valid_from.isoformat()}"
    )


def version(name: str) -> ReferenceVersion:
    for v in versions():
        if v.name == name:
            return v
    raise KeyError(f"unknown reference version {name!r} (known: {', '.join(v.name for v in versions())})")


def _by_version(file_name: str, header: str) -> dict[str, list[list[str]]]:
    """A `by_version/` table's rows per version name, without the version and validity columns."""
    out: dict[str, list[list[str]]] = {v.name: [] for v in versions()}
    for row in _rows(REFERENCE_DIR / "by_version" / file_name, f"{VERSIONS_HEADER},{header}"):
        out[row[0]].append(row[3:])
    return out


def _name(on: date | None) -> str:
    return version_on(on).name


# ---------------------------------------------------------------- provinces


@cache
def _provinces(version_name: str) -> tuple[Province, ...]:
    return tuple(
        Province(int(code), name, full, int(portal), int(pop), int(p18), int(p65), int(p50), source)
        for code, name, full, portal, pop, p18, p65, p50, source in _by_version(
            "provinces.csv",
            "province_code,province_name,province_name_full,ncsc_portal_id,"
            "population,population_18plus,population_65plus,population_50plus,source",
        )[version_name]
    )


@cache
def _province_index(version_name: str) -> dict[int, Province]:
    return {p.code: p for p in _provinces(version_name)}


def provinces(on: date | None = None) -> tuple[Province, ...]:
    return _provinces(_name(on))


def province(code: int, on: date | None = None) -> Province:
    try:
        return _province_index(_name(on))[code]
    except KeyError:
        raise KeyError(f"unknown province code {code!r} (GSO codes, e.g. 22 for Quảng Ninh)") from None


# ---------------------------------------------------------------- districts


@cache
def _all_districts(version_name: str) -> tuple[District, ...]:
    return tuple(
        District(int(code), name, int(prov), dtype, int(pop), int(p18), int(p65), int(p50), source)
        for code, name, prov, dtype, pop, p18, p65, p50, source in _by_version(
            "districts.csv",
            "district_code,district_name,province_code,district_type,"
            "population,population_18plus,population_65plus,population_50plus,source",
        )[version_name]
    )


@cache
def _district_index(version_name: str) -> dict[int, District]:
    return {d.code: d for d in _all_districts(version_name)}


@cache
def _districts(version_name: str, province_code: int | None) -> tuple[District, ...]:
    if province_code is None:
        return _all_districts(version_name)
    return tuple(d for d in _all_districts(version_name) if d.province_code == province_code)


def districts(province_code: int | None = None, on: date | None = None) -> tuple[District, ...]:
    """All districts, or those of one province, sorted by code, on the list in force `on`."""
    return _districts(_name(on), province_code)


def has_district_tier(province_code: int, on: date | None = None) -> bool:
    """False on a two-tier list (after July 2025): the units between commune and province are reporting areas."""
    return any(d.district_type != AREA_TYPE for d in districts(province_code, on=on))


def district(code: int, on: date | None = None) -> District:
    version_name = _name(on)
    try:
        return _district_index(version_name)[code]
    except KeyError:
        raise KeyError(
            f"unknown district code {code!r} on the {version_name} list "
            f"(GSO district codes, e.g. 193 for Thành phố Hạ Long)"
        ) from None


# ---------------------------------------------------------------- communes


@cache
def _all_communes(version_name: str) -> tuple[Commune, ...]:
    rows = _by_version(
        "communes.csv",
        "commune_code,commune_name,commune_type,district_code,province_code,"
        "population,population_18plus,population_65plus,population_50plus,source",
    )[version_name]
    return tuple(
        Commune(int(code), name, ctype, int(dist), int(prov), int(pop), int(p18), int(p65), int(p50), source)
        for code, name, ctype, dist, prov, pop, p18, p65, p50, source in rows
    )


@cache
def _commune_index(version_name: str) -> dict[int, Commune]:
    return {c.code: c for c in _all_communes(version_name)}


@cache
def _communes(version_name: str, district_code: int | None, province_code: int | None) -> tuple[Commune, ...]:
    if district_code is None and province_code is None:
        return _all_communes(version_name)
    return tuple(
        c
        for c in _all_communes(version_name)
        if (district_code is None or c.district_code == district_code)
        and (province_code is None or c.province_code == province_code)
    )


def communes(
    district_code: int | None = None, province_code: int | None = None, on: date | None = None
) -> tuple[Commune, ...]:
    """All communes, or those of one district and/or province, sorted by code, on the list in force `on`."""
    return _communes(_name(on), district_code, province_code)


def commune(code: int, on: date | None = None) -> Commune:
    """The commune-level unit `code` as it is on the list in force `on`; KeyError if it is not on it."""
    version_name = _name(on)
    try:
        return _commune_index(version_name)[code]
    except KeyError:
        on_other = [v.name for v in versions() if code in _commune_index(v.name)]
        hint = f"; it is on the {', '.join(on_other)} list" if on_other else ""
        raise KeyError(f"unknown commune code {code!r} on the {version_name} list (GSO commune codes{hint})") from None


# ---------------------------------------------------------------- capacity


@cache
def _treatment_capacity(version_name: str) -> tuple[tuple[tuple[str, int], tuple[int, int]], ...]:
    return tuple(
        ((unit_type, int(code)), (int(beds), int(icu)))
        for unit_type, code, beds, icu, _source in _by_version(
            "treatment_capacity.csv", "unit_type,unit_code,treatment_beds,icu_beds,source"
        )[version_name]
    )


def treatment_capacity(on: date | None = None) -> dict[tuple[str, int], tuple[int, int]]:
    """(unit_type, unit_code) → (treatment_beds, icu_beds). DEMO values, not real capacity."""
    return dict(_treatment_capacity(_name(on)))


# ---------------------------------------------------------------- continuity across versions


@dataclass(frozen=True)
class Piece:
    """The part of an earlier unit that went into a later one, with its population."""

    from_code: int
    to_code: int
    population: int
    method: str  # how the pair was matched: code, name, name_syllables, nearest_code, split_*


@cache
def succession(from_version: str, to_version: str) -> tuple[Piece, ...]:
    """The pieces from one list to the next one (reference/by_version/commune_succession.csv)."""
    pieces = tuple(
        Piece(int(from_code), int(to_code), int(population), method)
        for from_v, to_v, from_code, _fn, _fd, _fp, to_code, _tn, _td, _tp, _prov, population, method in _rows(
            REFERENCE_DIR / "by_version" / "commune_succession.csv",
            "from_version,to_version,from_code,from_name,from_district_code,from_population,"
            "to_code,to_name,to_district_code,to_population,province_code,population,method",
        )
        if (from_v, to_v) == (from_version, to_version)
    )
    if not pieces:
        raise KeyError(f"no succession from the {from_version} list to the {to_version} list")
    return pieces


def _split(total: int, weights: list[int]) -> list[int]:
    """`total` in proportion to `weights`, in whole parts that sum to it (largest remainder, ties to the first)."""
    if not weights:
        raise ValueError(f"nowhere to put {total}")
    if sum(weights) == 0:
        weights = [1] * len(weights)
    quotas = [Fraction(total * w, sum(weights)) for w in weights]
    parts = [int(q) if q >= 0 else -int(-q) for q in quotas]  # toward zero, so a correction splits like a count
    leftover = total - sum(parts)
    step = 1 if leftover >= 0 else -1
    order = sorted(range(len(quotas)), key=lambda i: (-abs(quotas[i] - parts[i]), i))
    for i in order[: abs(leftover)]:
        parts[i] += step
    return parts


def restate(values: Mapping[int, int], from_version: str, to_version: str) -> dict[int, int]:
    """Counts per commune-level unit on one list, restated on another list.

    Each unit's count goes to the units it became (or came from) in proportion
    to the population of each piece, in whole numbers, so the province totals
    are the same on both lists. Lists further apart are restated step by step.
    """
    names = [v.name for v in versions()]
    i, j = names.index(version(from_version).name), names.index(version(to_version).name)
    out = {int(code): int(value) for code, value in values.items()}
    step = 1 if j > i else -1
    for k in range(i, j, step):
        if step == 1:
            pairs = [(p.from_code, p.to_code, p.population) for p in succession(names[k], names[k + 1])]
        else:
            pairs = [(p.to_code, p.from_code, p.population) for p in succession(names[k - 1], names[k])]
        pieces: dict[int, list[tuple[int, int]]] = {}
        for source, target, population in pairs:
            pieces.setdefault(source, []).append((target, population))
        moved: dict[int, int] = {}
        for code, value in sorted(out.items()):
            if code not in pieces:
                raise KeyError(f"commune code {code} is not on the {names[k]} list")
            targets = sorted(pieces[code])
            for (target, _pop), part in zip(targets, _split(value, [pop for _t, pop in targets]), strict=True):
                moved[target] = moved.get(target, 0) + part
        out = moved
    return out


def restate_series(series: Mapping[date, Mapping[int, int]], onto: str) -> dict[date, dict[int, int]]:
    """A daily series per commune-level unit, each day on the list in force that day, restated onto one list."""
    return {day: restate(values, version_on(day).name, onto) for day, values in sorted(series.items())}


# ---------------------------------------------------------------- real series


@cache
def _wide_series(file_name: str) -> tuple[tuple[date, ...], dict[int, tuple[str, ...]]]:
    """The NCSC wide file: its dates, and each portal id's raw cells."""
    with (REAL_DATA_DIR / file_name).open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        dates = []
        for text in header[1:]:  # d/m/yyyy
            day, month, year = (int(part) for part in text.split("/"))
            dates.append(date(year, month, day))
        cells = {int(row[0]): tuple(row[1:]) for row in reader}
    return tuple(dates), cells


def _series(file_name: str, province_code: int) -> dict[date, int]:
    dates, cells = _wide_series(file_name)
    # the province as it was when the portal published (63 provinces; several merged in July 2025)
    portal_id = province(province_code, on=dates[0]).ncsc_portal_id
    out = {}
    for day, text in zip(dates, cells[portal_id], strict=False):
        if text == "":
            continue  # not published that day: omitted, not zero
        value = float(text)  # the source writes some counts as "0.0", "4.0"
        if not value.is_integer() or value < 0:
            raise ValueError(f"{file_name}: portal id {portal_id} on {day}: not a count: {text!r}")
        out[day] = int(value)
    return out


def real_daily_cases(province_code: int) -> dict[date, int]:
    """New confirmed cases per bulletin date for a province (GSO code), from the NCSC portal."""
    return _series("ncsc_province_daily_cases.csv", province_code)


def real_daily_deaths(province_code: int) -> dict[date, int]:
    """New deaths per bulletin date for a province (GSO code), from the NCSC portal."""
    return _series("ncsc_province_daily_deaths.csv", province_code)
