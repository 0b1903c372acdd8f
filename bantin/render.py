"""Jinja2 environment shared by the bulletin and the feedback reports.

Autoescape is always on: commune names and notes come from district files and
are untrusted. Filters write numbers, dates and times the Vietnamese way:
`1.234`, `3,1`, `19/10/2021`, `17:00`.
"""

from __future__ import annotations

from datetime import date, datetime, time
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


def vn_int(value) -> str:
    if value is None:
        return "–"
    return f"{int(round(value)):,}".replace(",", ".")


def vn_dec(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    whole, _, fraction = f"{float(value):,.{digits}f}".partition(".")
    whole = whole.replace(",", ".")
    return f"{whole},{fraction}" if fraction else whole


def vn_pct(share, digits: int = 0) -> str:
    """A share (0–1) as a Vietnamese percentage: 0.683 → `68%`, with digits=1 → `68,3%`."""
    if share is None:
        return "–"
    return f"{vn_dec(100 * float(share), digits)}%"


def vn_date(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return f"{value:%d/%m/%Y}"


def vn_time(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, str) and len(value) >= 16 and value[10] in "T ":
        value = datetime.fromisoformat(value)  # an ISO timestamp from a JSON summary
    if isinstance(value, (datetime, time)):
        return f"{value:%H:%M}"
    return str(value)


def signed(value) -> str:
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
    env.filters.update(vn_int=vn_int, vn_dec=vn_dec, vn_pct=vn_pct, vn_date=vn_date, vn_time=vn_time, signed=signed)
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
