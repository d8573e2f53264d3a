"""Trailing stops and conditional closes, as Kraken documents them.

A trailing stop sell follows the market up and triggers when the last price falls back by its offset
from the highest price since it was placed; a buy mirrors it. A trailing-stop-limit then rests as a
limit at its trigger plus its (signed) limit offset. A conditional close places, for each fill of
its primary order, an opposite order of the filled volume.
"""
from __future__ import annotations

from decimal import Decimal

PAIR = "XXBTZEUR"


def add(ex, **params) -> dict:
    return ex.handle_private("demo", "AddOrder", {"pair": "XBTEUR", "volume": "0.01", **params})


def view(ex, txid: str) -> dict:
    return ex.handle_private("demo", "QueryOrders", {"txid": txid, "trades": "true"})[txid]


def test_a_trailing_stop_sell_follows_the_peak_and_triggers_on_the_way_back(ex):
    start = ex.markets[PAIR].last
    result = add(ex, type="sell", ordertype="trailing-stop", price="+1%")
    txid = result["txid"][0]
    assert result["descr"]["order"] == "sell 0.01000000 XBTEUR @ trailing stop +1.0000%"
    first = view(ex, txid)
    assert first["descr"]["price"] == "+1.0000%" and first["status"] == "open"
    assert Decimal(first["stopprice"]) == ex.markets[PAIR].round_price(start * Decimal("0.99"))
    assert Decimal(first["limitprice"]) == start  # the peak it trails, as live answers show it
    peak = start + 2000
    ex.set_price("XBTEUR", peak)
    trigger = ex.markets[PAIR].round_price(peak * Decimal("0.99"))
    assert Decimal(view(ex, txid)["stopprice"]) == trigger
    ex.set_price("XBTEUR", peak - 100)  # a dip smaller than 1 %: the trigger stays where the peak put it
    assert view(ex, txid)["status"] == "open" and Decimal(view(ex, txid)["stopprice"]) == trigger
    ex.set_price("XBTEUR", trigger - 1)
    done = view(ex, txid)
    assert done["status"] == "closed" and done["misc"] == "stopped" and Decimal(done["vol_exec"]) == Decimal("0.01")
    assert {t["ordertype"] for t in ex.trades()} == {"stop market"}


def test_a_trailing_stop_buy_follows_the_trough_with_an_absolute_offset(ex):
    start = ex.markets[PAIR].last
    txid = add(ex, type="buy", ordertype="trailing-stop", price="+500")["txid"][0]
    assert view(ex, txid)["descr"]["price"] == "+500.0"
    assert Decimal(view(ex, txid)["stopprice"]) == start + 500
    ex.set_price("XBTEUR", start - 3000)
    assert Decimal(view(ex, txid)["stopprice"]) == start - 2500
    ex.set_price("XBTEUR", start - 2600)
    assert view(ex, txid)["status"] == "open"
    ex.set_price("XBTEUR", start - 2500)
    assert view(ex, txid)["status"] == "closed"


def test_a_trailing_stop_limit_rests_at_its_trigger_plus_the_limit_offset(ex):
    start = ex.markets[PAIR].last
    txid = add(ex, type="sell", ordertype="trailing-stop-limit", price="+1000", price2="+200")["txid"][0]
    first = view(ex, txid)
    assert first["descr"]["order"] == "sell 0.01000000 XBTEUR @ trailing stop +1000.0 -> limit +200.0"
    assert (first["descr"]["price"], first["descr"]["price2"]) == ("+1000.0", "+200.0")
    ex.set_price("XBTEUR", start - 1000)  # triggers at start - 1000: a sell limit 200 above, over the market
    triggered = view(ex, txid)
    assert triggered["misc"] == "stopped" and triggered["status"] == "open" and triggered["vol_exec"] == "0.00000000"
    assert Decimal(triggered["stopprice"]) == start - 1000
    asks, _ = ex.matcher.resting_book(PAIR)
    assert asks == {start - 800: Decimal("0.01")}


def test_a_trailing_offset_must_be_relative_with_a_plus(ex):
    for price in ("1%", "-1%", "60000", "+0", "+100%"):
        try:
            add(ex, type="sell", ordertype="trailing-stop", price=price)
        except Exception as exc:  # noqa: BLE001 - the error's code is what is checked
            assert exc.code == "EGeneral:Invalid arguments:price", price
        else:
            raise AssertionError(f"{price} was accepted")


def test_each_fill_of_an_order_with_a_conditional_close_places_the_opposite_order(ex):
    last = ex.markets[PAIR].last
    target = str(last + 3000)
    result = add(ex, type="buy", ordertype="limit", price=str(last - 1000), volume="0.003",
                 **{"close[ordertype]": "limit", "close[price]": target})
    txid = result["txid"][0]
    assert result["descr"]["close"] == f"close position @ limit {target}"
    assert view(ex, txid)["descr"]["close"] == f"close position @ limit {target}"
    assert len(ex.handle_private("demo", "OpenOrders", {})["open"]) == 1  # nothing until it fills
    ex.set_liquidity("XBTEUR", "0.002")
    ex.set_price("XBTEUR", last - 1500)  # the buy fills 0.002 now ...
    ex.advance(1)  # ... and the last 0.001 a step later
    assert view(ex, txid)["status"] == "closed"
    closes = [o for o in ex.handle_private("demo", "OpenOrders", {})["open"].values()]
    assert sorted(o["vol"] for o in closes) == ["0.00100000", "0.00200000"]
    assert all(o["descr"]["type"] == "sell" and o["descr"]["price"] == target and o["descr"]["ordertype"] == "limit"
               for o in closes)


def test_a_conditional_close_can_be_a_stop_loss_limit_with_its_own_prices(ex):
    last = ex.markets[PAIR].last
    stop, floor = str(last - 2000), str(last - 2100)
    result = add(ex, type="buy", ordertype="market",
                 **{"close[ordertype]": "stop-loss-limit", "close[price]": stop, "close[price2]": floor})
    assert result["descr"]["close"] == f"close position @ stop loss {stop} -> limit {floor}"
    [close] = ex.handle_private("demo", "OpenOrders", {})["open"].values()
    assert close["descr"]["order"] == f"sell 0.01000000 XBTEUR @ stop loss {stop} -> limit {floor}"
    assert close["stopprice"] == "0.00000"  # not triggered yet


def test_a_conditional_close_the_account_cannot_fund_is_cancelled(ex):
    ex.create_account("poor", {"ZEUR": "1000"})
    last = ex.markets[PAIR].last
    buy = ex.handle_private("poor", "AddOrder", {
        "pair": "XBTEUR", "type": "buy", "ordertype": "market", "volume": "0.001", "oflags": "fcib",
        "close[ordertype]": "limit", "close[price]": str(last + 5000)})["txid"][0]
    closes = [o for o in ex.orders("poor") if o["txid"] != buy]
    # the fee was paid in XBT, so the bought 0.001 less the fee cannot fund a 0.001 sell
    assert [(o["status"], o["reason"]) for o in closes] == [("canceled", "Insufficient funds")]
