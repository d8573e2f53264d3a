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
    for o in ex.orders():
        vol, done = D(o["vol"]), D(o["vol_exec"])
        assert done <= vol
        if o["status"] == "closed":
            assert done == vol and done > 0
    for pair in PAIRS:
        book = next(iter(ex.handle_public("Depth", {"pair": pair, "count": "5"}).values()))
        assert D(book["bids"][0][0]) < D(book["asks"][0][0])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 5), st.lists(action, min_size=1, max_size=25))
def test_money_is_conserved_whatever_happens(seed, actions):
    clock = ManualClock()
    ex = Exchange(seed=seed, clock=clock)
    for act in actions:
        _apply(ex, clock, act)
        _check(ex)
