"""An order that filled while its cancel was on its way, whose trade could not be read then: the
running bot records the fill at its next look (refresh or reconciliation), once, and says so;
until then its risk checks count the executed volume as held and nothing that adds exposure goes
out (fail closed), a restart included; a gap that never closes is read again less and less often."""
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
    assert set(refused.codes) == {"MAX_POSITION", "FILLS_OWED"}, refused  # counted, and refused meanwhile


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


def _sold_while_cancelling(sim, bot):
    """The bot holds 0.02 XBT; its resting sell of 0.01 fills as the cancel arrives, its trade unreadable."""
    for _ in range(2):
        assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01")).placed
    placed = bot.safety.submit_order("XBTEUR", "sell", "limit", Decimal("0.01"), Decimal("61000"))
    assert placed.placed, placed
    sim.faults.on_arrival("CancelOrder", lambda: sim.set_price("XBTEUR", "62000"))
    for endpoint in ("QueryTrades", "TradesHistory"):
        sim.faults.inject(endpoint, "http_status", status=502, times=1000)
    outcome = bot.safety.cancel_order(placed.cl_ord_id)
    order = bot.safety.order(placed.cl_ord_id)
    assert outcome.status == "FILLED" and bot.store.fills(txid=order.txid) == []
    assert _held(bot) == Decimal("0.02")  # the bot's records: the sale is not in them
    sim.advance(120)  # past the circuit breaker's pause: the exchange takes orders again
    return order


def test_while_a_sale_is_missing_nothing_that_adds_exposure_goes_out(sim, make_bot):
    """Its realised loss is unknown, so the daily loss limit (all pairs together) cannot be measured:
    no buy leaves, nor a sell of more than the bot holds; a sale of what it still holds does."""
    bot = make_bot("live", live_flag=True, MAX_ORDER_EUR="100000", MAX_POSITION_PCT="100")
    order = _sold_while_cancelling(sim, bot)
    start = len(sim.access_log)
    buy = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("61900"))
    assert buy.codes == ["FILLS_OWED"], buy
    assert order.cl_ord_id in buy.reason
    oversell = bot.safety.submit_order("XBTEUR", "sell", "limit", Decimal("0.02"), Decimal("62100"))
    assert oversell.codes == ["FILLS_OWED"], oversell  # the bot holds 0.01, not the 0.02 its records show
    assert [r for r in sim.access_log_since(start) if r.endpoint == "AddOrder"] == []
    sale = bot.safety.submit_order("XBTEUR", "sell", "limit", Decimal("0.01"), Decimal("62100"))
    assert sale.placed, sale
    assert bot.safety.cancel_order(sale.cl_ord_id).accepted  # cancels go out too
    sim.faults.clear()  # the exchange shows the trades again: once recorded, buying resumes
    bot.safety.refresh_orders()
    assert _held(bot) == Decimal("0.01")
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("61900")).placed


def test_after_a_restart_a_fill_still_unreadable_is_counted_and_refuses_new_exposure(sim, make_bot, tmp_path):
    """Owed fills are read from the store: a new process (its recovery unable to read the trades too)
    counts the executed volume as held and places nothing that adds exposure."""
    from krakenbot.bot import Bot

    store = str(tmp_path / "bot.sqlite")
    first = make_bot("live", live_flag=True, TOTAL_BTC="0.015", STORE_PATH=store)
    first.store.close()
    bot = Bot.build(first.settings, clock=sim.clock, store_path=store, live_flag=True)
    try:
        order = _filled_while_cancelling(sim, bot)
        bot.close()
        sim.faults.inject("TradesHistory", "http_status", status=502, times=1000)
        sim.advance(120)
        bot = Bot.build(first.settings, clock=sim.clock, store_path=store, live_flag=True)
        with pytest.raises(KrakenError):
            bot.safety.recover()
        assert bot.store.fills(txid=order.txid) == []
        sim.set_price("XBTEUR", "60000")
        refused = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59500"))
        assert refused.codes == ["FILLS_OWED"], refused
        refused = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59500"))
        assert set(refused.codes) == {"MAX_POSITION", "FILLS_OWED"}, refused  # 0.01 held + 0.01 > 0.015
    finally:
        bot.close()
    status = _status(tmp_path, first.settings.home, store)  # the operator sees what is owed, and why nothing buys
    assert f"fills owed     1 order(s) executed, their trades not read yet; no new exposure until recorded:" \
           f" {order.cl_ord_id} 0.01000000 XXBTZEUR" in status, status


def _status(tmp_path, home, store_path) -> str:
    import contextlib
    import io

    from krakenbot import cli

    env_file = tmp_path / "status.env"
    env_file.write_text(f"STORE_PATH={store_path}\n")
    env_file.chmod(0o600)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["--env-file", str(env_file), "--home", str(home), "status"])
    return out.getvalue()


def test_a_gap_that_never_closes_is_read_again_less_and_less_often_and_said_once(sim, make_bot, caplog):
    """Each TradesHistory read costs 2 points of the API counter: a trade the exchange cannot show
    for hours must not cost one read per cycle."""
    bot = make_bot("live", live_flag=True)
    order = _filled_while_cancelling(sim, bot)
    sim.faults.inject("TradesHistory", "http_status", status=502, times=100000)
    start = len(sim.access_log)
    with caplog.at_level("INFO"):
        for _ in range(30):  # half an hour of cycles, a minute apart
            sim.advance(60)
            try:
                bot.safety.refresh_orders()
            except KrakenError:
                pass
    reads = [r for r in sim.access_log_since(start) if r.endpoint == "TradesHistory"]
    said = [r for r in caplog.records if "less often" in r.getMessage() and order.cl_ord_id in r.getMessage()]
    assert 0 < len(reads) <= 6 * 3, [r.time for r in reads]  # at 1, 2, 4, 8, 16 min (each with 2 retries)
    assert len(said) == 1, [r.getMessage() for r in said]
    sim.faults.clear()
    sim.advance(3600)  # the next due look reads it
    bot.safety.refresh_orders()
    assert len(bot.store.fills(txid=order.txid)) == 1
