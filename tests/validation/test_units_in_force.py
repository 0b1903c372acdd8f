"""Identity checks on the unit list in force on the file's report date.

Phường Yết Kiêu (6682, Hạ Long) is on the 2021 list and was merged before the 2025-01-04 list;
Phường Cầu Đất (11344, Ngô Quyền, Hải Phòng) has a code of the 2025-01-04 list the 2021 list does not have.
A file is checked on the list of its own report date, whatever day it is validated.
"""

from __future__ import annotations

from datetime import date

import pytest

from bantin import reference
from bantin.submission_format import COUNT_COLUMNS

from .validation_helpers import by_submission, frames

OCT_2021, MAR_2025 = date(2021, 10, 19), date(2025, 3, 1)
HA_LONG, YET_KIEU = 193, 6682
NGO_QUYEN, CAU_DAT = 304, 11344


def _file(district: int, listed_on: date, dated: date) -> list[dict]:
    """A clean all-zero file of the communes on the list in force on `listed_on`, dated `dated`."""
    rows = []
    for c in reference.communes(district_code=district, on=listed_on):
        row = {
            "report_date": dated,
            "district_code": district,
            "commune_code": c.code,
            "commune_name": c.name,
            "notes": "",
            **dict.fromkeys(COUNT_COLUMNS, 0),
            "mobile_medical_stations": 1,
        }
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def findings():
    from bantin import validation

    files = {
        "ha_long_2021_on_2021": _file(HA_LONG, OCT_2021, OCT_2021),
        "ha_long_2021_list_dated_2025": _file(HA_LONG, OCT_2021, MAR_2025),
        "ngo_quyen_2025_on_2025": _file(NGO_QUYEN, MAR_2025, MAR_2025),
        "ngo_quyen_2025_list_dated_2021": _file(NGO_QUYEN, MAR_2025, OCT_2021),
    }
    rows, meta = frames(files)
    return by_submission(validation.validate_files(rows, meta).findings), files


def _identity_errors(findings, files, name) -> set[int]:
    rows = files[name]
    return {rows[f.row - 2]["commune_code"] for f in findings[name] if f.rule == "identity.commune"}


def test_a_code_merged_later_is_accepted_on_a_2021_date_and_refused_on_a_2025_one(findings):
    found, files = findings
    assert YET_KIEU in {r["commune_code"] for r in files["ha_long_2021_on_2021"]}
    assert not [f for f in found["ha_long_2021_on_2021"] if f.severity == "error"]
    assert _identity_errors(found, files, "ha_long_2021_list_dated_2025") == {YET_KIEU}
    (message,) = [f.message_en for f in found["ha_long_2021_list_dated_2025"] if f.rule == "identity.commune"]
    assert message == (
        "Commune code 6682 does not belong to district 193 on the unit list in force on the report "
        "date (the list of 2025-01-04)."
    )


def test_a_code_new_on_the_current_list_is_refused_on_a_2021_date_and_accepted_on_a_2025_one(findings):
    found, files = findings
    assert CAU_DAT in {r["commune_code"] for r in files["ngo_quyen_2025_on_2025"]}
    assert not [f for f in found["ngo_quyen_2025_on_2025"] if f.severity == "error"]
    assert CAU_DAT in _identity_errors(found, files, "ngo_quyen_2025_list_dated_2021")


def test_the_roster_of_missing_communes_is_the_list_in_force(findings):
    found, _files = findings
    missing = {f.message_en for f in found["ngo_quyen_2025_list_dated_2021"] if f.rule == "commune.missing"}
    assert any("Phường Cầu Đất (code 11353)" in m for m in missing)  # the 2021 ward under its 2021 code
