"""Demo data: the daily files a province's districts would send, built on real figures.

The province's daily new cases and deaths are the real published series
(`reference.real_daily_cases` / `real_daily_deaths`); everything below the
province level is simulated, seeded and deterministic:

- cases go to communes in clusters, weighted by population, and a commune that
  had cases in the last week is far more likely to get the next ones;
- `in_treatment` is a stock: a case enters on its report date and leaves
  10–14 days later as `recovered`, or earlier as a death; the simulation runs
  `WARMUP_DAYS` before `start` so the stock on the first day already holds the
  real cases of the days before;
- quarantine stocks follow the same enter-and-leave logic (F1 contacts of
  cases, returnees from epidemic areas);
- vaccination coverage comes from `reference/demo_assumptions.csv` (data, not
  code) and only ever rises.

A day missing from the real series counts as 0 cases (and 0 deaths): the
portal published nothing, and the demo has no better figure to invent.

An island district without communes (Bạch Long Vĩ, Cồn Cỏ, Lý Sơn, Côn Đảo) is
its own reporting unit in the reference (commune code = district code) and gets
a one-row file like any district; Hoàng Sa has no resident population and no
unit, so it gets no file: 695 of the 696 districts report (704 of 705 on the 2021 list).

`generate_rows` gives the figures; `generate` writes them as the mix of CSV and
XLSX files clerks really send, one per district per day, in
`landing_dir/<district_code>/`, each with a receipt (channel "demo", in the
receipt register beside the inboxes, `receipts/`) before the 17:00 cutoff.
"""

from __future__ import annotations

import bisect
import csv
import math
import os
import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from itertools import accumulate
from pathlib import Path
from zoneinfo import ZoneInfo

from bantin import intake, reference
from bantin.submission_files import write_csv, write_xlsx

ASSUMPTIONS_PATH = reference.REFERENCE_DIR / "demo_assumptions.csv"

WARMUP_DAYS = 14  # the longest stay in any stock below
TREATMENT_DAYS = (10, 14)  # Oct 2021 guidance: discharge after 10–14 days
QUARANTINE_DAYS = 7  # F1 and returnees, October 2021 (7 days, then self-monitoring)
COVERAGE_RAMP_PER_DAY = 0.002  # +0.2 percentage points a day from the as_of level
COVERAGE_CAP = 0.99
COMMUNE_COVERAGE_SPREAD = 0.03  # communes sit within ±3 points of the province
CLUSTER_MEMORY_DAYS = 7
CLUSTER_BOOST = 30  # weight multiplier of a commune with a case in the last week
F1_PER_CASE = (3, 15)
F1_CENTRALIZED_SHARE = 0.4
RETURNEES_CENTRALIZED_SHARE = 0.1  # unvaccinated, from red zones; the rest quarantine at home
RETURNEES_PER_10K = (0.5, 3.0)  # per day, drawn once per commune
TESTS_PER_1000 = (1.0, 4.0)  # routine tests per day, drawn once per commune
TESTS_PER_CASE = (20, 60)  # tests around each new case (contacts, neighbourhood)
SEVERE_SHARE = (0.02, 0.08)
NOTE_SHARE = 0.04

NOTES_ANY = ("Tiếp tục theo dõi người về từ vùng dịch", "Số liệu đã đối chiếu với trạm y tế")
NOTES_CASES = ("Đã khử khuẩn khu vực", "Đã khử khuẩn, phong tỏa tạm thời khu vực có ca bệnh")
NOTES_SEVERE = ("Chuyển 1 ca lên tuyến trên",)


# ---------------------------------------------------------------- assumptions


@dataclass(frozen=True)
class Assumptions:
    province_code: int | None  # None: the default row
    as_of: date
    dose1_18plus_share: float
    full_18plus_share: float
    full_65plus_share: float
    full_50plus_share: float
    community_share: float
    note: str

    def coverage(self, share: float, day: date, offset: float) -> float:
        """A coverage share on `day` for a commune `offset` away from the province."""
        ramped = share + offset + COVERAGE_RAMP_PER_DAY * (day - self.as_of).days
        return min(COVERAGE_CAP, max(0.0, ramped))


@cache
def load_assumptions(path: Path = ASSUMPTIONS_PATH) -> tuple[Assumptions, ...]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        return tuple(
            Assumptions(
                province_code=int(r["province_code"]) if r["province_code"].strip() else None,
                as_of=date.fromisoformat(r["as_of"]),
                dose1_18plus_share=float(r["dose1_18plus_share"]),
                full_18plus_share=float(r["full_18plus_share"]),
                full_65plus_share=float(r["full_65plus_share"]),
                full_50plus_share=float(r["full_50plus_share"]),
                community_share=float(r["community_share"]),
                note=r["note"],
            )
            for r in csv.DictReader(f)
        )


def assumptions_for(province_code: int, day: date) -> Assumptions:
    """The province's row in force on `day` (latest as_of <= day, else its earliest), else the default.

    Chosen once per run, at its first day: switching rows mid-run could make
    a cumulative count fall.
    """
    rows = load_assumptions()
    own = sorted((a for a in rows if a.province_code == province_code), key=lambda a: a.as_of)
    if own:
        in_force = [a for a in own if a.as_of <= day]
        return in_force[-1] if in_force else own[0]
    return next(a for a in rows if a.province_code is None)


# ---------------------------------------------------------------- simulation


class _Stock:
    """People who each leave on a known day (patients recover, quarantine ends)."""

    __slots__ = ("level", "exits")

    def __init__(self) -> None:
        self.level = 0
        self.exits: dict[date, int] = {}

    def add(self, count: int, leave_on: date) -> None:
        if count:
            self.level += count
            self.exits[leave_on] = self.exits.get(leave_on, 0) + count

    def release(self, day: date) -> int:
        leaving = self.exits.pop(day, 0)
        self.level -= leaving
        return leaving

    def remove_newest(self) -> None:
        """One person leaves early (a death): the most recently admitted."""
        last = max(self.exits)
        self.exits[last] -= 1
        if not self.exits[last]:
            del self.exits[last]
        self.level -= 1


class _Commune:
    """One commune's fixed traits and running state."""

    __slots__ = (
        "ref",
        "coverage_offset",
        "stations",
        "returnee_rate",
        "test_rate",
        "last_case_day",
        "treatment",
        "centralized",
        "home",
    )

    def __init__(self, ref: reference.Commune, rng: random.Random) -> None:
        self.ref = ref
        self.coverage_offset = rng.uniform(-COMMUNE_COVERAGE_SPREAD, COMMUNE_COVERAGE_SPREAD)
        self.stations = rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
        self.returnee_rate = ref.population / 10_000 * rng.uniform(*RETURNEES_PER_10K)
        self.test_rate = ref.population / 1_000 * rng.uniform(*TESTS_PER_1000)
        self.last_case_day: date | None = None
        self.treatment = _Stock()
        self.centralized = _Stock()
        self.home = _Stock()

    def case_weight(self, day: date) -> float:
        recent = self.last_case_day is not None and (day - self.last_case_day).days <= CLUSTER_MEMORY_DAYS
        return self.ref.population * (CLUSTER_BOOST if recent else 1)


def _poisson(rng: random.Random, mean: float) -> int:
    """Poisson draw (Knuth) for small means, rounded normal beyond; Python 3.11 has neither."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _spread_cases(communes: list[_Commune], total: int, day: date, rng: random.Random) -> list[int]:
    """Split the province's cases over communes: clusters, weighted by population and recency."""
    counts = [0] * len(communes)
    if not total:
        return counts
    cumulative = list(accumulate(c.case_weight(day) for c in communes))
    mean_extra = max(1.0, total / 20)  # a big day comes as ~20 clusters, a small one as singles and pairs
    remaining = total
    while remaining:
        size = min(remaining, 1 + int(rng.expovariate(1 / mean_extra)))
        counts[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])] += size
        remaining -= size
    return counts


def _place_deaths(communes: list[_Commune], deaths: int, rng: random.Random) -> list[int]:
    """Deaths go to communes with patients in treatment, weighted by how many.

    A death with no one left in treatment in the whole province (a case the
    demo never admitted) goes to `_fallback_commune`; no stock goes below zero.
    The real series never needs it from 2021 on, but the portal's data is not ours.
    """
    placed = [0] * len(communes)
    for _ in range(deaths):
        weights = [c.treatment.level for c in communes]
        if any(weights):
            index = rng.choices(range(len(communes)), weights=weights)[0]
            communes[index].treatment.remove_newest()
        else:
            index = _fallback_commune(communes)
        placed[index] += 1
    return placed


def _fallback_commune(communes: list[_Commune]) -> int:
    """The district with the largest in_treatment (ties: the most populous), then its most populous commune."""
    by_district: dict[int, list[int]] = {}
    for index, c in enumerate(communes):
        by_district.setdefault(c.ref.district_code, []).append(index)

    def district_key(indices: list[int]) -> tuple[int, int]:
        return (sum(communes[i].treatment.level for i in indices), sum(communes[i].ref.population for i in indices))

    chosen = max(by_district.values(), key=district_key)
    return max(chosen, key=lambda i: communes[i].ref.population)


def _admit(commune: _Commune, cases: int, day: date, rng: random.Random) -> int:
    """New cases enter treatment and their contacts quarantine; returns F1 traced."""
    if not cases:
        return 0
    f1 = 0
    for _ in range(cases):
        commune.treatment.add(1, day + timedelta(days=rng.randint(*TREATMENT_DAYS)))
        f1 += rng.randint(*F1_PER_CASE)
    commune.last_case_day = day
    centralized = round(f1 * F1_CENTRALIZED_SHARE)
    leave_on = day + timedelta(days=QUARANTINE_DAYS)
    commune.centralized.add(centralized, leave_on)
    commune.home.add(f1 - centralized, leave_on)
    return f1


def _note(cases: int, severe: int, rng: random.Random) -> str:
    if rng.random() >= NOTE_SHARE:
        return ""
    choices = NOTES_ANY + (NOTES_CASES if cases else ()) + (NOTES_SEVERE if severe else ())
    return rng.choice(choices)


def _vaccination(commune: _Commune, assumed: Assumptions, day: date) -> dict[str, int]:
    """Cumulative counts: floor of a share that never falls, so the counts never fall."""
    ref, offset = commune.ref, commune.coverage_offset
    dose1 = math.floor(ref.population_18plus * assumed.coverage(assumed.dose1_18plus_share, day, offset))
    full = math.floor(ref.population_18plus * assumed.coverage(assumed.full_18plus_share, day, offset))
    elderly = math.floor(ref.population_65plus * assumed.coverage(assumed.full_65plus_share, day, offset))
    fifty = math.floor(ref.population_50plus * assumed.coverage(assumed.full_50plus_share, day, offset))
    return {
        "vaccinated_18plus_dose1": dose1,
        "vaccinated_18plus_full": min(full, dose1),
        "vaccinated_65plus_full": elderly,
        "vaccinated_50plus_full": fifty,
    }


def _simulate_day(
    communes: list[_Commune],
    day: date,
    cases: int,
    deaths: int,
    assumed: Assumptions,
    rng: random.Random,
    *,
    emit: bool,
) -> list[dict] | None:
    """Advance every commune by one day; the rows of that day when `emit`."""
    recovered = [c.treatment.release(day) for c in communes]
    for c in communes:
        c.centralized.release(day)
        c.home.release(day)
    new_cases = _spread_cases(communes, cases, day, rng)
    f1 = [_admit(c, n, day, rng) for c, n in zip(communes, new_cases, strict=True)]
    dead = _place_deaths(communes, deaths, rng)
    returnees = []
    for c in communes:
        arrived = _poisson(rng, c.returnee_rate)
        to_centre = sum(rng.random() < RETURNEES_CENTRALIZED_SHARE for _ in range(arrived))
        c.centralized.add(to_centre, day + timedelta(days=QUARANTINE_DAYS))
        c.home.add(arrived - to_centre, day + timedelta(days=QUARANTINE_DAYS))
        returnees.append(arrived)
    if not emit:
        return None
    return [
        _row(c, day, assumed, rng, new_cases=n, f1=f, recovered=r, deaths=d, returnees=back)
        for c, n, f, r, d, back in zip(communes, new_cases, f1, recovered, dead, returnees, strict=True)
    ]


def _row(
    commune: _Commune,
    day: date,
    assumed: Assumptions,
    rng: random.Random,
    *,
    new_cases: int,
    f1: int,
    recovered: int,
    deaths: int,
    returnees: int,
) -> dict:
    ref = commune.ref
    community = sum(rng.random() < assumed.community_share for _ in range(new_cases))
    tests = round(commune.test_rate * rng.uniform(0.7, 1.3)) + new_cases * rng.randint(*TESTS_PER_CASE) + returnees
    in_treatment = commune.treatment.level
    severe = min(in_treatment, round(in_treatment * rng.uniform(*SEVERE_SHARE)))
    return {
        "report_date": day,
        "district_code": ref.district_code,
        "commune_code": ref.code,
        "commune_name": ref.name,
        "new_cases": new_cases,
        "new_cases_community": community,
        "f1_traced": f1,
        "tests_performed": tests,
        "tests_positive": new_cases,
        "recovered": recovered,
        "deaths": deaths,
        "in_treatment": in_treatment,
        "severe": severe,
        "quarantine_centralized": commune.centralized.level,
        "quarantine_home": commune.home.level,
        "returnees": returnees,
        **_vaccination(commune, assumed, day),
        "mobile_medical_stations": commune.stations,
        "notes": _note(new_cases, severe, rng),
    }


def _days(start: date, end: date):
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def _unit_list(start: date, end: date) -> reference.ReferenceVersion:
    """The one unit list in force from `start` to `end`."""
    first, last = reference.version_on(start), reference.version_on(end)
    if first != last:
        raise ValueError(
            f"{start}–{end} spans a change of unit list ({first.name} until {first.valid_to}, "
            f"{last.name} from {last.valid_from}): generate each side separately"
        )
    return first


def generate_rows(
    province_code: int, start: date, end: date, seed: int = 2021, series_from: date | None = None
) -> dict[tuple[date, int], list[dict]]:
    """The demo figures: (report date, district code) → one row per commune, by commune code.

    Inclusive of `start` and `end`. Deterministic for (province, start, end,
    seed); the random stream is per province, so a province's figures do not
    depend on which other provinces are generated. The communes are those of the
    unit list in force on the report dates (Quảng Ninh's 177 in October 2021); a
    period across a change of list is refused: generate each side on its own.
    `series_from`: replay the real series from that date onto `start` (the
    portal stopped in 2022, so a demo on a later list has no cases otherwise).
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    units = _unit_list(start, end)
    rng = random.Random(f"bantin-demo:{seed}:{province_code}")
    communes = [_Commune(c, rng) for c in reference.communes(province_code=province_code, on=units.valid_from)]
    assumed = assumptions_for(province_code, start)
    real_cases = reference.real_daily_cases(province_code)
    real_deaths = reference.real_daily_deaths(province_code)
    shift = (start - series_from) if series_from else timedelta(0)

    out: dict[tuple[date, int], list[dict]] = {}
    for day in _days(start - timedelta(days=WARMUP_DAYS), end):
        cases, deaths = real_cases.get(day - shift, 0), real_deaths.get(day - shift, 0)
        rows = _simulate_day(communes, day, cases, deaths, assumed, rng, emit=day >= start)
        for row in rows or ():
            out.setdefault((day, row["district_code"]), []).append(row)
    return out


# ---------------------------------------------------------------- files


@dataclass(frozen=True)
class Variant:
    """One way a clerk sends the file."""

    name: str
    weight: int
    format: str  # "xlsx" | "csv"
    options: tuple[tuple[str, object], ...]
    thousands_possible: bool = False


# About half XLSX, as in the province; the rest the CSV flavours met in practice.
VARIANTS: tuple[Variant, ...] = (
    Variant("xlsx_template", 30, "xlsx", ()),
    Variant("xlsx_template_text", 12, "xlsx", (("numbers_as_text", True), ("dates_as_text", True))),
    Variant("xlsx_plain", 8, "xlsx", (("title_rows", False), ("totals_row", False))),
    Variant(
        "csv_utf8_machine",
        16,
        "csv",
        (("encoding", "utf-8"), ("separator", ","), ("headers", "machine"), ("date_style", "iso")),
    ),
    Variant(
        "csv_bom_semicolon",
        12,
        "csv",
        (("encoding", "utf-8-sig"), ("separator", ";"), ("headers", "vietnamese"), ("date_style", "dmy")),
        thousands_possible=True,
    ),
    Variant(
        "csv_unicode_text",
        12,
        "csv",
        (("encoding", "utf-16"), ("separator", "\t"), ("headers", "vietnamese"), ("date_style", "dmy")),
        thousands_possible=True,
    ),
    Variant(
        "csv_cp1258",
        10,
        "csv",
        (("encoding", "cp1258"), ("separator", ","), ("headers", "vietnamese"), ("date_style", "dmy")),
        thousands_possible=True,
    ),
)
HABIT_SHARE = 0.7  # a clerk mostly sends the same kind of file
THOUSANDS_SHARE = 0.35
RECEIPT_FROM = time(14, 0)
RECEIPT_SPAN_SECONDS = (2 * 60 + 55) * 60  # 14:00 to 16:55

_NAME_PATTERNS = (
    "BC_{camel}_{day:%d-%m-%Y}",
    "baocao_{code}_{day:%Y%m%d}",
    "Bao cao {spaced} {day:%d.%m.%Y}",
    "{code}_{camel}_{day:%d%m%Y}",
    "COVID_{lower}_{day:%Y-%m-%d}",
)
_UNIT_PREFIXES = ("thành phố ", "thị xã ", "huyện ", "quận ", "khu vực ")


def ascii_name(name: str) -> str:
    """'Thành phố Hạ Long' → 'Ha Long': no unit type, no diacritics (file names travel badly otherwise)."""
    for prefix in _UNIT_PREFIXES:
        if name.lower().startswith(prefix):
            name = name[len(prefix) :]
            break
    stripped = "".join(ch for ch in unicodedata.normalize("NFD", name) if not unicodedata.combining(ch))
    return stripped.replace("đ", "d").replace("Đ", "D")


def _file_name(pattern: str, district: reference.District, day: date, extension: str) -> str:
    spaced = ascii_name(district.name)
    stem = pattern.format(
        camel=spaced.replace(" ", ""),
        spaced=spaced,
        lower=spaced.lower().replace(" ", "_"),
        code=district.code,
        day=day,
    )
    return f"{stem}.{extension}"


@dataclass(frozen=True)
class _Plan:
    """How one district-day file is written and when it arrives."""

    variant: Variant
    thousands: bool
    file_name: str
    received_at: datetime
    saved_at: datetime


def _habit(seed: int, district: reference.District) -> tuple[Variant, str]:
    rng = random.Random(f"bantin-demo-habit:{seed}:{district.code}")
    variant = rng.choices(VARIANTS, weights=[v.weight for v in VARIANTS])[0]
    return variant, rng.choice(_NAME_PATTERNS)


def _plan(seed: int, district: reference.District, day: date, zone: ZoneInfo) -> _Plan:
    habit, pattern = _habit(seed, district)
    rng = random.Random(f"bantin-demo-file:{seed}:{district.code}:{day.isoformat()}")
    variant = habit if rng.random() < HABIT_SHARE else rng.choices(VARIANTS, weights=[v.weight for v in VARIANTS])[0]
    thousands = variant.thousands_possible and rng.random() < THOUSANDS_SHARE
    received = datetime.combine(day, RECEIPT_FROM, zone) + timedelta(seconds=rng.randint(0, RECEIPT_SPAN_SECONDS))
    saved = received - timedelta(minutes=rng.randint(2, 45))
    return _Plan(variant, thousands, _file_name(pattern, district, day, variant.format), received, saved)


def _write(
    plan: _Plan,
    rows: list[dict],
    path: Path,
    province: reference.Province,
    district: reference.District,
    day: date,
    receipts: Path,
) -> None:
    """Write as a channel delivers: the receipt, then the file under a dot name, renamed into the inbox."""
    final, path = path, path.with_name(f".{path.name}.part")
    options = dict(plan.variant.options)
    if plan.variant.format == "xlsx":
        write_xlsx(
            rows,
            path,
            province_name=province.name_full,
            district_name=district.name,
            report_date=day,
            saved_at=plan.saved_at,
            **options,
        )
    else:
        write_csv(rows, path, thousands=plan.thousands, **options)
    stamp = plan.received_at.timestamp()
    os.utime(path, (stamp, stamp))  # what a clerk's copy would show; the pipeline never trusts it
    # The receipt time, as a channel records it (docs/operations.md, "Receipt times").
    intake.write_receipt(receipts, district.code, intake.sha256_of(path), plan.received_at, "demo", final.name)
    os.replace(path, final)


def generate(
    province_code: int,
    start: date,
    end: date,
    landing_dir: Path,
    *,
    seed: int = 2021,
    timezone: str = "Asia/Ho_Chi_Minh",
    receipts_dir: Path | None = None,
    series_from: date | None = None,
) -> list[Path]:
    """Write one submission file per district per day into `landing_dir/<district_code>/`.

    Returns the paths, by day then district code. Same inputs, same bytes
    and the same receipts (in `receipts_dir`, default `receipts/` beside
    `landing_dir`, as under BANTIN_HOME). Excel's "Unicode text" files keep the `.csv` name:
    the contract accepts only `.csv` and `.xlsx`.
    """
    zone = ZoneInfo(timezone)
    receipts = Path(receipts_dir) if receipts_dir else Path(landing_dir).parent / "receipts"
    on = _unit_list(start, end).valid_from
    province = reference.province(province_code, on=on)
    districts = {d.code: d for d in reference.districts(province_code, on=on)}
    written = []
    for (day, district_code), rows in generate_rows(province_code, start, end, seed, series_from).items():
        district = districts[district_code]
        plan = _plan(seed, district, day, zone)
        folder = Path(landing_dir) / str(district_code)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / plan.file_name
        _write(plan, rows, path, province, district, day, receipts)
        written.append(path)
    return written


# ---------------------------------------------------------------- a busy evening


LATE_AT = time(19, 10)  # the late file arrives after the 17:00 bulletin, before the 20:00 deadline
REJECTED_AT = time(16, 20)
CORRECTED_AT = time(19, 25)


def busy_evening(
    province_code: int, day: date, landing_dir: Path, later_dir: Path, *, timezone: str = "Asia/Ho_Chi_Minh"
) -> dict[str, str]:
    """Turn the demo files of `day` into an evening that exercises the bulletin (`make demo-busy`).

    Run after `generate`. Of the districts with communes, by code:
    - the last sends nothing (missing);
    - the second's file arrives at 19:10 (late): moved to `later_dir/<district>/`;
    - the third first sends a file with a negative count at 16:20 (rejected by validation), then
      its correction at 19:25, also in `later_dir`.
    Each file's receipt (the demo channel's, in `receipts/` beside `landing_dir`) says when it
    arrived: moving the files of `later_dir` into the inbox after the first bulletin plays the
    evening, and the next run makes v2. Returns what happened to whom.
    """
    zone = ZoneInfo(timezone)
    codes = sorted({c.district_code for c in reference.communes(province_code=province_code, on=day)})
    if len(codes) < 4:
        raise ValueError(f"province {province_code} has too few districts for the busy evening")
    missing, late, rejected = codes[-1], codes[1], codes[2]

    def file_of(district: int) -> Path:
        for path in (Path(landing_dir) / str(district)).iterdir():
            if datetime.fromtimestamp(path.stat().st_mtime, zone).date() == day:
                return path
        raise FileNotFoundError(f"no demo file of {day} for district {district}: run generate first")

    receipts = Path(landing_dir).parent / "receipts"

    def stamp(path: Path, at: time) -> None:
        moment = datetime.combine(day, at, zone)
        os.utime(path, (moment.timestamp(), moment.timestamp()))
        district, sha = int(path.parent.name), intake.sha256_of(path)
        intake.receipt_path(receipts, district, sha).unlink(missing_ok=True)  # the evening's time, not the plan's
        intake.write_receipt(receipts, district, sha, moment, "demo", path.name)

    file_of(missing).unlink()
    held = Path(later_dir)
    for district in (late, rejected):
        (held / str(district)).mkdir(parents=True, exist_ok=True)
    late_file = file_of(late)
    late_target = held / str(late) / late_file.name
    late_file.replace(late_target)
    stamp(late_target, LATE_AT)

    good = file_of(rejected)
    parsed = intake.read_submission(good, rejected, max_bytes=10**8)  # as the pipeline reads the clerk's good file
    bad_rows = [dict(r) for r in parsed.rows]
    bad_rows[0]["new_cases"] = -3  # a typo the clerk will hear about within minutes; the file is rejected
    bad = Path(landing_dir) / str(rejected) / f"{good.stem} (loi).csv"
    write_csv(bad_rows, bad)
    stamp(bad, REJECTED_AT)
    corrected = held / str(rejected) / f"{good.stem} (sua lai){good.suffix}"
    good.replace(corrected)
    stamp(corrected, CORRECTED_AT)
    names = {d.code: d.name for d in reference.districts(province_code, on=day)}
    return {"missing": names[missing], "late": names[late], "rejected_then_corrected": names[rejected]}
