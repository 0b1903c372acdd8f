"""Jinja2 environment shared by the bulletin and the feedback reports.

Autoescape is always on: commune names and notes come from district files and
are untrusted. Filters write numbers, dates and times the Vietnamese way
(`1.234`, `3,1`, `19/10/2021`, `17:00`), all through Babel's `vi` locale here:
this is the one place the project formats a number or a date for a reader.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "report_templates"
FONTS_DIR = TEMPLATES_DIR / "fonts"

# The PDF embeds DejaVu Sans shipped in the repository (licence beside it), so a
# machine without Vietnamese system fonts still prints every diacritic. The HTML
# names the same family first and falls back to the reader's own fonts.
PRINT_FONTS = f"""
@font-face {{ font-family: "Bantin Sans"; font-weight: normal; src: url("{(FONTS_DIR / 'DejaVuSans.ttf').as_uri()}"); }}
@font-face {{ font-family: "Bantin Sans"; font-weight: bold; src: url("{(FONTS_DIR / 'DejaVuSans-Bold.ttf').as_uri()}"); }}
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


def vn_number(value) -> str:
    """A value as a clerk wrote it, in Vietnamese: whole numbers without decimals, others with one (`9,1`)."""
    if isinstance(value, float) and not value.is_integer():
        return vn_dec(value, 1)
    return vn_int(value)


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
        stylesheets=[weasyprint.CSS(string=PRINT_FONTS, font_config=fonts)], font_config=fonts)
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
    env.filters.update(vn_int=vn_int, vn_dec=vn_dec, vn_pct=vn_pct, vn_date=vn_date, vn_time=vn_time,
                       vn_long_date=vn_long_date, vn_number=vn_number, signed=signed)
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


def html_screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 2400) -> Path:
    """The HTML as headless Chromium draws it on a screen."""
    import shutil
    import subprocess
    import tempfile

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise FileNotFoundError("chromium not found: `make bulletin-deps` installs it")
    with tempfile.TemporaryDirectory() as profile:  # no shared profile, no first-run state
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        f"--screenshot={png}", html.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
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
    screen = html_screenshot(folder / "bulletin.html", out_dir / "html-screen.png")
    for path in [*pages, screen]:
        print(f"{path}  ({ink_share(path):.1%} ink)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
