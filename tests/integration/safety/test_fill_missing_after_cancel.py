"""An order that filled while its cancel was on its way, whose trade could not be read then: the
running bot records the fill at its next look (refresh or reconciliation), once, and says so;
until then its risk checks count the executed volume as held (fail closed)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.errors import KrakenError


def _filled_while_cancelling(sim, bot, *, trade_reads_failing: int = 3):
    """A resting buy of 0.01 XBT that fills as the cancel arrives, its trade unreadable for a while."""
    placed = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000"))
    assert placed.placed, placed
    sim.faults.on_arrival("CancelOrder", lambda: sim.set_price("XBTEUR", "58000"))
    # an error page for every read of the trades (the client's retries included): the fill cannot be read
    sim.faults.inject("QueryTrades", "http_status", status=502, times=trade_reads_failing)
    sim.faults.inject("TradesHistory", "http_status", status=502, times=trade_reads_failing)
    outcome = bot.safety.cancel_order(placed.cl_ord_id)
    order = bot.safety.order(placed.cl_ord_id)
    assert not outcome.accepted and outcome.status == "FILLED" and order.status == "FILLED" and order.volume_executed == Decimal("0.01")
    assert bot.store.fills(txid=order.txid) == []  # the failed import: FILLED, no fill recorded
    sim.faults.clear()
    return order


def _held(bot):
    return bot.safety.positions.position("XXBTZEUR").volume


def test_next_refresh_records_the_fill_the_cancel_could_not_read(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    order = _filled_while_cancelling(sim, bot)
    bot.safety.refresh_orders()
    [fill] = bot.store.fills(txid=order.txid)
    assert fill.volume == Decimal("0.01") and fill.cl_ord_id == order.cl_ord_id
    assert _held(bot) == Decimal("0.01")
    rows = bot.store.audit_rows("fills_imported")
    assert [r["detail"]["cl_ord_id"] for r in rows] == [order.cl_ord_id]
    bot.safety.refresh_orders()  # once only: a later look adds nothing
    assert len(bot.store.fills(txid=order.txid)) == 1
    assert bot.safety.reconcile().clean


def test_next_reconciliation_records_the_fill_the_cancel_could_not_read(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    order = _filled_while_cancelling(sim, bot)
    report = bot.safety.reconcile()
    assert len(bot.store.fills(txid=order.txid)) == 1
    assert report.clean, report.discrepancies
    assert _held(bot) == Decimal("0.01")


def test_while_the_fill_is_missing_a_buy_counts_the_executed_volume_as_held(sim, make_bot):
    bot = make_bot("live", live_flag=True, TOTAL_BTC="0.015")
    _filled_while_cancelling(sim, bot)
    assert _held(bot) == 0  # the bot's position: the fill is not recorded yet
    sim.set_price("XBTEUR", "60000")
    refused = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59500"))
    assert refused.codes == ["MAX_POSITION"], refused


def test_a_fill_still_unreadable_at_the_next_look_is_recorded_at_the_one_after(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    order = _filled_while_cancelling(sim, bot)
    sim.faults.inject("TradesHistory", "http_status", status=502, times=3)
    with pytest.raises(KrakenError):
        bot.safety.refresh_orders()
    assert bot.store.fills(txid=order.txid) == []
    assert [r["detail"]["cl_ord_id"] for r in bot.store.audit_rows("fills_owed")] == [order.cl_ord_id]  # said once
    sim.faults.clear()  # the exchange answers again
    sim.advance(120)  # at the next cycle, past the circuit breaker's pause
    bot.safety.refresh_orders()
    assert len(bot.store.fills(txid=order.txid)) == 1
