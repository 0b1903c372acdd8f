"""Jinja2 environment shared by the bulletin and the feedback reports.

Autoescape is always on: commune names and notes come from district files and
are untrusted. Filters write numbers, dates and times the Vietnamese way
(`1.234`, `3,1`, `19/10/2021`, `17:00`), all through Babel's `vi` locale here:
this is the one place the project formats a number or a date for a reader.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "report_templates"
FONTS_DIR = TEMPLATES_DIR / "fonts"

# The PDF embeds DejaVu Sans shipped in the repository (licence beside it), so a
# machine without Vietnamese system fonts still prints every diacritic. The HTML
# names the same family first and falls back to the reader's own fonts.
_REGULAR, _BOLD = (FONTS_DIR / "DejaVuSans.ttf").as_uri(), (FONTS_DIR / "DejaVuSans-Bold.ttf").as_uri()
PRINT_FONTS = f"""
@font-face {{ font-family: "Bantin Sans"; font-weight: normal; src: url("{_REGULAR}"); }}
@font-face {{ font-family: "Bantin Sans"; font-weight: bold; src: url("{_BOLD}"); }}
"""


LOCALE = "vi"  # Babel's Vietnamese: `.` groups thousands, `,` marks decimals


def vn_int(value) -> str:
    """A whole number the Vietnamese way: 1234567 → `1.234.567`; None → `–`."""
    from babel.numbers import format_decimal

    if value is None:
        return "–"
    return format_decimal(int(round(value)), format="#,##0", locale=LOCALE)


def vn_dec(value, digits: int = 1) -> str:
    """A decimal the Vietnamese way: 3.14159 → `3,1`; 12345.678 (2 digits) → `12.345,68`."""
    from babel.numbers import format_decimal

    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(float(value), format=pattern, locale=LOCALE)


def vn_pct(share, digits: int = 0) -> str:
    """A share (0–1) as a Vietnamese percentage: 0.683 → `68%`, with digits=1 → `68,3%`."""
    from babel.numbers import format_percent

    if share is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(float(share), format=pattern, locale=LOCALE)


def _as_date(value):
    if isinstance(value, str):
        return datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
    return value


def vn_date(value) -> str:
    """`19/10/2021` (a date, a datetime or an ISO string)."""
    from babel.dates import format_date

    if value is None:
        return "–"
    return format_date(_as_date(value), "dd/MM/yyyy", locale=LOCALE)


def vn_long_date(value) -> str:
    """`ngày 19 tháng 10 năm 2021`, as an official document dates itself."""
    from babel.dates import format_date

    if value is None:
        return "–"
    return format_date(_as_date(value), "'ngày' dd 'tháng' MM 'năm' yyyy", locale=LOCALE)


def vn_time(value) -> str:
    """`17:00` (a time, a datetime or an ISO timestamp)."""
    from babel.dates import format_time

    if value is None:
        return "–"
    if isinstance(value, str):
        if len(value) >= 16 and value[10] in "T ":
            value = datetime.fromisoformat(value)  # an ISO timestamp from a JSON summary
        else:
            return value
    return format_time(value, "HH:mm", locale=LOCALE)


def signed(value) -> str:
    """`+12`, `-1.234`, `0`."""
    if value is None:
        return "–"
    return ("+" if value > 0 else "") + vn_int(value)


def html_to_pdf(html: str, target: Path) -> int:
    """The same HTML as a PDF (A4 from the template's @page), with the repository's font embedded; returns pages."""
    import weasyprint  # heavy: only when a PDF is made
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    document = weasyprint.HTML(string=html, base_url=str(TEMPLATES_DIR)).render(
        stylesheets=[weasyprint.CSS(string=PRINT_FONTS, font_config=fonts)], font_config=fonts
    )
    document.write_pdf(str(target))
    return len(document.pages)


@lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,  # every template: names and notes from files are untrusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        vn_int=vn_int,
        vn_dec=vn_dec,
        vn_pct=vn_pct,
        vn_date=vn_date,
        vn_time=vn_time,
        vn_long_date=vn_long_date,
        signed=signed,
    )
    return env


# --------------------------------------------------------------------------- looking at the output


def pdf_pages_to_png(pdf: Path, out_dir: Path, *, prefix: str = "page", dpi: int = 60) -> list[Path]:
    """Each page of a PDF as a PNG (poppler's pdftoppm): what a person sees on paper."""
    import subprocess

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{prefix}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(out_dir / prefix)], check=True)
    return sorted(out_dir.glob(f"{prefix}-*.png"))


def _chromium(*args: str) -> str:
    import shutil
    import subprocess
    import tempfile

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise FileNotFoundError("chromium not found: `make bulletin-deps` installs it")
    with tempfile.TemporaryDirectory() as profile:  # no shared profile, no first-run state
        return subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--allow-file-access-from-files",
                f"--user-data-dir={profile}",
                *args,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout


# Headless Chromium keeps its window at least 500 px wide: a phone's width is had by an iframe of that width.
_PHONE_FRAME = """<!DOCTYPE html><html><body style="margin:0;background:#fff">
<iframe id="page" src="{src}" style="width:{width}px;height:{height}px;border:0;display:block"></iframe>
<script>document.getElementById("page").addEventListener("load", () => {{
  const root = document.getElementById("page").contentDocument.documentElement;
  document.body.dataset.scrollWidth = root.scrollWidth;
  document.body.dataset.clientWidth = root.clientWidth;
}});</script></body></html>"""


def _phone_frame(html: Path, width: int, height: int) -> Path:
    """A page holding `html` in a frame `width` px wide, in a temporary file (never beside a bulletin version)."""
    import tempfile

    handle, name = tempfile.mkstemp(prefix=f"bantin-phone-{width}-", suffix=".html")
    os.close(handle)
    frame = Path(name)
    frame.write_text(_PHONE_FRAME.format(src=html.resolve().as_uri(), width=width, height=height), encoding="utf-8")
    return frame


def page_widths(html: Path, *, width: int = 390) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the page's root laid out `width` px wide, read from Chromium's DOM.

    A scrollWidth above the clientWidth is a page that scrolls sideways on a phone.
    """
    import re

    frame = _phone_frame(html, width, 844)
    try:
        dom = _chromium("--window-size=800,900", "--dump-dom", frame.as_uri())
    finally:
        frame.unlink(missing_ok=True)
    found = dict(re.findall(r'data-(scroll|client)-width="(\d+)"', dom))
    if set(found) != {"scroll", "client"}:
        raise RuntimeError(f"Chromium did not lay out {html}")
    return int(found["scroll"]), int(found["client"])


def html_screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 2400) -> Path:
    """The HTML as headless Chromium draws it on a screen `width` px wide (a phone's through an iframe)."""
    if width >= 500:
        _chromium(f"--window-size={width},{height}", f"--screenshot={png.resolve()}", html.resolve().as_uri())
        return png
    from PIL import Image

    frame = _phone_frame(html, width, height)
    try:
        _chromium(f"--window-size=600,{height}", f"--screenshot={png.resolve()}", frame.as_uri())
    finally:
        frame.unlink(missing_ok=True)
    with Image.open(png) as shot:
        shot.crop((0, 0, width, height)).save(png)
    return png


def ink_share(png: Path) -> float:
    """Share of pixels that are not (near) white: 0 for a blank page."""
    from PIL import Image

    with Image.open(png) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    return 1 - sum(histogram[245:]) / sum(histogram)


def main(argv: list[str] | None = None) -> int:
    """`python -m bantin.render previews <bulletin folder> <out dir>`: PNG previews (make docs)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "previews":
        print("usage: python -m bantin.render previews <bulletin version folder> <out dir>", file=sys.stderr)
        return 2
    folder, out_dir = Path(args[1]).resolve(), Path(args[2])
    pages = pdf_pages_to_png(folder / "bulletin.pdf", out_dir, prefix="pdf-page", dpi=70)
    screen = html_screenshot(folder / "bulletin.html", out_dir / "html-screen.png", height=2000)
    phone = html_screenshot(folder / "bulletin.html", out_dir / "html-phone.png", width=390, height=1800)
    for path in [*pages, screen, phone]:
        print(f"{path}  ({ink_share(path):.1%} ink)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
