"""Reconciliation and crash recovery against krakensim over HTTP."""
from __future__ import annotations

from decimal import Decimal

from domain_sim_rig import Rig

from krakenbot.execution import OrderStatus
from krakenbot.models import OrderRequest, OrderType, Side
from krakenbot.store import OrderRecord, Store

D = Decimal


def mixed_session(rig) -> dict[str, str]:
    """Market buy, a limit partly filled then cancelled, a resting limit, a market sell."""
    ex = rig.executor
    rig.sim.set_liquidity("XBTEUR", D("0.001"))
    ids = {}
    ids["market_buy"] = ex.place(OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D("0.0008"))).cl_ord_id
    partial = ex.place(OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, D("0.0025"), price=D("60000")))
    rig.sim.set_price("XBTEUR", D("59990"))
    ex.refresh()
    ex.cancel(partial.cl_ord_id)
    ids["partial_cancel"] = partial.cl_ord_id
    ids["resting"] = ex.place(OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, D("0.001"),
                                           price=D("55000"))).cl_ord_id
    rig.sim.set_price("XBTEUR", D("60500"))
    ids["market_sell"] = ex.place(OrderRequest("XBTEUR", Side.SELL, OrderType.MARKET, D("0.0012"))).cl_ord_id
    ex.refresh()
    return ids


def test_reconciliation_is_clean_after_a_mixed_session(rig):
    rig.reconciler.set_baseline()
    ids = mixed_session(rig)
    statuses = {k: rig.store.get_order(v).status for k, v in ids.items()}
    assert statuses == {"market_buy": "FILLED", "partial_cancel": "CANCELED", "resting": "OPEN",
                        "market_sell": "FILLED"}
    assert len(rig.store.fills()) == len(rig.sim.trades()) >= 3
    report = rig.reconciler.reconcile()
    assert report.clean, report.discrepancies
    assert report.counts["trades"] == len(rig.sim.trades()) and report.counts["open_orders"] == 1
    # the bot's positions agree with the exchange's balance change
    pos = rig.positions.position("XXBTZEUR")
    assert pos.volume == D("0.0008") + D("0.001") - D("0.0012")
    assert rig.positions.balances()["XXBT"] == rig.sim.balances()["XXBT"]


def test_a_deleted_fill_is_reported_precisely(rig, tmp_path):
    rig.reconciler.set_baseline()
    mixed_session(rig)
    victim = rig.store.fills()[0]
    rig.store._db.execute("DELETE FROM fills WHERE trade_id = ?", (victim.trade_id,))  # sabotage, on purpose
    report = rig.reconciler.reconcile()
    assert not report.clean
    by_kind = {d.kind: d for d in report.discrepancies}
    missing = by_kind["fill_missing"]
    assert missing.key == victim.trade_id and missing.bot_value is None
    assert missing.exchange_value == f"{victim.side} {victim.volume} @ {victim.price} fee {victim.fee}"
    assert by_kind["order_fills_incomplete"].key == victim.cl_ord_id
    assert {d.key for d in report.discrepancies if d.kind == "balance_mismatch"} == {"XXBT", "ZEUR"}
    xbt = next(d for d in report.discrepancies if d.kind == "balance_mismatch" and d.key == "XXBT")
    assert D(xbt.exchange_value) - D(xbt.bot_value) == (victim.volume if victim.side == "buy" else -victim.volume)


def test_an_order_placed_behind_the_bots_back_is_reported(rig):
    rig.reconciler.set_baseline()
    rig.client.trading.add_order(OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, D("0.001"), price=D("50000"),
                                              cl_ord_id="manual-1"))
    report = rig.reconciler.reconcile()
    [d] = [d for d in report.discrepancies if d.kind == "order_unknown_to_bot"]
    assert "manual-1" in d.detail


def test_recover_after_a_crash_resolves_in_flight_orders_and_imports_fills(sim, clock, tmp_path):
    path = str(tmp_path / "bot.sqlite")
    before = Rig(sim, clock, Store(path))
    # 1) an intent recorded, AddOrder sent, then the process died before hearing back
    landed = OrderRecord("kbcrash000000001", "XXBTZEUR", "buy", "market", D("0.001"), None, "PENDING_SUBMIT",
                         clock.time(), clock.time(), intent={"deadline": clock.time() + 15})
    before.store.record_intent(landed)
    before.client.trading.add_order(OrderRequest("XXBTZEUR", Side.BUY, OrderType.MARKET, D("0.001"),
                                                 cl_ord_id=landed.cl_ord_id))
    # 2) an intent recorded but the process died before sending
    lost = OrderRecord("kbcrash000000002", "XXBTZEUR", "buy", "limit", D("0.001"), D("59000"), "PENDING_SUBMIT",
                       clock.time(), clock.time(), intent={"deadline": clock.time() + 15})
    before.store.record_intent(lost)
    before.store.close()
    clock.advance(30)                                                # restart after the deadlines

    store = Store(path)
    after = Rig(sim, clock, store)
    report = after.reconciler.recover()
    assert sorted(report.resolved) == [landed.cl_ord_id, lost.cl_ord_id] and report.still_unknown == []
    got = store.get_order(landed.cl_ord_id)
    assert got.status == OrderStatus.FILLED.value and got.txid == sim.orders()[0]["txid"]
    assert [f.trade_id for f in store.fills()] == [t["txid"] for t in sim.trades()]
    assert store.get_order(lost.cl_ord_id).status == OrderStatus.REJECTED.value
    assert len(sim.orders()) == 1                                     # nothing was re-sent
    store.close()


def test_recover_adopts_an_open_order_with_our_prefix_the_store_lost(rig):
    ours = rig.executor.id_head + "lost0000001"
    other = ("kbzzzz" if rig.executor.bot_id != "zzzz" else "kbyyyy") + "lost0000002"  # another bot's
    ack = rig.client.trading.add_order(OrderRequest("XXBTZEUR", Side.BUY, OrderType.LIMIT, D("0.001"),
                                                    price=D("58000"), cl_ord_id=ours))
    rig.client.trading.add_order(OrderRequest("XXBTZEUR", Side.BUY, OrderType.LIMIT, D("0.001"),
                                              price=D("58000"), cl_ord_id=other))
    report = rig.reconciler.recover()
    assert report.adopted == [ours]
    assert rig.store.get_order(other) is None
    rig.client.trading.cancel_order(cl_ord_id=other)
    adopted = rig.store.get_order(ours)
    assert adopted.txid == ack.txids[0] and adopted.status == "OPEN"
    assert rig.reconciler.reconcile().clean


def test_first_reconcile_takes_the_baseline_so_later_drift_is_caught(rig):
    assert rig.reconciler.reconcile().clean                       # no fills yet: baseline taken here
    rig.executor.place(OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D("0.001")))
    assert rig.reconciler.reconcile().clean
    rig.client.trading.add_order(OrderRequest("XBTEUR", Side.SELL, OrderType.MARKET, D("0.0005")))  # not the bot
    report = rig.reconciler.reconcile()
    assert {"foreign_fill", "balance_mismatch"} <= report.kinds()
    xbt = next(d for d in report.discrepancies if d.kind == "balance_mismatch" and d.key == "XXBT")
    assert D(xbt.bot_value) - D(xbt.exchange_value) == D("0.0005")
