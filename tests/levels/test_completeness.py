"""Missing data never makes a unit greener, through the real stages (files → GX → warehouse → levels).

Quảng Ninh 05–19/10/2021 from the demo rows, written as CSV files, with:
- 300 community cases in one commune of Hạ Long on 12/10 (Hạ Long and the
  province are raised while that day is in their 7-day window, 12–18/10);
- another Hạ Long commune left out of the district's files of 17 and 18/10
  (a warning, the file is accepted: the commune counts as not reported);
- Ba Chẽ's file of 19/10 never sent.
On 19/10 the big day has left the window: on the data that came in, Hạ Long
and the province would fall, but their windows are incomplete, so they keep
their level, marked incomplete, with the missing units named.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

PROVINCE, HA_LONG, BA_CHE = 22, 193, 202
FIRST, LAST = date(2021, 10, 5), date(2021, 10, 19)  # the window of 12/10 complete
BIG_DAY = date(2021, 10, 12)
GAP_DAYS = (date(2021, 10, 17), date(2021, 10, 18))


@pytest.fixture(scope="module")
def levels_on(tmp_path_factory):
    from bantin import demo_data, intake, pipeline, reference, store
    from bantin.config import load_settings
    from bantin.submission_files import write_csv

    home = tmp_path_factory.mktemp("gaps") / "var"
    communes = reference.communes(district_code=HA_LONG, on=LAST)
    cluster, gap = communes[0], communes[1]
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    for (day, district), rows in demo_data.generate_rows(PROVINCE, FIRST, LAST).items():
        if (day, district) == (LAST, BA_CHE):
            continue  # never sent
        if district == HA_LONG and day == BIG_DAY:
            rows = [
                {
                    **r,
                    "new_cases": r["new_cases"] + 300,
                    "new_cases_community": r["new_cases_community"] + 300,
                    "tests_performed": r["tests_performed"] + 3000,
                    "tests_positive": r["tests_positive"] + 300,
                }
                if r["commune_code"] == cluster.code
                else r
                for r in rows
            ]
        if district == HA_LONG and day in GAP_DAYS:
            rows = [r for r in rows if r["commune_code"] != gap.code]
        folder = home / "landing" / str(district)
        folder.mkdir(parents=True, exist_ok=True)
        path = write_csv(rows, folder / f"{day:%Y%m%d}.csv")
        received = datetime.combine(day, time(15, 0), tzinfo=zone)  # the demo channel's receipt time
        intake.write_receipt(home / "receipts", district, intake.sha256_of(path), received, "demo", path.name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BANTIN_HOME", str(home))
        patch.setenv("BANTIN_PROVINCE", str(PROVINCE))
        settings = load_settings()
        pipeline.collect(settings)
        pipeline.validate(settings)
        pipeline.build_marts(settings, LAST - timedelta(days=1))
        pipeline.build_marts(settings, LAST)  # incremental, as the daily run does
    with store.reader(settings.warehouse_path) as con:

        def level(unit_type: str, unit_code: int, day: date = LAST) -> dict:
            cursor = con.execute(
                "SELECT * FROM marts.epidemic_level WHERE report_date = ? AND unit_type = ? AND unit_code = ?",
                [day, unit_type, unit_code],
            )
            return dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))

        yield level, cluster, gap


def test_the_files_went_through(levels_on):
    level, cluster, gap = levels_on
    assert level("province", PROVINCE, BIG_DAY)["level"] == 2  # 300 community cases: band 2 for the province
    assert level("district", HA_LONG, BIG_DAY)["level"] >= 3


def test_the_province_keeps_its_level_on_an_incomplete_window_and_names_what_is_missing(levels_on):
    level, cluster, gap = levels_on
    before, now = level("province", PROVINCE, LAST - timedelta(days=1)), level("province", PROVINCE)
    assert before["level"] == 2
    assert now["criteria_level"] == 1  # what the data that came in would say
    assert (now["level"], now["is_complete"], now["completeness_held"]) == (2, False, True)
    assert now["commune_days_reported"] < now["commune_days_expected"] == 177 * 7  # the 2021 list
    assert "Huyện Ba Chẽ (không báo cáo ngày 19/10)" in now["reason"]
    assert "Thành phố Hạ Long (" in now["reason"]
    assert "giữ cấp 2, không hạ cấp khi thiếu số liệu" in now["reason"] and now["reason"].endswith("→ cấp 2")


def test_the_district_with_a_commune_missing_two_days_does_not_fall(levels_on):
    level, cluster, gap = levels_on
    before, now = level("district", HA_LONG, LAST - timedelta(days=1)), level("district", HA_LONG)
    assert now["criteria_level"] < before["level"]
    assert (now["level"], now["is_complete"], now["completeness_held"]) == (before["level"], False, True)
    assert f"{gap.name} (5/7 ngày)" in now["reason"]
    assert list(now["missing_units"]) == [f"{gap.name} (5/7 ngày)"]


def test_a_unit_with_a_complete_window_falls_as_the_data_says(levels_on):
    level, cluster, gap = levels_on
    commune = level("commune", cluster.code)
    assert commune["is_complete"] and commune["level"] == 1 and level("commune", cluster.code, BIG_DAY)["level"] >= 3


def test_a_district_that_sent_nothing_keeps_its_level_marked_stale(levels_on):
    level, cluster, gap = levels_on
    missing = level("district", BA_CHE)
    assert missing["is_stale"] and missing["assessed_on"] == LAST - timedelta(days=1)
