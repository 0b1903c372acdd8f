"""Helpers for intake tests: a district's rows and dropping files into inboxes at a given receipt time."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from bantin import reference
from bantin.submission_files import write_csv
from bantin.submission_format import COUNT_COLUMNS

from conftest import receive, smtp_connection


def district_rows(district_code: int, day: date, **figures_by_commune) -> list[dict]:
    """One row per commune of the district, all counts 0 except `c<commune_code>={column: value}`."""
    rows = []
    for commune in reference.communes(district_code=district_code, on=day):  # the list in force that day
        row = {
            "report_date": day,
            "district_code": district_code,
            "commune_code": commune.code,
            "commune_name": commune.name,
            "notes": "",
        }
        row.update(dict.fromkeys(COUNT_COLUMNS, 0))
        row.update(figures_by_commune.get(f"c{commune.code}", {}))
        rows.append(row)
    return rows


@pytest.fixture
def drop(settings):
    """drop(inbox_district, name, rows_or_bytes, received=datetime) -> the inbox path, with its mtime set."""

    def _drop(district_code: int, name: str, content, received: datetime, **csv_options) -> Path:
        folder = settings.landing / str(district_code)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            write_csv(content, path, **csv_options)
        receive(settings, path, received)
        return path

    return _drop


def smtp_env(port: int) -> dict:
    """The Airflow SMTP connection to a test server and the alert recipients, as environment variables."""
    return {"AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(port), "BANTIN_ALERT_TO": "bcd@quangninh.test, sub@soyte.test"}
