"""The bulletin as a person sees it: pages that are not blank, and Vietnamese text that survived the PDF."""

from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path

from bantin import pipeline
from bantin.render import html_screenshot, ink_share, pdf_pages_to_png

from .conftest import REPORT_DATE

# Headings and names with every kind of Vietnamese mark: hook, horn, breve, dot below, đ
PHRASES = [
    "Bản tin tình hình dịch COVID-19 ngày 19/10/2021",
    "Số liệu tính đến 17:00 ngày 19/10/2021",
    "Đơn vị cần chú ý",
    "Số liệu theo huyện, thị xã, thành phố",
    "Cấp độ dịch theo đơn vị, 8 tuần",
    "Diễn biến 8 tuần",
    "Huyện Đầm Hà",
    "Thành phố Uông Bí",
    "Thị xã Quảng Yên",
    "Huyện Ba Chẽ",
    "Chất lượng số liệu",
    "Điều chỉnh số liệu các ngày trước",
    "Nguồn và phương pháp",
    "UBND TỈNH QUẢNG NINH",
    "SỞ Y TẾ",
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "Quảng Ninh, ngày 19 tháng 10 năm 2021",
    "Nơi nhận:",
    "PHÓ GIÁM ĐỐC",
    "Người ≥18 tuổi tiêm ≥1 mũi",
]


def test_pages_are_not_blank_and_vietnamese_text_is_intact(bulletin_settings, tmp_path):
    produced = {k: Path(v) for k, v in pipeline.render(bulletin_settings, REPORT_DATE).items() if k in ("html", "pdf")}

    pages = pdf_pages_to_png(produced["pdf"], tmp_path / "pdf")
    assert len(pages) >= 2
    for page in pages:
        assert ink_share(page) > 0.005, f"{page.name} is blank"
    screen = html_screenshot(produced["html"], tmp_path / "screen.png", height=1600)
    assert ink_share(screen) > 0.02, "Chromium drew a blank page"

    text = subprocess.run(
        ["pdftotext", "-layout", str(produced["pdf"]), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(unicodedata.normalize("NFC", text).split())
    missing = [p for p in PHRASES if p not in flat]
    assert not missing, f"not found intact in the PDF text: {missing}"
    assert "\ufffd" not in text and "\x00" not in text

    fonts = subprocess.run(["pdffonts", str(produced["pdf"])], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all(row[-5] == "yes" for row in rows), f"every font embedded:\n{fonts}"
    assert all("Bantin-Sans" in row[0] for row in rows), f"only the repository's DejaVu Sans, no system font:\n{fonts}"
