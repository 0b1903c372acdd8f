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
    if isinstance(value, (datetime, time)):
        return f"{value:%H:%M}"
    return str(value)


def signed(value) -> str:
    if value is None:
        return "–"
    return ("+" if value > 0 else "") + vn_int(value)


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
