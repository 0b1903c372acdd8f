"""Epidemic levels (cấp độ dịch): the rule-set files and the tables the level model reads.

Rules are data (docs/spec/epidemic-levels.md): each `reference/rule_sets/*.json`
is one versioned rule set with an effective-from date. They are checked here,
loaded into `ref.rule_set`, `ref.rule_set_band` and `ref.rule_set_matrix`, and
`transforms/marts/epidemic_level.sql` picks, for every report date, the rule set
in force on it. Adding a rule set is adding a file.
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
REPORTED_ELDERLY_AGES = (65,)  # submission format v1 reports only the 65+ age group


class RuleSetError(ValueError):
    """A rule-set file the engine cannot apply; the message names the file and the field."""


@dataclass(frozen=True)
class RuleSet:
    rule_set_id: str
    version: int
    name: str
    legal_basis: str
    effective_from: date
    numerator: str
    window_days: int
    band_lower_bounds: tuple[float, ...]
    matrix: dict[int, tuple[int, int]]  # band -> (level if main coverage met, level if not)
    main_coverage_threshold: float
    elderly_coverage_threshold: float
    elderly_age: int
    elderly_adjustment: bool
    elderly_exempt_if_no_case: bool
    commune_min_mobile_stations: int
    district_min_treatment_beds: int
    province_min_icu_beds_per_100k: float
    capacity_effect: str
    file_name: str

    def row(self) -> tuple:
        return (
            self.rule_set_id, self.version, self.name, self.legal_basis, self.effective_from,
            self.numerator, self.window_days, self.main_coverage_threshold, self.elderly_coverage_threshold,
            self.elderly_age, self.elderly_adjustment, self.elderly_exempt_if_no_case,
            self.commune_min_mobile_stations, self.district_min_treatment_beds,
            self.province_min_icu_beds_per_100k, self.capacity_effect, self.file_name,
            list(self.band_lower_bounds), [self.matrix[b][0] for b in sorted(self.matrix)],
            [self.matrix[b][1] for b in sorted(self.matrix)],
        )

    def bands(self) -> list[tuple]:
        lowers = self.band_lower_bounds
        return [(self.rule_set_id, self.version, band, lower, lowers[band] if band < len(lowers) else None)
                for band, lower in enumerate(lowers, start=1)]

    def matrix_rows(self) -> list[tuple]:
        return [(self.rule_set_id, self.version, band, met, levels[0] if met else levels[1])
                for band, levels in sorted(self.matrix.items()) for met in (True, False)]


def rule_set_files(directory: Path = RULE_SETS_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def read_rule_set(path: Path) -> RuleSet:
    """Parse and check one rule-set file; RuleSetError says what is wrong and where."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        p = spec["parameters"]
        rule_set = RuleSet(
            rule_set_id=str(spec["rule_set_id"]),
            version=int(spec["version"]),
            name=spec["name"],
            legal_basis=spec["legal_basis"],
            effective_from=date.fromisoformat(spec["effective_from"]),
            numerator=p["transmission"]["numerator"],
            window_days=int(p["transmission"]["window_days"]),
            band_lower_bounds=tuple(float(x) for x in p["transmission"]["band_lower_bounds"]),
            matrix={int(band): (int(levels[0]), int(levels[1])) for band, levels in p["matrix"].items()},
            main_coverage_threshold=float(p["vaccine"]["main_threshold"]),
            elderly_coverage_threshold=float(p["vaccine"]["elderly_threshold"]),
            elderly_age=int(p["vaccine"]["elderly_age"]),
            elderly_adjustment=bool(p["elderly_adjustment"]["enabled"]),
            elderly_exempt_if_no_case=bool(p["elderly_adjustment"]["exempt_if_no_case_in_window"]),
            commune_min_mobile_stations=int(p["capacity"]["commune_min_mobile_stations"]),
            district_min_treatment_beds=int(p["capacity"]["district_min_treatment_beds"]),
            province_min_icu_beds_per_100k=float(p["capacity"]["province_min_icu_beds_per_100k"]),
            capacity_effect=p["capacity"]["effect"],
            file_name=path.name,
        )
    except (KeyError, TypeError, ValueError, IndexError) as problem:
        raise RuleSetError(f"rule set {path.name}: missing or malformed field ({type(problem).__name__}: "
                           f"{problem})") from None
    _check(rule_set)
    return rule_set


def _check(rs: RuleSet) -> None:
    where = f"rule set {rs.file_name} ({rs.rule_set_id} v{rs.version})"
    problems = []
    if rs.numerator not in NUMERATORS:
        problems.append(f"numerator must be one of {NUMERATORS}, not {rs.numerator!r}")
    if rs.window_days not in WINDOWS:
        problems.append(f"window_days must be one of {WINDOWS}, not {rs.window_days}")
    if rs.elderly_age not in REPORTED_ELDERLY_AGES:
        problems.append(f"elderly_age {rs.elderly_age}: the submission format only reports {REPORTED_ELDERLY_AGES}")
    if rs.capacity_effect not in CAPACITY_EFFECTS:
        problems.append(f"capacity effect {rs.capacity_effect!r} unknown (one of {CAPACITY_EFFECTS})")
    bounds = rs.band_lower_bounds
    if not bounds or bounds[0] != 0 or list(bounds) != sorted(set(bounds)):
        problems.append(f"band_lower_bounds must start at 0 and increase strictly, not {list(bounds)}")
    if sorted(rs.matrix) != list(range(1, len(bounds) + 1)):
        problems.append(f"matrix must have one entry per band 1..{len(bounds)}, has {sorted(rs.matrix)}")
    if any(level not in (1, 2, 3, 4) for levels in rs.matrix.values() for level in levels):
        problems.append("matrix levels must be 1 to 4")
    for name in ("main_coverage_threshold", "elderly_coverage_threshold"):
        if not 0 <= getattr(rs, name) <= 1:
            problems.append(f"{name} must be a share between 0 and 1")
    if problems:
        raise RuleSetError(f"{where}: " + "; ".join(problems))


def read_rule_sets(directory: Path = RULE_SETS_DIR) -> list[RuleSet]:
    rule_sets = [read_rule_set(path) for path in rule_set_files(directory)]
    if not rule_sets:
        raise RuleSetError(f"no rule set file in {directory}")
    seen: dict[tuple[str, int], str] = {}
    for rs in rule_sets:
        key = (rs.rule_set_id, rs.version)
        if key in seen:
            raise RuleSetError(f"rule set {rs.rule_set_id} v{rs.version} defined twice: {seen[key]}, {rs.file_name}")
        seen[key] = rs.file_name
    return rule_sets


def load_rule_sets(con, directory: Path = RULE_SETS_DIR) -> list[RuleSet]:
    """(Re)load `ref.rule_set*` from the files: the only place thresholds come from."""
    rule_sets = read_rule_sets(directory)
    con.execute("""
        CREATE OR REPLACE TABLE ref.rule_set (
            rule_set_id VARCHAR, version INTEGER, name VARCHAR, legal_basis VARCHAR, effective_from DATE,
            numerator VARCHAR, window_days INTEGER, main_coverage_threshold DOUBLE,
            elderly_coverage_threshold DOUBLE, elderly_age INTEGER, elderly_adjustment BOOLEAN,
            elderly_exempt_if_no_case BOOLEAN, commune_min_mobile_stations INTEGER,
            district_min_treatment_beds INTEGER, province_min_icu_beds_per_100k DOUBLE,
            capacity_effect VARCHAR, file_name VARCHAR,
            band_lower_bounds DOUBLE[], level_if_coverage_met INTEGER[], level_if_coverage_not_met INTEGER[])""")
    con.executemany("INSERT INTO ref.rule_set VALUES (" + ", ".join(["?"] * 20) + ")",
                    [rs.row() for rs in rule_sets])
    con.execute("CREATE OR REPLACE TABLE ref.rule_set_band (rule_set_id VARCHAR, version INTEGER, band INTEGER, "
                "lower_bound DOUBLE, upper_bound DOUBLE)")
    con.executemany("INSERT INTO ref.rule_set_band VALUES (?, ?, ?, ?, ?)",
                    [b for rs in rule_sets for b in rs.bands()])
    con.execute("CREATE OR REPLACE TABLE ref.rule_set_matrix (rule_set_id VARCHAR, version INTEGER, "
                "band INTEGER, coverage_met BOOLEAN, level INTEGER)")
    con.executemany("INSERT INTO ref.rule_set_matrix VALUES (?, ?, ?, ?, ?)",
                    [m for rs in rule_sets for m in rs.matrix_rows()])
    return rule_sets


REF_COMMENTS = {
    "ref.rule_set": "Epidemic-level rule sets, one row per file in reference/rule_sets/ (the level model picks "
                    "the latest effective_from on or before each report date).",
    "ref.rule_set_band": "Transmission bands of each rule set: weekly rate per 100,000 in [lower_bound, upper_bound).",
    "ref.rule_set_matrix": "Level for each band of each rule set, when main vaccine coverage is met or not.",
}
