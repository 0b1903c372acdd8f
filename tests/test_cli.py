"""`bantin validate`: the clerk's check, exit codes and JSON per the runtime contract."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from bantin import demo_data
from bantin.submission_files import write_csv

DISTRICT = 207  # Huyện Cô Tô: 3 communes
DAY = date(2021, 10, 19)


def _run(*args, env_home):
    import os

    env = {**os.environ, "BANTIN_HOME": str(env_home)}
    return subprocess.run(
        [sys.executable, "-m", "bantin.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture
def good_file(tmp_path):
    rows = demo_data.generate_rows(22, DAY, DAY)[(DAY, DISTRICT)]
    path = tmp_path / "co_to.csv"
    write_csv(rows, path)
    return path, rows


def test_a_valid_file_is_accepted(good_file, tmp_path):
    path, _ = good_file
    result = _run(
        "validate",
        str(path),
        "--district",
        str(DISTRICT),
        "--as-of",
        DAY.isoformat(),
        "--format",
        "json",
        env_home=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert [f for f in json.loads(result.stdout) if f["severity"] == "error"] == []


def test_errors_name_row_column_value_rule_in_both_languages(good_file, tmp_path):
    path, rows = good_file
    rows[1]["new_cases"] = -3  # second commune: line 3 of the file (header is line 1)
    rows[2]["tests_positive"] = rows[2]["tests_performed"] + 5
    write_csv(rows, path)
    result = _run(
        "validate",
        str(path),
        "--district",
        str(DISTRICT),
        "--as-of",
        DAY.isoformat(),
        "--format",
        "json",
        env_home=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    findings = {(f["rule"], f["row"], f["column"]): f for f in json.loads(result.stdout)}
    negative = findings[("count.non_negative", 3, "new_cases")]
    assert negative["severity"] == "error" and negative["value"] == "-3"
    assert "Ca mắc mới" in negative["message_vi"] and "Negative" in negative["message_en"]
    assert ("cross.positive_le_tests", 4, "tests_positive") in findings
    assert set(negative) == {"severity", "row", "column", "header", "value", "rule", "message_vi", "message_en"}


def test_a_file_from_another_district_is_rejected_in_text_form(good_file, tmp_path):
    path, _ = good_file
    result = _run("validate", str(path), "--district", "193", "--as-of", DAY.isoformat(), env_home=tmp_path)
    assert result.returncode == 1
    assert "identity." in result.stdout and "BỊ TỪ CHỐI / REJECTED" in result.stdout


def test_bad_usage_exits_2_without_a_traceback(tmp_path):
    missing = _run("validate", str(tmp_path / "nope.csv"), "--district", "193", env_home=tmp_path)
    unknown = _run("validate", __file__, "--district", "99999", env_home=tmp_path)
    no_args = _run("validate", env_home=tmp_path)
    for result in (missing, unknown, no_args):
        assert result.returncode == 2
        assert "Traceback" not in result.stderr


def test_random_bytes_are_a_clear_error(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(bytes(range(256)) * 40)
    result = _run("validate", str(path), "--district", "193", "--format", "json", env_home=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [finding] = json.loads(result.stdout)
    assert finding["rule"].startswith("file.")
    assert finding["message_vi"] and finding["message_en"]
