"""Fixtures of the validation tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def warehouse_con(settings):
    from bantin import store

    with store.writer(settings) as con:
        yield con
