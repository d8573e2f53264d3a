"""The per-key API counter: tier maximum, costs, decay on a manual clock, peak."""
from __future__ import annotations

import pytest

from krakensim import errors
from krakensim.clock import ManualClock
from krakensim.limits import ApiCounter, cost_of


def refused(counter: ApiCounter, key: str, endpoint: str) -> bool:
    try:
        counter.charge(key, endpoint)
    except errors.KrakenAPIError as exc:
        assert exc.code == "EAPI:Rate limit exceeded"
        return True
    return False


def filled(tier: str, calls: int) -> tuple[ManualClock, ApiCounter]:
    """A counter on a manual clock after ``calls`` +1 calls on key ``k``."""
    clock = ManualClock()
    counter = ApiCounter(clock, tier)
    for _ in range(calls):
        counter.charge("k", "Balance")
    return clock, counter


def test_costs_follow_krakens_model():
    assert [cost_of(e) for e in ("Ledgers", "QueryLedgers", "TradesHistory", "QueryTrades")] == [2, 2, 2, 2]
    assert [cost_of(e) for e in ("Balance", "OpenOrders", "ClosedOrders", "CancelAll")] == [1, 1, 1, 1]
    assert {cost_of(e) for e in ("AddOrder", "AddOrderBatch", "CancelOrder", "CancelOrderBatch",
                                 "EditOrder", "AmendOrder")} == {0}


def test_starter_allows_a_burst_of_fifteen_then_refuses():
    clock = ManualClock()
    counter = ApiCounter(clock, "starter")
    assert not any(refused(counter, "k", "Balance") for _ in range(15))
    assert refused(counter, "k", "Balance")
    assert counter.snapshot("k") == {"api": 16.0, "api_max": 15, "api_peak": 16.0}  # the refusal cost too


def test_decay_on_the_clock_readmits_calls_without_sleeping():
    clock, counter = filled("starter", 15)
    clock.advance(2.0)          # 0.66 decayed: still no room for +1
    assert counter.snapshot("k")["api"] + 1 > 15
    clock.advance(1.1)          # 3.1 s in total: 1.02 decayed
    assert not refused(counter, "k", "Balance")
    assert refused(counter, "k", "Balance")
    clock.advance(100)
    assert counter.snapshot("k")["api"] == 0.0
    assert counter.snapshot("k")["api_peak"] == pytest.approx(15 - 3.1 * 0.33 + 2)  # the last refusal counted


def test_a_key_that_waits_out_the_limit_is_readmitted_at_the_decay_rate():
    clock, counter = filled("pro", 20)
    assert refused(counter, "k", "Balance")
    clock.advance(2.0)           # pro decays 1/s: the one refused call cost one more second
    assert not refused(counter, "k", "Balance")


def test_calling_while_limited_extends_the_penalty():
    clock, counter = filled("pro", 20)
    for _ in range(5):
        assert refused(counter, "k", "Balance")
    assert counter.snapshot("k")["api"] == 25.0
    clock.advance(5.5)           # a key that had waited would be free by now; this one is not
    assert refused(counter, "k", "Balance")
    clock.advance(7.0)
    assert not refused(counter, "k", "Balance")


def test_the_penalty_stops_growing_at_fifteen_minutes():
    clock = ManualClock()
    counter = ApiCounter(clock, "starter")
    for _ in range(15 + 2000):
        refused(counter, "k", "Balance")
    assert counter.snapshot("k")["api"] == pytest.approx(15 + 0.33 * 900)
    clock.advance(900 + 3.1)
    assert not refused(counter, "k", "Balance")


def test_a_limited_key_can_still_place_and_cancel():
    counter = ApiCounter(ManualClock(), "starter")
    for _ in range(20):
        refused(counter, "k", "Balance")
    assert not refused(counter, "k", "CancelOrder") and not refused(counter, "k", "AddOrder")


def test_heavy_call_needs_two_points_and_trading_calls_cost_nothing():
    clock, counter = filled("starter", 14)
    assert refused(counter, "k", "Ledgers")
    assert not refused(counter, "k", "Balance")
    for _ in range(50):
        counter.charge("k", "AddOrder")
        counter.charge("k", "CancelOrder")
    assert counter.snapshot("k")["api"] == 15.0


def test_keys_have_separate_counters():
    counter = ApiCounter(ManualClock(), "starter")
    for _ in range(15):
        counter.charge("a", "Balance")
    assert refused(counter, "a", "Balance")
    assert not refused(counter, "b", "Balance")


@pytest.mark.parametrize("tier, maximum, decay", [("starter", 15, 0.33), ("intermediate", 20, 0.5), ("pro", 20, 1.0)])
def test_tiers(tier, maximum, decay):
    clock = ManualClock()
    counter = ApiCounter(clock, tier)
    assert (counter.maximum, counter.decay) == (maximum, decay)
    for _ in range(maximum):
        counter.charge("k", "Balance")
    clock.advance(10)
    assert counter.snapshot("k")["api"] == pytest.approx(maximum - 10 * decay)


def test_disabled_counter_never_refuses_but_still_counts():
    counter = ApiCounter(ManualClock(), "starter", enabled=False)
    for _ in range(100):
        counter.charge("k", "Balance")
    assert counter.snapshot("k")["api_peak"] == 100.0


def test_unknown_tier_is_refused():
    with pytest.raises(ValueError):
        ApiCounter(ManualClock(), "whale")


def test_reset_zeroes_counters_and_peaks():
    counter = ApiCounter(ManualClock(), "starter")
    counter.charge("k", "Ledgers")
    counter.reset()
    assert counter.snapshot("k") == {"api": 0.0, "api_max": 15, "api_peak": 0.0}


def test_a_tier_set_on_the_simulator_holds_until_reset():
    from krakensim import KrakenSimulator

    with KrakenSimulator(clock=ManualClock()) as sim:
        sim.set_tier("pro")
        assert (sim.counters()["api_max"], sim.exchange.counter.max_open, sim.tier) == (20, 225, "pro")
        sim.reset()
        assert (sim.counters()["api_max"], sim.exchange.counter.max_open, sim.tier) == (15, 60, "starter")
        with pytest.raises(ValueError, match="unknown tier"):
            sim.set_tier("gold")


def test_a_new_tier_decays_only_the_time_after_it_was_set():
    clock, counter = filled("starter", 15)
    clock.advance(10)  # 3.3 decayed on the starter tier
    counter.set_tier("pro")
    assert counter.snapshot("k")["api"] == pytest.approx(15 - 10 * 0.33)
