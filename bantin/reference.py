"""Reference data: administrative units, populations, treatment capacity, real series.

Reads the committed CSVs in `reference/` (built by `reference/build_reference.py`,
documented in `reference/README.md`) and the real NCSC series in `data/real/`.
Only the standard library, and every table is read once per process
(lru_cache), because intake and validation call these on hot paths.
Everything returned is immutable (frozen dataclasses, tuples) except the
dicts, which are fresh copies on each call so a caller cannot corrupt the cache.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
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


@dataclass(frozen=True)
class District:
    code: int
    name: str  # full, e.g. "Thành phố Hạ Long"
    province_code: int
    district_type: str  # quan, thanh_pho, thi_xa, huyen
    population: int
    population_18plus: int
    population_65plus: int
    population_50plus: int
    source: str


@dataclass(frozen=True)
class Commune:
    code: int
    name: str  # full, e.g. "Phường Hà Khánh"
    commune_type: str  # phuong, thi_tran, xa; huyen_dao: an island district that is its own unit (code = district code)
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


# ---------------------------------------------------------------- provinces


@cache
def provinces() -> tuple[Province, ...]:
    return tuple(
        Province(int(code), name, full, int(portal), int(pop), int(p18), int(p65), int(p50), source)
        for code, name, full, portal, pop, p18, p65, p50, source in _rows(
            REFERENCE_DIR / "provinces.csv",
            "province_code,province_name,province_name_full,ncsc_portal_id,"
            "population,population_18plus,population_65plus,population_50plus,source",
        )
    )


@cache
def _province_index() -> dict[int, Province]:
    return {p.code: p for p in provinces()}


def province(code: int) -> Province:
    try:
        return _province_index()[code]
    except KeyError:
        raise KeyError(f"unknown province code {code!r} (GSO codes, e.g. 22 for Quảng Ninh)") from None


# ---------------------------------------------------------------- districts


@cache
def _all_districts() -> tuple[District, ...]:
    return tuple(
        District(int(code), name, int(prov), dtype, int(pop), int(p18), int(p65), int(p50), source)
        for code, name, prov, dtype, pop, p18, p65, p50, source in _rows(
            REFERENCE_DIR / "districts.csv",
            "district_code,district_name,province_code,district_type,"
            "population,population_18plus,population_65plus,population_50plus,source",
        )
    )


@cache
def _district_index() -> dict[int, District]:
    return {d.code: d for d in _all_districts()}


@cache
def districts(province_code: int | None = None) -> tuple[District, ...]:
    """All districts, or those of one province, sorted by code."""
    if province_code is None:
        return _all_districts()
    return tuple(d for d in _all_districts() if d.province_code == province_code)


def district(code: int) -> District:
    try:
        return _district_index()[code]
    except KeyError:
        raise KeyError(f"unknown district code {code!r} (GSO district codes, e.g. 193 for Thành phố Hạ Long)") from None


# ---------------------------------------------------------------- communes


@cache
def _all_communes() -> tuple[Commune, ...]:
    rows = _rows(
        REFERENCE_DIR / "communes.csv",
        "commune_code,commune_name,commune_type,district_code,province_code,"
        "population,population_18plus,population_65plus,population_50plus,source",
    )
    return tuple(
        Commune(int(code), name, ctype, int(dist), int(prov), int(pop), int(p18), int(p65), int(p50), source)
        for code, name, ctype, dist, prov, pop, p18, p65, p50, source in rows
    )


@cache
def _commune_index() -> dict[int, Commune]:
    return {c.code: c for c in _all_communes()}


@cache
def communes(district_code: int | None = None, province_code: int | None = None) -> tuple[Commune, ...]:
    """All communes, or those of one district and/or province, sorted by code."""
    if district_code is None and province_code is None:
        return _all_communes()
    return tuple(
        c
        for c in _all_communes()
        if (district_code is None or c.district_code == district_code)
        and (province_code is None or c.province_code == province_code)
    )


def commune(code: int) -> Commune:
    try:
        return _commune_index()[code]
    except KeyError:
        raise KeyError(f"unknown commune code {code!r} (GSO commune codes)") from None


# ---------------------------------------------------------------- capacity


@cache
def _treatment_capacity() -> tuple[tuple[tuple[str, int], tuple[int, int]], ...]:
    return tuple(
        ((unit_type, int(code)), (int(beds), int(icu)))
        for unit_type, code, beds, icu, _source in _rows(
            REFERENCE_DIR / "treatment_capacity.csv", "unit_type,unit_code,treatment_beds,icu_beds,source"
        )
    )


def treatment_capacity() -> dict[tuple[str, int], tuple[int, int]]:
    """(unit_type, unit_code) → (treatment_beds, icu_beds). DEMO values, not real capacity."""
    return dict(_treatment_capacity())


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
    portal_id = province(province_code).ncsc_portal_id
    dates, cells = _wide_series(file_name)
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
