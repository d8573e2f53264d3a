"""Kraken's ids, dates and number formats as the live captures show them (recorded-responses.json)."""
from __future__ import annotations

import re

from krakensim.ids import IdGenerator, base32_number
from krakensim.wire import rfc1123

BASE32_ID = re.compile(r"^[A-Z2-7]{6}-[A-Z2-7]{5}-[A-Z2-7]{6}$")
FIVE = re.compile(r"^\d+\.\d{5}$")


def limit(**extra) -> dict:
    return {"pair": "XBTEUR", "type": "buy", "ordertype": "limit", "price": "50000", "volume": "0.01", **extra}


def test_ids_use_only_krakens_base32_alphabet():
    ids = IdGenerator(3)
    drawn = [ids.next(prefix) for prefix in "OTL" for _ in range(400)]
    assert all(BASE32_ID.match(i) for i in drawn), [i for i in drawn if not BASE32_ID.match(i)][:3]
    assert base32_number(0, 5) == "AAAAA" and base32_number(33, 5) == "AAABB"


def test_an_exchanges_ids_are_base32(ex):
    txid = ex.handle_private("demo", "AddOrder", {**limit(), "ordertype": "market"})["txid"][0]
    [trade] = ex.trades()
    assert BASE32_ID.match(txid) and BASE32_ID.match(trade["txid"]) and BASE32_ID.match(trade["postxid"])
    assert all(BASE32_ID.match(lid) for lid in trade["ledgers"])


def test_rfc1123_pads_the_day_with_a_space_as_live_kraken_does():
    assert rfc1123(1591502873) == "Sun,  7 Jun 20 04:07:53 +0000"  # the recorded live answer
    assert rfc1123(1617831335) == "Wed,  7 Apr 21 21:35:35 +0000"
    assert rfc1123(1767225600 + 16 * 86400) == "Sat, 17 Jan 26 00:00:00 +0000"


def test_market_data_prices_carry_five_decimals_and_depth_volumes_three(ex):
    ticker = ex.handle_public("Ticker", {"pair": "XBTEUR"})["XXBTZEUR"]
    assert all(FIVE.match(ticker[k][0]) for k in ("a", "b", "c", "p", "l", "h")) and FIVE.match(ticker["o"])
    book = ex.handle_public("Depth", {"pair": "XBTEUR", "count": "3"})["XXBTZEUR"]
    assert all(FIVE.match(p) and re.match(r"^\d+\.\d{3}$", v) for p, v, _ in book["asks"] + book["bids"])
    trades = ex.handle_public("Trades", {"pair": "ETHEUR"})["XETHZEUR"]
    assert all(FIVE.match(row[0]) for row in trades)
    old = ex.handle_public("Trades", {"pair": "XBTEUR", "since": str(int(ex.clock.time()) - 7200)})["XXBTZEUR"]
    assert old and all(FIVE.match(row[0]) for row in old)  # the seeded history too
    spread = ex.handle_public("Spread", {"pair": "XBTEUR"})["XXBTZEUR"]
    assert all(FIVE.match(bid) and FIVE.match(ask) for _, bid, ask in spread)
    candle = ex.handle_public("OHLC", {"pair": "XBTEUR"})["XXBTZEUR"][-1]
    assert re.match(r"^\d+\.\d$", candle[1])  # OHLC keeps pair_decimals, as live


def test_a_trades_price_carries_five_decimals(ex):
    ex.handle_private("demo", "AddOrder", {**limit(), "ordertype": "market"})
    [trade] = ex.handle_private("demo", "TradesHistory", {})["trades"].values()
    assert FIVE.match(trade["price"]) and trade["ordertype"] == "market"


def test_order_objects_carry_only_krakens_keys_and_userref_null_with_cl_ord_id(ex):
    plain = ex.handle_private("demo", "AddOrder", limit())["txid"][0]
    tagged = ex.handle_private("demo", "AddOrder", limit(price="49000", cl_ord_id="bot-1"))["txid"][0]
    orders = ex.handle_private("demo", "OpenOrders", {})["open"]
    assert "margin" not in orders[plain] and "trigger" not in orders[plain]
    assert orders[plain]["userref"] == 0 and "cl_ord_id" not in orders[plain]
    assert orders[tagged]["userref"] is None and orders[tagged]["cl_ord_id"] == "bot-1"


def test_an_untriggered_stop_shows_zero_stopprice_and_its_fill_is_a_stop_market(ex):
    last = ex.markets["XXBTZEUR"].last
    txid = ex.handle_private("demo", "AddOrder", {**limit(), "type": "sell", "ordertype": "stop-loss",
                                                  "price": str(last - 100)})["txid"][0]
    view = ex.handle_private("demo", "QueryOrders", {"txid": txid})[txid]
    assert (view["stopprice"], view["limitprice"]) == ("0.00000", "0.00000")
    assert view["descr"]["price"] == str(last - 100)
    ex.set_price("XBTEUR", last - 200)
    view = ex.handle_private("demo", "QueryOrders", {"txid": txid, "trades": "true"})[txid]
    assert view["status"] == "closed" and view["misc"] == "stopped"
    assert view["stopprice"] == f"{last - 100}0000"
    assert {t["ordertype"] for t in ex.trades()} == {"stop market"}


def test_trigger_shows_only_on_an_order_placed_with_the_index_trigger(ex):
    last = ex.markets["XXBTZEUR"].last
    stop = {**limit(), "type": "sell", "ordertype": "stop-loss", "price": str(last - 100)}
    by_last = ex.handle_private("demo", "AddOrder", stop)["txid"][0]
    by_index = ex.handle_private("demo", "AddOrder", {**stop, "trigger": "index"})["txid"][0]
    orders = ex.handle_private("demo", "OpenOrders", {})["open"]
    assert "trigger" not in orders[by_last] and orders[by_index]["trigger"] == "index"


def test_cancel_and_edit_answer_without_the_keys_kraken_no_longer_sends(ex):
    txid = ex.handle_private("demo", "AddOrder", limit(userref="7"))["txid"][0]
    edited = ex.handle_private("demo", "EditOrder", {"pair": "XBTEUR", "txid": txid, "price": "49000"})
    assert not {"newuserref", "olduserref"} & set(edited) and edited["originaltxid"] == txid
    assert ex.handle_private("demo", "CancelOrder", {"txid": edited["txid"]}) == {"count": 1}


def test_trade_volume_without_a_pair_answers_null_fees(ex):
    result = ex.handle_private("demo", "TradeVolume", {})
    assert result["fees"] is None and result["fees_maker"] is None
    assert set(ex.handle_private("demo", "TradeVolume", {"pair": "XBTEUR"})["fees"]) == {"XXBTZEUR"}


def test_open_positions_is_a_list_when_consolidated_as_ccxt_asks(ex):
    assert ex.handle_private("demo", "OpenPositions", {"docalcs": "true", "consolidation": "market"}) == []
    assert ex.handle_private("demo", "OpenPositions", {}) == {}


def test_order_amends_lists_the_original_then_each_amend(ex, clock):
    txid = ex.handle_private("demo", "AddOrder", limit())["txid"][0]
    only = ex.handle_private("demo", "OrderAmends", {"order_id": txid})
    assert only["count"] == 1 and only["amends"][0]["amend_type"] == "original"
    clock.advance(2)
    amend_id = ex.handle_private("demo", "AmendOrder", {"txid": txid, "limit_price": "49000.5"})["amend_id"]
    history = ex.handle_private("demo", "OrderAmends", {"order_id": txid})
    assert history["count"] == 2 and [a["amend_type"] for a in history["amends"]] == ["original", "user"]
    original, user = history["amends"]
    assert original["amend_id"] == only["amends"][0]["amend_id"] and user["amend_id"] == amend_id
    assert (original["limit_price"], user["limit_price"]) == ("50000.0", "49000.5")
    assert user["order_qty"] == user["remaining_qty"] == "0.01000000"
    assert user["timestamp"] - original["timestamp"] == 2 * 10**9 and isinstance(user["timestamp"], int)
    assert BASE32_ID.match(user["amend_id"])
    for bad, code in (({}, "EGeneral:Invalid arguments:order_id"),
                      ({"order_id": "OAAAAA-BBBBB-CCCCCC"}, "EOrder:Unknown order")):
        try:
            ex.handle_private("demo", "OrderAmends", bad)
        except Exception as exc:  # noqa: BLE001 - the error's code is what is checked
            assert getattr(exc, "code", None) == code
        else:
            raise AssertionError(f"{bad} was answered")

