"""End to end through Airflow: demo inboxes → `airflow dags test daily_bulletin 2021-10-19` →
warehouse and bulletin, checked against the real published series for Quảng Ninh."""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pytest

from bantin import pipeline, reference

from conftest import DEMO_END, DEMO_PROVINCE, DEMO_START, assert_dag_run_succeeded, run_airflow, warehouse_rows


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, demo_landing_template, airflow_home):
    """01–18/10 loaded in one process, then the 19th through Airflow, as `make demo` does."""
    import os

    from bantin.config import load_settings

    from conftest import copy_landing

    home = tmp_path_factory.mktemp("e2e") / "var"
    env = {**airflow_home, "BANTIN_HOME": str(home), "BANTIN_PROVINCE": str(DEMO_PROVINCE)}
    saved = {k: os.environ.get(k) for k in ("BANTIN_HOME", "BANTIN_PROVINCE")}
    os.environ.update({"BANTIN_HOME": str(home), "BANTIN_PROVINCE": str(DEMO_PROVINCE)})
    try:
        settings = load_settings()
        copy_landing(demo_landing_template, settings.landing)
        pipeline.run_days(settings, DEMO_START, DEMO_END - timedelta(days=1), bulletin=False)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    result = run_airflow(env, "dags", "test", "daily_bulletin", DEMO_END.isoformat())
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return settings, result


def test_every_task_succeeded(demo_run):
    _, result = demo_run
    assert_dag_run_succeeded(result)


def test_province_totals_equal_the_real_series(demo_run):
    settings, _ = demo_run
    real = reference.real_daily_cases(DEMO_PROVINCE)
    rows = dict(warehouse_rows(settings, "SELECT report_date, new_cases FROM marts.province_daily ORDER BY 1"))
    days = [DEMO_START + timedelta(days=i) for i in range((DEMO_END - DEMO_START).days + 1)]
    assert sorted(rows) == days
    assert {d: rows[d] for d in days} == {d: real.get(d, 0) for d in days}
    assert rows[date(2021, 10, 2)] == 2 and rows[DEMO_END] == 0


def test_bulletin_shows_the_published_figures_and_level_1(demo_run):
    settings, _ = demo_run
    folder = settings.bulletins / DEMO_END.isoformat() / "v1"
    document = json.loads((folder / "bulletin.json").read_text(encoding="utf-8"))
    province = document["figures"]["province"]
    assert province["new_cases"] == reference.real_daily_cases(DEMO_PROVINCE)[DEMO_END] == 0
    assert (
        province["new_cases_7d"]
        == warehouse_rows(settings, "SELECT new_cases_7d FROM marts.province_daily WHERE report_date = ?", [DEMO_END])[
            0
        ][0]
    )
    assert province["level"]["level"] == 1
    assert document["figures"]["reporting"]["missing_or_rejected"] == []
    assert document["figures"]["provisional"] is False
    html = (folder / "bulletin.html").read_text(encoding="utf-8")
    assert "Số liệu tính đến 17:00 ngày 19/10/2021" in html
    assert "Quảng Ninh" in html
    assert (folder / "bulletin.pdf").read_bytes().startswith(b"%PDF")


def test_every_unit_is_at_level_1_on_19_october(demo_run):
    settings, _ = demo_run
    rows = warehouse_rows(
        settings,
        "SELECT unit_type, level, count(*) FROM marts.epidemic_level WHERE report_date = ? GROUP BY ALL ORDER BY ALL",
        [DEMO_END],
    )
    assert rows == [("commune", 1, 177), ("district", 1, 13), ("province", 1, 1)]


def test_delivery_and_analyst_snapshot(demo_run):
    settings, _ = demo_run
    assert (settings.outbox / DEMO_END.isoformat() / "v1.eml").exists()
    with duckdb.connect(str(settings.analytics_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.commune_daily").fetchone()[0] == 177 * 19  # the 2021 list


def test_every_file_was_archived_byte_for_byte_and_accepted(demo_run):
    settings, _ = demo_run
    rows = warehouse_rows(settings, "SELECT status, count(*) FROM ops.submission GROUP BY 1")
    assert rows == [("accepted", 13 * 19)]
    from bantin.intake import sha256_of

    for archive_path, sha in warehouse_rows(settings, "SELECT archive_path, sha256 FROM ops.submission"):
        assert sha256_of(settings.home / archive_path) == sha
