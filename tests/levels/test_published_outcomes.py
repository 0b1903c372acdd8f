"""Published decisions reproduced from demo files built on the real case series, through the real stages.

Thanh Hóa, 21/10/2021: its case rate was in the lowest band (a few cases per
100,000 a week, the real series), fewer than 70% of people aged 18+ had a first
dose and its elderly coverage was low too; the province announced level 2
(notice 419-CV/TU). The coverage shortfalls together raise one level, not two.
(Quảng Ninh 19/10/2021, level 1 everywhere: tests/warehouse/test_marts.py.)
"""

from __future__ import annotations

from datetime import date

import pytest

THANH_HOA = 38
DAY = date(2021, 10, 21)


@pytest.fixture(scope="module")
def thanh_hoa(tmp_path_factory):
    from bantin import demo_data, pipeline, store
    from bantin.config import load_settings

    home = tmp_path_factory.mktemp("thanh-hoa") / "var"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BANTIN_HOME", str(home))
        patch.setenv("BANTIN_PROVINCE", str(THANH_HOA))
        settings = load_settings()
        # the seven days of the window ending on the 21st, every district's file
        demo_data.generate(THANH_HOA, date(2021, 10, 15), DAY, settings.landing)
        pipeline.collect(settings)
        pipeline.validate(settings)
        pipeline.build_marts(settings, DAY)
    with store.reader(settings.warehouse_path) as con:
        yield con


def test_thanh_hoa_21_10_2021_is_level_2_and_the_reason_says_why(thanh_hoa):
    from bantin import reference

    level, band, rate, coverage, elderly, raised, complete, reason = thanh_hoa.execute(
        "SELECT level, transmission_band, cases_per_100k_week, coverage_18plus_dose1, coverage_elderly_full, "
        "elderly_raised, is_complete, reason FROM marts.epidemic_level "
        "WHERE report_date = ? AND unit_type = 'province'",
        [DAY],
    ).fetchone()
    all_cases = thanh_hoa.execute(
        "SELECT new_cases_7d FROM marts.province_daily WHERE report_date = ?", [DAY]
    ).fetchone()[0]
    real = reference.real_daily_cases(THANH_HOA)
    assert all_cases == sum(real[date(2021, 10, d)] for d in range(15, 22))  # the published series
    assert complete and band == 1 and rate < 20
    assert coverage < 0.70 and elderly < 0.80 and not raised
    assert level == 2
    assert "(7 ngày; < 20: cấp 1)" in reason
    assert "người ≥18 tuổi tiêm ≥1 mũi (< 70%)" in reason
    assert "người ≥65 tuổi tiêm đủ liều (< 80%): không tăng thêm" in reason
    assert reason.endswith("→ cấp 2")
