"""The bot's domain (executor, positions, reconciler) against the simulator over real HTTP.

One ManualClock drives both the bot and the exchange, so deadlines and settle waits
pass instantly and deterministically.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from domain_sim_rig import Rig

from krakenbot.clock import ManualClock
from krakenbot.store import Store
from krakensim import KrakenSimulator


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock):
    with KrakenSimulator(seed=42, clock=clock) as s:
        s.set_price("XBTEUR", Decimal("60000"))
        yield s


@pytest.fixture
def rig(sim, clock):
    store = Store(":memory:")
    r = Rig(sim, clock, store)
    yield r
    r.client.close() if hasattr(r.client, "close") else None
    store.close()
