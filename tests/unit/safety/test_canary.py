"""Canary rules: post-only, passive side, far from mid, minimal volume, notional cap."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.models import OrderType, PairInfo, Side
from krakenbot.safety.canary import CanaryRules

XBTEUR = PairInfo(name="XXBTZEUR", altname="XBTEUR", wsname="XBT/EUR", base="XXBT", quote="ZEUR",
                  pair_decimals=1, lot_decimals=8, cost_decimals=5, tick_size=Decimal("0.1"),
                  ordermin=Decimal("0.00005"), costmin=Decimal("0.5"), fee_taker=Decimal("0.40"),
                  fee_maker=Decimal("0.25"))
RULES = CanaryRules(offset_pct=Decimal(10), max_notional=Decimal(10), min_volume=Decimal("0.00005"),
                    min_notional=Decimal("0"))
MID = Decimal("60000")


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_built_canary_passes_its_own_rules(side):
    price = RULES.price(XBTEUR, side, MID)
    volume = RULES.volume(XBTEUR, price)
    assert RULES.problem(XBTEUR, side, OrderType.LIMIT, volume, price, True, MID) is None
    assert volume == Decimal("0.00005")
    assert (price <= MID * Decimal("0.9")) if side is Side.BUY else (price >= MID * Decimal("1.1"))
    assert price % XBTEUR.tick_size == 0


def test_volume_rises_to_meet_our_minimum_notional():
    rules = CanaryRules(Decimal(10), Decimal(10), Decimal("0.00005"), Decimal("5"))
    assert rules.volume(XBTEUR, Decimal("54000")) == Decimal("0.00009260")  # 5 / 54000, rounded up


@pytest.mark.parametrize("kwargs, words", [
    ({"ordertype": OrderType.MARKET, "price": None}, "only limit"),
    ({"post_only": False}, "only post-only"),
    ({"price": Decimal("58000")}, "needs at least 10"),
    ({"side": Side.SELL, "price": Decimal("54000")}, "needs at least 10"),
    ({"volume": Decimal("0.001")}, "above the minimal volume"),
    ({"mid": None}, "needs a market price"),
])
def test_non_canary_orders_are_refused(kwargs, words):
    order = {"side": Side.BUY, "ordertype": OrderType.LIMIT, "volume": Decimal("0.00005"),
             "price": Decimal("54000"), "post_only": True, "mid": MID, **kwargs}
    problem = RULES.problem(XBTEUR, order["side"], order["ordertype"], order["volume"], order["price"],
                            order["post_only"], order["mid"])
    assert problem is not None and words in problem


def test_notional_cap():
    rules = CanaryRules(Decimal(10), Decimal("2"), Decimal("0.00005"), Decimal(0))
    problem = rules.problem(XBTEUR, Side.SELL, OrderType.LIMIT, Decimal("0.00005"), Decimal("66000"), True, MID)
    assert problem is not None and "cap 2" in problem
