"""Orders through the safety wrapper against the simulator: paper validates only, canary
places and cancels at once, the kill switch and the dead man's switch clear the book."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.errors import KrakenError


def addorders(records):
    return [r for r in records if r.endpoint == "AddOrder"]


def open_on_exchange(sim):
    return [o for o in sim.orders() if o["status"] in ("open", "pending")]


def test_paper_sends_addorder_only_with_validate_true(sim, make_bot):
    bot = make_bot("paper")
    start = len(sim.access_log)
    before = sim.balances()
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert outcome.accepted and outcome.validated_only and not outcome.placed, outcome
    sent = addorders(sim.access_log_since(start))
    assert len(sent) == 1 and sent[0].params.get("validate") == "true"
    assert sim.orders() == [] and sim.balances() == before


def test_paper_raw_addorder_is_forced_to_validate(sim, make_bot):
    bot = make_bot("paper")
    start = len(sim.access_log)
    bot.safety.call("AddOrder", pair="XXBTZEUR", type="buy", ordertype="limit", volume="0.01", price="50000")
    [sent] = addorders(sim.access_log_since(start))
    assert sent.params.get("validate") == "true"
    assert sim.orders() == []


def test_canary_refuses_orders_near_the_market_or_too_big(sim, make_bot):
    bot = make_bot("canary")
    start = len(sim.access_log)
    near = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.0001"), Decimal("59000"), post_only=True)
    market = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.0001"))
    assert near.codes == ["CANARY_RULES"] and market.codes == ["CANARY_RULES"]
    assert addorders(sim.access_log_since(start)) == []


def test_canary_order_is_post_only_far_minimal_and_cancelled_at_once(sim, make_bot):
    bot = make_bot("canary")
    mid = bot.safety.ticker("XBTEUR").mid
    start = len(sim.access_log)
    outcome = bot.safety.canary_order("XBTEUR", "buy")
    assert outcome.accepted and outcome.placed, outcome
    [sent] = addorders(sim.access_log_since(start))
    assert sent.params["oflags"] == "post"
    assert Decimal(sent.params["price"]) <= mid * Decimal("0.9")
    assert Decimal(sent.params["volume"]) * Decimal(sent.params["price"]) <= Decimal("10")
    assert "CancelOrder" in [r.endpoint for r in sim.access_log_since(start)]
    assert open_on_exchange(sim) == []
    assert bot.safety.order(outcome.cl_ord_id).status == "CANCELED"


def test_kill_switch_cancels_real_open_orders_and_halts(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    for side, price in (("buy", "59000"), ("sell", "61000")):
        placed = bot.safety.submit_order("XBTEUR", side, "limit", Decimal("0.01"), Decimal(price))
        assert placed.placed, placed
    assert len(open_on_exchange(sim)) == 2
    report = bot.safety.kill("test kill")
    assert report.halted and report.cancelled == 2 and report.problems == ()
    assert open_on_exchange(sim) == []
    assert bot.safety.open_orders() == []
    start = len(sim.access_log)
    refused = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert refused.codes == ["HALTED"]
    assert addorders(sim.access_log_since(start)) == []
    bot.safety.resume("test over")
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed


def test_dead_mans_switch_fires_without_keep_alive(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed
    bot.safety.arm_dead_mans_switch(60)
    assert sim.dead_mans_switch()["armed"]
    sim.advance(61)
    assert open_on_exchange(sim) == []


def test_dead_mans_switch_kept_alive_keeps_orders(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed
    bot.safety.arm_dead_mans_switch(60)
    for _ in range(9):
        sim.advance(20)
        assert bot.safety.keep_alive() is True
    assert len(open_on_exchange(sim)) == 1
    bot.safety.disarm_dead_mans_switch()
    assert not sim.dead_mans_switch()["armed"]


def test_a_dead_mans_switch_that_lapsed_while_keep_alives_failed_stops_orders_until_armed_again(sim, make_bot):
    """Defect (review of issue 20): ``armed`` was only "a timeout was set". Keep-alives refused for
    minutes let the exchange's countdown run out (it cancelled everything and held no switch), yet the
    bot believed it armed and the next cycle placed an order with no switch behind it."""
    bot = make_bot("live", live_flag=True, STRATEGY_INTERVAL_SECONDS="60", MAX_DAILY_TRADES="100",
                   MAX_ORDER_EUR="5000", TOTAL_BTC="1", DEAD_MANS_SWITCH_SECONDS="60")
    assert bot.start(first_in_home=True).dead_mans_switch_armed
    sim.faults.inject(endpoint="CancelAllOrdersAfter", kind="error", error="EAPI:Rate limit exceeded",
                      probability=1.0)
    for _ in range(3):
        sim.advance(61)
        bot.run_once()
    assert not sim.dead_mans_switch()["armed"]
    assert bot.safety.status()["dead_mans_switch"]["armed"] is False

    start = len(sim.access_log)
    sim.advance(61)
    report = bot.run_once()
    assert addorders(sim.access_log_since(start)) == []
    assert "dead man's switch not armed" in report.skipped["XBTEUR"]

    sim.faults.clear()
    start = len(sim.access_log)
    sim.advance(61)
    report = bot.run_once()
    sent = [r.endpoint for r in sim.access_log_since(start)]
    assert report.placed == 1 and sent.index("CancelAllOrdersAfter") < sent.index("AddOrder"), sent
    assert sim.dead_mans_switch()["armed"] and bot.safety.status()["dead_mans_switch"]["armed"] is True


def test_the_dead_mans_switch_is_kept_alive_through_the_wait_between_cycles(sim, make_bot):
    """Cycles 60 s apart with a 60 s switch: a keep-alive only at each cycle's end let the exchange's
    countdown run out between two cycles and cancel the resting orders."""
    import threading

    bot = make_bot("live", live_flag=True, DEAD_MANS_SWITCH_SECONDS="60")
    bot.start(first_in_home=True)
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed
    bot.orchestrator.cycle_seconds = 60
    assert bot.orchestrator.run(threading.Event(), max_cycles=4) == 4
    assert len(open_on_exchange(sim)) == 1


def test_the_dead_mans_switch_counts_down_from_the_exchanges_trigger_time():
    """The exchange's answer says when its countdown ends (its own clock): armed until then, not longer."""
    from krakensim.clock import ManualClock
    from krakenbot.safety.dead_mans_switch import DeadMansSwitch

    clock = ManualClock()
    answer = {"currentTime": "2026-01-01T00:00:00Z", "triggerTime": "2026-01-01T00:00:45Z"}
    dms = DeadMansSwitch(lambda timeout: answer, clock)
    dms.arm(60)
    clock.advance(44)
    assert dms.armed
    clock.advance(1)
    assert not dms.armed and dms.lapsed


def test_an_answer_saying_no_countdown_runs_is_not_counted_as_armed():
    """Kraken answers triggerTime "0" when no countdown runs (review of issue 20)."""
    from krakensim.clock import ManualClock
    from krakenbot.safety.dead_mans_switch import DeadMansSwitch

    dms = DeadMansSwitch(lambda timeout: {"currentTime": "2026-01-01T00:00:00Z", "triggerTime": "0"}, ManualClock())
    dms.arm(60)
    assert not dms.armed and dms.lapsed


def test_a_short_switch_gets_a_second_keep_alive_before_it_lapses():
    """Re-review of issue 20: a failed keep-alive was due again after a fixed 5 s, so a 6 s switch lapsed
    (Kraken cancels everything) after one transient failure. A short switch retries at its refresh interval."""
    from krakensim.clock import ManualClock
    from krakenbot.errors import RequestTimeout
    from krakenbot.safety.dead_mans_switch import DeadMansSwitch

    clock, calls = ManualClock(), []

    def call(timeout: int):
        calls.append(clock.time())
        if len(calls) == 2:  # the first keep-alive fails once
            raise RequestTimeout("timed out", (), "CancelAllOrdersAfter")
        return {}  # no times in the answer: the countdown is the timeout

    switch = DeadMansSwitch(call, clock)
    switch.arm(6)
    for _ in range(12):
        clock.advance(1.0)
        try:
            switch.keep_alive()
        except RequestTimeout:
            pass
        assert switch.armed, f"lapsed at +{clock.time() - calls[0]:.0f} s; keep-alives sent at {calls}"


def test_a_cycle_whose_arm_is_answered_with_no_countdown_places_no_order(sim, make_bot):
    """The exchange answered the arm, but with a countdown already over: the switch is not armed, so
    the cycle places nothing (the loop asked whether it is armed, not whether arm() returned)."""
    bot = make_bot("live", live_flag=True, DEAD_MANS_SWITCH_SECONDS="60")
    bot.start(first_in_home=True)
    dms = bot.safety.dead_mans_switch
    dms.disarm()
    dms._call = lambda timeout: {"currentTime": "2026-01-01T00:00:00Z", "triggerTime": "2026-01-01T00:00:00Z"}

    class BuyAlways:
        name = "buy-always"

        def decide(self, view):
            from krakenbot.strategy import TradeIntent

            return [TradeIntent(pair=view.pair, side="buy", ordertype="limit", volume=Decimal("0.001"),
                                price=Decimal("59000"), post_only=False)]

        def acknowledge(self, *args):
            pass

    bot.orchestrator.strategy = BuyAlways()
    report = bot.run_once()
    assert (report.placed, dms.armed) == (0, False), report
    assert "no countdown" in report.skipped["XBTEUR"]


def test_failing_keep_alives_in_the_wait_between_cycles_are_spaced_and_leave_the_kill_its_cancel(sim, make_bot):
    """Review of issue 20: a failed keep-alive stayed due, so the wait between cycles sent one every
    second; five failures opened the circuit breaker, and the kill's CancelAll was then refused. Now a
    failed keep-alive is due again after the longest retry delay, and cancels pass the breaker."""
    import threading

    bot = make_bot("live", live_flag=True, DEAD_MANS_SWITCH_SECONDS="60")
    bot.start(first_in_home=True)
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed
    sim.faults.inject(endpoint="CancelAllOrdersAfter", kind="error", error="EService:Unavailable", times=5)
    start = len(sim.access_log)
    bot.orchestrator.cycle_seconds = 30
    sim.advance(20)  # the keep-alive is due (a third of 60 s)
    bot.orchestrator._wait(threading.Event(), 8)
    sent = [r.endpoint for r in sim.access_log_since(start)].count("CancelAllOrdersAfter")
    assert sent == 2, f"{sent} keep-alives in 8 s of failures: one at once, one 5 s later"
    report = bot.safety.kill("drill", actor="operator")
    assert report.cancelled == 1 and not report.problems, report
    assert open_on_exchange(sim) == []


def test_an_open_circuit_breaker_stops_orders_but_not_the_kill_or_a_cancel(sim, make_bot):
    """Fail closed for new exposure, open for less: with the exchange failing and the breaker open, an
    order is refused before it is sent, while a cancel and the kill's CancelAll still go out."""
    bot = make_bot("live", live_flag=True)
    bot.start(first_in_home=True)
    first = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000"))
    second = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59500"))
    assert first.placed and second.placed
    sim.faults.inject(endpoint="Balance", kind="http_status", status=503, times=50)
    for _ in range(5):
        try:
            bot.client.account.balance()
        except KrakenError:  # the failures that open the breaker
            pass
    assert bot.client.breaker.state.value == "open"
    start = len(sim.access_log)
    refused = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59200"))
    assert not refused.placed and refused.denials[0].code.value == "CIRCUIT_OPEN"
    assert bot.safety.cancel_order(first.cl_ord_id).accepted
    report = bot.safety.kill("drill", actor="operator")
    assert report.cancelled == 1 and not report.problems, report
    assert [r.endpoint for r in sim.access_log_since(start)] == ["CancelOrder", "CancelAll"]
    assert open_on_exchange(sim) == []


@pytest.mark.parametrize("status", ["maintenance", "cancel_only", "post_only"])
def test_market_status_blocks_new_orders(sim, make_bot, status):
    bot = make_bot("live", live_flag=True)
    sim.set_system_status(status)
    start = len(sim.access_log)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert outcome.codes == ["MARKET_STATUS"]
    assert addorders(sim.access_log_since(start)) == []


def test_post_only_status_admits_post_only_limit(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    sim.set_system_status("post_only")
    outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000"), post_only=True)
    assert outcome.placed, outcome


def test_maintenance_attempts_no_cancel(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    placed = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000"))
    sim.set_system_status("maintenance")
    start = len(sim.access_log)
    outcome = bot.safety.cancel_order(placed.cl_ord_id)
    assert outcome.codes == ["MARKET_STATUS"]
    assert "CancelOrder" not in [r.endpoint for r in sim.access_log_since(start)]
    sim.set_system_status("cancel_only")
    assert bot.safety.cancel_order(placed.cl_ord_id).accepted
    assert open_on_exchange(sim) == []


def test_stale_market_data_stops_the_cycle(sim, make_bot):
    bot = make_bot("live", live_flag=True, STALE_DATA_SECONDS="30")
    bot.safety.ticker("XBTEUR")
    sim.faults.inject(endpoint="Ticker", kind="error", error="EService:Unavailable", times=1000)
    sim.advance(300)
    start = len(sim.access_log)
    report = bot.run_once()
    assert "XBTEUR" in report.skipped and "STALE_DATA" in report.skipped["XBTEUR"]
    assert addorders(sim.access_log_since(start)) == []
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert outcome.codes == ["STALE_MARKET_DATA"]
    cycles = [r for r in bot.safety.audit_log() if r["action"] == "cycle"]
    assert cycles[-1]["outcome"] == "skipped" and "STALE_DATA" in cycles[-1]["reason"]


def test_orchestrator_buys_on_a_dip_through_the_wrapper(sim, make_bot):
    bot = make_bot("live", live_flag=True, STRATEGY_BUY_EUR="50", STRATEGY_DIP_PCT="2")
    first = bot.run_once()
    assert first.intents == 0 and first.ok, first
    sim.set_price("XBTEUR", bot.safety.ticker("XBTEUR").mid * Decimal("0.95"))
    sim.advance(5)
    second = bot.run_once()
    assert second.intents == 1 and second.placed == 1, second
    assert [t for t in sim.trades()], "the dip buy should have traded"


def test_run_loop_stops_gracefully_and_disarms_the_dead_mans_switch(sim, make_bot):
    import threading

    from krakenbot.strategy import HoldStrategy

    stop = threading.Event()

    class StopOnSecondCycle(HoldStrategy):
        calls = 0

        def decide(self, view):
            StopOnSecondCycle.calls += 1
            if StopOnSecondCycle.calls == 2:
                stop.set()  # as the SIGTERM handler does, in the middle of a cycle
            return []

    bot = make_bot("live", live_flag=True)
    bot.orchestrator.strategy = StopOnSecondCycle()
    bot.orchestrator.cycle_seconds = 30
    bot.safety.arm_dead_mans_switch(60)
    assert sim.dead_mans_switch()["armed"]
    done = bot.orchestrator.run(stop)
    assert done == 2 and bot.orchestrator.last_report.ok
    assert not sim.dead_mans_switch()["armed"]
    assert [r["action"] for r in bot.safety.audit_log()].count("cycle") == 2


def test_recover_after_a_restart_adopts_the_orders_state(sim, make_bot, tmp_path):
    store = str(tmp_path / "bot.sqlite")
    first = make_bot("live", live_flag=True, STORE_PATH=store)
    first.store.close()
    from krakenbot.bot import Bot

    bot = Bot.build(first.settings, clock=sim.clock, store_path=store, live_flag=True)
    try:
        placed = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000"))
        assert placed.placed
        bot.close()
        sim.set_price("XBTEUR", "58900")  # the resting buy fills while the bot is down
        bot = Bot.build(first.settings, clock=sim.clock, store_path=store, live_flag=True)
        report = bot.safety.recover()
        assert report.still_unknown == []
        assert bot.safety.order(placed.cl_ord_id).status == "FILLED"
        assert any(r["action"] == "recover" for r in bot.safety.audit_log())
    finally:
        bot.close()


def test_funds_held_by_open_orders_are_not_spent_twice(sim, make_bot):
    bot = make_bot("live", live_flag=True, TOTAL_BTC="1", MAX_ORDER_EUR="100000", MAX_POSITION_PCT="100")
    resting = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.15"), Decimal("59000"))
    assert resting.placed, resting
    start = len(sim.access_log)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.05"))
    assert "INSUFFICIENT_BALANCE" in outcome.codes, outcome
    assert addorders(sim.access_log_since(start)) == []


def test_reconcile_after_trading_compares_balances_and_is_clean(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01")).placed
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed
    report = bot.safety.reconcile()
    assert report.counts["assets"] > 0 and report.clean, report.discrepancies
    from krakenbot.client import KrakenClient
    from krakenbot.models import OrderRequest, OrderType, Side

    # Someone trades on the same account with another key, behind the bot's back.
    with KrakenClient(sim.url, *sim.create_key(), clock=sim.clock) as other:
        other.trading.add_order(OrderRequest("XXBTZEUR", Side.SELL, OrderType.MARKET, Decimal("0.001")))
    drift = bot.safety.reconcile()
    assert {"foreign_fill", "balance_mismatch"} <= {d.kind for d in drift.discrepancies}
    assert [r for r in bot.safety.audit_log() if r["action"] == "reconcile"][-1]["outcome"] == "discrepancies"


def test_stop_loss_fires_a_market_sell_through_the_wrapper(sim, make_bot):
    from krakenbot.strategy import HoldStrategy

    bot = make_bot("live", live_flag=True, STOP_LOSS_PCT="5")
    bot.orchestrator.strategy = HoldStrategy()
    assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01")).placed
    bot.safety.refresh_orders()
    assert bot.safety.position("XBTEUR")[0] == Decimal("0.01")
    sim.shock("XBTEUR", "-10")
    sim.advance(5)  # past the market data cache's freshness window
    report = bot.run_once()
    assert report.protective_actions == 1, report
    assert bot.safety.position("XBTEUR")[0] == Decimal(0)
    exits = [r for r in bot.safety.audit_log() if r["action"] == "protective_exit"]
    assert exits and exits[0]["outcome"] == "stop_loss"


def test_closing_the_bot_disarms_the_dead_mans_switch(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed
    bot.safety.arm_dead_mans_switch(60)
    bot.close()
    assert not sim.dead_mans_switch()["armed"]
    sim.advance(120)
    assert len(open_on_exchange(sim)) == 1  # a clean stop keeps the operator's orders


def test_canary_cycle_places_and_cancels_one_probe(sim, make_bot):
    bot = make_bot("canary")
    start = len(sim.access_log)
    report = bot.run_once()
    assert report.placed == 1 and report.ok, report
    sent = addorders(sim.access_log_since(start))
    assert len(sent) == 1 and sent[0].params["oflags"] == "post"
    assert open_on_exchange(sim) == []


def test_kill_file_appearing_while_running_halts_and_cancels_at_the_next_cycle(sim, make_bot, tmp_path):
    bot = make_bot("live", live_flag=True)
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed
    (tmp_path / "KILL").write_text("operator on another host\n")
    report = bot.run_once()
    assert report.skipped["XBTEUR"].startswith("HALTED") and "another host" in report.skipped["XBTEUR"]
    assert open_on_exchange(sim) == []
    assert bot.safety.risk.trading_state.value == "HALTED"
    kills = [r for r in bot.safety.audit_log() if r["action"] == "kill"]
    assert kills and kills[0]["actor"] == "kill_file"
    again = bot.run_once()  # the kill happens once; the halt stays
    assert [r for r in bot.safety.audit_log() if r["action"] == "kill"] == kills and again.skipped


def test_refused_stop_loss_exit_is_retried_at_the_next_cycle(sim, make_bot):
    """Defect: the bot-side stop-loss fired once per position, so an exit refused while the
    exchange was briefly unavailable was never retried."""
    from krakenbot.strategy import HoldStrategy

    bot = make_bot("live", live_flag=True, STOP_LOSS_PCT="5")
    bot.orchestrator.strategy = HoldStrategy()
    assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01")).placed
    bot.safety.refresh_orders()
    sim.shock("XBTEUR", "-10")
    sim.advance(5)
    sim.set_system_status("maintenance")
    first = bot.run_once()
    assert first.protective_actions == 1, first
    assert bot.safety.position("XBTEUR")[0] == Decimal("0.01")  # the exit was refused
    sim.set_system_status("online")
    sim.advance(5)
    second = bot.run_once()
    assert second.protective_actions == 1, second
    assert bot.safety.position("XBTEUR")[0] == Decimal(0)
    sells = [o for o in sim.orders() if o["descr"]["type"] == "sell"]
    assert len(sells) == 1


def test_two_bots_on_one_account_adopt_only_their_own_orders_at_recovery(sim, make_bot, tmp_path):
    """Defect: recover() adopted every open order whose id started with "kb", so two bots on one
    account took over each other's orders."""
    from krakenbot.bot import Bot

    store_a = str(tmp_path / "a.sqlite")
    settings = make_bot("live", live_flag=True).settings
    a = Bot.build(settings, clock=sim.clock, store_path=store_a, live_flag=True)
    key, secret = sim.create_key(permissions={"query_funds", "query_orders", "trade", "cancel"})  # same account
    b_settings = make_bot("live", live_flag=True, KRAKEN_API_KEY=key, KRAKEN_API_SECRET=secret).settings
    b = Bot.build(b_settings, clock=sim.clock, store_path=str(tmp_path / "b.sqlite"), live_flag=True)
    a_order = a.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59500"))
    b_order = b.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59400"))
    assert a_order.placed and b_order.placed
    assert a_order.cl_ord_id[:6] != b_order.cl_ord_id[:6]
    # Bot A restarts on a store that lost its orders (same store file, so the same bot id).
    a.close()
    lost = Bot.build(a.settings, clock=sim.clock, store_path=store_a, live_flag=True)
    try:
        lost.store._db.execute("DELETE FROM orders")
        lost.store._db.commit()
        report = lost.safety.recover()
        assert report.adopted == [a_order.cl_ord_id]
        # Bot B's recovery leaves A's order alone.
        assert b.safety.recover().adopted == []
        assert b.safety.order(a_order.cl_ord_id) is None
    finally:
        lost.close()
        b.close()


def test_bot_id_setting_fixes_the_client_order_id_prefix(sim, make_bot):
    bot = make_bot("live", live_flag=True, BOT_ID="ab12")
    outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59500"))
    assert outcome.placed and outcome.cl_ord_id.startswith("kbab12") and len(outcome.cl_ord_id) <= 18


def test_market_order_on_a_thin_book_is_refused_before_it_is_sent(sim, make_bot):
    """Defect: market orders had no slippage limit (notional at mid, the collar skipped them), so
    on a thin book one could fill far from mid. Now the fill is estimated on the book."""
    bot = make_bot("live", live_flag=True, PRICE_COLLAR_PCT="1")
    sim.set_liquidity("XBTEUR", Decimal("0.0001"))  # 150 levels of 6 EUR for 0.015 XBT: ~1.5 % away
    mark = len(sim.access_log)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.015"))
    assert outcome.codes == ["PRICE_COLLAR"], outcome
    assert "worst" in outcome.reason and "from mid" in outcome.reason
    assert addorders(sim.access_log_since(mark)) == []
    sim.set_liquidity("XBTEUR", Decimal("0.001"))  # 15 levels: within 0.15 % of mid
    sim.advance(3)  # past the market data cache's freshness window: the walk sees the new book
    assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.015")).placed


def test_a_float_amount_is_refused_before_anything_is_sent(sim, make_bot):
    """Money is Decimal at the wrapper's door too: 0.1 as a float is 0.1000000000000000055..., refused, not rounded."""
    bot = make_bot("live", live_flag=True)
    start = len(sim.access_log)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", 0.001, Decimal("50000"))
    assert not outcome.accepted and not outcome.placed and outcome.denials[0].code.value == "INVALID_ORDER", outcome
    assert "float" in outcome.reason
    assert addorders(sim.access_log_since(start)) == [] and bot.store.orders() == []


def test_an_order_on_a_closed_client_is_not_placed_and_blocks_nothing(sim, make_bot):
    """Nothing was sent, so the order is REJECTED at once, never UNKNOWN with lookups that cannot run."""
    bot = make_bot("live", live_flag=True)
    first = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59500"))
    assert first.placed, first
    bot.safety.cancel_order(first.cl_ord_id)
    bot.safety._balances_and_free()  # every read the next order needs is cached: only AddOrder would go out
    bot.client.close()
    start = len(sim.access_log)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59500"))
    assert not outcome.placed and outcome.status == "REJECTED" and "client is closed" in outcome.reason, outcome
    assert sim.access_log_since(start) == []
    assert bot.store.get_order(outcome.cl_ord_id).status == "REJECTED"
    assert bot.safety.executor.unknown_pairs() == frozenset()


def test_a_resume_the_store_records_only_halfway_does_not_resume_after_a_restart(sim, tmp_path):
    """Review of issue 20: the state row and its audit row were two transactions. With the disk full
    between them, the resume was refused (and the running bot stayed halted), yet the stored state
    said ACTIVE, so the next start traded."""
    import sqlite3

    from krakenbot.bot import Bot
    from krakenbot.config import Settings
    from krakenbot.errors import StoreFailure

    settings = Settings.from_env({
        "KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
        "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KILL_SWITCH_FILE": str(tmp_path / "KILL"),
        "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "BOT_ID": "abcd"})
    path = str(tmp_path / "bot.sqlite")
    with Bot.build(settings, clock=sim.clock, store_path=path, live_flag=True) as bot:
        bot.start(first_in_home=True)
        bot.safety.kill("operator stop", actor="operator")

        def disk_full(_event):
            raise sqlite3.OperationalError("database or disk is full")

        bot.store.append_audit = disk_full  # the disk fills between the state row and its audit row
        with pytest.raises(StoreFailure):
            bot.safety.resume("checked", actor="operator")
        assert bot.safety.kill_switch.engaged
    with Bot.build(settings, clock=sim.clock, store_path=path, live_flag=True) as bot:
        bot.start()
        refused = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))
        assert bot.safety.risk.trading_state.value == "HALTED" and not refused.placed


def test_a_trailing_stop_placed_by_hand_does_not_stop_the_bot_reading_its_orders(sim, make_bot):
    """Kraken lists a trailing stop's price as an offset (``"+1.0000%"``): read as a number it failed
    the whole OpenOrders answer, so one order placed by hand on the account blinded the bot to its own."""
    import requests

    from tools.spec_support.raw_client import signed_post

    bot = make_bot("live", live_flag=True)
    bot.start(first_in_home=True)
    mine = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59900"))
    answer = signed_post(requests, sim.url, sim.api_key, sim.api_secret, "AddOrder", {
        "pair": "XXBTZEUR", "type": "sell", "ordertype": "trailing-stop", "volume": "0.001", "price": "+1.0%"})
    assert not answer["error"], answer
    sim.set_price("XBTEUR", "59800")  # through the bot's bid, not 1 % down: the trailing stop waits
    bot.safety.refresh_orders()
    assert bot.store.get_order(mine.cl_ord_id).status == "FILLED"
    report = bot.safety.reconcile()
    assert [d.kind for d in report.discrepancies] == ["order_unknown_to_bot"], report.discrepancies
