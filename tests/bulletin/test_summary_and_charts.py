"""The summary sentence, the attention list and the charts from hand-made figures (no warehouse: fast, exact)."""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image

from bantin import bulletin, charts


def figures(**province) -> dict:
    p = {
        "new_cases": 1369,
        "new_cases_community": 120,
        "new_cases_7d": 5000,
        "new_cases_prev_7d": 4000,
        "districts_expected": 13,
        "level": {"level": 3, "colour_vi": "cam", "level_changed": True, "previous_level": 2},
    }
    p.update(province)
    return {
        "report_date": "2022-01-21",
        "province": p,
        "form": {"scope": "toàn tỉnh"},
        "reporting": {"missing_or_rejected": []},
    }


def test_the_sentence_says_what_happened_which_way_the_level_and_who_is_missing():
    text = bulletin.headline(figures())
    assert text == (
        "Ngày 21/01/2022, toàn tỉnh ghi nhận 1.369 ca mắc mới (120 ca trong cộng đồng); "
        "7 ngày qua có 5.000 ca, tăng 25% (+1.000 ca) so với 7 ngày trước đó; "
        "cấp độ dịch toàn tỉnh là cấp 3, tăng từ cấp 2 so với hôm trước; tất cả 13 đơn vị đã báo cáo."
    )
    down = figures(new_cases_7d=3000, level={"level": 2, "colour_vi": "vàng", "level_changed": False})
    down["reporting"]["missing_or_rejected"] = ["Huyện Cô Tô", "Huyện Ba Chẽ"]
    text = bulletin.headline(down)
    assert "giảm 25% (-1.000 ca) so với 7 ngày trước đó" in text
    assert "cấp 2, không thay đổi so với hôm trước" in text
    assert text.endswith("còn 2/13 đơn vị chưa có báo cáo hợp lệ (Huyện Cô Tô, Huyện Ba Chẽ), số liệu là tạm thời.")
    assert "chưa đủ số liệu để so sánh" in bulletin.headline(figures(new_cases_prev_7d=None))


def test_a_signed_off_level_is_shown_declared_with_the_computed_one_beside_it():
    signed = figures(declared_level=4, computed_level={"level": 3})
    assert bulletin.level_view(signed["province"]) == {"shown": 4, "computed": 3, "declared": 4, "differs": True}
    assert "cấp độ dịch toàn tỉnh là cấp 4 (công bố; kết quả tính toán: cấp 3)" in bulletin.headline(signed)
    assert bulletin.level_view(figures()["province"])["differs"] is False  # no sign-off: the computed level
    # a sign-off that adds the declared level after the marts were read is what the sentence says when rendered
    later = {**figures(), "districts": []}
    later["province"]["declared_level"] = 4
    assert "là cấp 4 (công bố" in bulletin.with_decision(later)["headline"]


def test_districts_needing_attention_come_most_urgent_first():
    def district(name, status="on_time", level=1, changed=False, previous=None, now=10, before=10):
        return {
            "district_code": len(name),
            "district_name": name,
            "reporting_status": status,
            "new_cases_7d": now,
            "new_cases_prev_7d": before,
            "level": {"level": level, "colour_vi": "x", "level_changed": changed, "previous_level": previous},
        }

    found = bulletin.attention(
        {
            "districts": [
                district("Quiet"),
                district("Rising", now=40, before=20),
                district("Orange", level=3),
                district("Up", level=2, changed=True, previous=1),
                district("Silent", status="missing"),
            ]
        }
    )
    assert [a["district_name"] for a in found] == ["Silent", "Orange", "Up", "Rising"]
    assert found[3]["reasons"] == ["ca mắc 7 ngày tăng 100% (20 → 40)"]
    assert found[2]["reasons"] == ["tăng từ cấp 1 lên cấp 2"]
    # on a two-tier list the rows are reporting areas, whose level is only for reference
    areas = bulletin.attention(
        {"districts_are_areas": True, "districts": [district("Up", level=3, changed=True, previous=1)]}
    )
    assert areas[0]["reasons"] == ["cấp 3 (x) (tham khảo)", "tăng từ cấp 1 lên cấp 3 (tham khảo)"]


def trend_days(n=56):
    days = [
        {
            "report_date": f"2022-01-{1 + i % 28:02d}",
            "new_cases": 100 + i,
            "new_cases_community": 10,
            "complete": True,
            "average_7d": 100.0 + i,
        }
        for i in range(n)
    ]
    days[0]["new_cases"] = None  # no report at all
    days[-1]["complete"] = False  # a district missing today
    return days


def test_the_trend_marks_incomplete_days_and_does_not_draw_a_missing_day_as_zero():
    chart = charts.trend_chart(trend_days())
    bars = [s for s in chart.shapes if s[0] == "rect"]
    assert any(s[5] == charts.NO_DATA and s[4] == 2 for s in bars), "a day without report is a grey mark"
    incomplete = [s for s in bars if s[5] == charts.BAR_INCOMPLETE and s[4] > 10]
    assert len(incomplete) == 1 and incomplete[0][7] is True  # pale and hatched
    svg = charts.to_svg(chart)
    assert svg.count('fill="url(#hatch-') >= 2  # today's bar and its legend
    assert re.search(r'<path d="M[^"]+"[^>]*stroke="#d84315"', svg), "the 7-day average line"


def test_small_multiples_share_one_scale_written_on_each():
    figures = {
        "districts": [{"district_code": 1, "district_name": "Lớn"}, {"district_code": 2, "district_name": "Nhỏ"}],
        "district_trends": {
            "1": [{"report_date": "2022-01-01", "new_cases": 1369}],
            "2": [{"report_date": "2022-01-01", "new_cases": 11}],
        },
        "trend": trend_days(),
        "level_history": {"days": ["2022-01-01"], "rows": []},
    }
    drawn = charts.bulletin_charts(figures)
    big, small = drawn["district_list"]
    for chart in (big, small):
        assert any(s[0] == "text" and s[3] == "thang chung: 2.000" for s in chart.shapes)
    height = {c.label: max(s[4] for s in c.shapes if s[0] == "rect") for c in (big, small)}
    assert height[big.label] > 20 * height[small.label]  # 1.369 against 11 on one scale, not both full height


def test_png_charts_are_real_images_of_the_same_drawing():
    chart = charts.trend_chart(trend_days())
    png = charts.to_png(chart)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (int(chart.width * 2), int(chart.height * 2))
        colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 20)}
    assert (0x15, 0x65, 0xC0) in colours and (0xD8, 0x43, 0x15) in colours  # the bars and the average line


def test_a_bar_thinner_than_a_pixel_is_drawn_not_an_error():
    """Quảng Ninh's busy 21/01/2022 had a district bar 0.3 px high: the mail's PNG failed and took the bulletin."""
    chart = charts.Chart(100, 40, "một cột rất thấp")
    chart.rect(10, 30, 8, 0.3, "#1565c0")
    chart.rect(20, 30, 0.2, 8, "#1565c0")
    with Image.open(io.BytesIO(charts.to_png(chart))) as image:
        colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 20)}
    assert (0x15, 0x65, 0xC0) in colours


def test_a_chart_that_cannot_be_drawn_leaves_the_mail_without_it_not_the_day_without_a_bulletin(monkeypatch, caplog):
    from bantin import bulletin

    drawn = charts.bulletin_charts(
        {
            "districts": [{"district_code": 1, "district_name": "Huyện Một"}],
            "district_trends": {"1": [{"report_date": "2022-01-01", "new_cases": 3}]},
            "trend": trend_days(),
            "level_history": {"days": ["2022-01-01"], "rows": []},
        }
    )
    real_to_png = charts.to_png

    def to_png(chart, **options):
        if chart is drawn["districts"]:
            raise ValueError("a drawing bug")
        return real_to_png(chart, **options)

    monkeypatch.setattr(charts, "to_png", to_png)
    images = bulletin.mail_images({"figures": {}}, drawn)
    assert set(images) == {"trend", "levels"} and all(png.startswith(b"\x89PNG") for png in images.values())
    assert "'districts' could not be drawn" in caplog.text


def test_the_level_strip_legend_shows_on_a_phone_without_scrolling():
    """On a 390 px phone the 8-week level chart is drawn 560 px wide and scrolls sideways (min-width in the
    template); about 360 px of it show (the page's margins), and the legend must be among them."""
    template = (Path(__file__).parents[2] / "report_templates" / "bulletin.html.j2").read_text(encoding="utf-8")
    drawn = int(re.search(r"figure\.chart-box\.wide svg\.chart \{ min-width: (\d+)px", template).group(1))
    days = [f"2021-10-{d:02d}" for d in range(1, 29)] + [f"2021-11-{d:02d}" for d in range(1, 29)]
    rows = [{"name": "Thành phố Hạ Long", "levels": [1] * len(days), "stale": [False] * len(days)}]
    chart = charts.level_strip(rows, days)
    legend = [s for s in chart.shapes if s[0] == "text" and s[2] > chart.height - 10]
    assert [s[3] for s in legend][-1] == "giữ cấp cũ (thiếu số liệu)"
    # a generous width for Noto Sans: 0.6 em a character
    right = max(x + len(words) * size * 0.6 for _, x, _, words, size, *_ in legend)
    assert right * drawn / chart.width <= 360
