"""Shared values for the domain unit tests (pure logic: no network)."""
from __future__ import annotations

from decimal import Decimal

from krakenbot.models import PairInfo

XBTEUR = PairInfo(
    name="XXBTZEUR", altname="XBTEUR", wsname="XBT/EUR", base="XXBT", quote="ZEUR",
    pair_decimals=1, lot_decimals=8, cost_decimals=5, tick_size=Decimal("0.1"),
    ordermin=Decimal("0.00005"), costmin=Decimal("0.5"), fee_taker=Decimal("0.40"), fee_maker=Decimal("0.25"),
)


def pair_rules(name: str) -> PairInfo:
    if name in (XBTEUR.name, XBTEUR.altname, XBTEUR.wsname):
        return XBTEUR
    raise KeyError(name)
