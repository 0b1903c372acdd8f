"""Any province on its busiest day: the bulletin fits four A4 pages, leads with its summary and reads on a phone.

For Quảng Ninh (13 districts), Thanh Hóa (26 with communes) and Hà Nội (30), on the day of the
real NCSC series with the most cases: demo files for the four weeks before it go through
collect → validate (GX) → marts; one district's file of the day is held back, so v1 is
provisional, then arrives at 19:10 and makes v2. Every assertion reads the PDF (pdfinfo,
pdftotext) or the HTML as Chromium lays it out.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bantin import pipeline, reference
from bantin.render import page_widths

from conftest import receive

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
# four weeks: the 7-day comparisons and levels are real; the trend marks the weeks before as unreported
LOADED_DAYS = 28
PROVINCES = {22: 13, 38: 27, 1: 30}  # province code → districts with communes, on the 2021 list (busy days of 2022)


def busiest_day(province_code: int):
    cases = reference.real_daily_cases(province_code)
    return max(cases, key=lambda day: (cases[day], day))


def _settings(home: Path, province_code: int):
    from bantin import config

    return dataclasses.replace(
        config.load_settings(), home=home, province_code=province_code, paths=config._paths_under(home)
    )


def _load(settings, day) -> None:
    pipeline.collect(settings)
    pipeline.validate(settings)
    pipeline.build_marts(settings, day)


@pytest.fixture(scope="module", params=sorted(PROVINCES), ids=lambda code: f"province-{code}")
def busy(request, tmp_path_factory):
    """v1 (one district missing) and v2 (its file at 19:10) of the province's busiest day."""
    from bantin import demo_data

    code = request.param
    day = busiest_day(code)
    home = tmp_path_factory.mktemp(f"busy-{code}") / "var"
    settings = _settings(home, code)
    demo_data.generate(code, day - timedelta(days=LOADED_DAYS - 1), day, settings.landing)
    # the district with the most cases that day is the late one, so v2 changes the figures visibly
    rows = demo_data.generate_rows(code, day, day)
    late_district = max((k[1] for k in rows), key=lambda d: sum(r["new_cases"] for r in rows[(day, d)]))
    held = home.parent / "held"
    held.mkdir()
    for path in (settings.landing / str(late_district)).iterdir():
        if datetime.fromtimestamp(path.stat().st_mtime, LOCAL).date() == day:
            shutil.move(path, held / path.name)
    _load(settings, day)
    v1 = pipeline.render(settings, day, run_id="deadline")
    [late_file] = list(held.iterdir())
    target = settings.landing / str(late_district) / late_file.name
    shutil.copyfile(late_file, target)
    receive(
        settings, target, datetime.combine(day, datetime.min.time().replace(hour=19, minute=10), LOCAL), replace=True
    )
    _load(settings, day)
    v2 = pipeline.render(settings, day, run_id="late")
    versions = []
    for produced in (v1, v2):
        paths = {k: Path(produced[k]) for k in ("html", "pdf", "json")}
        versions.append(
            {
                **paths,
                "doc": json.loads(paths["json"].read_text(encoding="utf-8")),
                "html_text": paths["html"].read_text(encoding="utf-8"),
            }
        )
    return {"code": code, "day": day, "late_district": late_district, "versions": versions}


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def pdf_text(pdf: Path, *options: str) -> str:
    return subprocess.run(["pdftotext", *options, str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def flat(text: str) -> str:
    return " ".join(text.split())


def bare(text: str) -> str:
    """Without any whitespace: a label may wrap after a slash (`dân/` `tuần`)."""
    return "".join(text.split())


def test_each_version_fits_four_a4_pages_with_the_summary_sentence_on_page_one(busy):
    for version in busy["versions"]:
        assert pdf_pages(version["pdf"]) <= 4, f"{version['pdf']} has {pdf_pages(version['pdf'])} pages"
        figures = version["doc"]["figures"]
        page_one = bare(pdf_text(version["pdf"], "-f", "1", "-l", "1"))
        assert bare(figures["headline"]) in page_one
        # the sentence is written from the figures
        p = figures["province"]
        from bantin.render import vn_int

        assert f"ghi nhận {vn_int(p['new_cases'])} ca mắc mới" in figures["headline"]
        assert f"7 ngày qua có {vn_int(p['new_cases_7d'])} ca" in figures["headline"]
        for label in (
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            "Ca cộng đồng/100.000 dân/tuần",
            "tất cả ca:",
            "Ca mắc cộng dồn từ",
            "Người ≥18 tuổi tiêm ≥1 mũi",
            "Đơn vị cần chú ý",
            f"Cấp độ dịch {figures['form']['scope']}",
        ):
            assert bare(label) in page_one, label
    v1, v2 = (v["doc"]["figures"] for v in busy["versions"])
    assert v1["provisional"] and "số liệu là tạm thời" in v1["headline"]
    assert not v2["provisional"] and f"tất cả {PROVINCES[busy['code']]} đơn vị đã báo cáo" in v2["headline"]


def test_no_page_ends_with_a_heading_or_a_caption(busy):
    for version in busy["versions"]:
        html = version["html_text"]
        headings = [flat(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", html, re.S)]
        captions = [flat(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r'<p class="caption">(.*?)</p>', html, re.S)]
        assert len(headings) >= 8
        pages = pdf_text(version["pdf"], "-layout").split("\f")
        for number, page in enumerate(pages[:-1] if not pages[-1].strip() else pages, start=1):
            lines = [flat(line) for line in page.splitlines() if line.strip() and not re.search(r"Trang \d+/\d+", line)]
            last = lines[-1]
            # the whole heading, or the first line of a long one (a short line such as "3." may end a sentence)
            assert not any(last == h or (len(last) >= 8 and h.startswith(last)) for h in headings), (
                f"page {number} ends with the heading {last!r}"
            )
            assert not any(len(last) >= 8 and c.startswith(last) for c in captions), (
                f"page {number} ends with a caption: {last!r}"
            )


def test_the_html_fits_a_phone_without_sideways_scrolling(busy):
    for version in busy["versions"]:
        scroll, client = page_widths(version["html"], width=390)
        assert client == 390
        assert scroll <= client, f"the page is {scroll} px wide on a 390 px screen"


def test_long_lists_are_capped_on_paper_and_whole_in_the_json(busy):
    from bantin.bulletin import SHOWN

    version = busy["versions"][1]
    figures, html = version["doc"]["figures"], version["html_text"]
    watch = figures["communes_watch"]
    assert all(c["level"] >= 3 or c["level_changed"] for c in watch)
    by_district = {}
    for c in watch:
        by_district.setdefault(c["district_code"], []).append(c)
    shown_rows = re.findall(r'<table class="communes">.*?</table>', html, re.S)
    rows = re.findall(r"<tr><td", shown_rows[0]) if shown_rows else []
    assert len(rows) == min(len(by_district), SHOWN["commune_districts"])
    for code in sorted(by_district)[: SHOWN["commune_districts"]]:  # the districts the table shows
        communes = by_district[code]
        if len(communes) > SHOWN["communes_per_district"]:
            assert f"và {len(communes) - SHOWN['communes_per_district']} xã khác" in html
    # data-quality findings: one line per district and rule, naming communes, never files or rows
    text = flat(pdf_text(version["pdf"]))
    for warning in figures["data_quality"]:
        assert warning["file_name"] not in text
    groups = figures["data_quality_summary"]
    assert sum(g["count"] for g in groups) == len(figures["data_quality"])


def test_the_as_of_time_is_true_for_each_version(busy):
    from bantin.render import vn_date

    v1, v2 = busy["versions"]
    day = vn_date(busy["day"])
    assert bare(f"Số liệu tính đến 17:00 ngày {day}.") in bare(pdf_text(v1["pdf"], "-f", "1", "-l", "1"))
    assert bare(f"Số liệu tính đến 19:10 ngày {day} (gồm báo cáo gửi muộn sau 17:00)") in bare(
        pdf_text(v2["pdf"], "-f", "1", "-l", "1")
    )


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_level_badges_have_aa_contrast(busy):
    html = busy["versions"][1]["html_text"]
    pairs = set(re.findall(r'class="badge" style="background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6})"', html))
    assert pairs, "the bulletin shows its levels as badges"
    for background, text in pairs:
        assert contrast(background, text) >= 4.5, (background, text, contrast(background, text))


def test_every_level_colour_and_every_text_colour_of_the_template_reach_aa():
    from bantin.charts import LEVEL_COLOURS, MUTED
    from bantin.render import TEMPLATES_DIR

    for level, (background, text) in LEVEL_COLOURS.items():
        assert contrast(background, text) >= 4.5, (level, background, text)
    css = (TEMPLATES_DIR / "bulletin.html.j2").read_text(encoding="utf-8")
    greys = set(re.findall(r"(?<!background: )(?<!background:)color: (#[0-9a-f]{6})", css)) | {MUTED}
    for colour in greys:  # text on white or on the pale boxes (#f6f8fa the palest)
        assert contrast(colour, "#f6f8fa") >= 4.5, colour


def test_contrast_formula_can_fail():
    assert contrast("#ffffff", "#f9a825") < 4.5  # the old amber badge with white text
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
