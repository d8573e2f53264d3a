"""An embedded simulator and a client sharing one ManualClock, over real loopback HTTP."""
from __future__ import annotations

import random

import pytest

# A plain import: a simulator that fails to import must fail these tests, not skip them all.
import krakensim
from krakenbot.client import KrakenClient, Timeouts
from krakenbot.clock import ManualClock


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def sim(clock):
    with krakensim.KrakenSimulator(seed=42, clock=clock, tier="starter") as simulator:
        yield simulator


@pytest.fixture
def make_client(sim, clock):
    clients = []

    def build(key=None, secret=None, **kwargs):
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("timeouts", Timeouts(connect=1.0, read=2.0))
        kwargs.setdefault("rng", random.Random(7))
        client = KrakenClient(sim.url, key or sim.api_key, secret or sim.api_secret, **kwargs)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()

