"""Orders and their fills: the intent written durably before an order leaves, each fill recorded once.

Money is stored as TEXT holding ``str(Decimal)`` so nothing passes through float.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Iterable

from krakenbot.store.audit import insert_audit, to_json
from krakenbot.store.database import Database, StoreError

__all__ = ["FillRecord", "OrderRecord", "Orders", "SETTLED_STATUSES"]

# Statuses in which an order can no longer rest on the book, fill further or block a pair: the
# execution package's TERMINAL_STATUSES (a unit test keeps the two equal; the store does not import
# the execution package).
SETTLED_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED", "VALIDATED"})


@dataclass(frozen=True)
class OrderRecord:
    """The bot's view of one order; ``status`` is an ``OrderStatus`` value (a string here,
    so the store does not depend on the execution package)."""

    cl_ord_id: str
    pair: str
    side: str
    ordertype: str
    volume: Decimal
    price: Decimal | None
    status: str
    created_at: float
    updated_at: float
    txid: str | None = None
    volume_executed: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    intent: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True)
class FillRecord:
    """One execution, as Kraken reported it (TradesHistory / QueryTrades)."""

    trade_id: str
    txid: str
    pair: str
    side: str
    price: Decimal
    volume: Decimal
    cost: Decimal
    fee: Decimal
    time: float
    maker: bool
    cl_ord_id: str | None = None
    seq: int | None = None  # insertion order in the store, set when read back


_ORDER_COLUMNS = ("cl_ord_id", "txid", "pair", "side", "ordertype", "volume", "price", "status", "volume_executed",
                  "cost", "fee", "created_at", "updated_at", "intent", "reason")
_INSERT_ORDER = f"INSERT INTO orders({', '.join(_ORDER_COLUMNS)}) VALUES ({', '.join('?' * len(_ORDER_COLUMNS))})"
# The order columns ``update_order`` may change (never the key, the pair, side or type).
_UPDATABLE = frozenset({"txid", "status", "volume_executed", "cost", "fee", "updated_at", "intent", "reason",
                        "volume", "price"})


def _column(name: str, value: Any) -> Any:
    """One order column as it is stored."""
    if name in ("volume", "volume_executed", "cost", "fee", "price"):
        return None if value is None else str(value)
    if name in ("created_at", "updated_at"):
        return float(value)
    if name == "intent":
        return to_json(value)
    return value


def _order_row(o: OrderRecord) -> tuple[Any, ...]:
    """An order's columns in ``_ORDER_COLUMNS`` order, as ``_column`` stores each."""
    return (o.cl_ord_id, o.txid, o.pair, o.side, o.ordertype, str(o.volume), None if o.price is None else str(o.price),
            o.status, str(o.volume_executed), str(o.cost), str(o.fee), float(o.created_at), float(o.updated_at),
            to_json(o.intent), o.reason)


def _order_from_row(r: sqlite3.Row) -> OrderRecord:
    return OrderRecord(
        cl_ord_id=r["cl_ord_id"], txid=r["txid"], pair=r["pair"], side=r["side"], ordertype=r["ordertype"],
        volume=Decimal(r["volume"]), price=None if r["price"] is None else Decimal(r["price"]), status=r["status"],
        volume_executed=Decimal(r["volume_executed"]), cost=Decimal(r["cost"]), fee=Decimal(r["fee"]),
        created_at=r["created_at"], updated_at=r["updated_at"], intent=json.loads(r["intent"]), reason=r["reason"],
    )


class Orders(Database):
    # -- orders ----------------------------------------------------------------------------
    def record_intent(self, order: OrderRecord, audit: dict[str, Any] | None = None) -> None:
        """Record an order *before* it is sent, with its audit row (``append_audit``'s event) in the
        same commit when given. Returns once both are on disk (a durable commit); raises
        ``sqlite3.IntegrityError`` if the cl_ord_id exists, any other ``sqlite3.Error`` when the file
        refuses the write (then nothing is recorded and the order must not leave)."""
        with self.tx(durable=True) as db:
            db.execute(_INSERT_ORDER, _order_row(order))
            if audit is not None:
                insert_audit(db, audit)

    def upsert_order(self, order: OrderRecord) -> None:
        """Insert an order or overwrite the one with its cl_ord_id (adopting an order found on the
        exchange, tests); a txid already owned by another order raises ``sqlite3.IntegrityError``."""
        assignments = ", ".join(f"{name} = excluded.{name}" for name in _ORDER_COLUMNS[1:])
        with self.tx() as db:
            db.execute(f"{_INSERT_ORDER} ON CONFLICT(cl_ord_id) DO UPDATE SET {assignments}", _order_row(order))

    def update_order(self, cl_ord_id: str, current: OrderRecord | None = None, **changes: Any) -> OrderRecord:
        """Change some fields of one order in one transaction (only those columns: an UPDATE, never a
        REPLACE, which could silently delete another order owning the same txid); returns the new
        record. ``current``: the record the caller holds under its order lock, so none is read back."""
        unknown = changes.keys() - _UPDATABLE
        if unknown:
            raise StoreError(f"cannot update order fields {sorted(unknown)}")
        with self.tx() as db:
            if current is None or current.cl_ord_id != cl_ord_id:
                row = db.execute("SELECT * FROM orders WHERE cl_ord_id = ?", (cl_ord_id,)).fetchone()
                current = None if row is None else _order_from_row(row)
            if current is None:
                raise StoreError(f"unknown order {cl_ord_id}")
            if changes:
                cur = db.execute(f"UPDATE orders SET {', '.join(f'{n} = ?' for n in changes)} WHERE cl_ord_id = ?",
                                 (*(_column(n, v) for n, v in changes.items()), cl_ord_id))
                if cur.rowcount != 1:
                    raise StoreError(f"unknown order {cl_ord_id}")
        return replace(current, **changes)

    def get_order(self, cl_ord_id: str) -> OrderRecord | None:
        rows = self._query("SELECT * FROM orders WHERE cl_ord_id = ?", (cl_ord_id,))
        return _order_from_row(rows[0]) if rows else None

    def order_by_txid(self, txid: str) -> OrderRecord | None:
        rows = self._query("SELECT * FROM orders WHERE txid = ?", (txid,))
        return _order_from_row(rows[0]) if rows else None

    def orders(self, statuses: Iterable[str] | None = None, pair: str | None = None) -> list[OrderRecord]:
        """Orders oldest first (created_at, then insertion), optionally of some statuses and one pair."""
        sql, args = "SELECT * FROM orders WHERE 1=1", []
        if statuses is not None:
            statuses = list(statuses)
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args += statuses
        if pair is not None:
            sql += " AND pair = ?"
            args.append(pair)
        return [_order_from_row(r) for r in self._query(sql + " ORDER BY created_at, rowid", args)]

    def orders_short_of_fills(self, cl_ord_ids: Iterable[str]) -> list[tuple[OrderRecord, Decimal]]:
        """Those of these orders whose executed volume exceeds their recorded fills, each with the volume
        missing (one query: the risk snapshot asks before every order while any is owed)."""
        ids = list(cl_ord_ids)
        if not ids:
            return []
        rows = self._query(
            "SELECT o.*, (SELECT group_concat(f.volume, ' ') FROM fills f WHERE f.txid = o.txid) AS filled "
            f"FROM orders o WHERE o.cl_ord_id IN ({','.join('?' * len(ids))}) AND o.txid IS NOT NULL "
            "ORDER BY o.created_at, o.rowid", ids)
        out = []
        for r in rows:
            order = _order_from_row(r)
            gap = order.volume_executed - sum((Decimal(v) for v in (r["filled"] or "").split()), Decimal(0))
            if gap > 0:
                out.append((order, gap))
        return out

    # -- fills ---------------------------------------------------------------------------
    def record_fill(self, fill: FillRecord) -> bool:
        """Record a fill once: returns False (and changes nothing) if its trade id is known."""
        try:
            with self.tx() as db:
                db.execute(
                    "INSERT INTO fills(trade_id, seq, txid, cl_ord_id, pair, side, price, volume, cost, fee, time, "
                    "maker) VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM fills), ?,?,?,?,?,?,?,?,?,?)",
                    (fill.trade_id, fill.txid, fill.cl_ord_id, fill.pair, fill.side, str(fill.price),
                     str(fill.volume), str(fill.cost), str(fill.fee), float(fill.time), int(fill.maker)),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def has_fill(self, trade_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM fills WHERE trade_id = ?", (trade_id,)))

    def fills(self, pair: str | None = None, txid: str | None = None, after_seq: int = 0) -> list[FillRecord]:
        sql, args = "SELECT * FROM fills WHERE seq > ?", [after_seq]
        if pair is not None:
            sql += " AND pair = ?"
            args.append(pair)
        if txid is not None:
            sql += " AND txid = ?"
            args.append(txid)
        return [
            FillRecord(trade_id=r["trade_id"], txid=r["txid"], cl_ord_id=r["cl_ord_id"], pair=r["pair"],
                       side=r["side"], price=Decimal(r["price"]), volume=Decimal(r["volume"]), cost=Decimal(r["cost"]),
                       fee=Decimal(r["fee"]), time=r["time"], maker=bool(r["maker"]), seq=r["seq"])
            for r in self._query(sql + " ORDER BY time, seq", args)
        ]

    def last_fill_seq(self) -> int:
        return int(self._query("SELECT max(seq) FROM fills")[0][0] or 0)
