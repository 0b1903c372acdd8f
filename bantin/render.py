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


def html_to_pdf(html: str, target: Path) -> None:
    """The same HTML as a PDF (A4 from the template's @page), with the repository's font embedded."""
    import weasyprint  # heavy: only when a PDF is made
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    weasyprint.HTML(string=html, base_url=str(TEMPLATES_DIR)).write_pdf(
        str(target), stylesheets=[weasyprint.CSS(string=PRINT_FONTS, font_config=fonts)], font_config=fonts)


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
