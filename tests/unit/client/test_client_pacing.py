from __future__ import annotations

import pytest

from krakenbot.client.pacing import CallCounterPacer, PublicPacer, call_cost
from krakenbot.clock import ManualClock


@pytest.mark.parametrize(
    "endpoint,cost",
    [("Balance", 1), ("OpenOrders", 1), ("Ledgers", 2), ("QueryLedgers", 2), ("TradesHistory", 2),
     ("QueryTrades", 2), ("ClosedOrders", 2), ("AddOrder", 0), ("CancelOrder", 0), ("AddOrderBatch", 0),
     ("CancelOrderBatch", 0), ("EditOrder", 0), ("AmendOrder", 0), ("CancelAll", 1)],
)
def test_costs(endpoint, cost):
    assert call_cost(endpoint) == cost


def test_burst_then_waits_on_the_clock():
    clock = ManualClock()
    pacer = CallCounterPacer(clock, "starter", margin=1, decay_factor=0.9)
    start = clock.time()
    for _ in range(14):  # max 15 - margin 1
        assert pacer.acquire("Balance") == 0
    assert clock.time() == start and not clock.slept
    waited = pacer.acquire("Balance")
    assert waited == pytest.approx(1 / (0.33 * 0.9), rel=1e-3)
    assert clock.time() - start == pytest.approx(waited)
    assert pacer.level <= 14 + 1e-9


def test_decay_makes_room_without_waiting():
    clock = ManualClock()
    pacer = CallCounterPacer(clock, "pro", margin=1, decay_factor=1.0)
    for _ in range(19):
        pacer.acquire("Balance")
    clock.advance(2.0)  # pro decays 1/s
    assert pacer.level == pytest.approx(17.0)
    assert pacer.acquire("Ledgers") == 0  # 17 + 2 <= 19
    assert pacer.acquire("Balance") > 0


def test_order_calls_are_free_and_never_wait():
    clock = ManualClock()
    pacer = CallCounterPacer(clock, "starter")
    for _ in range(100):
        assert pacer.acquire("AddOrder") == 0
    assert pacer.level == 0


@pytest.mark.parametrize("tier,first_wait", [("starter", 2 / (0.33 * 0.9)), ("pro", 2 / 0.9)])
def test_at_start_up_the_counter_is_assumed_full(tier, first_wait):
    """Kraken's counter is per key, not per process: a restart finds what the last one left (issue 20)."""
    clock = ManualClock()
    pacer = CallCounterPacer(clock, tier)
    assert pacer.assume_used(None) == pacer.max_counter  # nothing known of the last process
    assert pacer.acquire("Balance") == pytest.approx(first_wait, rel=1e-3)  # down to max - margin - cost


def test_at_start_up_the_counter_is_assumed_to_have_decayed_since_the_last_call():
    pacer = CallCounterPacer(ManualClock(), "starter")  # decays 0.33 * 0.9 a second, by its own count
    assert pacer.assume_used(10.0) == pytest.approx(15 - 10 * 0.297)
    assert pacer.assume_used(-5.0) == pytest.approx(15)  # a last call "in the future": full
    assert CallCounterPacer(ManualClock(), "starter").assume_used(3600.0) == 0


def test_sustained_rate_never_exceeds_the_exchange_counter():
    """Mirror the exchange's counter at the nominal decay: the paced calls never push it past max."""
    clock = ManualClock()
    pacer = CallCounterPacer(clock, "starter")
    exchange_level, at, peak = 0.0, clock.time(), 0.0
    for i in range(300):
        endpoint = "Ledgers" if i % 5 == 0 else "Balance"
        pacer.acquire(endpoint)
        now = clock.time()
        exchange_level = max(0.0, exchange_level - (now - at) * 0.33) + call_cost(endpoint)
        at = now
        peak = max(peak, exchange_level)
    assert peak <= 15


def test_rate_limited_backs_off():
    clock = ManualClock()
    pacer = CallCounterPacer(clock, "starter", rate_limit_backoff=45)
    pacer.on_rate_limited()
    start = clock.time()
    pacer.acquire("Balance")
    assert clock.time() - start >= 45


@pytest.mark.parametrize("tier", ["gold", ""])
def test_unknown_tier_refused(tier):
    with pytest.raises(ValueError):
        CallCounterPacer(ManualClock(), tier)


def test_public_token_bucket():
    clock = ManualClock()
    pacer = PublicPacer(clock, burst=3, rate=1.0)
    assert [pacer.acquire() for _ in range(3)] == [0, 0, 0]
    assert pacer.acquire() == pytest.approx(1.0)
    clock.advance(10)
    assert [pacer.acquire() for _ in range(3)] == [0, 0, 0]  # refilled to burst, not beyond
    assert pacer.acquire() > 0


def test_block_for_holds_calls_back():
    clock = ManualClock()
    pacer = CallCounterPacer(clock, "pro")
    pacer.block_for(12)
    start = clock.time()
    pacer.acquire("Balance")
    assert clock.time() - start == pytest.approx(12)


def test_throttled_code_parsing():
    from krakenbot.client._client import _throttled_until

    assert _throttled_until("EService: Throttled: 1718010902") == 1718010902
    assert _throttled_until("EService:Throttled:1718010902") == 1718010902
    assert _throttled_until("EAPI:Rate limit exceeded") is None
    assert _throttled_until("EService: Throttled: soon") is None
