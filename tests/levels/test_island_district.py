"""An island district without communes has a level of its own (docs/spec/epidemic-levels.md, completeness).

Quảng Ngãi (51) 05–19/10/2021 from the demo rows, through the real stages
(files → intake → GX → warehouse → levels). Lý Sơn (536) has no commune: it
sends one row under its own code: no case but on 12/10, 40 community cases
(≈207 per 100,000 for its 19,307 people; the rule set is in force from
12/10). It gets a district level computed from
its own rows, the province's totals include it, and when its file of 19/10 is
missing it is held like any other district and named as missing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

QUANG_NGAI, LY_SON = 51, 536
FIRST, LAST = date(2021, 10, 5), date(2021, 10, 19)
BIG_DAY = date(2021, 10, 12)
OUTBREAK = 40


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    from bantin import demo_data, intake, pipeline, store
    from bantin.config import load_settings
    from bantin.submission_files import write_csv

    home = tmp_path_factory.mktemp("island") / "var"
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    sent = {}
    for (day, district), rows in demo_data.generate_rows(QUANG_NGAI, FIRST, LAST).items():
        if district == LY_SON and day == LAST:
            continue  # never sent: Lý Sơn's window of 19/10 is incomplete
        if district == LY_SON:  # quiet but for one outbreak day, whatever the demo's share of the province
            cases = OUTBREAK if day == BIG_DAY else 0
            rows = [
                {
                    **r,
                    "new_cases": cases,
                    "new_cases_community": cases,
                    "tests_performed": r["tests_performed"] + 10 * cases,
                    "tests_positive": cases,
                }
                for r in rows
            ]
        sent[(day, district)] = rows
        folder = home / "landing" / str(district)
        folder.mkdir(parents=True, exist_ok=True)
        path = write_csv(rows, folder / f"{day:%Y%m%d}.csv")
        received = datetime.combine(day, time(15, 0), tzinfo=zone)
        intake.write_receipt(home / "receipts", district, intake.sha256_of(path), received, "demo", path.name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BANTIN_HOME", str(home))
        patch.setenv("BANTIN_PROVINCE", str(QUANG_NGAI))
        settings = load_settings()
        pipeline.collect(settings)
        pipeline.validate(settings)
        pipeline.build_marts(settings, LAST)
    with store.reader(settings.warehouse_path) as con:

        def query(sql: str, *params) -> list[dict]:
            cursor = con.execute(sql, list(params))
            return [dict(zip([d[0] for d in cursor.description], row, strict=True)) for row in cursor.fetchall()]

        yield query, sent


def _level(query, unit_type: str, unit_code: int, day: date) -> dict:
    (row,) = query(
        "SELECT * FROM marts.epidemic_level WHERE report_date = ? AND unit_type = ? AND unit_code = ?",
        day,
        unit_type,
        unit_code,
    )
    return row


def test_every_file_of_the_island_was_accepted(marts):
    query, _ = marts
    rows = query("SELECT report_date, status FROM marts.reporting_status WHERE district_code = ? ORDER BY 1", LY_SON)
    assert [r["status"] for r in rows if r["report_date"] < LAST] == ["on_time"] * 14
    assert rows[-1]["report_date"] == LAST and rows[-1]["status"] == "missing"


def test_the_island_district_has_its_own_level_with_a_reason(marts):
    query, _ = marts
    big = _level(query, "district", LY_SON, BIG_DAY)
    assert big["unit_name"] == "Huyện Lý Sơn"
    # ≥ 40 community cases over 19,307 people in a week: band 3 at least, so level 3 or 4
    assert big["cases_per_100k_week"] >= OUTBREAK * 100_000 / 19_307
    assert big["level"] >= 3
    assert big["is_complete"] and not big["missing_units"]
    assert f"cấp {big['level']}" in big["reason"] and "ca cộng đồng" in big["reason"]
    # its own rows, not the province's: the province as a whole stays lower
    assert _level(query, "province", QUANG_NGAI, BIG_DAY)["level"] < big["level"]


def test_the_island_is_never_missing_from_the_levels(marts):
    query, _ = marts
    days = query("SELECT count(DISTINCT report_date) AS n FROM marts.epidemic_level")[0]["n"]
    rows = query(
        "SELECT report_date, level FROM marts.epidemic_level WHERE unit_type = 'district' AND unit_code = ?", LY_SON
    )
    assert len(rows) == days and all(r["level"] is not None for r in rows)


def test_the_province_totals_include_the_island(marts):
    from bantin import reference

    query, sent = marts
    for day in (BIG_DAY, LAST - timedelta(days=1)):
        (province,) = query("SELECT * FROM marts.province_daily WHERE report_date = ?", day)
        districts = query("SELECT * FROM marts.district_daily WHERE report_date = ?", day)
        assert LY_SON in {d["district_code"] for d in districts}
        assert (
            province["new_cases"]
            == sum(d["new_cases"] for d in districts)
            == sum(r["new_cases"] for (d, _), rows in sent.items() if d == day for r in rows)
        )
        expected = len(reference.districts(QUANG_NGAI, on=day))  # 13, Lý Sơn included
        assert province["districts_expected"] == province["districts_reported"] == expected == len(districts)
        assert province["population"] == sum(d["population"] for d in districts)
        (ly_son,) = [d for d in districts if d["district_code"] == LY_SON]
        assert (ly_son["population"], ly_son["communes_expected"], ly_son["communes_reported"]) == (19_307, 1, 1)


def test_a_missing_island_file_holds_its_level_and_is_named(marts):
    query, _ = marts
    before, now = _level(query, "district", LY_SON, LAST - timedelta(days=1)), _level(query, "district", LY_SON, LAST)
    assert before["level"] >= 3  # the outbreak of 12/10 is still in the window of 18/10
    # on 19/10 the outbreak has left the window, but the island's own file of 19/10 is missing:
    # no new assessment, it keeps its level, marked incomplete and stale, never greener
    assert (now["level"], now["is_complete"], now["is_stale"]) == (before["level"], False, True)
    assert "Không có số liệu ngày 19/10/2021; giữ cấp" in now["reason"]
    assert (now["commune_days_reported"], now["commune_days_expected"]) == (6, 7)
    assert now["missing_units"] == ["Huyện Lý Sơn (6/7 ngày)"]
    province = _level(query, "province", QUANG_NGAI, LAST)
    assert province["is_complete"] is False
    assert "Huyện Lý Sơn (không báo cáo ngày 19/10)" in province["reason"]
