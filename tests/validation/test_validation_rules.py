"""Row and file rules: for each rule a file that breaks it and one that only just keeps it.

All variants are validated together in one GX call (module fixture), as the
pipeline validates a run's files; each test then reads its own file's findings.
Rows are numbered as in a CSV the clerk opens: header on line 1, first commune on line 2.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bantin import reference

from .validation_helpers import DAY, DISTRICT, OTHER_DISTRICT, by_submission, district_day, frames


def _set(index: int, **values):
    def change(rows):
        rows[index].update(values)

    return change


def _relative(index: int, column: str, other: str, delta: int):
    """rows[index][column] = rows[index][other] + delta (other may be a population column)."""

    def change(rows):
        row = rows[index]
        unit = reference.commune(row["commune_code"], on=DAY)
        base = getattr(unit, other) if other.startswith("population") else row[other]
        if column == "vaccinated_18plus_dose1":  # keep full <= dose1 so only the rule under test breaks
            row["vaccinated_18plus_full"] = min(row["vaccinated_18plus_full"], base + delta)
        row[column] = base + delta

    return change


def _all_dates(day):
    def change(rows):
        for row in rows:
            row["report_date"] = day

    return change


def _drop(index: int):
    def change(rows):
        del rows[index]

    return change


def _foreign_commune(rows):
    rows[0]["commune_code"] = reference.communes(district_code=OTHER_DISTRICT, on=DAY)[0].code


def _duplicate(rows):
    rows[1]["commune_code"] = rows[0]["commune_code"]


def _name_short_form(rows):
    # "Thanh Sơn" for "Xã Thanh Sơn", typed in capitals and decomposed Unicode
    import unicodedata

    short = rows[1]["commune_name"].split(" ", 1)[1]
    rows[1]["commune_name"] = unicodedata.normalize("NFD", short.upper())


# variant -> (change, {(rule, row)} expected; row None = not a row of the file)
VARIANTS = {
    "clean": (lambda rows: None, set()),
    "negative_count": (_set(1, deaths=-1), {("count.non_negative", 3)}),
    "zero_counts": (
        _set(2, new_cases=0, new_cases_community=0, tests_performed=0, tests_positive=0, in_treatment=0, severe=0),
        set(),
    ),
    "community_above_new": (_set(0, new_cases=3, new_cases_community=4), {("cross.community_le_new_cases", 2)}),
    "community_equal_new": (_set(0, new_cases=3, new_cases_community=3), set()),
    "positives_above_tests": (_relative(0, "tests_positive", "tests_performed", 1), {("cross.positive_le_tests", 2)}),
    "positives_equal_tests": (_relative(0, "tests_positive", "tests_performed", 0), set()),
    "severe_above_treatment": (_set(0, in_treatment=2, severe=3), {("cross.severe_le_in_treatment", 2)}),
    "severe_equal_treatment": (_set(0, in_treatment=3, severe=3), set()),
    "full_above_dose1": (
        _relative(0, "vaccinated_18plus_full", "vaccinated_18plus_dose1", 1),
        {("cross.full_le_dose1", 2)},
    ),
    "full_equal_dose1": (_relative(0, "vaccinated_18plus_full", "vaccinated_18plus_dose1", 0), set()),
    "dose1_above_population": (
        _relative(0, "vaccinated_18plus_dose1", "population_18plus", 1),
        {("cross.dose1_le_population_18plus", 2)},
    ),
    "dose1_equal_population": (_relative(0, "vaccinated_18plus_dose1", "population_18plus", 0), set()),
    "full65_above_population": (
        _relative(0, "vaccinated_65plus_full", "population_65plus", 1),
        {("cross.full65_le_population_65plus", 2)},
    ),
    "full65_equal_population": (_relative(0, "vaccinated_65plus_full", "population_65plus", 0), set()),
    "other_district": (_set(0, district_code=OTHER_DISTRICT), {("identity.district", 2)}),
    "foreign_commune": (_foreign_commune, {("identity.commune", 2), ("commune.missing", None)}),
    "unknown_commune": (_set(0, commune_code=99999), {("identity.commune", 2), ("commune.missing", None)}),
    "duplicate_commune": (_duplicate, {("commune.duplicate", 3), ("commune.missing", None)}),
    "missing_commune": (_drop(2), {("commune.missing", None)}),
    "name_mismatch": (_set(0, commune_name="Xã Không Có Trong Danh Mục"), {("commune.name_mismatch", 2)}),
    "name_short_form": (_name_short_form, set()),
    "date_not_uniform": (_set(2, report_date=DAY - timedelta(days=1)), {("report_date.not_uniform", 4)}),
    "date_future": (_all_dates(DAY + timedelta(days=1)), {("report_date.future", 2)}),
    "date_too_old": (_all_dates(DAY - timedelta(days=8)), {("report_date.too_old", 2)}),
    "date_oldest_allowed": (_all_dates(DAY - timedelta(days=7)), set()),
}


@pytest.fixture(scope="module")
def variant_files():
    files = {}
    for name, (change, _) in VARIANTS.items():
        rows = district_day()
        change(rows)
        files[name] = rows
    return files


@pytest.fixture(scope="module")
def findings(variant_files):
    from bantin import validation

    rows, meta = frames(variant_files, district=DISTRICT, as_of=DAY)
    outcome = validation.validate_files(rows, meta)
    return by_submission(outcome.findings)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_rule_breaks_and_holds(variant, findings):
    expected = VARIANTS[variant][1]
    assert {(f.rule, f.row) for f in findings[variant]} == expected


def test_findings_say_where_what_and_how_bad(findings, variant_files):
    (negative,) = findings["negative_count"]
    assert (negative.severity, negative.column, negative.value) == ("error", "deaths", "-1")
    assert "-1" in negative.message_vi and "Tử vong" in negative.message_vi

    (district,) = findings["other_district"]
    assert (district.column, district.value) == ("district_code", str(OTHER_DISTRICT))
    assert str(OTHER_DISTRICT) in district.message_en and "202" in district.message_en

    duplicate = next(f for f in findings["duplicate_commune"] if f.rule == "commune.duplicate")
    assert duplicate.value == str(variant_files["duplicate_commune"][0]["commune_code"])
    assert "dòng 2" in duplicate.message_vi and "row 2" in duplicate.message_en

    (missing,) = findings["missing_commune"]
    dropped = district_day()[2]
    assert (missing.severity, missing.column, missing.value) == (
        "warning",
        "commune_code",
        str(dropped["commune_code"]),
    )
    assert dropped["commune_name"] in missing.message_vi

    (future,) = findings["date_future"]
    assert (future.column, future.value) == ("report_date", "20/10/2021")
    assert "19/10/2021" in future.message_en

    (old,) = findings["date_too_old"]
    assert "7" in old.message_vi and old.value == "11/10/2021"

    (name,) = findings["name_mismatch"]
    assert name.severity == "warning" and name.value == "Xã Không Có Trong Danh Mục"


def test_a_clerks_file_through_check_file(settings, tmp_path):
    """The same rules through the `bantin validate` path: a real CSV, rows and headers as the clerk sees them."""
    from bantin.pipeline import check_file
    from bantin.submission_files import write_csv

    rows = district_day()
    rows[1]["deaths"] = -2
    rows[3]["district_code"] = OTHER_DISTRICT
    del rows[5]
    path = tmp_path / "202" / "bao cao.csv"
    path.parent.mkdir()
    write_csv(rows, path, encoding="utf-8-sig", separator=";", headers="vietnamese", date_style="dmy")

    found = check_file(settings, path, 202, DAY)
    assert [(f.rule, f.row, f.column, f.header, f.value) for f in found] == [
        ("commune.missing", None, "commune_code", "Mã xã", str(district_day()[5]["commune_code"])),
        ("count.non_negative", 3, "deaths", "Tử vong", "-2"),
        ("identity.district", 5, "district_code", "Mã huyện", str(OTHER_DISTRICT)),
    ]
