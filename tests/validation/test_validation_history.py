"""History rules against the warehouse: each rule broken and kept; false alarms and planted anomalies on demo data.

The history is demo rows recorded as accepted files in a DuckDB warehouse
(in memory: same tables, same SQL); the files under test are validated through
`bantin.validation.validate_files`, all in one GX call per suite.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pytest

from .validation_helpers import DAY, DISTRICT, by_submission, demo_rows, district_day, frames, load_accepted


@pytest.fixture
def memory_warehouse():
    from bantin import store

    con = store.scratch()
    store.migrate(con)
    yield con
    con.close()


def _validate(con, files: dict[str, list[dict]], **frame_options):
    from bantin import validation

    rows, meta = frames(files, **frame_options)
    return validation.validate_files(rows, meta, history=con).findings


def _ceiling(expected: float) -> int:
    """The largest stock the stock-jump rule lets through (ratio 1.5, margin 20 in the suite)."""
    return math.floor(max(1.5 * expected, expected + 20))


# ---------------------------------------------------------------------- each rule


def _history_around_day() -> dict:
    """Ba Chẽ from DAY-14 to DAY+1 (DAY itself left for the files under test), shaped per commune:

    commune 0 had 4 new cases every day (a level of 4); commune 1 sent nothing
    for the 3 days before DAY, commune 2 for 2 days; commune 4's day after DAY
    carries a higher running total (a later date must not be the yardstick).
    """
    history = {}
    for offset in [*range(-14, 0), 1]:
        day = DAY + timedelta(days=offset)
        rows = district_day(day)
        rows[0].update(new_cases=4, new_cases_community=0)
        if offset == 1:
            rows[4]["vaccinated_65plus_full"] += 50
        drop = {1} if -3 <= offset <= -1 else set()
        drop |= {2} if -2 <= offset <= -1 else set()
        history[(day, DISTRICT)] = [r for i, r in enumerate(rows) if i not in drop]
    return history


def _variants():
    yesterday = district_day(DAY - timedelta(days=1))
    today = district_day()

    def stock(column, inflow_columns, extra):
        expected = yesterday[3][column] + sum(today[3][c] for c in inflow_columns)
        return {column: _ceiling(expected) + extra}

    return {
        "clean": ({}, set()),
        "spike": ({0: {"new_cases": 21}}, {"history.new_cases_spike"}),
        "spike_at_five_times": ({0: {"new_cases": 20}}, set()),
        "burst_after_silence": ({1: {"new_cases": 6}}, {"history.burst_after_silence"}),
        "few_after_silence": ({1: {"new_cases": 5}}, set()),
        "burst_after_short_silence": ({2: {"new_cases": 6}}, set()),
        "cumulative_decrease": (
            {4: {"vaccinated_65plus_full": yesterday[4]["vaccinated_65plus_full"] - 1}},
            {"history.cumulative_decrease"},
        ),
        "cumulative_below_a_later_day": (
            {4: {"vaccinated_65plus_full": yesterday[4]["vaccinated_65plus_full"]}},
            set(),
        ),
        "treatment_jump": ({3: stock("in_treatment", ["new_cases"], 1)}, {"history.stock_jump"}),
        "treatment_rise_plausible": ({3: stock("in_treatment", ["new_cases"], 0)}, set()),
        "quarantine_jump": ({3: stock("quarantine_home", ["f1_traced", "returnees"], 1)}, {"history.stock_jump"}),
        "quarantine_rise_plausible": ({3: stock("quarantine_centralized", ["f1_traced", "returnees"], 0)}, set()),
    }


def test_each_history_rule_breaks_and_holds(memory_warehouse):
    load_accepted(memory_warehouse, _history_around_day())
    variants = _variants()
    files = {}
    for name, (changes, _) in variants.items():
        rows = district_day()
        for index, values in changes.items():
            rows[index].update(values)
        files[name] = rows
    found = by_submission(_validate(memory_warehouse, files))

    for name, (changes, rules) in variants.items():
        assert {f.rule for f in found[name]} == rules, name
        for f in found[name]:  # blamed on the changed row, as the clerk numbers it
            assert f.row == 2 + next(iter(changes)), name
    decrease = found["cumulative_decrease"][0]
    assert (decrease.severity, decrease.column) == ("error", "vaccinated_65plus_full")
    spike = found["spike"][0]
    assert spike.severity == "warning" and "21" in spike.message_vi and "4" in spike.message_en


def test_a_file_rejected_by_history_is_not_history_for_a_later_date_in_the_same_run(memory_warehouse):
    """Two days arrive in one run (a backfill, a late district): the later day is judged against the last
    accepted figures, not against the earlier file that history just rejected."""
    load_accepted(
        memory_warehouse,
        {(DAY - timedelta(days=n), DISTRICT): district_day(DAY - timedelta(days=n)) for n in range(1, 8)},
    )
    accepted_total = district_day(DAY - timedelta(days=1))[4]["vaccinated_65plus_full"]
    wrong, next_day = district_day(DAY), district_day(DAY + timedelta(days=1))
    wrong[4]["vaccinated_65plus_full"] = accepted_total - 40  # a running total that went backwards: rejected
    next_day[4]["vaccinated_65plus_full"] = accepted_total - 20  # above the wrong file, still below the accepted
    # both received in this run: in the ledger, not accepted yet (what collect leaves for validate)
    load_accepted(memory_warehouse, {(DAY, DISTRICT): wrong, (DAY + timedelta(days=1), DISTRICT): next_day})
    wrong_id, next_id = f"hist-{DISTRICT}-{DAY:%Y%m%d}", f"hist-{DISTRICT}-{DAY + timedelta(days=1):%Y%m%d}"
    memory_warehouse.execute(
        "UPDATE ops.submission SET status = 'received' WHERE submission_id IN (?, ?)", [wrong_id, next_id]
    )
    found = by_submission(_validate(memory_warehouse, {wrong_id: wrong, next_id: next_day}))
    assert {f.rule for f in found[wrong_id]} == {"history.cumulative_decrease"}
    assert {f.rule for f in found[next_id]} == {"history.cumulative_decrease"}
    assert len(found[wrong_id]) == 1  # judged in the first round only: not reported twice


def test_no_history_no_history_findings(memory_warehouse):
    """A commune the warehouse has never seen is not judged: no baseline, no alarm."""
    rows = district_day()
    rows[0].update(new_cases=300, in_treatment=300)
    assert _validate(memory_warehouse, {"first": rows}) == []


# ---------------------------------------------------------------------- demo data

# Quảng Ninh, 01/12/2021–21/01/2022: the real series climbs from ~20 to ~390 cases a
# day, with quiet communes, clusters and days of zeros: the hard case for false alarms.
BUSY_START, BUSY_END = date(2021, 12, 1), date(2022, 1, 21)
PLANTED = 20


def _busy_rows() -> dict:
    return {key: [dict(r) for r in rows] for key, rows in demo_rows(BUSY_START, BUSY_END).items()}


def _validate_everything(con, rows_by_key):
    """Record every file as accepted history, then validate every file against the days before it."""
    load_accepted(con, rows_by_key)
    files = {f"{district}-{day:%Y%m%d}": rows for (day, district), rows in rows_by_key.items()}
    return _validate(con, files)


def test_false_alarm_rate_on_demo_data(memory_warehouse):
    rows_by_key = _busy_rows()
    commune_days = sum(len(rows) for rows in rows_by_key.values())
    found = _validate_everything(memory_warehouse, rows_by_key)
    warnings = [f for _, f in found if f.severity == "warning"]
    errors = [f for _, f in found if f.severity == "error"]
    rate = 100 * len(warnings) / commune_days
    print(f"\nfalse alarms: {len(warnings)} warnings over {commune_days} commune-days = {rate:.2f} per 100")
    assert errors == []
    assert rate < 1.0


def _plant(rows_by_key: dict, rng: random.Random) -> list[tuple[str, int, str]]:
    """20 anomalies a data manager must see, each in its own commune: (file, row number, rule) to find."""
    days = sorted({day for day, _ in rows_by_key})
    by_commune = {}
    for (day, district), rows in rows_by_key.items():
        for index, row in enumerate(rows):
            by_commune.setdefault(row["commune_code"], {})[day] = (district, index)
    communes = rng.sample(sorted(by_commune), PLANTED)

    def row_of(commune, day):
        district, index = by_commune[commune][day]
        return rows_by_key[(day, district)][index], (day, district)

    planted = []
    kinds = ["spike"] * 6 + ["stock"] * 5 + ["decrease"] * 5 + ["burst"] * 4
    for kind, commune in zip(kinds, communes, strict=False):
        day = rng.choice(days[20:-1])
        row, key = row_of(commune, day)
        before, _ = row_of(commune, day - timedelta(days=1))
        if kind == "spike":
            # far above anything the commune reported in the last two weeks
            recent = [row_of(commune, day - timedelta(days=k))[0]["new_cases"] for k in range(1, 15)]
            row["new_cases"] = max(11, 5 * max(recent) + 1) + rng.randint(0, 20)
            rule = "history.new_cases_spike"
        elif kind == "stock":
            column = rng.choice(["in_treatment", "quarantine_centralized", "quarantine_home"])
            inflow = row["new_cases"] if column == "in_treatment" else row["f1_traced"] + row["returnees"]
            row[column] = _ceiling(before[column] + inflow) + rng.randint(1, 30)
            row["severe"] = min(row["severe"], row["in_treatment"])
            rule = "history.stock_jump"
        elif kind == "decrease":
            row["vaccinated_65plus_full"] = before["vaccinated_65plus_full"] - rng.randint(1, 20)
            rule = "history.cumulative_decrease"
        else:
            for k in (1, 2, 3):  # three days without the commune's row, then a catch-up
                district, index = by_commune[commune][day - timedelta(days=k)]
                rows_by_key[(day - timedelta(days=k), district)][index] = None
            row["new_cases"] = rng.randint(6, 10)
            rule = "history.burst_after_silence"
        row["new_cases_community"] = min(row["new_cases_community"], row["new_cases"])
        row["tests_performed"] = max(row["tests_performed"], row["tests_positive"])
        planted.append((key, row, rule))
    for key, rows in rows_by_key.items():
        rows_by_key[key] = [r for r in rows if r is not None]
    # row numbers once the silent days' rows are gone, as the files will be written
    return [
        (f"{district}-{day:%Y%m%d}", 2 + next(i for i, r in enumerate(rows_by_key[(day, district)]) if r is row), rule)
        for (day, district), row, rule in planted
    ]


def test_planted_anomalies_are_all_found(memory_warehouse):
    rows_by_key = _busy_rows()
    planted = _plant(rows_by_key, random.Random(4))
    found = _validate_everything(memory_warehouse, rows_by_key)
    seen = {(sid, f.row, f.rule) for sid, f in found}
    missed = [p for p in planted if p not in seen]
    assert missed == [], f"missed {len(missed)} of {PLANTED}: {missed}"
