"""A warehouse with Quảng Ninh's demo data 01–19/10/2021 loaded, built once per session.

Two districts' files for 19/10 are held back in `withheld/` so a test can play
the evening of the deadline: the bulletin goes out without them, then a late
file arrives. Each test gets its own copy of the data root.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import copy_receipts, receive

REPORT_DATE = date(2021, 10, 19)
FIRST_DAY = date(2021, 10, 6)  # 14 days: the trend and the previous 7 days are real; all 19 days would double the setup
WITHHELD = {202: "Huyện Ba Chẽ", 205: "Thị xã Đông Triều"}  # a thị xã on the 2021 list, a city on 2025-01-04
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def settings_for(home: Path):
    from bantin import config

    return dataclasses.replace(config.load_settings(), home=home, province_code=22, paths=config._paths_under(home))


def load(settings, report_date: date = REPORT_DATE) -> None:
    """What the DAG does before rendering: collect, validate, build the marts."""
    from bantin import pipeline

    pipeline.collect(settings)
    pipeline.validate(settings)
    pipeline.build_marts(settings, report_date)


def _received_before(path: Path, day: date) -> bool:
    return datetime.fromtimestamp(path.stat().st_mtime, LOCAL).date() < day


def _received_on(path: Path, day: date) -> bool:
    return datetime.fromtimestamp(path.stat().st_mtime, LOCAL).date() == day


@pytest.fixture(scope="session")
def loaded_template(tmp_path_factory, demo_landing_template) -> Path:
    """Data root: 01–19/10 loaded except the WITHHELD districts' files of 19/10 (kept in `<root>/withheld`)."""
    root = tmp_path_factory.mktemp("bulletin")
    home = root / "var"
    shutil.copytree(demo_landing_template, home / "landing")
    copy_receipts(demo_landing_template, home / "landing")
    for path in list((home / "landing").rglob("*")):
        if path.is_file() and _received_before(path, FIRST_DAY):
            path.unlink()
    for district in WITHHELD:
        for path in sorted((home / "landing" / str(district)).iterdir()):
            if _received_on(path, REPORT_DATE):
                target = root / "withheld" / str(district) / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
                shutil.copystat(target, target)
    assert all((root / "withheld" / str(d)).is_dir() for d in WITHHELD)
    load(settings_for(home))
    return root


@pytest.fixture
def bulletin_settings(tmp_path, loaded_template, monkeypatch):
    """Settings on this test's own copy of the loaded data root."""
    home = tmp_path / "var"
    shutil.copytree(loaded_template / "var", home, symlinks=True)
    monkeypatch.setenv("BANTIN_HOME", str(home))
    monkeypatch.setenv("BANTIN_PROVINCE", "22")
    for name in ("BANTIN_MAIL_TO", "BANTIN_ALERT_TO"):
        monkeypatch.delenv(name, raising=False)
    return settings_for(home)


@pytest.fixture
def drop_withheld(loaded_template):
    """drop(settings, district, at): a withheld district's file of 19/10 arrives in its inbox at `at` (local)."""
    return lambda settings, district, at: _drop(loaded_template / "withheld", settings, district, at)


def _drop(withheld: Path, settings, district: int, at: datetime) -> Path:
    source = next((withheld / str(district)).iterdir())
    target = settings.landing / str(district) / source.name
    shutil.copyfile(source, target)
    receive(settings, target, at.replace(tzinfo=LOCAL), replace=True)
    return target
