"""``models.evolve``: the order path's dataclass copy must be exactly ``dataclasses.replace``."""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import pytest

from domain_helpers import store_order

from krakenbot.models import OrderRequest, OrderType, Side, evolve
from krakenbot.positions import Position
from krakenbot.risk.checks import RiskSnapshot, TradingState


@pytest.mark.parametrize("obj, changes", [
    (store_order("kb1"), {"status": "OPEN", "txid": "O1", "updated_at": 2.0}),
    (RiskSnapshot(), {"daily_trades": 3, "daily_realised_loss": Decimal("1.5"), "trading_state": TradingState.HALTED}),
    (Position("XXBTZEUR", "XXBT", "ZEUR", volume=Decimal("0.1")), {}),
])
def test_evolve_equals_replace_and_leaves_the_original_alone(obj, changes):
    before = replace(obj)
    copy = evolve(obj, **changes)
    assert copy == replace(obj, **changes) and type(copy) is type(obj)
    assert copy is not obj and obj == before


def test_evolve_refuses_what_replace_refuses_or_would_run():
    with pytest.raises(TypeError, match="unknown fields"):
        evolve(store_order("kb1"), colour="red")
    request = OrderRequest(pair="XXBTZEUR", side=Side.BUY, ordertype=OrderType.LIMIT, volume=Decimal("1"))
    with pytest.raises(TypeError, match="__post_init__"):  # its amounts are checked there: replace() it
        evolve(request, volume=Decimal("2"))


def test_an_evolved_copy_of_a_mutable_dataclass_is_independent():
    @dataclass
    class Box:
        n: int

    box = Box(1)
    copy = evolve(box)
    copy.n = 2
    assert box.n == 1
