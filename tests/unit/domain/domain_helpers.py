"""Shared values for the domain unit tests (pure logic: no network)."""
from __future__ import annotations

import sqlite3
from decimal import Decimal

from krakenbot.models import PairInfo
from krakenbot.store import OrderRecord

XBTEUR = PairInfo(
    name="XXBTZEUR", altname="XBTEUR", wsname="XBT/EUR", base="XXBT", quote="ZEUR",
    pair_decimals=1, lot_decimals=8, cost_decimals=5, tick_size=Decimal("0.1"),
    ordermin=Decimal("0.00005"), costmin=Decimal("0.5"), fee_taker=Decimal("0.40"), fee_maker=Decimal("0.25"),
)


class _PairRules:
    """The executor's ``PairRules`` (market data in the bot): XBT/EUR only."""

    def pair_info(self, name: str) -> PairInfo:
        if name in (XBTEUR.name, XBTEUR.altname, XBTEUR.wsname):
            return XBTEUR
        raise KeyError(name)


pair_rules = _PairRules()


def store_order(cid: str = "kb1", **kw) -> OrderRecord:
    """An order record as the executor would write it (fields overridable)."""
    base = dict(cl_ord_id=cid, pair="XXBTZEUR", side="buy", ordertype="limit", volume=Decimal("0.001"),
                price=Decimal("60000.0"), status="PENDING_SUBMIT", created_at=1.0, updated_at=1.0,
                intent={"why": "test"})
    base.update(kw)
    return OrderRecord(**base)


def file_view(path: str) -> tuple[list[tuple], list[str], list[tuple]]:
    """What another connection reads from a store file: orders, audit actions, daily counters."""
    other = sqlite3.connect(path)
    try:
        orders = other.execute("SELECT cl_ord_id, status, txid FROM orders ORDER BY rowid").fetchall()
        actions = [r[0] for r in other.execute("SELECT action FROM audit ORDER BY id")]
        daily = other.execute("SELECT day, name, value FROM daily_counters").fetchall()
    finally:
        other.close()
    return orders, actions, daily
