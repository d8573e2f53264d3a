"""A fresh seeded exchange on a manual clock for every test."""
from __future__ import annotations

import pytest

from krakensim.clock import ManualClock
from krakensim.exchange import Exchange


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ex(clock: ManualClock) -> Exchange:
    return Exchange(seed=42, clock=clock)
