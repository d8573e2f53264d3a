"""Parsing refuses garbage with MalformedResponse: never KeyError/TypeError, never a bad value."""
from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from krakenbot.client import parsing
from krakenbot.errors import MalformedResponse
from krakenbot.models import Side

TICKER = {"XXBTZEUR": {"a": ["60010.1", "1", "1.000"], "b": ["60000.0", "2", "2.000"], "c": ["60005.0", "0.01"],
                       "v": ["10.5", "20.25"], "p": ["60001.1", "59990.5"], "t": [100, 250],
                       "l": ["59000.0", "58900.0"], "h": ["61000.0", "61100.0"], "o": "59500.0"}}
PAIRS = {"XXBTZEUR": {"altname": "XBTEUR", "wsname": "XBT/EUR", "base": "XXBT", "quote": "ZEUR",
                      "cost_decimals": 5, "pair_decimals": 1, "lot_decimals": 8, "fees": [[0, 0.40], [10000, 0.35]],
                      "fees_maker": [[0, 0.25]], "ordermin": "0.00005", "costmin": "0.5", "tick_size": "0.1",
                      "status": "online"}}
OHLC = {"XXBTZEUR": [[1718010840, "59010.0", "59022.4", "59001.3", "59020.1", "59012.8", "0.84", 17],
                     [1718010900, "59020.1", "59020.1", "59015.0", "59015.0", "59018.2", "0.10", 3]],
        "last": 1718010840}
DEPTH = {"XXBTZEUR": {"asks": [["60010.0", "1.5", 1718010901], ["60011.0", "0.5", 1718010899]],
                      "bids": [["60000.0", "1.7", 1718010902], ["59999.5", "12", 1718010880]]}}
TRADES = {"XXBTZEUR": [["60000.0", "0.0125", 1718010901.2311, "b", "l", "", 71234001]], "last": "1718010901987612345"}
ORDER = {"refid": None, "userref": 0, "cl_ord_id": "bot-1", "status": "open", "opentm": 1718010903.4721,
         "descr": {"pair": "XBTEUR", "type": "buy", "ordertype": "limit", "price": "37500.0", "price2": "0",
                   "order": "buy 1.25000000 XBTEUR @ limit 37500.0"},
         "vol": "1.25000000", "vol_exec": "0.00000000", "cost": "0.00000", "fee": "0.00000", "price": "0.00000",
         "misc": "", "oflags": "fciq"}
TRADE = {"ordertxid": "OQCLML-BW3P3-BUCMWZ", "pair": "XXBTZEUR", "time": 1718010911.05, "type": "sell",
         "ordertype": "limit", "price": "37500.0", "cost": "46875.0", "fee": "75.0", "vol": "1.25", "maker": True}


def test_good_values_parse_to_decimals():
    t = parsing.parse_ticker(TICKER, "XBTEUR", fetched_at=5.0)
    assert (t.pair, t.ask, t.bid, t.trades_24h, t.fetched_at) == ("XXBTZEUR", Decimal("60010.1"), Decimal("60000.0"), 250, 5.0)
    p = parsing.parse_asset_pairs(PAIRS)["XXBTZEUR"]
    assert p.fee_taker == Decimal("0.4") and p.fee_maker == Decimal("0.25") and p.tick_size == Decimal("0.1")
    assert parsing.resolve_pair({"XXBTZEUR": p}, "XBT/EUR") is p and parsing.resolve_pair({"XXBTZEUR": p}, "xbteur") is p
    page = parsing.parse_ohlc(OHLC, "XBTEUR", 1)
    assert page.last == 1718010840 and page.candles[1].close == Decimal("59015.0")
    book = parsing.parse_depth(DEPTH, "XBTEUR")
    assert book.best_ask == Decimal("60010.0") and book.best_bid == Decimal("60000.0")
    trades = parsing.parse_trades(TRADES, "XBTEUR")
    assert trades.trades[0].trade_id == 71234001 and trades.last == "1718010901987612345"
    order = parsing.parse_order("OQCLML-BW3P3-BUCMWZ", ORDER, "OpenOrders")
    assert order.side is Side.BUY and order.limit_price == Decimal("37500.0") and order.userref is None
    assert order.cl_ord_id == "bot-1"
    trade = parsing.parse_trade("T1", TRADE, "TradesHistory")
    assert trade.side is Side.SELL and trade.maker is True and trade.volume == Decimal("1.25")
    ack = parsing.parse_add_order({"descr": {"order": "buy"}, "txid": ["O1"]}, validate=False)
    assert ack.txids == ("O1",) and not ack.validated_only
    ack = parsing.parse_add_order({"descr": {"order": "buy"}}, validate=True)
    assert ack.txids == () and ack.validated_only


def mutate(base, path, value):
    data = copy.deepcopy(base)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


GARBAGE = ["NaN", "Infinity", "-1", "abc", None, True, 1.5, [], {}, "1e20", ""]


TICKER_PATHS = [("XXBTZEUR", "a", 0), ("XXBTZEUR", "b", 0), ("XXBTZEUR", "c", 0), ("XXBTZEUR", "o"), ("XXBTZEUR", "v")]


# Deleting a list item would shift the next one into place, so only dict keys are deleted.
@pytest.mark.parametrize("path,value", [(p, v) for p in TICKER_PATHS for v in GARBAGE + [KeyError]
                                        if not (v is KeyError and isinstance(p[-1], int))])
def test_ticker_garbage(path, value):
    with pytest.raises(MalformedResponse):
        parsing.parse_ticker(mutate(TICKER, path, value), "XBTEUR")


def test_crossed_ticker_and_book_refused():
    with pytest.raises(MalformedResponse):
        parsing.parse_ticker(mutate(TICKER, ("XXBTZEUR", "b", 0), "70000"), "XBTEUR")
    with pytest.raises(MalformedResponse):
        parsing.parse_depth(mutate(DEPTH, ("XXBTZEUR", "bids", 0, 0), "60010.0"), "XBTEUR")


def test_unsorted_book_refused():
    with pytest.raises(MalformedResponse):
        parsing.parse_depth(mutate(DEPTH, ("XXBTZEUR", "asks", 1, 0), "60009.0"), "XBTEUR")
    with pytest.raises(MalformedResponse):
        parsing.parse_depth(mutate(DEPTH, ("XXBTZEUR", "bids", 1, 0), "60001.0"), "XBTEUR")


@pytest.mark.parametrize(
    "path,value",
    [
        (("XXBTZEUR", 0, 2), "59000.0"),  # high below open/close
        (("XXBTZEUR", 0, 3), "59030.0"),  # low above open/close
        (("XXBTZEUR", 1, 0), 1718010840),  # repeated time
        (("XXBTZEUR", 1, 0), 1718010800),  # time goes back
        (("XXBTZEUR", 1, 0), 1718010870),  # off the 1-minute grid
        (("XXBTZEUR", 0, 7), -3),
        (("XXBTZEUR", 0, 0), "1718010840"),
        (("XXBTZEUR", 0, 6), "-0.5"),
        (("last",), "soon"),
        (("XXBTZEUR", 0), [1718010840, "1"]),
    ],
)
def test_bad_candles_refused(path, value):
    with pytest.raises(MalformedResponse):
        parsing.parse_ohlc(mutate(OHLC, path, value), "XBTEUR", 1)


def _invalid_for(key, value):
    """Any non-empty string is a valid name or id, so those are not garbage for text fields."""
    return not (key in ("altname", "ordertxid") and isinstance(value, str) and value)


@pytest.mark.parametrize("key,value", [(k, v) for k in ["tick_size", "altname", "pair_decimals", "ordermin"]
                                       for v in GARBAGE + [KeyError] if _invalid_for(k, v)])
def test_pair_garbage(key, value):
    with pytest.raises(MalformedResponse):
        parsing.parse_asset_pairs(mutate(PAIRS, ("XXBTZEUR", key), value))


@pytest.mark.parametrize("value", GARBAGE + [KeyError])
@pytest.mark.parametrize("key", ["vol", "vol_exec", "status", "descr", "opentm"])
def test_order_garbage(key, value):
    with pytest.raises(MalformedResponse):
        parsing.parse_order("O1", mutate(ORDER, (key,), value), "OpenOrders")


@pytest.mark.parametrize("key,value", [(k, v) for k in ["price", "vol", "type", "time", "ordertxid"]
                                       for v in GARBAGE + [KeyError] if _invalid_for(k, v)])
def test_trade_garbage(key, value):
    with pytest.raises(MalformedResponse):
        parsing.parse_trade("T1", mutate(TRADE, (key,), value), "TradesHistory")


@pytest.mark.parametrize("result", [{"descr": {"order": "x"}}, {"descr": {"order": "x"}, "txid": []},
                                    {"descr": "x", "txid": ["O1"]}, {"txid": ["O1"]}, {"descr": {}, "txid": [3]}])
def test_add_order_without_a_usable_txid_is_malformed(result):
    with pytest.raises(MalformedResponse):
        parsing.parse_add_order(result, validate=False)


@pytest.mark.parametrize("value", ["-1", "NaN", "x", 3, None])
def test_balance_garbage(value):
    with pytest.raises(MalformedResponse):
        parsing.parse_balance({"ZEUR": value})


def test_balance_ex_hold_above_balance_refused():
    with pytest.raises(MalformedResponse):
        parsing.parse_balance_ex({"ZEUR": {"balance": "1", "hold_trade": "2"}})
    assert parsing.parse_balance_ex({"ZEUR": {"balance": "3", "hold_trade": "1"}})["ZEUR"].free == Decimal(2)


def test_wrong_pair_count_refused():
    with pytest.raises(MalformedResponse):
        parsing.parse_ticker({}, "XBTEUR")
    with pytest.raises(MalformedResponse):
        parsing.parse_ticker({**TICKER, "XETHZEUR": TICKER["XXBTZEUR"]}, "XBTEUR")


def test_a_validate_only_answer_that_carries_a_txid_is_a_placed_order():
    """validate=true must place nothing; if the exchange answers with a txid anyway, an order
    exists and the bot must know it (not file it as validated-only and lose track of it)."""
    ack = parsing.parse_add_order({"descr": {"order": "buy"}, "txid": ["O1"]}, validate=True)
    assert ack.txids == ("O1",) and not ack.validated_only
