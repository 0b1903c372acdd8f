"""The suites as data: each loads whole, says how bad and what to tell the clerk, and covers the contract."""

from __future__ import annotations

import json
import sys

import pytest

from bantin import validation
from bantin.submission_format import COUNT_COLUMNS, CUMULATIVE_COLUMNS, Column

BANTIN_TYPES = (
    "expect_column_pair_values_a_to_be_within_scale_of_b",
    "expect_column_pair_values_a_to_be_at_most_where_b_at_least",
)


def test_every_suite_loads_whole_because_load_suite_registers_bantin_types(monkeypatch):
    """GX drops an expectation of an unregistered type without a word; load_suite must register ours itself.

    bantin's types are taken out of GX's registry and their module out of
    sys.modules: only load_suite's own import can bring them back.
    """
    from great_expectations.expectations import registry

    import bantin.gx_expectations  # noqa: F401

    for name in BANTIN_TYPES:
        monkeypatch.delitem(registry._registered_expectations, name)
    monkeypatch.delitem(sys.modules, "bantin.gx_expectations")

    for name in validation.SUITES:
        declared = validation.suite_definition(name)["expectations"]
        suite = validation.load_suite(name)
        assert [e.expectation_type for e in suite.expectations] == [e["type"] for e in declared], name
    used = {e["type"] for name in validation.SUITES for e in validation.suite_definition(name)["expectations"]}
    assert set(BANTIN_TYPES) <= used


def test_a_suite_that_loses_an_expectation_is_refused(tmp_path, monkeypatch):
    suite = validation.suite_definition(validation.ROW_SUITE)
    suite["expectations"][0]["type"] = "expect_column_values_to_be_betwen"  # misspelt: GX would drop it
    (tmp_path / "broken.json").write_text(json.dumps(suite), encoding="utf-8")
    monkeypatch.setattr(validation, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(RuntimeError, match="declared but only"):
        validation.load_suite("broken")


@pytest.mark.parametrize("name", validation.SUITES)
def test_each_expectation_carries_rule_severity_blame_and_both_languages(name):
    for expectation in validation.suite_definition(name)["expectations"]:
        meta = expectation["meta"]
        assert meta["severity"] in ("error", "warning")
        assert meta["rule"] and meta["blame"]
        assert meta["message_vi"].strip() and meta["message_en"].strip()
        assert meta["message_vi"] != meta["message_en"]


def test_suites_cover_every_rule_of_the_submission_format():
    rules: dict[str, set] = {}
    for name in validation.SUITES:
        for expectation in validation.suite_definition(name)["expectations"]:
            meta = expectation["meta"]
            rules.setdefault(meta["rule"], set()).add((meta["severity"], meta["blame"]))
    assert {blame for _, blame in rules["count.non_negative"]} == set(COUNT_COLUMNS)
    assert {blame for _, blame in rules["history.cumulative_decrease"]} == set(CUMULATIVE_COLUMNS)
    errors = {
        "identity.district",
        "identity.commune",
        "commune.duplicate",
        "report_date.not_uniform",
        "report_date.future",
        "report_date.too_old",
        "cross.community_le_new_cases",
        "cross.positive_le_tests",
        "cross.severe_le_in_treatment",
        "cross.full_le_dose1",
        "cross.dose1_le_population_18plus",
        "cross.full65_le_population_65plus",
        "cross.full50_le_population_50plus",
        "count.non_negative",
        "count.above_population",
        "history.cumulative_decrease",
    }
    warnings = {
        "commune.missing",
        "commune.name_mismatch",
        "history.new_cases_spike",
        "history.stock_jump",
        "history.burst_after_silence",
    }
    assert set(rules) == errors | warnings
    for rule, uses in rules.items():
        assert {severity for severity, _ in uses} == {"error" if rule in errors else "warning"}, rule


def test_the_json_suites_hold_no_copy_of_a_rule_made_from_the_contract():
    """`count.non_negative` and `history.cumulative_decrease` come from the contract, once per column."""
    for name in validation.SUITES:
        written = json.loads((validation.EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))
        assert not {e["meta"]["rule"] for e in written["expectations"]} & set(validation.CONTRACT_RULES), name
        assert set(written["meta"].get("contract_rules", [])) <= set(validation.CONTRACT_RULES), name
    made = {
        rule
        for name in validation.SUITES
        for rule in validation.suite_definition(name)["meta"].get("contract_rules", [])
    }
    assert made == set(validation.CONTRACT_RULES)


def test_a_count_column_added_to_the_contract_is_checked_without_editing_a_suite(monkeypatch):
    added = Column("antigen_tests", "Số mẫu test nhanh", "integer", "daily", "Rapid antigen tests on the report date")
    monkeypatch.setattr(validation, "COUNT_COLUMNS", (*COUNT_COLUMNS, added.name))
    monkeypatch.setitem(validation.COLUMN_BY_NAME, added.name, added)
    suite = validation.load_suite(validation.ROW_SUITE)
    checks = [e for e in suite.expectations if e.meta["rule"] == "count.non_negative"]
    assert [e.column for e in checks] == [*COUNT_COLUMNS, "antigen_tests"]
    assert checks[-1].meta["message_vi"] == 'Số âm ({value}) ở cột "Số mẫu test nhanh": số đếm phải ≥ 0.'
