"""Writes the row-rule suite JSON from the submission contract.

The suite JSON under expectations/ is the source of truth that GX loads; this
script only saves typing the twenty identical non-negative rules by hand.
Run: .venv/bin/python expectations/build_suites.py
"""

import json
from pathlib import Path

from bantin.submission_format import COLUMN_BY_NAME, COUNT_COLUMNS

HERE = Path(__file__).resolve().parent


def non_negative(column: str) -> dict:
    header = COLUMN_BY_NAME[column].header_vi
    return {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": column, "min_value": 0},
        "meta": {
            "severity": "error",
            "rule": "count.non_negative",
            "blame": column,
            "message_vi": f"Số âm ({{value}}) ở cột \"{header}\": số đếm phải ≥ 0.",
            "message_en": f"Negative value ({{value}}) in \"{header}\": counts must be ≥ 0.",
        },
    }


def at_most(small: str, large: str, rule: str, vi: str, en: str) -> dict:
    return {
        "type": "expect_column_pair_values_a_to_be_greater_than_b",
        "kwargs": {"column_A": large, "column_B": small, "or_equal": True,
                   "ignore_row_if": "either_value_is_missing"},
        "meta": {"severity": "error", "rule": rule, "blame": small, "message_vi": vi, "message_en": en},
    }


def rows_suite() -> dict:
    return {
        "name": "submission_rows",
        "meta": {"concern": "row and cross-field rules of the submission format v1"},
        "expectations": [non_negative(c) for c in COUNT_COLUMNS] + [
            at_most("new_cases_community", "new_cases", "cross.community_le_new_cases",
                    "Ca trong cộng đồng ({small}) nhiều hơn tổng ca mắc mới ({large}).",
                    "Community cases ({small}) exceed all new cases ({large})."),
            at_most("tests_positive", "tests_performed", "cross.positive_le_tests",
                    "Số mẫu dương tính ({small}) nhiều hơn số mẫu xét nghiệm ({large}).",
                    "Positive samples ({small}) exceed samples tested ({large})."),
            at_most("severe", "in_treatment", "cross.severe_le_in_treatment",
                    "Ca nặng ({small}) nhiều hơn số đang điều trị ({large}).",
                    "Severe cases ({small}) exceed patients in treatment ({large})."),
            at_most("vaccinated_18plus_full", "vaccinated_18plus_dose1", "cross.full_le_dose1",
                    "Số tiêm đủ liều ({small}) nhiều hơn số tiêm ít nhất 1 mũi ({large}).",
                    "Fully vaccinated ({small}) exceed those with at least one dose ({large})."),
            at_most("vaccinated_18plus_dose1", "population_18plus", "cross.dose1_le_population_18plus",
                    "Số người ≥18 tuổi đã tiêm ({small}) vượt dân số ≥18 tuổi của xã ({large}).",
                    "Vaccinated people aged 18+ ({small}) exceed the commune's population aged 18+ ({large})."),
            at_most("vaccinated_65plus_full", "population_65plus", "cross.full65_le_population_65plus",
                    "Số người ≥65 tuổi tiêm đủ liều ({small}) vượt dân số ≥65 tuổi của xã ({large}).",
                    "Fully vaccinated people aged 65+ ({small}) exceed the commune's population aged 65+ ({large})."),
        ],
    }


if __name__ == "__main__":
    path = HERE / "submission_rows.json"
    path.write_text(json.dumps(rows_suite(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
