"""Facts read off one scenario's evidence, shared by several criteria.

Why separate from the criteria: "which requests were the bot's", "which exchange orders are
the bot's" and "when was the breaker open" are each needed by more than one criterion, and
must mean the same thing in all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

RATE_LIMIT_ERRORS = ("EAPI:Rate limit exceeded", "EOrder:Rate limit exceeded")
PROVOKES_RATE_LIMIT_TAG = "provokes-rate-limit"  # honoured if a feature ever uses it
NOT_PLACED = frozenset({"REJECTED", "VALIDATED", "NEW"})


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def safety(row: dict) -> dict:
    return row.get("safety") or {}


def requests(row: dict, *, include_foreign: bool = False) -> list[dict]:
    """Requests that reached the exchange (public/private), oldest first; steps' own left out."""
    foreign = set() if include_foreign else set(safety(row).get("foreign") or ())
    return [r for r in row.get("access_log") or () if r.get("kind") in ("public", "private")
            and r.get("seq") not in foreign]


def mode_at(row: dict, seq: int) -> str | None:
    """The trading mode in force when request ``seq`` arrived (None: before the bot existed)."""
    mode = None
    for segment in sorted(row.get("modes") or (), key=lambda s: s.get("start", 0)):
        if segment.get("start", 0) <= seq:
            mode = segment.get("mode")
    return mode


def is_rate_limit(record: dict) -> bool:
    error = str(record.get("error") or "")
    return any(code in error for code in RATE_LIMIT_ERRORS)


def provoked(row: dict, record: dict) -> bool:
    """A rate-limit refusal the scenario asked for: the simulator's fault record says so."""
    return record.get("outcome") == "fault" or PROVOKES_RATE_LIMIT_TAG in (row.get("tags") or ())


def audit_codes(audit_row: dict) -> list[str]:
    codes = audit_row.get("codes") or []
    return [str(c) for c in codes] if isinstance(codes, list) else [str(codes)]


# -- orders and trades ---------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderFacts:
    store_orders: list[dict]
    store_fills: list[dict]
    exchange_orders: list[dict]  # the bot's orders on the exchange
    exchange_trades: list[dict]  # trades of those orders
    foreign_orders: list[dict]  # orders on the account the bot did not place
    sent_cl_ord_ids: frozenset[str]


def order_facts(row: dict, view: str = "exchange") -> OrderFacts | None:
    """The bot's orders and trades on both sides; None when the scenario recorded no such view. ``view``:
    "exchange", or "venue" (a dry run's local venue, where its orders live)."""
    facts = safety(row)
    store, exchange = facts.get("store") or {}, facts.get(view)
    if not exchange or not store.get("available"):
        return None
    store_orders = list(store.get("orders") or ())
    txids = {o["txid"] for o in store_orders if o.get("txid")}
    cl_ids = {o["cl_ord_id"] for o in store_orders if o.get("cl_ord_id")}
    sent = frozenset(str(r["params"]["cl_ord_id"]) for r in requests(row)
                     if r.get("endpoint") == "AddOrder" and (r.get("params") or {}).get("cl_ord_id")
                     and str(r["params"].get("validate", "")).lower() != "true")
    mine, foreign = [], []
    for order in exchange.get("orders") or ():
        if order.get("txid") in txids or order.get("cl_ord_id") in cl_ids or order.get("cl_ord_id") in sent:
            mine.append(order)
        else:
            foreign.append(order)
    mine_txids = {o.get("txid") for o in mine}
    trades = [t for t in exchange.get("trades") or () if t.get("ordertxid") in mine_txids]
    return OrderFacts(store_orders, list(store.get("fills") or ()), mine, trades, foreign, sent)


KRAKEN_STATUS = {"OPEN": "open", "PARTIALLY_FILLED": "open", "PENDING_SUBMIT": "pending", "FILLED": "closed",
                 "CANCELED": "canceled", "EXPIRED": "expired"}


def kraken_status(store_status: str) -> str:
    """The Kraken status a store status stands for (UNKNOWN and PENDING_CANCEL match none)."""
    return KRAKEN_STATUS.get(store_status, store_status.lower())


def notional(order: dict) -> Decimal | None:
    """An exchange order's value in quote currency: executed cost, else volume x limit price."""
    cost = dec(order.get("cost"))
    if cost:
        return cost
    descr = order.get("descr") or {}
    price, volume = dec(descr.get("price")), dec(order.get("vol"))
    if price and volume:
        return price * volume
    return None


# -- circuit breaker ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenInterval:
    instance: int
    start: int | float  # access-log index (or time, when only the audit trail is known)
    end: int | float | None  # exclusive; None = still open at the end of the scenario
    by_time: bool
    reason: str

    def holds(self, record: dict) -> bool:
        if self.by_time:  # equal timestamps cannot be ordered: only strictly inside counts
            t = record.get("time", 0.0)
            return t > self.start and (self.end is None or t < self.end)
        seq = record.get("seq", -1)
        return seq >= self.start and (self.end is None or seq < self.end)

    def describe(self) -> str:
        unit = "t=" if self.by_time else "#"
        end = "the end of the scenario" if self.end is None else f"{unit}{self.end}"
        return f"breaker {self.instance} open from {unit}{self.start} to {end} ({self.reason})"


def open_intervals(row: dict) -> list[OpenInterval]:
    """When each breaker the scenario built was open, by access-log index (exact) or by time."""
    breaker = safety(row).get("breaker") or {}
    events = breaker.get("events") or []
    if events and all(e.get("index") is not None for e in events):
        instances = sorted(breaker.get("instances") or (), key=lambda i: i.get("instance", 0))
        ends = {i["instance"]: instances[n + 1]["attached_at"] for n, i in enumerate(instances[:-1])}
        return _intervals(events, "index", ends, by_time=False)
    audit = [a for a in row.get("audit") or () if a.get("action") == "breaker"]
    rows = [{"instance": 0, "time": a.get("time"), "new": a.get("outcome"), "reason": a.get("reason", "")}
            for a in audit]
    return _intervals(rows, "time", {}, by_time=True)


def _intervals(events: Iterable[dict], key: str, ends: dict[int, Any], by_time: bool) -> list[OpenInterval]:
    out: list[OpenInterval] = []
    current: dict[int, tuple[Any, str]] = {}
    for event in events:
        instance = event.get("instance", 0)
        if event.get("new") == "open":
            current.setdefault(instance, (event.get(key), str(event.get("reason", ""))))
        elif instance in current:
            start, reason = current.pop(instance)
            out.append(OpenInterval(instance, start, event.get(key), by_time, reason))
    for instance, (start, reason) in current.items():
        out.append(OpenInterval(instance, start, ends.get(instance), by_time, reason))
    return out
