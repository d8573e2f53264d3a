"""Property test: whatever the sequence of orders and market moves, the books balance.

Invariants after every step: no negative balance, holds never exceed balances, every
balance equals its start plus the ledger (amounts net of fees), executed volume never
exceeds order volume, closed orders are fully filled, and the public book is not crossed.
"""
from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krakensim.accounts import DEFAULT_BALANCES
from krakensim.clock import ManualClock
from krakensim.errors import KrakenAPIError
from krakensim.exchange import Exchange
from krakensim.pairs import resolve_pair

D = Decimal
PAIRS = ["XBTEUR", "ETHUSD"]

action = st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(PAIRS), st.sampled_from(["buy", "sell"]),
              st.integers(-30, 30), st.sampled_from(["0.002", "0.01", "0.05"]), st.booleans()),
    st.tuples(st.just("market"), st.sampled_from(PAIRS), st.sampled_from(["buy", "sell"]),
              st.sampled_from(["0.002", "0.01", "0.03"])),
    st.tuples(st.just("stop"), st.sampled_from(PAIRS), st.sampled_from(["stop-loss", "take-profit"]),
              st.integers(1, 20)),
    st.tuples(st.just("cancel"), st.integers(0, 10)),
    st.tuples(st.just("move"), st.sampled_from(PAIRS), st.integers(-30, 30)),
    st.tuples(st.just("advance"), st.integers(0, 4)),
    st.tuples(st.just("liquidity"), st.sampled_from(PAIRS), st.sampled_from(["0.004", "0.02", "1"])),
    st.tuples(st.just("flagged"), st.sampled_from(PAIRS), st.sampled_from(["buy", "sell"]),
              st.integers(-20, 20), st.sampled_from(["fcib", "fciq", ""]), st.sampled_from(["GTC", "IOC"])),
    st.tuples(st.just("stoplimit"), st.sampled_from(PAIRS), st.sampled_from(["buy", "sell"]),
              st.sampled_from(["stop-loss-limit", "take-profit-limit", "stop-loss"]), st.integers(1, 20)),
    st.tuples(st.just("amend"), st.integers(0, 10), st.integers(-20, 20), st.sampled_from([None, "0.02"])),
    st.tuples(st.just("viqc"), st.sampled_from(PAIRS), st.sampled_from(["5", "50", "400"])),
    st.tuples(st.just("dms"), st.integers(0, 3)),
)


def _apply(ex: Exchange, clock: ManualClock, act: tuple) -> None:
    kind = act[0]
    try:
        if kind == "limit":
            _, pair, side, offset_bp, vol, post = act
            mid = ex.mid(pair)
            price = ex.markets[resolve_pair(pair).id].round_price(mid * (1 + D(offset_bp) / 10_000))
            ex.handle_private("demo", "AddOrder", {"pair": pair, "type": side, "ordertype": "limit",
                                                   "price": str(price), "volume": vol,
                                                   **({"oflags": "post"} if post else {})})
        elif kind == "market":
            _, pair, side, vol = act
            ex.handle_private("demo", "AddOrder", {"pair": pair, "type": side, "ordertype": "market", "volume": vol})
        elif kind == "stop":
            _, pair, ordertype, pct = act
            mid = ex.mid(pair)
            factor = 1 - D(pct) / 1000 if ordertype == "stop-loss" else 1 + D(pct) / 1000
            market = ex.markets[resolve_pair(pair).id]
            ex.handle_private("demo", "AddOrder", {"pair": pair, "type": "sell", "ordertype": ordertype,
                                                   "price": str(market.round_price(mid * factor)), "volume": "0.01"})
        elif kind == "flagged":
            _, pair, side, offset_bp, flag, tif = act
            price = ex.markets[resolve_pair(pair).id].round_price(ex.mid(pair) * (1 + D(offset_bp) / 10_000))
            ex.handle_private("demo", "AddOrder", {"pair": pair, "type": side, "ordertype": "limit", "price": str(price),
                                                   "volume": "0.01", "oflags": flag, "timeinforce": tif})
        elif kind == "stoplimit":
            _, pair, side, ordertype, pct = act
            market = ex.markets[resolve_pair(pair).id]
            up = (ordertype.startswith("stop") and side == "buy") or (ordertype.startswith("take") and side == "sell")
            trigger = market.round_price(ex.mid(pair) * (1 + (1 if up else -1) * D(pct) / 1000))
            params = {"pair": pair, "type": side, "ordertype": ordertype, "price": str(trigger), "volume": "0.01"}
            if ordertype.endswith("-limit"):
                params["price2"] = str(trigger)
            ex.handle_private("demo", "AddOrder", params)
        elif kind == "amend":
            open_ = list(ex.handle_private("demo", "OpenOrders", {})["open"].items())
            if open_:
                txid, o = open_[act[1] % len(open_)]
                params = {"txid": txid}
                if o["descr"]["ordertype"] == "limit":
                    market = ex.markets[resolve_pair(o["descr"]["pair"]).id]
                    params["limit_price"] = str(market.round_price(D(o["descr"]["price"]) * (1 + D(act[2]) / 10_000)))
                if act[3]:
                    params["order_qty"] = act[3]
                if len(params) > 1:
                    ex.handle_private("demo", "AmendOrder", params)
        elif kind == "viqc":
            ex.handle_private("demo", "AddOrder", {"pair": act[1], "type": "buy", "ordertype": "market",
                                                   "volume": act[2], "oflags": "viqc"})
        elif kind == "dms":
            ex.handle_private("demo", "CancelAllOrdersAfter", {"timeout": str(act[1])})
        elif kind == "cancel":
            open_ = list(ex.handle_private("demo", "OpenOrders", {})["open"])
            if open_:
                ex.handle_private("demo", "CancelOrder", {"txid": open_[act[1] % len(open_)]})
        elif kind == "move":
            ex.shock(act[1], D(act[2]) / 10)
        elif kind == "advance":
            clock.advance(act[1])
        elif kind == "liquidity":
            ex.set_liquidity(act[1], D(act[2]))
    except KrakenAPIError as err:
        assert err.code.startswith(("EOrder:", "EGeneral:Invalid arguments")), err.code


def _check(ex: Exchange) -> None:
    balances = ex.balances()
    holds = ex.holds()
    for asset, amount in balances.items():
        assert amount >= 0, (asset, amount)
        assert holds.get(asset, D(0)) <= amount, (asset, holds, amount)
    net = dict(DEFAULT_BALANCES)
    for entry in ex.accounts["demo"].ledger.values():
        net[entry.asset] = net.get(entry.asset, D(0)) + entry.amount - entry.fee
    for asset, amount in balances.items():
        assert net.get(asset, D(0)) == amount, (asset, net.get(asset), amount)
    orders = {o["txid"]: o for o in ex.orders()}
    for o in orders.values():
        vol, done = D(o["vol"]), D(o["vol_exec"])
        assert done <= vol
        if o["status"] == "closed":
            assert done == vol and done > 0
    for t in ex.trades():  # a post-only order never takes liquidity
        assert t["maker"] or "post" not in orders[t["ordertxid"]]["oflags"]
    for pair in PAIRS:
        recent = str(int(ex.clock.time()) - 300)  # the last five candles: all 720 would cost seconds per run
        for row in next(iter(ex.handle_public("OHLC", {"pair": pair, "since": recent}).values()))[-5:]:
            o, h, low, c = (D(x) for x in row[1:5])
            assert h >= max(o, c) and low <= min(o, c)
    for pair in PAIRS:
        book = next(iter(ex.handle_public("Depth", {"pair": pair, "count": "5"}).values()))
        assert D(book["bids"][0][0]) < D(book["asks"][0][0])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 5), st.lists(action, min_size=1, max_size=25))
def test_money_is_conserved_whatever_happens(seed, actions):
    clock = ManualClock()
    ex = Exchange(seed=seed, clock=clock)
    for act in actions:
        _apply(ex, clock, act)
        _check(ex)
