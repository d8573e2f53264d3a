"""Matching: market orders walk the book, limits rest then fill on a move, triggers fire."""
from __future__ import annotations

from decimal import Decimal

import pytest

D = Decimal


def add(ex, account="demo", **params):
    return ex.handle_private(account, "AddOrder", params)["txid"][0]


def order(ex, txid, account="demo"):
    return ex.handle_private(account, "QueryOrders", {"txid": txid, "trades": "true"})[txid]


def test_market_buy_walks_the_book(ex):
    ex.set_liquidity("XBTEUR", D("0.005"))
    asks = ex.handle_public("Depth", {"pair": "XBTEUR", "count": "3"})["XXBTZEUR"]["asks"]
    txid = add(ex, pair="XBTEUR", type="buy", ordertype="market", volume="0.012")
    o = order(ex, txid)
    assert o["status"] == "closed" and o["vol_exec"] == "0.01200000"
    trades = ex.trades()
    assert [(t["price"], t["vol"]) for t in trades] == [
        (asks[0][0], "0.00500000"), (asks[1][0], "0.00500000"), (asks[2][0], "0.00200000")]
    assert all(t["maker"] is False and t["ordertype"] == "market" for t in trades)
    cost = sum(D(t["price"]) * D(t["vol"]) for t in trades)
    assert D(o["cost"]) == cost.quantize(D("0.0001"))
    assert o["trades"] == [t["txid"] for t in trades]


def test_taken_liquidity_returns_next_step(ex, clock):
    ex.set_liquidity("XBTEUR", D("0.005"))
    add(ex, pair="XBTEUR", type="buy", ordertype="market", volume="0.005")
    best = ex.handle_public("Depth", {"pair": "XBTEUR", "count": "1"})["XXBTZEUR"]["asks"][0]
    assert D(best[0]) > ex.mid("XBTEUR") + D("0.1")  # level 0 is used up this second
    clock.advance(1)
    best = ex.handle_public("Depth", {"pair": "XBTEUR", "count": "1"})["XXBTZEUR"]["asks"][0]
    assert D(best[0]) == ex.mid("XBTEUR") + D("0.1")


def test_market_sell_walks_the_bids(ex):
    ex.set_liquidity("XBTEUR", D("0.1"))
    txid = add(ex, pair="XBTEUR", type="sell", ordertype="market", volume="0.25")
    prices = [D(t["price"]) for t in ex.trades()]
    assert prices == sorted(prices, reverse=True) and len(prices) == 3
    assert order(ex, txid)["status"] == "closed"


def test_limit_rests_then_fills_as_maker_when_the_market_moves_through(ex):
    mid = ex.mid("XBTEUR")
    price = mid - 100
    txid = add(ex, pair="XBTEUR", type="buy", ordertype="limit", price=str(price), volume="0.01")
    ex.set_price("XBTEUR", price)  # touching is not trading through
    assert order(ex, txid)["status"] == "open"
    ex.set_price("XBTEUR", price - D("0.1"))
    o = order(ex, txid)
    assert o["status"] == "closed" and o["vol_exec"] == "0.01000000"
    (trade,) = ex.trades()
    assert trade["maker"] is True and D(trade["price"]) == price


def test_partial_fills_over_several_steps(ex, clock):
    ex.set_liquidity("XBTEUR", D("0.004"))
    mid = ex.mid("XBTEUR")
    txid = add(ex, pair="XBTEUR", type="sell", ordertype="limit", price=str(mid + 50), volume="0.01")
    ex.set_price("XBTEUR", mid + 100)
    o = order(ex, txid)
    assert o["status"] == "open" and o["vol_exec"] == "0.00400000" and o["misc"] == "partial"
    clock.advance(1)
    assert order(ex, txid)["vol_exec"] == "0.00800000"
    clock.advance(5)
    o = order(ex, txid)
    assert o["status"] == "closed" and o["vol_exec"] == "0.01000000"
    assert [t["vol"] for t in ex.trades()] == ["0.00400000", "0.00400000", "0.00200000"]
    assert ex.holds() == {}


def test_crossing_limit_takes_then_rests(ex, clock):
    ex.set_liquidity("XBTEUR", D("0.003"))
    mid = ex.mid("XBTEUR")
    limit_price = mid + 1  # above the first level, below the second
    txid = add(ex, pair="XBTEUR", type="buy", ordertype="limit", price=str(limit_price), volume="0.01")
    o = order(ex, txid)
    assert o["status"] == "open" and o["vol_exec"] == "0.00300000"
    assert ex.trades()[0]["maker"] is False


def test_post_only_that_would_cross_is_cancelled(ex):
    ask = ex.mid("XBTEUR") + D("0.1")
    result = ex.handle_private("demo", "AddOrder", {"pair": "XBTEUR", "type": "buy", "ordertype": "limit",
                                                   "price": str(ask), "volume": "0.01", "oflags": "post"})
    o = order(ex, result["txid"][0])
    assert o["status"] == "canceled" and o["reason"] == "Post only order" and o["vol_exec"] == "0.00000000"
    assert "post" in o["oflags"]
    assert ex.trades() == [] and ex.holds() == {}


def test_post_only_that_rests_is_kept(ex):
    txid = add(ex, pair="XBTEUR", type="buy", ordertype="limit", price=str(ex.mid("XBTEUR")), volume="0.01",
               oflags="post")
    assert order(ex, txid)["status"] == "open"


def test_ioc_remainder_is_cancelled(ex):
    ex.set_liquidity("XBTEUR", D("0.004"))
    mid = ex.mid("XBTEUR")
    txid = add(ex, pair="XBTEUR", type="buy", ordertype="limit", price=str(mid + D("0.1")), volume="0.01",
               timeinforce="IOC")
    o = order(ex, txid)
    assert o["status"] == "canceled" and o["vol_exec"] == "0.00400000"
    assert ex.holds() == {}


def test_stop_loss_triggers_on_last_price_and_sells_at_market(ex):
    mid = ex.mid("XBTEUR")
    trigger = mid - 500
    txid = add(ex, pair="XBTEUR", type="sell", ordertype="stop-loss", price=str(trigger), volume="0.1")
    o = order(ex, txid)
    assert o["status"] == "open" and o["descr"]["order"] == f"sell 0.10000000 XBTEUR @ stop loss {trigger}"
    assert ex.holds() == {"XXBT": D("0.1")}
    ex.set_price("XBTEUR", trigger + 1)
    assert order(ex, txid)["status"] == "open"
    ex.set_price("XBTEUR", trigger - 10)
    o = order(ex, txid)
    assert o["status"] == "closed" and "stopped" in o["misc"] and o["vol_exec"] == "0.10000000"
    assert all(D(t["price"]) < trigger for t in ex.trades())


def test_take_profit_triggers_upwards(ex):
    mid = ex.mid("XBTEUR")
    txid = add(ex, pair="XBTEUR", type="sell", ordertype="take-profit", price=str(mid + 500), volume="0.01")
    ex.shock("XBTEUR", D("5"))
    o = order(ex, txid)
    assert o["status"] == "closed" and "touched" in o["misc"]


def test_stop_loss_limit_becomes_a_resting_limit(ex):
    mid = ex.mid("XBTEUR")
    trigger, limit_price = mid - 500, mid - 400
    txid = add(ex, pair="XBTEUR", type="sell", ordertype="stop-loss-limit", price=str(trigger),
               price2=str(limit_price), volume="0.01")
    o = order(ex, txid)
    assert o["descr"]["order"].split(" ")[6] == str(trigger)
    assert o["descr"]["order"].split(" ")[9] == str(limit_price)
    ex.set_price("XBTEUR", trigger - 1)
    o = order(ex, txid)
    assert o["status"] == "open" and o["vol_exec"] == "0.00000000"  # limit is above the market now
    ex.set_price("XBTEUR", limit_price + 100)
    assert order(ex, txid)["status"] == "closed"


def test_shock_moves_the_mid(ex):
    mid = ex.mid("XBTEUR")
    ex.shock("XBTEUR", D("-10"))
    assert abs(ex.mid("XBTEUR") - mid * D("0.9")) <= D("0.1")


def test_no_matching_outside_online(ex, clock):
    mid = ex.mid("XBTEUR")
    txid = add(ex, pair="XBTEUR", type="buy", ordertype="limit", price=str(mid - 100), volume="0.01")
    ex.set_system_status("cancel_only")
    ex.set_price("XBTEUR", mid - 200)
    assert order(ex, txid)["status"] == "open"
    ex.set_system_status("online")
    clock.advance(1)
    assert order(ex, txid)["status"] == "closed"


def test_volatility_walks_the_price_deterministically(clock):
    from krakensim.clock import ManualClock
    from krakensim.exchange import Exchange
    a = Exchange(seed=7, clock=clock, volatility=D("0.001"))
    other = ManualClock()
    b = Exchange(seed=7, clock=other, volatility=D("0.001"))
    start = a.mid("XBTEUR")
    clock.advance(30)
    other.advance(30)
    assert a.mid("XBTEUR") != start
    assert a.mid("XBTEUR") == b.mid("XBTEUR")
    trades = a.handle_public("Trades", {"pair": "XBTEUR", "since": str(int(clock.time()) - 30)})["XXBTZEUR"]
    assert len(trades) == 30


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_gtd_order_expires(ex, clock, side):
    mid = ex.mid("XBTEUR")
    price = mid - 1000 if side == "buy" else mid + 1000
    txid = add(ex, pair="XBTEUR", type=side, ordertype="limit", price=str(price), volume="0.01",
               timeinforce="GTD", expiretm="+30")
    clock.advance(29)
    assert order(ex, txid)["status"] == "open"
    clock.advance(2)
    o = order(ex, txid)
    assert o["status"] == "expired" and o["closetm"] == pytest.approx(clock.time() - 1)
    assert ex.holds() == {}


def test_scheduled_start_is_pending_until_then(ex, clock):
    txid = add(ex, pair="XBTEUR", type="buy", ordertype="market", volume="0.01", starttm="+10")
    assert order(ex, txid)["status"] == "pending"
    clock.advance(10)
    assert order(ex, txid)["status"] == "closed"


def test_viqc_market_buy_spends_the_quote_amount(ex):
    txid = add(ex, pair="XBTEUR", type="buy", ordertype="market", volume="100", oflags="viqc")
    o = order(ex, txid)
    assert o["status"] == "closed"
    assert D("99.9") <= D(o["cost"]) <= D("100")


def test_depth_stays_two_sided_when_a_resting_order_is_crossed_by_a_move(ex):
    ex.set_liquidity("XBTEUR", D("0.004"))
    mid = ex.mid("XBTEUR")
    add(ex, pair="XBTEUR", type="buy", ordertype="limit", price=str(mid), volume="0.05")
    ex.shock("XBTEUR", D("-1.1"))
    book = ex.handle_public("Depth", {"pair": "XBTEUR", "count": "5"})["XXBTZEUR"]
    assert len(book["asks"]) == 5 and len(book["bids"]) == 5
    assert D(book["bids"][0][0]) == mid < D(book["asks"][0][0])
