"""Incremental reconciliation against krakensim: after a first pass, the next reads only the
trades past the high-water mark (minus an overlap), yet still names every drift precisely."""
from __future__ import annotations

import json
from decimal import Decimal

from krakenbot.execution.reconcile import MARK_KEY, OVERLAP_S
from krakenbot.models import OrderRequest, OrderType, Side

D = Decimal


def requests_to(rig, endpoint: str, since: int) -> int:
    return sum(1 for r in rig.sim.access_log_since(since) if r.endpoint == endpoint)


def busy_session(rig, orders: int) -> None:
    """``orders`` small market orders, 5 s apart: more trades than two TradesHistory pages."""
    rig.sim.set_liquidity("XBTEUR", D("1"))
    for i in range(orders):
        side = Side.BUY if i % 2 == 0 else Side.SELL
        rig.executor.place(OrderRequest("XBTEUR", side, OrderType.MARKET, D("0.0001")))
        rig.sim.advance(5)


def test_a_second_reconcile_reads_one_trades_page_not_the_whole_history(rig):
    rig.reconciler.set_baseline()
    busy_session(rig, 110)
    assert len(rig.sim.trades()) >= 110

    first_at = len(rig.sim.access_log)
    first = rig.reconciler.reconcile()
    assert first.clean, first.discrepancies
    assert first.counts["full"] == 1 and first.counts["trades"] == len(rig.sim.trades())
    assert requests_to(rig, "TradesHistory", first_at) >= 3            # 50 a page: the whole history
    mark = json.loads(rig.store.get_meta(MARK_KEY))
    assert mark["time"] == max(t["time"] for t in rig.sim.trades())

    busy_session(rig, 3)
    second_at = len(rig.sim.access_log)
    second = rig.reconciler.reconcile()
    assert second.clean, second.discrepancies
    assert second.counts["full"] == 0
    assert requests_to(rig, "TradesHistory", second_at) == 1
    assert requests_to(rig, "QueryOrders", second_at) == 1            # only the few recent orders
    assert second.counts["orders"] <= 3 + OVERLAP_S / 5 + 1
    # balances are still checked whole: baseline + every recorded fill
    assert second.counts["assets"] >= 2 and second.counts["fills"] == len(rig.sim.trades())


def test_a_fill_deleted_after_the_mark_is_still_reported_precisely(rig):
    rig.reconciler.set_baseline()
    busy_session(rig, 60)
    assert rig.reconciler.reconcile().clean
    victim = rig.store.fills()[3]                                     # long before the mark
    rig.store._db.execute("DELETE FROM fills WHERE trade_id = ?", (victim.trade_id,))  # sabotage, on purpose
    report = rig.reconciler.reconcile()
    assert report.counts["full"] == 1                                 # the fill digest no longer matches
    missing = [d for d in report.discrepancies if d.kind == "fill_missing"]
    assert [d.key for d in missing] == [victim.trade_id]
    assert missing[0].exchange_value == f"{victim.side} {victim.volume} @ {victim.price} fee {victim.fee}"
    assert [d.key for d in report.discrepancies if d.kind == "order_fills_incomplete"] == [victim.cl_ord_id]
    xbt = next(d for d in report.discrepancies if d.kind == "balance_mismatch" and d.key == "XXBT")
    assert D(xbt.exchange_value) - D(xbt.bot_value) == (victim.volume if victim.side == "buy" else -victim.volume)
    # the mark does not move past an unresolved drift: the next pass reports it again
    assert [d.key for d in rig.reconciler.reconcile().discrepancies if d.kind == "fill_missing"] == [victim.trade_id]


def test_a_late_trade_inside_the_overlap_window_is_picked_up(rig):
    rig.reconciler.set_baseline()
    busy_session(rig, 20)
    assert rig.reconciler.reconcile().clean
    mark = json.loads(rig.store.get_meta(MARK_KEY))
    rig.sim.advance(120)
    ack = rig.client.trading.add_order(OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D("0.0002")))  # not the bot
    [late] = [t for t in rig.sim.exchange.accounts["demo"].trades.values() if t.ordertxid == ack.txids[0]]
    late.time = mark["time"] - OVERLAP_S / 2     # Kraken showed it late, with an earlier time
    report = rig.reconciler.reconcile()
    assert report.counts["full"] == 0
    assert [d.key for d in report.discrepancies if d.kind == "foreign_fill"] == [late.txid]


def test_full_reconcile_rereads_from_the_baseline(rig):
    rig.reconciler.set_baseline()
    busy_session(rig, 60)
    assert rig.reconciler.reconcile().clean
    at = len(rig.sim.access_log)
    report = rig.reconciler.reconcile(full=True)
    assert report.clean and report.counts["full"] == 1 and report.counts["trades"] == len(rig.sim.trades())
    assert requests_to(rig, "TradesHistory", at) >= 2
