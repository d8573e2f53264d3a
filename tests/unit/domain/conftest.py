"""Fixtures for the domain unit tests."""
from __future__ import annotations

import pytest

from krakenbot.clock import ManualClock
from krakenbot.store import Store


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store() -> Store:
    s = Store(":memory:")
    yield s
    s.close()
