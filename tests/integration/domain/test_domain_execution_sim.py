"""Placing, cancelling, partial fills and ambiguous AddOrders against krakensim over HTTP."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from krakenbot.execution import OrderStatus, UnknownOrderOutstanding
from krakenbot.models import OrderRequest, OrderType, Side
from krakenbot.store import utc_day

D = Decimal


def limit(side: Side, volume: str, price: str) -> OrderRequest:
    return OrderRequest("XBTEUR", side, OrderType.LIMIT, D(volume), price=D(price))


def sim_fills(rig, txid: str) -> dict[str, dict]:
    return {t["txid"]: t for t in rig.sim.trades() if t["ordertxid"] == txid}


def assert_fills_match_sim(rig, txid: str) -> None:
    theirs = sim_fills(rig, txid)
    ours = {f.trade_id: f for f in rig.store.fills(txid=txid)}
    assert set(ours) == set(theirs)
    for tid, t in theirs.items():
        f = ours[tid]
        assert (f.price, f.volume, f.cost, f.fee, f.maker) == (D(t["price"]), D(t["vol"]), D(t["cost"]),
                                                                 D(t["fee"]), t["maker"])


def test_place_rest_and_cancel(rig):
    placed = rig.executor.place(limit(Side.BUY, "0.001", "59000"))
    assert placed.status is OrderStatus.OPEN and placed.placed and placed.txid
    [on_exchange] = rig.sim_orders_by_cl_ord_id(placed.cl_ord_id)
    assert on_exchange["txid"] == placed.txid and on_exchange["status"] == "open"
    canceled = rig.executor.cancel(placed.cl_ord_id)
    assert canceled.status == OrderStatus.CANCELED.value
    assert rig.sim_orders_by_cl_ord_id(placed.cl_ord_id)[0]["status"] == "canceled"
    assert rig.store.daily_trade_count(utc_day(rig.clock.time())) == 1   # placed orders count for risk


def test_the_callers_row_of_a_resting_order_shares_the_commit_of_its_acknowledgement(rig):
    """``on_ack`` runs inside the acknowledgement's transaction (the wrapper's audit row joins it); an order
    that is read back afterwards (market) may still change, so it is not called for one."""
    seen = []
    placed = rig.executor.place(limit(Side.BUY, "0.001", "59000"),
                                on_ack=lambda order: seen.append((order.status, rig.store._db.in_transaction)))
    assert placed.status is OrderStatus.OPEN and seen == [("OPEN", True)]
    seen.clear()
    market = rig.executor.place(OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D("0.001")), on_ack=seen.append)
    assert market.status is OrderStatus.FILLED and seen == []


def test_partial_fills_across_market_moves_match_the_exchange_exactly(rig):
    rig.sim.set_liquidity("XBTEUR", D("0.001"))
    placed = rig.executor.place(limit(Side.BUY, "0.0035", "60000"))
    assert placed.status is OrderStatus.OPEN
    rig.sim.set_price("XBTEUR", D("59990"))            # one level crosses our bid
    [order] = rig.executor.refresh()
    assert order.status == OrderStatus.PARTIALLY_FILLED.value and order.volume_executed == D("0.001")
    assert_fills_match_sim(rig, placed.txid)
    executed = [order.volume_executed]
    for price in ("59900", "59800", "59700", "59600", "59500"):   # each move crosses more of the book
        rig.sim.set_price("XBTEUR", D(price))
        [order] = rig.executor.refresh()
        executed.append(order.volume_executed)
        assert_fills_match_sim(rig, placed.txid)
        if order.status == OrderStatus.FILLED.value:
            break
    assert executed == sorted(executed) and len(set(executed)) > 2   # filled in several steps
    assert order.status == OrderStatus.FILLED.value and order.volume_executed == D("0.0035")
    assert_fills_match_sim(rig, placed.txid)
    assert sum(f.volume for f in rig.store.fills()) == D("0.0035")
    assert sum(f.fee for f in rig.store.fills()) == order.fee
    assert rig.executor.fee_mismatches == []
    assert rig.executor.refresh() == []                 # nothing active: nothing to do, nothing recorded twice
    used = {r.endpoint for r in rig.sim.access_log}
    assert "QueryTrades" in used and "TradesHistory" not in used   # fills fetched by id (cheaper counter)
    assert len(rig.store.fills()) == len(sim_fills(rig, placed.txid))


def test_cancel_after_partial_fill_keeps_the_fill(rig):
    rig.sim.set_liquidity("XBTEUR", D("0.001"))
    placed = rig.executor.place(limit(Side.BUY, "0.003", "60000"))
    rig.sim.set_price("XBTEUR", D("59990"))
    canceled = rig.executor.cancel(placed.cl_ord_id)
    assert canceled.status == OrderStatus.CANCELED.value and canceled.volume_executed == D("0.001")
    assert_fills_match_sim(rig, placed.txid)


def test_market_order_fills_at_once_and_fills_are_recorded(rig):
    placed = rig.executor.place(OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D("0.002")))
    assert placed.status is OrderStatus.FILLED
    assert_fills_match_sim(rig, placed.txid)


def test_order_below_minimum_is_rejected_locally_and_nothing_is_sent(rig):
    before = len(rig.sim.access_log)
    result = rig.executor.place(limit(Side.BUY, "0.00004", "59000"))
    assert result.status is OrderStatus.REJECTED and not result.placed and "ordermin" in result.reason
    tiny_cost = rig.executor.place(limit(Side.BUY, "0.00005", "5000"))
    assert tiny_cost.status is OrderStatus.REJECTED and "costmin" in tiny_cost.reason
    assert [r for r in rig.sim.access_log_since(before) if r.endpoint == "AddOrder"] == []
    assert rig.store.get_order(result.cl_ord_id).status == "REJECTED"


def test_exchange_rejection_is_final_and_not_retried(rig):
    before = len(rig.sim.access_log)
    result = rig.executor.place(limit(Side.BUY, "5", "59000"))        # 295k EUR: insufficient funds
    assert result.status is OrderStatus.REJECTED and "InsufficientFunds" in result.reason
    assert len([r for r in rig.sim.access_log_since(before) if r.endpoint == "AddOrder"]) == 1


def test_validate_only_is_recorded_as_not_placed(rig):
    req = OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, D("0.001"), price=D("59000"), validate=True)
    result = rig.executor.place(req)
    assert result.status is OrderStatus.VALIDATED and result.validated_only and not result.placed
    assert result.txid is None and rig.sim.orders() == []
    assert rig.store.get_order(result.cl_ord_id).status == "VALIDATED"


def test_reply_dropped_after_accept_gives_exactly_one_order_and_its_txid(rig):
    fault = rig.sim.faults.inject(endpoint="AddOrder", kind="accept_then_drop", times=1)
    result = rig.executor.place(limit(Side.BUY, "0.001", "59000"))
    assert fault.fired == 1
    mine = rig.sim_orders_by_cl_ord_id(result.cl_ord_id)
    assert len(mine) == 1 and len(rig.sim.orders()) == 1
    assert result.status is OrderStatus.OPEN and result.txid == mine[0]["txid"] and result.placed
    adds = [r for r in rig.sim.access_log if r.endpoint == "AddOrder"]
    assert len(adds) == 1                                              # never re-sent
    assert any(r.endpoint == "OpenOrders" and r.params.get("cl_ord_id") == result.cl_ord_id
               for r in rig.sim.access_log)


def test_dropped_reply_of_a_market_order_is_adopted_as_filled_with_its_fills(rig):
    rig.sim.faults.inject(endpoint="AddOrder", kind="accept_then_drop", times=1)
    result = rig.executor.place(OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D("0.001")))
    assert result.status is OrderStatus.FILLED and len(rig.sim.orders()) == 1
    assert_fills_match_sim(rig, result.txid)


def test_lost_add_order_that_was_not_placed_ends_rejected_then_a_new_intent_places_one(rig):
    rig.executor.wait_for_unknown = False
    fault = rig.sim.faults.inject(endpoint="AddOrder", kind="reset", times=1)
    first = rig.executor.place(limit(Side.BUY, "0.001", "59000"))
    assert fault.fired == 1
    assert first.status is OrderStatus.UNKNOWN and rig.sim.orders() == []
    with pytest.raises(UnknownOrderOutstanding):                      # the pair is blocked meanwhile
        rig.executor.place(limit(Side.BUY, "0.001", "59000"))
    rig.clock.advance(rig.executor.deadline_seconds + 2)               # past the AddOrder deadline
    [resolved] = rig.executor.refresh()
    assert resolved.status == OrderStatus.REJECTED.value and resolved.txid is None
    retry = rig.executor.place(limit(Side.BUY, "0.001", "59000"))
    assert retry.status is OrderStatus.OPEN and retry.cl_ord_id != first.cl_ord_id
    assert len(rig.sim.orders()) == 1 and rig.sim.orders()[0]["cl_ord_id"] == retry.cl_ord_id


def test_lost_add_order_waits_out_the_deadline_on_the_clock_by_default(rig):
    rig.sim.faults.inject(endpoint="AddOrder", kind="reset", times=1)
    start = rig.clock.time()
    result = rig.executor.place(limit(Side.BUY, "0.001", "59000"))
    assert result.status is OrderStatus.REJECTED and not result.placed
    assert rig.clock.time() - start >= rig.executor.deadline_seconds     # manual clock: no real waiting
    lookups = [r for r in rig.sim.access_log if r.endpoint in ("OpenOrders", "ClosedOrders")]
    assert len(lookups) <= 8                                              # a few lookups, not a poll storm


@pytest.mark.parametrize(("kind", "extra", "landed"), [
    ("http_status", {"status": 503}, False),                 # edge page: never reached the engine
    ("error", {"error": "EService:Unavailable"}, False),
    ("truncated_json", {}, True),                            # processed, answer garbled
    ("invalid_json", {}, True),
])
def test_every_ambiguous_failure_is_resolved_by_lookup_never_by_resending(rig, kind, extra, landed):
    rig.sim.faults.inject(endpoint="AddOrder", kind=kind, times=1, **extra)
    result = rig.executor.place(limit(Side.BUY, "0.001", "59000"))
    assert len([r for r in rig.sim.access_log if r.endpoint == "AddOrder"]) == 1
    if landed:
        assert result.status is OrderStatus.OPEN and result.txid == rig.sim.orders()[0]["txid"]
    else:
        assert result.status is OrderStatus.REJECTED and rig.sim.orders() == []
    assert len(rig.sim.orders()) == int(landed)


def test_many_concurrent_orders(rig):
    results, errors = [], []

    def worker(i: int) -> None:
        try:
            results.append(rig.executor.place(limit(Side.BUY, "0.001", str(58000 + i))))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert len({r.cl_ord_id for r in results}) == 8 and all(r.status is OrderStatus.OPEN for r in results)
    assert sorted(o["cl_ord_id"] for o in rig.sim.orders()) == sorted(r.cl_ord_id for r in results)


def test_exchange_side_stop_loss_and_take_profit_protect_a_position(rig):
    from krakenbot.risk import ProtectiveMonitor

    buy = rig.executor.place(OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D("0.002")))
    assert buy.status is OrderStatus.FILLED
    position = rig.positions.position("XXBTZEUR")
    entry, rules = position.average_entry, rig.pair_rules("XBTEUR")
    stop, target = [rig.executor.place(OrderRequest("XBTEUR", Side.SELL, kind, position.volume, rules.round_price(level)))
                    for kind, level in ((OrderType.STOP_LOSS, entry * D("0.95")), (OrderType.TAKE_PROFIT, entry * D("1.1")))]
    assert stop.status is OrderStatus.OPEN and target.status is OrderStatus.OPEN
    assert {o["descr"]["ordertype"] for o in rig.sim.orders() if o["status"] == "open"} == {"stop-loss", "take-profit"}
    # bot-side monitor agrees on the level before the exchange triggers
    signal = ProtectiveMonitor(D(5), D(10)).check(position, D("56000"), rig.pair_rules("XBTEUR"))
    assert signal.kind == "stop_loss" and signal.intent.volume == D("0.002")
    rig.sim.shock("XBTEUR", D("-10"))                              # mid -10 %: the stop triggers at Kraken
    by_id = {o.cl_ord_id: o for o in rig.executor.refresh()}
    assert by_id[stop.cl_ord_id].status == OrderStatus.FILLED.value
    assert rig.executor.cancel(target.cl_ord_id).status == OrderStatus.CANCELED.value
    assert rig.positions.position("XXBTZEUR").volume == 0
    assert rig.positions.position("XXBTZEUR").realised_pnl < 0


def test_fees_rounded_by_the_exchange_are_not_flagged_as_mismatches(rig):
    """Kraken keeps fiat fees at 4 decimals: 0.4 % of 7.4085 EUR is charged as 0.0296, not 0.029634."""
    rig.sim.set_price("XBTEUR", D("60012.3"))
    for volume in ("0.00012345", "0.00054321", "0.00098765"):
        placed = rig.executor.place(OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D(volume)))
        assert placed.status is OrderStatus.FILLED
    fees = [f.fee for f in rig.store.fills()]
    assert any(fee != f.cost * D("0.004") for fee, f in zip(fees, rig.store.fills()))  # rounding really happened
    assert rig.executor.fee_mismatches == []
    assert "fee_mismatch" not in rig.reconciler.reconcile().kinds()


def test_a_market_data_price_is_rounded_by_the_pairs_rules_before_it_is_sent(rig):
    """Kraken prints market prices with 5 decimals ("65871.10000") and orders take pair_decimals
    (1 on XBTEUR): the order carries the price rounded to the pair's tick, never the ticker's text."""
    ask = rig.client.market.ticker("XBTEUR").ask
    assert ask.as_tuple().exponent == -5  # the ticker's five decimals, parsed as they came
    mark = len(rig.sim.access_log)
    below = ask - D("3000.04")  # between two ticks as well
    placed = rig.executor.place(limit(Side.BUY, "0.001", str(below)))
    assert placed.status is OrderStatus.OPEN
    [sent] = [r.params for r in rig.sim.access_log_since(mark) if r.endpoint == "AddOrder"]
    assert sent["price"] == str((below).quantize(D("0.1")))
    assert len(sent["price"].partition(".")[2]) == 1


def test_fills_at_the_accounts_own_lower_tier_are_not_flagged_and_a_fee_above_it_is(rig):
    """An account past 10,000 of 30-day volume pays 0.35 % taker (0.20 % maker), not the pair's first tier."""
    market = OrderRequest("XBTEUR", Side.SELL, OrderType.MARKET, D("0.1"))
    assert rig.executor.place(market).status is OrderStatus.FILLED                 # 6,000 at 0.40 %
    rig.sim.advance(30)
    assert rig.executor.place(OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D("0.1"))).placed  # 12,000 traded
    rig.sim.advance(30)
    assert rig.executor.place(market).status is OrderStatus.FILLED                 # now charged at 0.35 %
    rates = [f.fee / f.cost for f in rig.store.fills()]
    assert rates[0] > D("0.0039") and rates[-1] < D("0.0036")                     # the tier really moved
    assert rig.executor.fee_mismatches == []
    assert "fee_mismatch" not in rig.reconciler.reconcile().kinds()
    assert "fee_mismatch" not in rig.reconciler.reconcile(full=True).kinds()
    rig.sim.advance(30)
    rig.sim.faults.inject("AddOrder", "wrong_fee")                                 # charged 0.70 %, twice its rate
    assert rig.executor.place(OrderRequest("XBTEUR", Side.BUY, OrderType.MARKET, D("0.01"))).placed
    overcharged = rig.store.fills()[-1]
    assert overcharged.fee == (overcharged.cost * D("0.007")).quantize(D("0.0001"))
    assert [d.key for d in rig.executor.fee_mismatches] == [overcharged.trade_id]
    assert [d.key for d in rig.reconciler.reconcile().discrepancies if d.kind == "fee_mismatch"] == \
        [overcharged.trade_id]
