"""Fault bookkeeping: validation, times, seeded probability, endpoint matching."""
from __future__ import annotations

import random

import pytest

from krakensim.faults import FaultInjector


def test_times_limits_firing_and_counts_fired():
    faults = FaultInjector(random.Random(1))
    fault = faults.inject(endpoint="AddOrder", kind="error", error="EService:Unavailable", times=2)
    assert faults.fire("Balance") is None
    assert faults.fire("AddOrder") is fault
    assert faults.fire("AddOrder") is fault
    assert faults.fire("AddOrder") is None
    assert fault.fired == 2 and fault.exhausted


def test_default_is_once_and_star_matches_every_endpoint():
    faults = FaultInjector(random.Random(1))
    fault = faults.inject(endpoint="*", kind="reset")
    assert fault.times == 1
    assert faults.fire("Ticker") is fault
    assert faults.fire("Balance") is None


def test_probability_is_unlimited_and_replays_with_the_same_seed():
    def pattern(seed: int) -> list[bool]:
        faults = FaultInjector(random.Random(seed))
        fault = faults.inject(endpoint="Ticker", kind="http_status", status=503, probability=0.3)
        assert fault.times is None
        return [faults.fire("Ticker") is not None for _ in range(200)]

    first = pattern(42)
    assert first == pattern(42)
    assert 30 < sum(first) < 90


def test_first_live_fault_wins_and_clear_removes_all():
    faults = FaultInjector(random.Random(1))
    a = faults.inject(endpoint="Balance", kind="latency", seconds=2.0)
    b = faults.inject(endpoint="Balance", kind="hang", seconds=0.1)
    assert faults.fire("Balance") is a
    assert faults.fire("Balance") is b
    faults.inject(endpoint="Balance", kind="error")
    faults.clear()
    assert faults.fire("Balance") is None and faults.all() == []


@pytest.mark.parametrize("kwargs", [
    {"kind": "explode"},
    {"kind": "error", "error": "service down"},
    {"kind": "http_status", "status": 200},
    {"kind": "latency", "seconds": -1},
    {"kind": "error", "probability": 1.5},
    {"kind": "error", "times": 0},
    {"kind": "error", "endpoint": ""},
])
def test_bad_fault_definitions_are_refused(kwargs):
    with pytest.raises(ValueError):
        FaultInjector(random.Random(1)).inject(**kwargs)


def test_defaults_per_kind():
    faults = FaultInjector(random.Random(1))
    assert faults.inject(kind="error").error == "EService:Unavailable"
    assert faults.inject(kind="http_status").status == 503
    assert faults.inject(kind="hang").seconds == 1.0


def test_an_arrival_action_runs_once_per_matching_request_and_reset_forgets_it():
    faults = FaultInjector(random.Random(1))
    seen: list[str] = []
    faults.on_arrival("BalanceEx", lambda: seen.append("pulled"), times=2)
    faults.arrived("Ticker")
    faults.arrived("BalanceEx")
    faults.arrived("BalanceEx")
    faults.arrived("BalanceEx")
    assert seen == ["pulled", "pulled"]
    faults.on_arrival("*", lambda: seen.append("any"))
    faults.reset()
    faults.arrived("Ticker")
    assert seen == ["pulled", "pulled"]
    with pytest.raises(ValueError):
        faults.on_arrival("Balance", "not callable")  # type: ignore[arg-type]
