"""Epidemic levels (cấp độ dịch): the rule-set files and the tables the level model reads.

Rules are data (docs/spec/epidemic-levels.md): each `*.json` in the rule-set
folder (`BANTIN_RULE_SETS`, default `reference/rule_sets/`) is one versioned
rule set with an effective-from date and, optionally, the provinces it applies
to. They are checked here (a bad file is refused with the key named), loaded
into `ref.rule_set`, `ref.rule_set_band` and `ref.rule_set_matrix`, and
`transforms/models/intermediate/unit_level.sql` picks, for every province and report
date, the rule set in force: the latest effective_from on or before the date,
a province-scoped one before a national one on the same date. Adding a rule
set, or a province's adapted one, is dropping a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bantin import reference

RULE_SETS_DIR = reference.REFERENCE_DIR / "rule_sets"

NUMERATORS = ("community", "all")
WINDOWS = (7, 14)  # a 14-day window is halved to a weekly rate
CAPACITY_EFFECTS = ("none", "cannot_lower", "raise_one")
ELDERLY_AGES = (65, 50)  # the submission format reports both groups (vaccinated_65plus_full, vaccinated_50plus_full)
# How the main (18+) and elderly coverage shortfalls combine: 4800/QĐ-BYT as the provinces applied it
# raises one level at most (Hà Nội 1/11/2021, Thanh Hóa 21/10/2021); "additive" lets both raises add up.
COVERAGE_RAISES = ("one_level", "additive")


class RuleSetError(ValueError):
    """A rule-set file the engine cannot apply; the message names the file and the key."""


@dataclass(frozen=True)
class RuleSet:
    rule_set_id: str
    version: int
    name: str
    legal_basis: str
    effective_from: date
    province_codes: tuple[int, ...] | None  # None: national
    numerator: str
    window_days: int
    band_lower_bounds: tuple[float, ...]
    matrix: dict[int, tuple[int, int]]  # band -> (level if main coverage met, level if not)
    main_coverage_threshold: float
    elderly_coverage_threshold: float
    elderly_age: int
    coverage_raise: str
    elderly_adjustment: bool
    elderly_exempt_if_no_case: bool
    commune_min_mobile_stations: int
    district_min_treatment_beds: int
    province_min_icu_beds_per_100k: float
    capacity_effect: str
    file_name: str

    def row(self) -> tuple:
        return (
            self.rule_set_id,
            self.version,
            self.name,
            self.legal_basis,
            self.effective_from,
            list(self.province_codes) if self.province_codes else None,
            self.numerator,
            self.window_days,
            self.main_coverage_threshold,
            self.elderly_coverage_threshold,
            self.elderly_age,
            self.coverage_raise,
            self.elderly_adjustment,
            self.elderly_exempt_if_no_case,
            self.commune_min_mobile_stations,
            self.district_min_treatment_beds,
            self.province_min_icu_beds_per_100k,
            self.capacity_effect,
            self.file_name,
            list(self.band_lower_bounds),
            [self.matrix[b][0] for b in sorted(self.matrix)],
            [self.matrix[b][1] for b in sorted(self.matrix)],
        )

    def bands(self) -> list[tuple]:
        lowers = self.band_lower_bounds
        return [
            (self.rule_set_id, self.version, band, lower, lowers[band] if band < len(lowers) else None)
            for band, lower in enumerate(lowers, start=1)
        ]

    def matrix_rows(self) -> list[tuple]:
        return [
            (self.rule_set_id, self.version, band, met, levels[0] if met else levels[1])
            for band, levels in sorted(self.matrix.items())
            for met in (True, False)
        ]

    def applies_to(self, province_code: int) -> bool:
        return self.province_codes is None or province_code in self.province_codes


def rule_set_files(directory: Path = RULE_SETS_DIR) -> list[Path]:
    return sorted(Path(directory).glob("*.json"))


# ---------------------------------------------------------------- reading and checking one file


class _Reader:
    """Walks a parsed rule-set file; every problem names the key path (`parameters.vaccine.elderly_age`)."""

    def __init__(self, file_name: str):
        self.file_name = file_name

    def fail(self, path: str, problem: str):
        raise RuleSetError(f"rule set {self.file_name}: key '{path}': {problem}")

    def node(self, parent: dict, key: str, path: str, known: set[str]) -> dict:
        value = self.take(parent, key, path, dict)
        self.only(value, f"{path}.{key}" if path else key, known)
        return value

    def only(self, value: dict, path: str, known: set[str]) -> None:
        unknown = sorted(set(value) - known)
        if unknown:
            self.fail(
                f"{path}.{unknown[0]}" if path else unknown[0],
                f"unknown key (expected one of {sorted(known)}); a misspelt key would silently fall back to a default",
            )

    def take(self, parent: dict, key: str, path: str, kind, *, default=...):
        full = f"{path}.{key}" if path else key
        if key not in parent:
            if default is not ...:
                return default
            self.fail(full, "missing")
        value = parent[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:  # JSON true is not a number here
            self.fail(full, f"must be {' or '.join(k.__name__ for k in kinds)}, not {json.dumps(value)}")
        if not isinstance(value, kinds):
            self.fail(full, f"must be {' or '.join(k.__name__ for k in kinds)}, not {json.dumps(value)}")
        return value

    def choice(self, parent: dict, key: str, path: str, allowed: tuple, *, default=...):
        value = self.take(parent, key, path, (str, int), default=default)
        if value not in allowed:
            self.fail(f"{path}.{key}", f"must be one of {list(allowed)}, not {json.dumps(value)}")
        return value

    def share(self, parent: dict, key: str, path: str) -> float:
        value = float(self.take(parent, key, path, (int, float)))
        if not 0 <= value <= 1:
            self.fail(f"{path}.{key}", f"must be a share between 0 and 1, not {value}")
        return value


TOP_KEYS = {"rule_set_id", "version", "name", "legal_basis", "effective_from", "provinces", "notes", "parameters"}
PARAMETER_KEYS = {"transmission", "vaccine", "matrix", "coverage_raise", "elderly_adjustment", "capacity"}


def read_rule_set(path: Path) -> RuleSet:
    """Parse and check one rule-set file; RuleSetError says which file and key are wrong."""
    r = _Reader(path.name)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise RuleSetError(f"rule set {path.name}: not a readable JSON file ({problem})") from None
    if not isinstance(spec, dict):
        raise RuleSetError(f"rule set {path.name}: the file must hold one JSON object")
    r.only(spec, "", TOP_KEYS)
    try:
        effective_from = date.fromisoformat(r.take(spec, "effective_from", "", str))
    except ValueError:
        r.fail("effective_from", f"must be a date written YYYY-MM-DD, not {json.dumps(spec['effective_from'])}")
    provinces = r.take(spec, "provinces", "", list, default=None)
    if provinces is not None:
        known = {p.code for v in reference.versions() for p in reference.provinces(on=v.valid_from)}
        if not provinces or any(isinstance(c, bool) or not isinstance(c, int) or c not in known for c in provinces):
            r.fail(
                "provinces", f"must be a non-empty list of GSO province codes (e.g. [38]), not {json.dumps(provinces)}"
            )
    version = r.take(spec, "version", "", int)
    p = r.node(spec, "parameters", "", PARAMETER_KEYS)
    t = r.node(p, "transmission", "parameters", {"numerator", "window_days", "band_lower_bounds"})
    v = r.node(p, "vaccine", "parameters", {"main_threshold", "elderly_threshold", "elderly_age"})
    e = r.node(p, "elderly_adjustment", "parameters", {"enabled", "exempt_if_no_case_in_window"})
    c = r.node(
        p,
        "capacity",
        "parameters",
        {"commune_min_mobile_stations", "district_min_treatment_beds", "province_min_icu_beds_per_100k", "effect"},
    )
    bounds = r.take(t, "band_lower_bounds", "parameters.transmission", list)
    if (
        not bounds
        or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds)
        or bounds[0] != 0
        or bounds != sorted(set(bounds))
    ):
        r.fail(
            "parameters.transmission.band_lower_bounds",
            f"must be numbers starting at 0 and increasing strictly, not {json.dumps(bounds)}",
        )
    matrix_spec = r.take(p, "matrix", "parameters", dict)
    if sorted(matrix_spec) != [str(b) for b in range(1, len(bounds) + 1)]:
        r.fail("parameters.matrix", f'must have one entry per band "1".."{len(bounds)}", has {sorted(matrix_spec)}')
    matrix = {}
    for band, levels_ in matrix_spec.items():
        if (
            not isinstance(levels_, list)
            or len(levels_) != 2
            or any(isinstance(x, bool) or x not in (1, 2, 3, 4) for x in levels_)
        ):
            r.fail(
                f"parameters.matrix.{band}",
                f"must be [level if main coverage met, level if not], levels 1 to 4, not {json.dumps(levels_)}",
            )
        matrix[int(band)] = (levels_[0], levels_[1])
    return RuleSet(
        rule_set_id=r.take(spec, "rule_set_id", "", str),
        version=version,
        name=r.take(spec, "name", "", str),
        legal_basis=r.take(spec, "legal_basis", "", str),
        effective_from=effective_from,
        province_codes=tuple(provinces) if provinces else None,
        numerator=r.choice(t, "numerator", "parameters.transmission", NUMERATORS),
        window_days=r.choice(t, "window_days", "parameters.transmission", WINDOWS),
        band_lower_bounds=tuple(float(b) for b in bounds),
        matrix=matrix,
        main_coverage_threshold=r.share(v, "main_threshold", "parameters.vaccine"),
        elderly_coverage_threshold=r.share(v, "elderly_threshold", "parameters.vaccine"),
        elderly_age=r.choice(v, "elderly_age", "parameters.vaccine", ELDERLY_AGES),
        coverage_raise=r.choice(p, "coverage_raise", "parameters", COVERAGE_RAISES, default="one_level"),
        elderly_adjustment=r.take(e, "enabled", "parameters.elderly_adjustment", bool),
        elderly_exempt_if_no_case=r.take(e, "exempt_if_no_case_in_window", "parameters.elderly_adjustment", bool),
        commune_min_mobile_stations=r.take(c, "commune_min_mobile_stations", "parameters.capacity", int),
        district_min_treatment_beds=r.take(c, "district_min_treatment_beds", "parameters.capacity", int),
        province_min_icu_beds_per_100k=float(
            r.take(c, "province_min_icu_beds_per_100k", "parameters.capacity", (int, float))
        ),
        capacity_effect=r.choice(c, "effect", "parameters.capacity", CAPACITY_EFFECTS),
        file_name=path.name,
    )


def read_rule_sets(directory: Path = RULE_SETS_DIR) -> list[RuleSet]:
    rule_sets = [read_rule_set(path) for path in rule_set_files(directory)]
    if not rule_sets:
        raise RuleSetError(f"no rule set file (*.json) in {directory}")
    seen: dict[tuple[str, int], str] = {}
    for rs in rule_sets:
        key = (rs.rule_set_id, rs.version)
        if key in seen:
            raise RuleSetError(f"rule set {rs.rule_set_id} v{rs.version} defined twice: {seen[key]}, {rs.file_name}")
        seen[key] = rs.file_name
    return rule_sets


def in_force(rule_sets: list[RuleSet], province_code: int, day: date) -> RuleSet | None:
    """The rule set the level model applies (same order as its SQL).

    Latest effective_from, then scoped, then version.
    """
    candidates = [rs for rs in rule_sets if rs.effective_from <= day and rs.applies_to(province_code)]
    return max(candidates, key=lambda rs: (rs.effective_from, rs.province_codes is not None, rs.version), default=None)


# ---------------------------------------------------------------- loading into the warehouse


def load_rule_sets(con, directory: Path = RULE_SETS_DIR) -> list[RuleSet]:
    """(Re)load `ref.rule_set*` from the files: the only place thresholds come from."""
    rule_sets = read_rule_sets(directory)
    con.execute("""
        CREATE OR REPLACE TABLE ref.rule_set (
            rule_set_id VARCHAR, version INTEGER, name VARCHAR, legal_basis VARCHAR, effective_from DATE,
            province_codes INTEGER[], numerator VARCHAR, window_days INTEGER, main_coverage_threshold DOUBLE,
            elderly_coverage_threshold DOUBLE, elderly_age INTEGER, coverage_raise VARCHAR, elderly_adjustment BOOLEAN,
            elderly_exempt_if_no_case BOOLEAN, commune_min_mobile_stations INTEGER,
            district_min_treatment_beds INTEGER, province_min_icu_beds_per_100k DOUBLE,
            capacity_effect VARCHAR, file_name VARCHAR,
            band_lower_bounds DOUBLE[], level_if_coverage_met INTEGER[], level_if_coverage_not_met INTEGER[])""")
    con.executemany("INSERT INTO ref.rule_set VALUES (" + ", ".join(["?"] * 22) + ")", [rs.row() for rs in rule_sets])
    con.execute(
        "CREATE OR REPLACE TABLE ref.rule_set_band (rule_set_id VARCHAR, version INTEGER, band INTEGER, "
        "lower_bound DOUBLE, upper_bound DOUBLE)"
    )
    con.executemany("INSERT INTO ref.rule_set_band VALUES (?, ?, ?, ?, ?)", [b for rs in rule_sets for b in rs.bands()])
    con.execute(
        "CREATE OR REPLACE TABLE ref.rule_set_matrix (rule_set_id VARCHAR, version INTEGER, "
        "band INTEGER, coverage_met BOOLEAN, level INTEGER)"
    )
    con.executemany(
        "INSERT INTO ref.rule_set_matrix VALUES (?, ?, ?, ?, ?)", [m for rs in rule_sets for m in rs.matrix_rows()]
    )
    return rule_sets


REF_COMMENTS = {
    "ref.rule_set": "Epidemic-level rule sets, one row per file in the rule-set folder (BANTIN_RULE_SETS, default "
    "reference/rule_sets/). province_codes NULL: national. The level model picks, per province and "
    "report date, the latest effective_from on or before it, a province-scoped one first on a tie.",
    "ref.rule_set_band": "Transmission bands of each rule set: weekly rate per 100,000 in [lower_bound, upper_bound).",
    "ref.rule_set_matrix": "Level for each band of each rule set, when main vaccine coverage is met or not.",
}
