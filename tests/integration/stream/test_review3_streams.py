"""Review 3 of #23 (the bot's streams): each test here fails on main and names a way the stream
path loses or misstates money. Same rig as test_bot_streams (the simulator on loopback)."""
from __future__ import annotations

from decimal import Decimal

from krakenbot.stream.executions import ExecEvent
from tests.integration.stream.test_bot_streams import FAST, WAIT, _bot, _filled, _resting_buy, sim  # noqa: F401

LOOKUPS = ("QueryOrders", "OpenOrders", "ClosedOrders")


def test_a_late_stream_event_never_moves_an_orders_executed_volume_backwards(sim, tmp_path):
    """REST's catch-up (main thread) can apply the order's final state before the stream's thread
    delivers an earlier, queued 'partially_filled' event: the order must keep what was executed."""
    with _bot(sim, tmp_path) as bot:
        streams = bot.start_streams(**FAST)
        cl_ord_id = _resting_buy(bot, sim)
        sim.set_price("XBTEUR", "59000")
        assert streams.executions.wait_for(lambda: _filled(bot, cl_ord_id), WAIT)
        order = bot.store.get_order(cl_ord_id)
        fill = bot.store.fills(txid=order.txid)[0]
        late = ExecEvent(exec_type="trade", order_id=order.txid, cl_ord_id=cl_ord_id,
                         order_status="partially_filled", symbol="BTC/EUR", side="buy", cum_qty=Decimal("0.0005"),
                         cum_cost=Decimal("29.7"), avg_price=Decimal("59400"), exec_id=fill.trade_id,
                         last_qty=Decimal("0.0005"), last_price=Decimal("59400"), cost=Decimal("29.7"),
                         maker=True, fees=(), timestamp=None, sequence=2, snapshot=False)
        bot.safety.executor.apply_execution(late)
        after = bot.store.get_order(cl_ord_id)
        assert (after.status, after.volume_executed) == ("FILLED", Decimal("0.001")), after


def test_an_unknown_order_is_still_resolved_while_the_executions_stream_follows_orders(sim, tmp_path):
    """AddOrder's answer is lost and the lookups fail for a while: the order is UNKNOWN. Once REST
    answers again, the next cycle must settle it (and record its fill) even though the executions
    stream is healthy: its events for an order without a recorded txid are dropped."""
    with _bot(sim, tmp_path) as bot:
        streams = bot.start_streams(**FAST)
        streams.catch_up(bot.safety.executor.refresh)
        assert streams.follows_orders
        sim.faults.inject("AddOrder", "accept_then_drop")
        for endpoint in LOOKUPS:
            sim.faults.inject(endpoint, "error", probability=1.0)
        outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59400"))
        cl_ord_id = outcome.cl_ord_id
        assert bot.store.get_order(cl_ord_id).status == "UNKNOWN", outcome
        sim.faults.clear()
        bot.client.breaker.reset("REST answers again")  # the outage is over: only the stream path is left
        sim.set_price("XBTEUR", "59000")  # it was placed: it fills, and the stream tells of it
        assert streams.executions.wait_for(lambda: streams.executions.frames > 0 and streams.follows_orders, WAIT)
        for _ in range(2):
            assert bot.run_once().ok
        order = bot.store.get_order(cl_ord_id)
        assert order.status == "FILLED" and bot.store.fills(txid=order.txid), order


def test_a_fill_whose_notice_was_the_last_message_lost_is_still_found(sim, tmp_path):
    """The exchange's last executions messages (the fill and the 'filled') never arrive and nothing
    follows them: no sequence gap can show. The bot's cycles must still learn the fill over REST
    (a periodic reconciliation of the orders), not trust the silent stream forever."""
    with _bot(sim, tmp_path) as bot:
        streams = bot.start_streams(**FAST)
        cl_ord_id = _resting_buy(bot, sim)
        assert streams.follows_orders
        sim.faults.inject("executions", "ws_skip", times=2)
        sim.set_price("XBTEUR", "59000")
        assert streams.market.wait_for(lambda: bot.market_data.live_book("XBTEUR") is not None
                                       and bot.market_data.live_book("XBTEUR").best_ask < Decimal("59400"), WAIT)
        for _ in range(3):
            bot.run_once()
        assert _filled(bot, cl_ord_id), bot.store.get_order(cl_ord_id)
