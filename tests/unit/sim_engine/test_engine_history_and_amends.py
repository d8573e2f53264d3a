"""History queries (paging, ranges), batches, amend/edit, batch cancel, ccxt's parsers."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakensim.errors import KrakenAPIError

D = Decimal


def limit(price="50000", volume="0.001", side="buy", **extra):
    return {"pair": "XBTEUR", "type": side, "ordertype": "limit", "price": price, "volume": volume, **extra}


def add(ex, **params):
    return ex.handle_private("demo", "AddOrder", params)["txid"][0]


def test_closed_orders_newest_first_and_paged_by_50(ex, clock):
    ex.trading_limits = False
    txids = []
    for i in range(55):
        txid = add(ex, **limit(price=str(40000 + i)))
        ex.handle_private("demo", "CancelOrder", {"txid": txid})
        txids.append(txid)
        clock.advance(1)
    page1 = ex.handle_private("demo", "ClosedOrders", {})
    assert page1["count"] == 55 and list(page1["closed"]) == txids[::-1][:50]
    page2 = ex.handle_private("demo", "ClosedOrders", {"ofs": "50"})
    assert list(page2["closed"]) == txids[::-1][50:]
    start = page1["closed"][txids[49]]["closetm"]
    after = ex.handle_private("demo", "ClosedOrders", {"start": str(start)})
    assert list(after["closed"]) == txids[50:][::-1]
    by_txid = ex.handle_private("demo", "ClosedOrders", {"start": txids[49], "end": txids[51]})
    assert list(by_txid["closed"]) == [txids[51], txids[50]]


def test_closed_orders_by_cl_ord_id(ex):
    txid = add(ex, **limit(cl_ord_id="find-me"))
    ex.handle_private("demo", "CancelOrder", {"cl_ord_id": "find-me"})
    found = ex.handle_private("demo", "ClosedOrders", {"cl_ord_id": "find-me"})
    assert list(found["closed"]) == [txid] and found["closed"][txid]["cl_ord_id"] == "find-me"


def test_trades_history_and_query_trades(ex, clock):
    for _ in range(3):
        add(ex, pair="XBTEUR", type="buy", ordertype="market", volume="0.001")
        clock.advance(10)
    hist = ex.handle_private("demo", "TradesHistory", {})
    assert hist["count"] == 3
    ids = list(hist["trades"])
    times = [hist["trades"][i]["time"] for i in ids]
    assert times == sorted(times, reverse=True)
    t = hist["trades"][ids[0]]
    assert t["pair"] == "XXBTZEUR" and t["type"] == "buy" and isinstance(t["trade_id"], int)
    assert ex.handle_private("demo", "TradesHistory", {"start": str(times[1])})["count"] == 1
    assert list(ex.handle_private("demo", "QueryTrades", {"txid": ids[1]})) == [ids[1]]
    with pytest.raises(KrakenAPIError):
        ex.handle_private("demo", "QueryTrades", {"txid": "TNOPE0-00000-000000"})
    order = ex.handle_private("demo", "QueryOrders", {"txid": t["ordertxid"], "trades": "true"})[t["ordertxid"]]
    assert order["trades"] == [ids[0]]


def test_add_order_batch(ex):
    result = ex.handle_private("demo", "AddOrderBatch", {"pair": "XBTEUR", "orders": [
        {"ordertype": "limit", "type": "buy", "volume": "0.001", "price": "50000"},
        {"ordertype": "limit", "type": "sell", "volume": "0.001", "price": "90000", "cl_ord_id": "s1"}]})
    rows = result["orders"]
    assert [r["descr"]["order"] for r in rows] == ["buy 0.00100000 XBTEUR @ limit 50000.0",
                                                   "sell 0.00100000 XBTEUR @ limit 90000.0"]
    assert all(isinstance(r["txid"], str) for r in rows)
    assert ex.counters()["trading"]["XXBTZEUR"] == 1.0


def test_add_order_batch_nested_form_and_per_order_funds_error(ex):
    params = {"pair": "XBTEUR"}
    for i, (side, vol) in enumerate((("buy", "0.001"), ("buy", "5"))):
        params.update({f"orders[{i}][ordertype]": "limit", f"orders[{i}][type]": side,
                       f"orders[{i}][volume]": vol, f"orders[{i}][price]": "50000"})
    rows = ex.handle_private("demo", "AddOrderBatch", params)["orders"]
    assert "txid" in rows[0] and rows[1] == {"error": "EOrder:Insufficient funds"}


def test_add_order_batch_one_invalid_rejects_all(ex):
    with pytest.raises(KrakenAPIError) as err:
        ex.handle_private("demo", "AddOrderBatch", {"pair": "XBTEUR", "orders": [
            {"ordertype": "limit", "type": "buy", "volume": "0.001", "price": "50000"},
            {"ordertype": "limit", "type": "buy", "volume": "0.001", "price": "50000.05"}]})
    assert err.value.code.startswith("EOrder:Invalid price")
    assert ex.orders() == []
    with pytest.raises(KrakenAPIError) as err:
        ex.handle_private("demo", "AddOrderBatch", {"pair": "XBTEUR", "orders": [
            {"ordertype": "limit", "type": "buy", "volume": "0.001", "price": "50000"}]})
    assert err.value.code == "EGeneral:Invalid arguments:orders"


def test_amend_keeps_txid_and_moves_the_hold(ex, clock):
    txid = add(ex, **limit(volume="0.01", cl_ord_id="am-1"))
    clock.advance(6)
    result = ex.handle_private("demo", "AmendOrder", {"cl_ord_id": "am-1", "order_qty": "0.02",
                                                     "limit_price": "49000"})
    assert result["amend_id"].startswith("T")
    o = ex.handle_private("demo", "OpenOrders", {})["open"][txid]
    assert o["vol"] == "0.02000000" and o["descr"]["price"] == "49000.0" and "amended" in o["misc"]
    assert ex.holds() == {"ZEUR": D("983.9200")}
    assert ex.counters()["trading"]["XXBTZEUR"] == pytest.approx(0 + 3)  # decayed 1, then amend at age 6 s
    with pytest.raises(KrakenAPIError) as err:
        ex.handle_private("demo", "AmendOrder", {"txid": txid, "limit_price": str(ex.mid("XBTEUR") + 10),
                                                "post_only": "true"})
    assert err.value.code == "EOrder:Post only order"
    with pytest.raises(KrakenAPIError) as err:
        ex.handle_private("demo", "AmendOrder", {"txid": "ONOPE0-00000-000000", "order_qty": "1"})
    assert err.value.code == "EOrder:Unknown order"


@pytest.mark.parametrize("qty", ["1e999", "1e20", "99999999999999999"])
def test_an_absurd_amend_is_refused_and_leaves_the_account_usable(ex, qty):
    txid = add(ex, **limit())
    held = ex.holds()
    with pytest.raises(KrakenAPIError) as refused:
        ex.handle_private("demo", "AmendOrder", {"txid": txid, "order_qty": qty})
    assert refused.value.code == "EGeneral:Invalid arguments:order_qty"
    assert ex.handle_private("demo", "QueryOrders", {"txid": txid})[txid]["vol"] == "0.00100000"
    assert ex.holds() == held
    assert add(ex, **limit()) != txid  # the account still takes orders


@pytest.mark.parametrize("field, value", [("volume", "1e999"), ("volume", "1e15"), ("price", "1E+16")])
def test_absurd_magnitudes_are_invalid_arguments(ex, field, value):
    with pytest.raises(KrakenAPIError) as refused:
        add(ex, **limit(**{field: value}))
    assert refused.value.code == f"EGeneral:Invalid arguments:{field}"


def test_a_large_order_is_refused_for_funds_not_an_internal_error(ex):
    with pytest.raises(KrakenAPIError) as refused:
        add(ex, **limit(price="999999999999999", volume="99999999999999"))
    assert refused.value.code == "EOrder:Insufficient funds"


def test_edit_order_replaces_with_a_new_txid(ex):
    old = add(ex, **limit(userref="3"))
    result = ex.handle_private("demo", "EditOrder", {"txid": old, "pair": "XBTEUR", "price": "48000"})
    assert result["status"] == "ok" and result["originaltxid"] == old and result["txid"] != old
    assert result["descr"]["order"] == "buy 0.00100000 XBTEUR @ limit 48000.0"
    open_ = ex.handle_private("demo", "OpenOrders", {})["open"]
    assert list(open_) == [result["txid"]] and open_[result["txid"]]["userref"] == 3


def test_cancel_order_batch(ex):
    a = add(ex, **limit(price="40000"))
    add(ex, **limit(price="41000", cl_ord_id="c2"))
    add(ex, **limit(price="42000"))
    result = ex.handle_private("demo", "CancelOrderBatch", {"orders": [a, {"txid": "ONOPE0-00000-000000"}],
                                                           "cl_ord_ids": ["c2"]})
    assert result == {"count": 2}
    assert len(ex.handle_private("demo", "OpenOrders", {})["open"]) == 1


def test_ccxt_parses_our_objects():
    ccxt = pytest.importorskip("ccxt")
    from krakensim.clock import ManualClock
    from krakensim.exchange import Exchange

    ex = Exchange(seed=3, clock=ManualClock())
    k = ccxt.kraken()
    k.publicGetAssetPairs = lambda params={}: {"error": [], "result": ex.handle_public("AssetPairs", {})}
    k.publicGetAssets = lambda params={}: {"error": [], "result": ex.handle_public("Assets", {})}
    k.load_markets()
    assert k.markets["BTC/EUR"]["active"] is True and k.markets["BTC/EUR"]["precision"]["price"] == 0.1
    txid = ex.handle_private("demo", "AddOrder", limit(price="50000", volume="0.01", cl_ord_id="cc"))["txid"][0]
    view = ex.handle_private("demo", "QueryOrders", {"txid": txid})[txid]
    parsed = k.parse_order({**view, "id": txid})
    assert (parsed["symbol"], parsed["side"], parsed["type"], parsed["price"], parsed["amount"]) == (
        "BTC/EUR", "buy", "limit", 50000.0, 0.01)
    assert parsed["status"] == "open" and parsed["clientOrderId"] == "cc"
    ex.handle_private("demo", "AddOrder", {"pair": "XBTEUR", "type": "sell", "ordertype": "market", "volume": "0.01"})
    trades = ex.handle_private("demo", "TradesHistory", {})["trades"]
    tid, raw = next(iter(trades.items()))
    trade = k.parse_trade({**raw, "id": tid})
    assert trade["symbol"] == "BTC/EUR" and trade["takerOrMaker"] == "taker" and trade["fee"]["currency"] == "EUR"
    candle = k.parse_ohlcv(ex.handle_public("OHLC", {"pair": "XBTEUR"})["XXBTZEUR"][-2])
    assert candle[2] >= max(candle[1], candle[4])
