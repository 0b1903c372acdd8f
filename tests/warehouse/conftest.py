"""A Quảng Ninh warehouse loaded once per session through the real stages, copied into each test.

10–19/10/2021 (130 demo files: CSV in several encodings and XLSX) go through
collect and GX validation; the marts are built for 18/10 (a full build) and
then 19/10 (an incremental one), as the daily runs would.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from .loaded_warehouse import FIRST_DAY, LAST_DAY, PROVINCE


def _settings_for(home: Path, monkeypatch=None):
    from bantin.config import load_settings

    if monkeypatch is not None:
        monkeypatch.setenv("BANTIN_HOME", str(home))
        monkeypatch.setenv("BANTIN_PROVINCE", str(PROVINCE))
        return load_settings()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BANTIN_HOME", str(home))
        patch.setenv("BANTIN_PROVINCE", str(PROVINCE))
        return load_settings()


@pytest.fixture(scope="session")
def loaded_home(tmp_path_factory) -> Path:
    from bantin import demo_data, pipeline

    home = tmp_path_factory.mktemp("loaded") / "var"
    settings = _settings_for(home)
    demo_data.generate(PROVINCE, FIRST_DAY, LAST_DAY, settings.landing)
    pipeline.collect(settings)
    pipeline.validate(settings)
    pipeline.build_marts(settings, date(2021, 10, 18))
    pipeline.build_marts(settings, LAST_DAY)
    return home


@pytest.fixture
def loaded_settings(loaded_home, tmp_path, monkeypatch):
    """Settings on this test's own copy of the loaded data root."""
    home = tmp_path / "var"
    shutil.copytree(loaded_home, home)
    return _settings_for(home, monkeypatch)
