"""Trading counter (penalties, decay, peak), dead man's switch, determinism, reset."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakensim.clock import ManualClock
from krakensim.errors import KrakenAPIError
from krakensim.exchange import Exchange
from krakensim.trading_counter import amend_cost, cancel_penalty

D = Decimal


def limit(price="50000", **extra):
    return {"pair": "XBTEUR", "type": "buy", "ordertype": "limit", "price": price, "volume": "0.001", **extra}


def add(ex, **extra):
    return ex.handle_private("demo", "AddOrder", limit(**extra))["txid"][0]


@pytest.mark.parametrize("age, cost", [(0, 8), (4.9, 8), (5, 6), (9.9, 6), (10, 5), (14.9, 5), (15, 4), (44, 4),
                                       (45, 2), (89, 2), (90, 1), (299, 1), (300, 0), (10_000, 0)])
def test_cancel_penalty_table(age, cost):
    assert cancel_penalty(age) == cost


def test_amend_cost_table():
    assert [amend_cost(a) for a in (0, 5, 10, 15, 400)] == [4, 3, 2, 1, 1]


def test_add_costs_one_and_cancel_pays_by_age(ex, clock):
    txid = add(ex)
    assert ex.counters()["trading"] == {"XXBTZEUR": 1.0}
    clock.advance(0.5)
    ex.handle_private("demo", "CancelOrder", {"txid": txid})
    assert ex.counters()["trading"]["XXBTZEUR"] == pytest.approx(8.5)
    txid = add(ex)
    clock.advance(20)
    ex.handle_private("demo", "CancelOrder", {"txid": txid})
    assert ex.counters()["trading"]["XXBTZEUR"] == pytest.approx(0 + 4)  # decayed to 0 first, then +4


def test_counter_decays_by_tier(clock):
    for tier, rate in (("starter", 1.0), ("intermediate", 2.34), ("pro", 3.75)):
        ex = Exchange(seed=1, clock=clock, tier=tier)
        for _ in range(10):
            ex.handle_private("demo", "AddOrder", limit())
        clock.advance(2)
        assert ex.counters()["trading"]["XXBTZEUR"] == pytest.approx(10 - 2 * rate)
        assert ex.counters()["trading_peak"]["XXBTZEUR"] == pytest.approx(10)


def test_rate_limit_refuses_adds_but_never_cancels(ex, clock):
    for _ in range(6):  # 6 x (1 + 8) = 54
        ex.handle_private("demo", "CancelOrder", {"txid": add(ex)})
    txid = add(ex)  # 55
    ex.handle_private("demo", "CancelOrder", {"txid": txid})  # 63: over the threshold, still accepted
    with pytest.raises(KrakenAPIError) as err:
        add(ex)
    assert err.value.code == "EOrder:Rate limit exceeded"
    assert ex.counters()["trading"]["XXBTZEUR"] == pytest.approx(63)
    assert ex.handle_private("demo", "AddOrder", {**limit(), "pair": "ETHEUR", "price": "2000", "volume": "0.01"})["txid"]
    clock.advance(4)  # 59: one more add fits
    add(ex)
    assert ex.counters()["trading_peak"]["XXBTZEUR"] == pytest.approx(63)


def test_failed_validation_still_charges_but_validate_only_does_not(ex):
    with pytest.raises(KrakenAPIError):
        ex.handle_private("demo", "AddOrder", limit(volume="bogus"))
    assert ex.counters()["trading"]["XXBTZEUR"] == 1.0
    ex.handle_private("demo", "AddOrder", limit(validate="true"))
    assert ex.counters()["trading"]["XXBTZEUR"] == 1.0


def test_trading_limits_switch(clock):
    ex = Exchange(seed=1, clock=clock, trading_limits=False)
    for _ in range(70):
        ex.handle_private("demo", "CancelOrder", {"txid": add(ex)})
    assert ex.counters()["trading"] == {}


def test_dead_mans_switch_fires_on_the_clock_advance_alone(ex, clock):
    """An idle exchange (no request, no view) still cancels at the trigger time."""
    txid = add(ex)
    trigger = clock.time() + 60
    ex.handle_private("demo", "CancelAllOrdersAfter", {"timeout": "60"})
    acct = ex.accounts["demo"]
    clock.advance(59)
    assert txid in acct.open and acct.dms_trigger == trigger
    clock.advance(41)  # past the trigger: nothing else touches the exchange
    assert acct.open == {} and acct.dms_trigger is None
    order = acct.orders[txid]
    assert (order.status, order.closetm) == ("canceled", trigger)


def test_detached_exchange_ignores_the_clock(ex, clock):
    add(ex)
    ex.handle_private("demo", "CancelAllOrdersAfter", {"timeout": "60"})
    ex.detach_clock()
    clock.advance(61)
    assert len(ex.accounts["demo"].open) == 1  # fires only when next read, as before
    assert ex.handle_private("demo", "OpenOrders", {})["open"] == {}


def test_dead_mans_switch_cancels_everything_when_the_clock_passes(ex, clock):
    t1 = add(ex)
    t2 = ex.handle_private("demo", "AddOrder", {**limit(), "pair": "ETHEUR", "price": "2000", "volume": "0.01"})["txid"][0]
    result = ex.handle_private("demo", "CancelAllOrdersAfter", {"timeout": "60"})
    assert result == {"currentTime": "2026-01-01T00:00:00Z", "triggerTime": "2026-01-01T00:01:00Z"}
    assert ex.dead_mans_switch() == {"armed": True, "trigger_time": clock.time() + 60}
    clock.advance(59)
    assert len(ex.handle_private("demo", "OpenOrders", {})["open"]) == 2
    clock.advance(1)
    assert ex.handle_private("demo", "OpenOrders", {})["open"] == {}
    statuses = {o["txid"]: o["status"] for o in ex.orders()}
    assert statuses == {t1: "canceled", t2: "canceled"}
    assert ex.dead_mans_switch() == {"armed": False, "trigger_time": None}
    assert ex.holds() == {}


def test_dead_mans_switch_fires_even_without_a_request(ex, clock):
    add(ex)
    ex.handle_private("demo", "CancelAllOrdersAfter", {"timeout": "10"})
    clock.advance(11)
    assert [o["status"] for o in ex.orders()] == ["canceled"]  # the view catches up on its own


def test_dead_mans_switch_refresh_and_disarm(ex, clock):
    add(ex)
    ex.handle_private("demo", "CancelAllOrdersAfter", {"timeout": "60"})
    clock.advance(30)
    ex.handle_private("demo", "CancelAllOrdersAfter", {"timeout": "60"})
    clock.advance(45)
    assert len(ex.handle_private("demo", "OpenOrders", {})["open"]) == 1
    assert ex.handle_private("demo", "CancelAllOrdersAfter", {"timeout": "0"})["triggerTime"] == "0"
    clock.advance(3600)
    assert len(ex.handle_private("demo", "OpenOrders", {})["open"]) == 1
    for bad in ("-1", "x", "86401"):
        with pytest.raises(KrakenAPIError) as err:
            ex.handle_private("demo", "CancelAllOrdersAfter", {"timeout": bad})
        assert err.value.code == "EGeneral:Invalid arguments:timeout"


def _script(ex):
    txids = [add(ex, price=str(p)) for p in (50000, 51000)]
    ex.handle_private("demo", "AddOrder", {"pair": "XBTEUR", "type": "buy", "ordertype": "market", "volume": "0.01"})
    return txids, [t["txid"] for t in ex.trades()], ex.mid("XBTEUR"), ex.handle_public(
        "OHLC", {"pair": "ETHUSD", "interval": "60"}), ex.handle_public("Depth", {"pair": "XBTUSD"})


def test_same_seed_same_market_and_ids():
    a = _script(Exchange(seed=99, clock=ManualClock()))
    b = _script(Exchange(seed=99, clock=ManualClock()))
    assert a == b


def test_different_seed_different_market_and_ids():
    a = _script(Exchange(seed=1, clock=ManualClock()))
    b = _script(Exchange(seed=2, clock=ManualClock()))
    assert a[0] != b[0] and a[1] != b[1] and a[2] != b[2] and a[3] != b[3]


def test_reset_returns_to_the_seeded_state(ex, clock):
    first = add(ex)
    mid = ex.mid("XBTEUR")
    ex.set_price("XBTEUR", D("70000"))
    ex.set_system_status("maintenance")
    clock.advance(5)
    ex.reset()
    assert ex.orders() == [] and ex.balances()["ZEUR"] == D("10000")
    assert ex.mid("XBTEUR") == mid
    assert ex.handle_public("SystemStatus", {})["status"] == "online"
    assert add(ex) != first


def test_ids_after_a_reset_are_new_yet_deterministic():
    def lifetime(ex: Exchange) -> list[str]:
        ids = []
        for _ in range(3):
            ids.append(add(ex))
            market = {"pair": "XBTEUR", "type": "buy", "ordertype": "market", "volume": "0.001"}
            ids.append(ex.handle_private("demo", "AddOrder", market)["txid"][0])
            ids += [t["txid"] for t in ex.trades()]
            ex.reset()
        return ids

    first = lifetime(Exchange(seed=42, clock=ManualClock()))
    assert len(first) == len(set(first)) >= 9
    assert lifetime(Exchange(seed=42, clock=ManualClock())) == first


@pytest.mark.parametrize("seconds", [float("nan"), float("inf")])
def test_manual_clock_refuses_a_time_that_would_break_the_exchange(ex, clock, seconds):
    with pytest.raises(ValueError):
        ex.advance(seconds)
    assert ex.handle_public("Time", {})["unixtime"] == int(ManualClock.DEFAULT_START)


def test_advance_needs_a_manual_clock(ex, clock):
    ex.advance(5)
    assert ex.handle_public("Time", {})["unixtime"] == int(ManualClock.DEFAULT_START) + 5

    class WallClock:
        def time(self):
            return 1_767_225_600.0

    with pytest.raises(TypeError):
        Exchange(clock=WallClock()).advance(1)


def test_concurrent_requests_keep_the_books_consistent():
    import threading

    from krakensim.clock import SystemClock

    ex = Exchange(seed=5, clock=SystemClock(), volatility=D("0.0002"), trading_limits=False)
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(60):
                txid = ex.handle_private("demo", "AddOrder", limit(price=str(45000 + n * 100 + i)))["txid"][0]
                ex.handle_private("demo", "Balance", {})
                ex.handle_private("demo", "CancelOrder", {"txid": txid})
        except BaseException as exc:  # collected: an assertion in a thread would be lost
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert ex.handle_private("demo", "OpenOrders", {}) == {"open": {}}
    assert ex.handle_private("demo", "ClosedOrders", {})["count"] == 240
    assert ex.holds() == {}


def test_cancel_age_counts_from_the_last_amend(ex, clock):
    txid = add(ex)
    clock.advance(400)
    ex.handle_private("demo", "AmendOrder", {"txid": txid, "order_qty": "0.002"})  # +1 (age >= 15 s)
    ex.handle_private("demo", "CancelOrder", {"txid": txid})  # age 0 since the amend: +8
    assert ex.counters()["trading"]["XXBTZEUR"] == pytest.approx(9)



def test_catching_up_after_an_idle_hour_replays_only_the_last_minute_of_flow(clock):
    """An hour idle at 10 arrivals a second used to replay every arrival of every second under the
    exchange's one lock; now only the arrivals of the last FLOW_REPLAY_SECONDS are replayed, while the
    price path, the cheap part, still steps each second, and the dead man's switch fires at its time."""
    from krakensim.exchange import FLOW_REPLAY_SECONDS

    ex = Exchange(seed=42, clock=clock, flow_rate=10, volatility="0.0005")
    txid = add(ex)
    ex.handle_private("demo", "CancelAllOrdersAfter", {"timeout": "600"})
    arrivals, steps = [], []
    run, step_all = ex.flow.run, ex._step_all
    ex.flow.run = lambda pid, t, *rest: (arrivals.append(t), run(pid, t, *rest))
    ex._step_all = lambda t: (steps.append(t), step_all(t))
    start = clock.time()
    clock.advance(3600)
    ex.catch_up()
    assert len(steps) == 3600
    assert arrivals and min(arrivals) >= start + 3600 - FLOW_REPLAY_SECONDS
    assert len(arrivals) < 2 * 10 * FLOW_REPLAY_SECONDS * len(ex.markets)  # not 10 a second for an hour
    (order,) = [o for o in ex.orders() if o["txid"] == txid]
    assert (order["status"], order["reason"], order["closetm"]) == ("canceled", "Dead man's switch", start + 600)


def test_the_price_path_after_an_idle_stretch_is_the_one_a_busy_exchange_walks():
    idle_clock, busy_clock = ManualClock(), ManualClock()
    idle, busy = (Exchange(seed=42, clock=c, flow_rate=1, volatility="0.0005") for c in (idle_clock, busy_clock))
    for _ in range(600):
        busy_clock.advance(1)
        busy.catch_up()
    idle_clock.advance(600)
    assert idle.mid("XBTEUR") == busy.mid("XBTEUR")
