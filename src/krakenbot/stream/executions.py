"""The private ``executions`` stream: the exchange's own notice of each order event and fill.

Each connection takes a fresh token (``GetWebSocketsToken`` through the bot's guarded REST
client: the allowlist and the audit see it) and subscribes ``executions`` with the open
orders and the last fills as a snapshot. Events reach ``on_event`` as ``ExecEvent``s (Decimal
quantities, fees); a fill is delivered once per ``exec_id`` once ``on_event`` took it (returned
anything but None), even when a later snapshot repeats it; one it left (None) is offered again.

What the stream cannot vouch for it says: every connection starts with "needs REST
reconciliation" (events may have happened while no stream listened), and a ``sequence`` gap
or a lost connection says it again. The bot reconciles over REST, then calls
``reconciled(epoch)`` with the epoch it read before reconciling, so a gap that came during
the reconciliation is not cleared by it.

The token is a session credential: it is never logged, never put in an error or a repr, and
this client sends only ``subscribe`` and ``unsubscribe`` (no order method can leave from here).
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from krakenbot.stream.connection import StreamConnection

log = logging.getLogger("krakenbot.stream")

PRIVATE_URL = "wss://ws-auth.kraken.com/v2"
_SENDABLE = frozenset({"subscribe", "unsubscribe"})
_SEEN_FILLS = 10_000  # exec_ids remembered for de-duplication (bounded)


@dataclass(frozen=True)
class ExecEvent:
    exec_type: str  # pending_new, new, trade, filled, canceled, expired, amended, restated, status...
    order_id: str
    cl_ord_id: str | None
    order_status: str | None
    symbol: str | None
    side: str | None
    cum_qty: Decimal | None
    cum_cost: Decimal | None
    avg_price: Decimal | None
    exec_id: str | None  # a fill's id (trade events)
    last_qty: Decimal | None
    last_price: Decimal | None
    cost: Decimal | None  # a fill's cost (last_qty x last_price)
    maker: bool | None  # a fill's liquidity: maker (True) or taker
    fees: tuple[tuple[str, Decimal], ...]
    timestamp: str | None
    sequence: int
    snapshot: bool  # from the subscription's snapshot (an open order or a past fill), not news


class ExecutionsStream(StreamConnection):
    name = "executions stream"

    def __init__(self, url: str, token: Callable[[], str], on_event: Callable[[ExecEvent], None], *,
                 snap_trades: bool = True, silence_s: float = 10.0, **options: Any) -> None:
        super().__init__(url, silence_s=silence_s, **options)
        self._token_source = token
        self._token: str | None = None
        self.on_event = on_event
        self.snap_trades = snap_trades
        self.sequence: int | None = None  # the last sequence seen on this subscription
        self._seen: deque[str] = deque(maxlen=_SEEN_FILLS)
        self._seen_set: set[str] = set()
        self._lock = threading.Lock()
        self.epoch = 0  # moves on every reason to reconcile
        self.reconcile_reason: str | None = "not connected yet"
        self.subscribed = False

    # -- reconciliation --------------------------------------------------------------------------------
    @property
    def needs_reconciliation(self) -> bool:
        return self.reconcile_reason is not None

    def reconciled(self, epoch: int) -> bool:
        """The bot reconciled over REST after reading ``epoch``: clear the flag unless something
        new happened since (then it stays, and the bot reconciles again)."""
        with self._lock:
            if epoch != self.epoch or not self.subscribed:
                return False
            self.reconcile_reason = None
            return True

    def _must_reconcile(self, reason: str) -> None:
        with self._lock:
            self.epoch += 1
            self.reconcile_reason = reason
        log.warning("%s: REST reconciliation needed: %s", self.name, reason)

    # -- the connection -------------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        token = self._token
        return text.replace(token, "<token>") if token else text

    def _send(self, method: str, params: dict[str, Any] | None = None) -> int:
        if method not in _SENDABLE:  # the token could place orders: nothing but subscriptions leaves here
            raise PermissionError(f"{self.name} sends no {method!r}")
        return super()._send(method, params)

    def _on_open(self) -> None:
        try:  # fresh per connection, as Kraken asks; through the guarded REST client
            self._token = self._token_source()
        except Exception as exc:
            raise ConnectionError(f"no WebSocket token: {type(exc).__name__}: {exc}") from None
        self.sequence = None
        self._send("subscribe", {"channel": "executions", "token": self._token, "snap_orders": True,
                                 "snap_trades": self.snap_trades})

    def _on_down(self, problem: str) -> None:
        was = self.subscribed
        self.subscribed = False
        if was:
            self._must_reconcile(f"connection lost ({problem})")

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("channel") == "executions":
            self._executions(message)
        elif message.get("channel") == "status":
            self._status(message)
        elif message.get("method") == "subscribe":
            if message.get("success") is True:
                self.subscribed = True
                self._must_reconcile("subscribed: what happened while no stream listened is for REST to say")
                self._worked()
            else:
                error = self._scrub(str(message.get("error", "refused")))
                log.error("%s: executions subscription refused: %s", self.name, error)
                raise ConnectionError(f"executions subscription refused: {error}")

    def _executions(self, message: dict[str, Any]) -> None:
        sequence = message.get("sequence")
        snapshot = message.get("type") == "snapshot"
        if isinstance(sequence, int) and not isinstance(sequence, bool):
            if self.sequence is not None and not snapshot and sequence != self.sequence + 1:
                self._must_reconcile(f"sequence gap: {self.sequence} then {sequence}")
            self.sequence = sequence
        for entry in message.get("data") or ():
            try:
                event = _event(entry, self.sequence or 0, snapshot)
            except (KeyError, TypeError, ValueError) as exc:
                self._must_reconcile(f"an execution the stream cannot read ({type(exc).__name__}: {exc})")
                continue
            if event.exec_id is not None and event.exec_id in self._seen_set:
                continue
            try:
                taken = self.on_event(event)
            except Exception:  # the bot's handler failed: the event may be lost to it, so REST must say
                log.exception("%s: the handler failed on %s %s", self.name, event.exec_type, event.order_id)
                self._must_reconcile(f"the handler failed on {event.exec_type} of {event.order_id}")
                continue
            if event.exec_id is not None and taken is not None:  # only a fill the bot took is seen
                if len(self._seen) == self._seen.maxlen:
                    self._seen_set.discard(self._seen[0])
                self._seen.append(event.exec_id)
                self._seen_set.add(event.exec_id)


def _amount(entry: dict[str, Any], key: str) -> Decimal | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise ValueError(f"{key} {value!r} is not a decimal number")


def _text(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _event(entry: dict[str, Any], sequence: int, snapshot: bool) -> ExecEvent:
    if not isinstance(entry, dict):
        raise TypeError("an execution is not an object")
    # a snapshot's open orders may come without an exec_type: they are state, not an event
    exec_type = entry["exec_type"] if not snapshot else entry.get("exec_type", "snapshot")
    order_id = entry["order_id"]
    if not isinstance(exec_type, str) or not isinstance(order_id, str):
        raise TypeError("exec_type and order_id must be strings")
    fees = []
    for fee in entry.get("fees") or ():
        fees.append((str(fee["asset"]), _amount(fee, "qty") or Decimal(0)))
    return ExecEvent(
        exec_type=exec_type, order_id=order_id, cl_ord_id=_text(entry, "cl_ord_id"),
        order_status=_text(entry, "order_status"), symbol=_text(entry, "symbol"), side=_text(entry, "side"),
        cum_qty=_amount(entry, "cum_qty"), cum_cost=_amount(entry, "cum_cost"), avg_price=_amount(entry, "avg_price"),
        exec_id=_text(entry, "exec_id"), last_qty=_amount(entry, "last_qty"), last_price=_amount(entry, "last_price"),
        cost=_amount(entry, "cost"), maker={"m": True, "t": False}.get(entry.get("liquidity_ind")),  # type: ignore[arg-type]
        fees=tuple(fees), timestamp=_text(entry, "timestamp"), sequence=sequence, snapshot=snapshot)
