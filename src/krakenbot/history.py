"""Trade history and realised P&L from the home's store: ``krakenbot orders``, ``trades``, ``pnl``.

Why from the store alone: an operator asks "what did it do, what did it make" when the exchange is
down or the credentials are elsewhere; the store has every order and fill the bot saw. It is opened
read-only (``Store(read_only=True)``): looking at the history never creates, migrates or writes it.
The P&L is the bot's own (``PositionManager``: average cost, net of fees), so ``pnl --daily`` for
today is the figure the daily-loss limit and ``status`` use. Amounts stay the Decimal strings the
exchange sent (``format(x, "f")``, no exponent, no rounding); times are UTC.
"""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, Sequence

from krakenbot.positions import PositionManager
from krakenbot.store import Store, utc_day

__all__ = ["BadArgument", "parse_since", "parse_status", "parse_limit", "utc_time", "orders", "trades", "pnl",
           "render"]

ZERO = Decimal(0)


class BadArgument(ValueError):
    """An option's value the command cannot use (one line, exit 2)."""


# -- arguments ------------------------------------------------------------------------------------
def parse_since(text: str) -> float:
    """``YYYY-MM-DD`` (that UTC day's start) or an ISO time (UTC unless it names an offset)."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadArgument(f"--since must be a date (YYYY-MM-DD) or an ISO time (2026-12-07T14:00:00Z), "
                          f"got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def parse_status(text: str) -> str:
    from krakenbot.execution.order_state import OrderStatus

    names = [s.value for s in OrderStatus]
    wanted = text.strip().upper().replace("-", "_")
    if wanted not in names:
        raise BadArgument(f"--status must be one of {', '.join(names)}, got {text!r}")
    return wanted


def parse_limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BadArgument(f"--limit must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise BadArgument(f"--limit must be >= 1, got {value}")
    return value


# -- the rows -------------------------------------------------------------------------------------
def _amount(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def utc_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def orders(store: Store, pair: str | None = None, status: str | None = None,
           limit: int | None = None) -> list[dict[str, Any]]:
    """The orders, oldest first; ``limit``: the newest N."""
    found = store.orders(statuses=None if status is None else [status], pair=pair)
    if limit is not None:
        found = found[-limit:]
    return [{"created": utc_time(o.created_at), "cl_ord_id": o.cl_ord_id, "txid": o.txid or "", "pair": o.pair,
             "side": o.side, "type": o.ordertype, "volume": _amount(o.volume),
             "price": _amount(o.price) if o.price is not None else "market",
             "executed": _amount(o.volume_executed), "cost": _amount(o.cost), "fee": _amount(o.fee),
             "status": o.status, "reason": o.reason or ""} for o in found]


def trades(store: Store, since: float | None = None, pair: str | None = None) -> list[dict[str, Any]]:
    """The fills, oldest first, each with the PnL it realised (net of fees; a buy realises nothing)."""
    rows = []
    for fill, realised in PositionManager(store).realisations():
        if (since is not None and fill.time < since) or (pair is not None and fill.pair != pair):
            continue
        rows.append({"time": utc_time(fill.time), "trade_id": fill.trade_id, "pair": fill.pair, "side": fill.side,
                     "volume": _amount(fill.volume), "price": _amount(fill.price), "cost": _amount(fill.cost),
                     "fee": _amount(fill.fee), "realised_pnl": _amount(realised) if fill.side == "sell" else "",
                     "txid": fill.txid, "cl_ord_id": fill.cl_ord_id or ""})
    return rows


def pnl(store: Store, daily: bool = False, pair: str | None = None) -> list[dict[str, Any]]:
    """Realised PnL net of fees per pair (``daily``: per UTC day and pair, with an ``all`` row for a day
    of several pairs, the figure ``status`` shows for today)."""
    manager = PositionManager(store)
    if not daily:
        return [{"pair": p.pair, "realised_pnl": _amount(p.realised_pnl), "fees": _amount(p.fees_paid),
                 "held": _amount(p.volume), "cost_basis": _amount(p.cost_basis)}
                for p in sorted(manager.positions().values(), key=lambda p: p.pair)
                if pair is None or p.pair == pair]
    days: dict[str, dict[str, list[Decimal]]] = defaultdict(dict)  # day -> pair -> [fills, fees, realised]
    for fill, realised in manager.realisations():
        if pair is not None and fill.pair != pair:
            continue
        entry = days[utc_day(fill.time)].setdefault(fill.pair, [ZERO, ZERO, ZERO])
        entry[0] += 1
        entry[1] += fill.fee
        entry[2] += realised
    rows = []
    for day in sorted(days):
        for name, (count, fees, realised) in sorted(days[day].items()):
            rows.append({"day": day, "pair": name, "fills": int(count), "fees": _amount(fees),
                         "realised_pnl": _amount(realised)})
        if len(days[day]) > 1:
            totals = [sum((v[i] for v in days[day].values()), ZERO) for i in range(3)]
            rows.append({"day": day, "pair": "all", "fills": int(totals[0]), "fees": _amount(totals[1]),
                         "realised_pnl": _amount(totals[2])})
    return rows


# -- output ---------------------------------------------------------------------------------------
_RIGHT = {"volume", "price", "executed", "cost", "fee", "fees", "realised_pnl", "held", "cost_basis", "fills"}


def render(kind: str, rows: Sequence[dict[str, Any]], as_json: bool = False,
           columns: Iterable[str] | None = None, books: str | None = None) -> str:
    """One JSON document (``{kind: rows}``, amounts as strings), or an aligned table (numbers to the right).
    ``books``: whose books they are when not live ones (``"dry run"``), named in the document."""
    if as_json:
        return json.dumps({**({"books": books} if books else {}), kind: list(rows)}, indent=2)
    if not rows:
        return f"no {kind} in the {books + chr(39) + 's ' if books else ''}store"
    names = list(columns or rows[0].keys())
    cells = [[name.upper() for name in names]] + [[str(row[name]) for name in names] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(names))]
    lines = ["  ".join(cell.rjust(w) if names[i] in _RIGHT else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(line, widths))).rstrip() for line in cells]
    return "\n".join(lines)
