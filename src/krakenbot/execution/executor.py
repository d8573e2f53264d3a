"""Placing, cancelling and following orders without ever doubling one.

The rules, in order of importance:
1. Every order gets a fresh ``cl_ord_id`` and is on disk in ``PENDING_SUBMIT`` (a durable
   commit) *before* the AddOrder request is built: after a crash the bot knows what it may
   have sent. If that write fails the order is refused (``IntentNotDurable``), nothing sent.
2. AddOrder is never re-sent. An ambiguous failure (timeout, reset, 5xx, dropped
   reply, ``EService:Unavailable``, anything unexpected) makes the order ``UNKNOWN``;
   it is resolved by looking the ``cl_ord_id`` up in OpenOrders, then ClosedOrders
   (filtered, then by scanning when the filter is not honoured). Found: adopt its txid
   and status. Absent once its ``deadline`` has passed (Kraken refuses to execute it
   after that): ``REJECTED`` (not placed) - only then may a *new* intent be placed.
3. While any order on a pair is ``UNKNOWN``, nothing new goes out on that pair.
4. Fills come from TradesHistory/QueryTrades, keyed by trade id (recorded once), and
   each fee is checked against the pair's fee schedule. Fills a read could not record are owed
   (kept in the store, so a restart knows them too): read again at the next refresh, then less
   and less often while they stay unreadable; counted by the risk checks meanwhile, and nothing
   that adds exposure goes out until they are recorded.
5. An answer that contradicts what the exchange shows (an AddOrder answer naming another
   order's txid, a txid Kraken does not know, an ``EOrder:`` refusal for an order that is on
   the book) is never taken on trust: it is recorded (``exchange_contradiction``), the pair is
   halted until the operator clears it, and the order's record follows the exchange, found by
   ``cl_ord_id``. The other pairs, and the store, go on working.

Status changes go through ``order_state.apply`` only.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import weakref
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable

from krakenbot.clock import Clock
from krakenbot.errors import (
    DeadlineElapsedError,
    IntentNotDurable,
    KrakenError,
    LocalRefusal,
    MarketModeError,
    ServiceUnavailableError,
    TransportError,
    UnknownOrderError,
)
from krakenbot.execution.fills import AccountFees, fee_discrepancy, fetch_trades
from krakenbot.execution.order_state import (
    ACTIVE_STATUSES,
    EXCHANGE_STATUS_FOR_EVENT,
    TERMINAL_STATUSES,
    InvalidTransition,
    OrderEvent,
    OrderStatus,
    apply,
    event_for_exchange_status,
)
from krakenbot.models import OrderInfo, OrderRequest, OrderType, PairInfo, Side, TradeInfo
from krakenbot.positions import Discrepancy
from krakenbot.risk.manager import halt_pair
from krakenbot.store import FillRecord, OrderRecord, Store, StoreError, utc_day

log = logging.getLogger(__name__)
# What the operator reads for each status an order reaches (the log's order events).
_SAID = {"OPEN": "acknowledged", "PARTIALLY_FILLED": "partly filled", "FILLED": "filled",
         "PENDING_CANCEL": "cancel sent", "CANCELED": "cancelled", "EXPIRED": "expired", "REJECTED": "refused",
         "UNKNOWN": "outcome unknown", "VALIDATED": "validated (paper: nothing placed)",
         "PENDING_SUBMIT": "sent"}

if TYPE_CHECKING:
    from krakenbot.market_data import PairRules

__all__ = ["CancelNotRecorded", "Executor", "OutcomeNotRecorded", "PlacementResult", "UnknownOrderOutstanding",
           "is_ambiguous", "query_orders_isolating"]

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_CLOSED_PAGE = 50   # ClosedOrders page size
_SCAN_PAGES = 20    # at most 1,000 closed orders scanned for one lookup; beyond that: still UNKNOWN
_PRICED = {OrderType.LIMIT, OrderType.STOP_LOSS, OrderType.TAKE_PROFIT,
           OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT}


_ID_ATTEMPTS = 100
# An order's time is ours, its trades' times the exchange's, which may differ by as much as the skew the bot
# still trades with (ServerClock.max_skew_seconds): a trade look-up by time starts well before the order.
TRADE_LOOKBACK_S = 60
# Owed fills that a re-read could not record are read again after this long, doubling after every
# failed re-read up to the most: each TradesHistory read costs 2 points of the API counter.
OWED_FILLS_RETRY_S = 60.0
OWED_FILLS_RETRY_MAX_S = 900.0
# meta: the cl_ord_ids of orders whose executed volume has fills a read could not record. A record,
# not a scan for orders short of fills: a fill lost from the store is the reconciliation's to name
# (fill_missing) and the start-up's to take back, and a trade before the baseline is never recorded.
FILLS_OWED_KEY = "executor.fills_owed"
# unknown_pairs() runs before every order: the status values once, not an Enum property per read
_UNKNOWN = OrderStatus.UNKNOWN.value
_ACTIVE = tuple(sorted(s.value for s in ACTIVE_STATUSES))
_OUTCOME_UNKNOWN_OR_IN_FLIGHT = (OrderStatus.UNKNOWN.value, OrderStatus.PENDING_SUBMIT.value)


class _IdTaken(Exception):
    """The store already holds the drawn cl_ord_id (e.g. another process with the same BOT_ID)."""


class UnknownOrderOutstanding(LocalRefusal):
    """An earlier order on this pair has an unknown outcome; nothing was sent."""


class CancelNotRecorded(StoreError):
    """A cancel whose record the store refused; ``sent`` says whether the request left (it does
    whenever the exchange could be asked: reducing exposure never waits on the disk)."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class OutcomeNotRecorded(StoreError):
    """The order's intent is on disk but what followed could not be recorded: the order stays
    PENDING_SUBMIT in the store, which blocks its pair until a lookup settles it. ``sent``: whether
    the AddOrder request may have left (False: the bot refused it itself, e.g. ``NonceNotSaved``).
    ``txid``: the exchange's id when it acknowledged the order (then it is placed), else None."""

    def __init__(self, message: str, *, cl_ord_id: str, txid: str | None, sent: bool = True) -> None:
        super().__init__(message)
        self.cl_ord_id, self.txid, self.sent = cl_ord_id, txid, sent


@dataclass(frozen=True)
class PlacementResult:
    cl_ord_id: str
    status: OrderStatus
    txid: str | None
    placed: bool             # an order exists (or existed) on the exchange
    reason: str | None = None
    validated_only: bool = False
    order: OrderRecord | None = None
    refusal: LocalRefusal | None = None  # the bot's own refusal at the send (nothing left), for its name

    @property
    def accepted(self) -> bool:
        return self.status is not OrderStatus.REJECTED


def exchange_now(client: Any, clock: Clock) -> float:
    """The exchange's time by the client's estimate (the local clock for a client that has none)."""
    now = getattr(client, "exchange_time", None)
    return float(now()) if callable(now) else clock.time()


def base36(n: int) -> str:
    """``n`` (>= 0) in base 36, lower case: the compact ids of orders (here and in the dry-run venue)."""
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _BASE36[r] + out
        if n == 0:
            return out


def is_ambiguous(error: BaseException) -> bool:
    """Could AddOrder have taken effect despite this error? (Then: UNKNOWN, look it up.)"""
    if isinstance(error, (LocalRefusal, MarketModeError, DeadlineElapsedError)):
        return False
    if isinstance(error, (TransportError, ServiceUnavailableError)):
        return True
    if isinstance(error, KrakenError):
        # A typed Kraken rejection (funds, minimums, auth, nonce, rate limit) was not placed;
        # an untyped one we do not understand is treated as ambiguous (fail closed).
        return type(error) is KrakenError
    return True  # a bug or an unexpected exception mid-flight: assume it may have landed


def _rests(wire: OrderRequest) -> bool:
    """A GTC/GTD limit order: the ack's txid already proves placement, so it is not read back at
    once (one QueryOrders per order); if it crossed, its fills come with the next ``refresh()``.
    Market, IOC and trigger orders are read back: they fill (or end) at once."""
    return wire.ordertype is OrderType.LIMIT and str(wire.timeinforce or "GTC").upper() != "IOC"


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class Executor:
    def __init__(
        self,
        client: Any,
        store: Store,
        clock: Clock,
        pair_rules: PairRules,
        *,
        settle_seconds: float = 1.0,
        wait_for_unknown: bool = True,
        sync_after_place: bool = True,
        id_prefix: str = "kb",
        bot_id: str | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.clock = clock
        self.pair_rules = pair_rules
        self.settle_seconds = settle_seconds
        self.wait_for_unknown = wait_for_unknown
        self.sync_after_place = sync_after_place
        self.fees = AccountFees(client, store, clock)  # the account's own fee tier, as read over time
        self.fee_mismatches: list[Discrepancy] = []
        self.contradictions: list[Discrepancy] = []  # exchange answers that contradicted the exchange
        # prefix + this bot's id (two bots on one account never collide, and recovery adopts only
        # its own orders) + time + counter. Without BOT_ID the id is drawn once per store and kept
        # in its meta table, so a restarted bot on the same store recognises its orders.
        self.bot_id = bot_id or self._stored_bot_id()
        self._id_head = id_prefix + self.bot_id
        # A restart on the same store (same bot id) continues after the last id it made, even
        # when the clock has not moved since (a ManualClock) or stepped back.
        self._last_millis = self._last_stored_millis()
        self._seq = 1295 if self._last_millis >= 0 else -1
        self._lock = threading.RLock()
        # Weak values: a lock lives while someone holds it, so a long run keeps no lock per past order.
        self._order_locks: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        self._in_flight: set[str] = set()  # cl_ord_ids whose AddOrder this executor is sending now
        # When owed fills (``unrecorded_fills``, FILLS_OWED_KEY) are next read again, and the delay after the
        # last failed re-read (0: none failed since the last that recorded them all).
        self._owed_retry_at = float("-inf")
        self._owed_retry_s = 0.0
        # Each called ``(order, was)`` after every status change is committed (metrics, notifications):
        # cheap, and never raising (they run on the order path).
        self.order_listeners: list[Callable[[OrderRecord, str], Any]] = []

    BOT_ID_KEY = "bot_id"

    def _stored_bot_id(self) -> str:
        known = self.store.get_meta(self.BOT_ID_KEY)
        if known:
            return known
        drawn = base36(int.from_bytes(os.urandom(4), "big") % 36 ** 4).rjust(4, "0")
        self.store.set_meta(self.BOT_ID_KEY, drawn)
        return drawn

    def _last_stored_millis(self) -> int:
        head, last = self._id_head, -1
        for order in self.store.orders():
            cid = order.cl_ord_id
            if cid.startswith(head) and len(cid) == len(head) + 11:
                try:
                    last = max(last, int(cid[len(head):len(head) + 9], 36))
                except ValueError:
                    continue
        return last

    def _exchange_now(self) -> float:
        """The deadline Kraken honours is in its time, so a local clock running ahead must not make
        us give up on an order early."""
        return exchange_now(self.client, self.clock)

    @property
    def id_head(self) -> str:
        """The start of every ``cl_ord_id`` this bot creates (prefix + bot id)."""
        return self._id_head

    @property
    def deadline_seconds(self) -> float:
        """How long Kraken may take to execute an AddOrder: the client's ``deadline``."""
        return float(getattr(self.client, "order_deadline", None) or 15.0)

    # -- ids and locks -------------------------------------------------------------------------
    def new_cl_ord_id(self) -> str:
        """Short ASCII id, 17 chars: ``kb`` + bot id (4) + ms time + counter (base36).

        Strictly increasing within the process and, from start-up on, after every id of this bot
        in the store (``_last_stored_millis``), so a restart in the same millisecond or after the
        clock stepped back cannot repeat one; the store's primary key is the last word (``place``)."""
        return self._next_cl_ord_id()

    def _next_cl_ord_id(self) -> str:
        with self._lock:
            # (millis, seq) strictly increases within a process, even if the clock stands still
            millis = max(int(self.clock.time() * 1000), self._last_millis)
            if millis == self._last_millis:
                self._seq += 1
                if self._seq >= 1296:
                    millis, self._seq = millis + 1, 0
            else:
                self._seq = 0
            self._last_millis = millis
            seq = self._seq
        return f"{self._id_head}{base36(millis % 36 ** 9).rjust(9, '0')}{base36(seq).rjust(2, '0')}"

    def _order_lock(self, cl_ord_id: str) -> threading.RLock:
        with self._lock:
            return self._order_locks.setdefault(cl_ord_id, threading.RLock())

    # -- queries ---------------------------------------------------------------------------------
    def order(self, cl_ord_id: str) -> OrderRecord | None:
        return self.store.get_order(cl_ord_id)

    def open_orders(self) -> list[OrderRecord]:
        """Orders that are (or may be) on the book, from the store (the risk snapshot asks before every order)."""
        return self.store.orders(statuses=_ACTIVE)

    def unknown_pairs(self) -> frozenset[str]:
        """Pairs with an order whose outcome nobody knows: UNKNOWN, or PENDING_SUBMIT but not
        being sent by this executor (a send that died with its process may have landed)."""
        with self._lock:
            in_flight = set(self._in_flight)
        rows = self.store.orders(statuses=_OUTCOME_UNKNOWN_OR_IN_FLIGHT)
        return frozenset(o.pair for o in rows if o.status == _UNKNOWN or o.cl_ord_id not in in_flight)

    # -- state changes -----------------------------------------------------------------------
    def _transition(self, order: OrderRecord, event: OrderEvent, **changes: Any) -> OrderRecord:
        new = apply(order.status, event).value
        moved = new != order.status
        with self.store.batch():  # the change and its audit row: one commit, both or neither
            # the record this executor holds under the order's lock: no read-back of the row
            updated = self.store.update_order(order.cl_ord_id, current=order, status=new,
                                              updated_at=self.clock.time(), **changes)
            if moved or updated.volume_executed != order.volume_executed:
                _log_order_event(updated, order.status, changes.get("reason"))
            if moved:
                self.store.append_audit({
                    "time": self.clock.time(), "actor": "executor", "action": "order_status", "outcome": new,
                    "detail": {"cl_ord_id": order.cl_ord_id, "txid": updated.txid, "from": order.status,
                               "event": event.value, "reason": changes.get("reason")},
                })
        if moved:
            for listener in self.order_listeners:
                listener(updated, order.status)
        return updated

    def _count_placed(self) -> None:
        self.store.add_daily(utc_day(self.clock.time()), "trades", 1)

    def _contradiction(self, order: OrderRecord, kind: str, answer: str, detail: str) -> None:
        """An exchange answer about ``order`` that the exchange itself contradicts: record it and halt
        the order's pair (new orders there wait for the operator; the other pairs trade on)."""
        self.contradictions.append(Discrepancy(kind, order.cl_ord_id, answer, None, detail))
        log.warning("exchange answer contradicts order %s (%s: %s): pair %s halted", order.cl_ord_id, kind, detail,
                    order.pair, extra={"fields": {"kind": kind, "cl_ord_id": order.cl_ord_id, "pair": order.pair}})
        self.store.append_audit({
            "time": self.clock.time(), "actor": "executor", "action": "exchange_contradiction",
            "outcome": "pair_halted", "allowed": False,
            "detail": {"kind": kind, "cl_ord_id": order.cl_ord_id, "pair": order.pair, "answer": answer,
                       "why": detail},
        })
        halt_pair(self.store, self.clock, order.pair, f"exchange answer contradicted order {order.cl_ord_id} "
                  f"({kind}: {detail})", actor="executor")

    # -- place ------------------------------------------------------------------------------------
    def place(self, request: OrderRequest, *, reason: str = "",
              on_ack: Callable[[OrderRecord], Any] | None = None) -> PlacementResult:
        """Round, validate locally, record, send once, and settle the outcome. ``on_ack(order)`` runs inside
        the commit that records an acknowledgement not followed by a read-back (a resting limit), so the
        caller's own audit row of the outcome shares that commit; otherwise it is not called."""
        for _ in range(_ID_ATTEMPTS):
            try:
                return self._place(request, reason, on_ack)
            except _IdTaken:
                continue  # nothing was recorded or sent under that id: draw the next one
        raise LocalRefusal(f"no free client order id after {_ID_ATTEMPTS} attempts; nothing sent")

    def _place(self, request: OrderRequest, reason: str, on_ack: Callable[[OrderRecord], Any] | None = None
               ) -> PlacementResult:
        info = self.pair_rules.pair_info(request.pair)
        pair = info.name
        volume = info.round_volume(Decimal(request.volume))
        price = info.round_price(Decimal(request.price)) if request.price is not None else None
        price2 = info.round_price(Decimal(request.price2)) if request.price2 is not None else None
        # The id generator continues after every id of this bot in the store, so the store's
        # PRIMARY KEY is the check (an IntegrityError below), not a SELECT before every order.
        cl_ord_id = self.new_cl_ord_id()
        now = self.clock.time()
        deadline = self._exchange_now() + self.deadline_seconds  # exchange time; recorded and sent alike
        wire = OrderRequest(pair=pair, side=request.side, ordertype=request.ordertype, volume=volume, price=price,
                            price2=price2, cl_ord_id=cl_ord_id, post_only=request.post_only,
                            timeinforce=request.timeinforce, expiretm=request.expiretm, validate=request.validate,
                            deadline=deadline)
        problem = self._local_problem(wire, info)
        side, ordertype = wire.side.value, wire.ordertype.value
        intent = {
            "pair": pair, "side": side, "ordertype": ordertype,
            "volume": str(volume), "price": None if price is None else str(price),
            "price2": None if price2 is None else str(price2), "post_only": wire.post_only,
            "timeinforce": wire.timeinforce, "validate": wire.validate, "why": reason,
            "requested_volume": str(request.volume),
            "deadline": deadline,  # the very value the request carries
        }
        status = apply(OrderStatus.NEW, OrderEvent.REJECT if problem else OrderEvent.SUBMIT).value
        record = OrderRecord(cl_ord_id=cl_ord_id, pair=pair, side=side, ordertype=ordertype, volume=volume,
                             price=price, status=status, created_at=now, updated_at=now, intent=intent, reason=problem)
        with self._lock:
            # The check and the durable write sit under one lock so two threads cannot
            # both pass it; the send itself happens outside the lock.
            if not problem and pair in self.unknown_pairs():
                raise UnknownOrderOutstanding(
                    f"an order on {pair} has an unknown outcome; no new order until it is resolved")
            try:
                # The intent and its audit row: one durable commit, on disk before the request exists.
                self.store.record_intent(record, audit={
                    "time": now, "actor": "executor", "action": "order_intent", "outcome": status,
                    "allowed": not problem,
                    "detail": {"cl_ord_id": cl_ord_id, "pair": pair, "side": side,
                               "ordertype": ordertype, "volume": intent["volume"],
                               "price": intent["price"], "validate": wire.validate, "reason": problem},
                })
            except sqlite3.IntegrityError:
                if self.store.get_order(cl_ord_id) is None:
                    raise
                raise _IdTaken(cl_ord_id) from None
            except (sqlite3.Error, StoreError) as error:  # disk full, read-only, an I/O error at the sync
                raise IntentNotDurable(f"AddOrder: not sent, the order's intent could not be recorded ({error})",
                                       (), "AddOrder") from error
            if not problem:
                self._in_flight.add(cl_ord_id)
        _log_order_event(record, OrderStatus.NEW.value, problem)
        for listener in self.order_listeners:
            listener(record, OrderStatus.NEW.value)
        if problem:
            return PlacementResult(cl_ord_id, OrderStatus.REJECTED, None, False, problem, order=record)
        try:
            with self._order_lock(cl_ord_id):
                return self._send(record, wire, on_ack)
        finally:
            with self._lock:
                self._in_flight.discard(cl_ord_id)

    def _local_problem(self, wire: OrderRequest, info: PairInfo) -> str | None:
        """Refuse here what Kraken would refuse, so nothing is sent (and no rate budget burnt)."""
        if info.status not in ("online", "post_only", "limit_only"):
            return f"pair {info.altname} status is {info.status}"
        if wire.volume <= 0:
            return f"volume {wire.volume} rounds to nothing at {info.lot_decimals} decimals"
        if wire.volume < info.ordermin:
            return f"volume {wire.volume} below ordermin {info.ordermin} ({info.altname})"
        if wire.ordertype in _PRICED and wire.price is None:
            return f"{wire.ordertype.value} order needs a price"
        if wire.price is not None and wire.price <= 0:
            return f"price {wire.price} must be positive"
        if wire.price is not None and wire.volume * wire.price < info.costmin:
            return f"cost {wire.volume * wire.price} below costmin {info.costmin} ({info.altname})"
        return None

    def _send(self, order: OrderRecord, wire: OrderRequest,
              on_ack: Callable[[OrderRecord], Any] | None = None) -> PlacementResult:
        """Send once and settle; a store that fails after the send is ``OutcomeNotRecorded``."""
        acked: list[str] = []
        unsent: list[LocalRefusal] = []  # the bot refused the request itself: nothing left
        try:
            return self._send_once(order, wire, acked, on_ack, unsent)
        except (sqlite3.Error, StoreError) as exc:
            txid = acked[0] if acked else None
            if txid:
                what = f"placed (txid {txid})"
            elif unsent:
                what = f"not sent ({_reason(unsent[0])})"
            else:
                what = "sent, its outcome unknown"
            raise OutcomeNotRecorded(f"AddOrder {order.cl_ord_id}: {what}; the store could not record what "
                                     f"followed ({exc}): no new order on {order.pair} until it is settled",
                                     cl_ord_id=order.cl_ord_id, txid=txid, sent=not unsent) from exc

    def _send_once(self, order: OrderRecord, wire: OrderRequest, acked: list[str],
                   on_ack: Callable[[OrderRecord], Any] | None, unsent: list[LocalRefusal]) -> PlacementResult:
        try:
            ack = self.client.trading.add_order(wire)
        except BaseException as error:  # noqa: BLE001 - every failure is classified below
            if isinstance(error, LocalRefusal):
                unsent.append(error)
            if not isinstance(error, Exception):
                # KeyboardInterrupt & co: the order may be out; leave it UNKNOWN for recovery.
                self._transition(order, OrderEvent.TIMEOUT, reason=_reason(error))
                raise
            if not is_ambiguous(error):
                found = self._placed_despite(order, error)
                if found is not None:
                    return self._result(found)
                order = self._transition(order, OrderEvent.REJECT, reason=_reason(error))
                return self._result(order, refusal=error if isinstance(error, LocalRefusal) else None)
            order = self._transition(order, OrderEvent.TIMEOUT, reason=_reason(error))
            order = self.resolve_unknown(order.cl_ord_id, wait=self.wait_for_unknown)
            return self._result(order)
        acked.extend(ack.txids)
        if ack.validated_only:
            order = self._transition(order, OrderEvent.VALIDATE, reason=f"validated only: {ack.description}")
            return self._result(order, validated_only=True)
        if wire.validate:  # asked to validate only, yet Kraken placed it: track the real order
            self.store.append_audit({
                "time": self.clock.time(), "actor": "executor", "action": "validate_ignored", "outcome": "placed",
                "allowed": False, "detail": {"cl_ord_id": order.cl_ord_id, "txids": list(ack.txids)},
            })
        if not ack.txids:
            # Success without a txid for a real order: we cannot tell where it is. Look it up.
            order = self._transition(order, OrderEvent.TIMEOUT, reason="AddOrder answered without a txid")
            return self._result(self.resolve_unknown(order.cl_ord_id, wait=self.wait_for_unknown))
        # Accepted, its audit row, the daily trade count and, when nothing follows, the caller's row of the
        # outcome (on_ack): one ordinary commit (synchronous=NORMAL, no sync of its own). The intent is
        # already durable; if this commit is lost (a power cut), PENDING_SUBMIT remains, which
        # recovery settles by cl_ord_id and counts.
        txid = ack.txids[0]
        read_back = self.sync_after_place and not _rests(wire)
        try:
            with self.store.batch():
                order = self._transition(order, OrderEvent.ACCEPT, txid=txid)
                self._count_placed()
                if on_ack is not None and not read_back:
                    on_ack(order)
        except sqlite3.IntegrityError as clash:  # the txid is another order's (the UNIQUE index says so)
            # A replayed or crossed answer: it says nothing about this order. Find it by cl_ord_id.
            order = self.store.get_order(order.cl_ord_id) or order
            self._contradiction(order, "txid_of_another_order", txid, str(clash))
            order = self._transition(order, OrderEvent.TIMEOUT, reason=f"AddOrder answered with txid {txid}, "
                                     "another order's: outcome looked up by client id")
            return self._result(self.resolve_unknown(order.cl_ord_id, wait=self.wait_for_unknown))
        if read_back:
            try:
                order = self.sync_order(order.cl_ord_id)
            except KrakenError:
                pass  # placed and known by txid; a later refresh() catches up
        return self._result(order)

    def _placed_despite(self, order: OrderRecord, error: BaseException) -> OrderRecord | None:
        """Kraken refused the order (``EOrder:...``): is it on the exchange all the same? One
        filtered lookup by cl_ord_id (refusals are rare: the bot checks funds and minimums first).
        Found: the refusal was false - record it, halt the pair, follow the exchange's order. Not
        found, or the lookup failed: the refusal stands (a reconcile still names an order it missed)."""
        code = getattr(error, "code", None) or ""
        if isinstance(error, LocalRefusal) or not code.startswith("EOrder:"):
            return None
        try:
            info = self._lookup(order, scan=False)
        except KrakenError:
            return None
        if info is None:
            return None
        self._contradiction(order, "refused_but_placed", code,
                            f"AddOrder answered {code}, yet the order is at the exchange as {info.txid}")
        order = self._transition(order, OrderEvent.TIMEOUT, reason=f"refused ({code}) but placed as {info.txid}")
        return self.resolve_unknown(order.cl_ord_id, wait=False)

    def _result(self, order: OrderRecord, validated_only: bool = False,
                refusal: LocalRefusal | None = None) -> PlacementResult:
        status = OrderStatus(order.status)
        placed = order.txid is not None and status not in (OrderStatus.REJECTED, OrderStatus.VALIDATED)
        return PlacementResult(order.cl_ord_id, status, order.txid, placed, order.reason, validated_only, order,
                               refusal)

    # -- ambiguity resolution ------------------------------------------------------------------
    def _lookup(self, order: OrderRecord, scan: bool) -> OrderInfo | None:
        """Find our order at Kraken by cl_ord_id: OpenOrders, then ClosedOrders; filtered,
        and by scanning when asked (or when a filter came back with other orders in it)."""
        cid = order.cl_ord_id
        account = self.client.account
        ignored_filter = False
        for fetch in (lambda: account.open_orders(cl_ord_id=cid), lambda: account.closed_orders(cl_ord_id=cid)):
            found = fetch()
            for txid, info in found.items():
                if info.cl_ord_id == cid:
                    return info if info.txid else _with_txid(info, txid)
            ignored_filter |= bool(found)
        if scan or ignored_filter:
            for txid, info in account.open_orders().items():
                if info.cl_ord_id == cid:
                    return info if info.txid else _with_txid(info, txid)
            # Every page: an order closed before 50 others would sit beyond the first one, and
            # "not found" unblocks the pair for a new order.
            start, ofs = int(order.created_at) - 60, 0
            for _ in range(_SCAN_PAGES):
                page = account.closed_orders(start=start, ofs=ofs or None)
                for txid, info in page.items():
                    if info.cl_ord_id == cid:
                        return info if info.txid else _with_txid(info, txid)
                if len(page) < _CLOSED_PAGE:
                    return None
                ofs += len(page)
            raise KrakenError(f"ClosedOrders: more than {_SCAN_PAGES} pages to scan; cannot conclude", (),
                              "ClosedOrders")
        return None

    def resolve_unknown(self, cl_ord_id: str, wait: bool = False) -> OrderRecord:
        """Settle an UNKNOWN (or PENDING_SUBMIT left by a crash) order by lookup, never by re-sending.

        Found: adopt txid and status. Not found after the deadline (+ settle time):
        REJECTED. Not found before it: stays UNKNOWN unless ``wait``, in which case the
        clock sleeps in ``settle_seconds`` steps until the deadline has passed."""
        with self._order_lock(cl_ord_id):
            order = self.store.get_order(cl_ord_id)
            if order is None:
                raise KeyError(cl_ord_id)
            if order.status == OrderStatus.PENDING_SUBMIT.value:
                order = self._transition(order, OrderEvent.TIMEOUT, reason=order.reason or "outcome not recorded")
            if order.status != OrderStatus.UNKNOWN.value:
                return order
            give_up_at = float(order.intent.get("deadline", order.created_at + self.deadline_seconds)) \
                + self.settle_seconds
            looked_once = False
            while True:
                past_deadline = self._exchange_now() >= give_up_at
                try:
                    info = self._lookup(order, scan=past_deadline)
                except KrakenError as error:
                    self.store.append_audit({
                        "time": self.clock.time(), "actor": "executor", "action": "order_lookup_failed",
                        "outcome": "error", "detail": {"cl_ord_id": cl_ord_id, "error": _reason(error)},
                    })
                    info, past_deadline = None, False  # cannot conclude anything without an answer
                    if not wait or self._exchange_now() >= give_up_at + 30 * self.settle_seconds:
                        return order
                if info is not None:
                    order = self.store.update_order(cl_ord_id, txid=info.txid)
                    order = self._apply_info(order, info)
                    self._count_placed()
                    try:
                        self._import_fills([order])
                    except KrakenError:  # its fills are owed now (a later look reads them): the order
                        pass  # is resolved all the same, and a cancel waiting on this goes out
                    return self.store.get_order(cl_ord_id) or order
                if past_deadline:
                    return self._transition(order, OrderEvent.NOT_FOUND,
                                            reason="not found at the exchange after its deadline: not placed")
                if not wait:
                    return order
                # Look again once the visibility lag has passed, then once the deadline has:
                # polling in between cannot conclude anything and burns the API counter.
                now = self._exchange_now()
                step = self.settle_seconds if looked_once is False else max(give_up_at - now, self.settle_seconds)
                looked_once = True
                self.clock.sleep(step)

    # -- following an order ----------------------------------------------------------------------
    def _apply_info(self, order: OrderRecord, info: OrderInfo) -> OrderRecord:
        """Move the order to what Kraken says; numbers always follow the exchange. An answer about
        another order (its client id is not ours: a replayed or crossed AddOrder answer gave us its
        txid) is a contradiction, never applied: the order is looked up by its own client id. An older
        view (less executed than recorded: a late stream event, a lagging read) is kept out: an order's
        executed volume never decreases, and a terminal status is never left (the caller holds the
        order's lock: the stream's thread and REST's catch-up both write orders)."""
        if names_another_order(order, info):
            return self._find_by_client_id(
                order, "txid_of_another_order", order.txid or "",
                f"Kraken's order {order.txid} is {info.cl_ord_id}'s, not ours; looked up by client id")
        if info.volume_executed < order.volume_executed:
            return self._kept(order, info)
        event = event_for_exchange_status(info.status, info.volume_executed, info.volume)
        numbers = {"volume_executed": info.volume_executed, "cost": info.cost, "fee": info.fee}
        if info.reason and event in (OrderEvent.CANCEL, OrderEvent.EXPIRE):
            numbers["reason"] = info.reason
        current = OrderStatus(order.status)
        try:
            return self._transition(order, event, **numbers)
        except InvalidTransition:
            if EXCHANGE_STATUS_FOR_EVENT.get(event) is current or (current in TERMINAL_STATUSES and event is OrderEvent.PARTIAL_FILL):
                return self.store.update_order(order.cl_ord_id, updated_at=self.clock.time(), **numbers)
            return self._kept(order, info)

    def _kept(self, order: OrderRecord, info: OrderInfo) -> OrderRecord:
        """An exchange view the order's record does not follow: audited, the record kept."""
        self.store.append_audit({
            "time": self.clock.time(), "actor": "executor", "action": "order_state_conflict",
            "outcome": "kept", "detail": {"cl_ord_id": order.cl_ord_id, "ours": order.status,
                                          "exchange": info.status, "txid": info.txid,
                                          "executed": str(order.volume_executed),
                                          "exchange_executed": str(info.volume_executed)},
        })
        return order

    def sync_order(self, cl_ord_id: str) -> OrderRecord:
        """Bring one order in line with Kraken (QueryOrders by txid) and import its fills."""
        with self._order_lock(cl_ord_id):
            order = self.store.get_order(cl_ord_id)
            if order is None:
                raise KeyError(cl_ord_id)
            if order.txid is None:
                if order.status in (OrderStatus.UNKNOWN.value, OrderStatus.PENDING_SUBMIT.value):
                    return self.resolve_unknown(cl_ord_id, wait=False)
                return order
            infos, unknown = query_orders_isolating(self.client.account, [order.txid], trades=True)
            if unknown:
                return self._txid_unknown(order)
            asked = order.txid
            info = infos.get(asked)
            if info is None:
                return order
            order = self._apply_info(order, info)
            self._import_fills([order], {asked: info})  # by the txid asked: an answer about another order is not ours
            return self.store.get_order(cl_ord_id) or order

    def refresh(self) -> list[OrderRecord]:
        """Sync every active order: UNKNOWN ones by lookup, the rest by QueryOrders in
        batches of 50, then import any fills the store is missing (one TradesHistory)."""
        now = self.clock.time()
        # A PENDING_SUBMIT order is normally in flight in this process; only one left far past
        # its deadline (a send that died without a trace) is looked up here.
        stale = now - self.deadline_seconds - 2 * self.settle_seconds
        active = [o for o in self.open_orders()
                  if o.status != OrderStatus.PENDING_SUBMIT.value or o.created_at < stale]
        touched: list[OrderRecord] = []
        for o in active:
            if o.txid is None and o.status in (OrderStatus.UNKNOWN.value, OrderStatus.PENDING_SUBMIT.value):
                touched.append(self.resolve_unknown(o.cl_ord_id, wait=False))
        with_txid = [o for o in active if o.txid]
        all_infos: dict[str, OrderInfo] = {}
        for i in range(0, len(with_txid), 50):
            chunk = with_txid[i:i + 50]
            infos, unknown = query_orders_isolating(self.client.account, [o.txid for o in chunk], trades=True)
            all_infos.update(infos)
            for o in chunk:
                with self._order_lock(o.cl_ord_id):
                    fresh = self.store.get_order(o.cl_ord_id) or o
                    if o.txid in unknown:
                        touched.append(self._txid_unknown(fresh))
                        continue
                    info = infos.get(o.txid)
                    touched.append(self._apply_info(fresh, info) if info is not None else fresh)
        seen = {o.cl_ord_id for o in touched}
        self._import_fills(touched + [o for o in self._owed_orders() if o.cl_ord_id not in seen], all_infos)
        return [self.store.get_order(o.cl_ord_id) or o for o in touched]

    def import_owed_fills(self) -> int:
        """Read again the fills of ended orders that an earlier read could not record, when due
        (``refresh`` does it too): the fills added."""
        owed = self._owed_orders()
        return self._import_fills(owed) if owed else 0

    def unrecorded_fills(self) -> list[tuple[OrderRecord, Decimal]]:
        """Each order that owes fills, with its executed volume that no recorded fill holds: traded all
        the same, so the risk checks count it (a buy as held, a sell as gone) until its fills are read.
        From the store: a restart, or a recovery that could not read the trades either, knows them."""
        owed = self._owed_ids()
        return self.store.orders_short_of_fills(owed) if owed else []

    def _owed_orders(self) -> list[OrderRecord]:
        """The orders owing fills, when their re-read is due (none while a failed one backs off)."""
        with self._lock:
            if self.clock.time() < self._owed_retry_at:
                return []
        return [o for o in (self.store.get_order(cid) for cid in self._owed_ids()) if o is not None]

    def _owed_ids(self) -> list[str]:
        raw = self.store.get_meta(FILLS_OWED_KEY)
        return json.loads(raw) if raw else []

    def _mark_owed(self, add: Iterable[str] = (), drop: Iterable[str] = ()) -> None:
        with self._lock:
            before = self._owed_ids()
            after = sorted((set(before) | set(add)) - set(drop))
            if after == sorted(before):
                return
            if after:
                self.store.set_meta(FILLS_OWED_KEY, json.dumps(after))
            else:
                self.store.clear_meta(FILLS_OWED_KEY)

    def apply_execution(self, event: Any) -> OrderRecord | None:
        """The exchange's own notice of an event of one of this bot's orders (``stream.ExecEvent``,
        from the executions stream): a fill is recorded once by its trade id (``exec_id``), so the
        REST import of the same fill adds nothing, and the order moves to the status the event
        states, its numbers the exchange's. A snapshot's entries record fills only: their status
        may be older than the order's. Another bot's order (or an order placed by hand) is left
        alone; so is one whose acknowledgement is not recorded (UNKNOWN, no txid: REST settles it by
        client id, fill included, as the wrapper's ``refresh_orders`` asks while such an order exists).
        Returns None when the event was not taken (the stream then does not count its fill as seen)."""
        order = self.store.get_order(event.cl_ord_id) if event.cl_ord_id else None
        if order is None:
            order = self.store.order_by_txid(event.order_id)
        if order is None:
            return None
        with self._order_lock(order.cl_ord_id):  # after the placing thread has recorded its answer
            order = self.store.get_order(order.cl_ord_id) or order
            if order.txid != event.order_id:
                return None
            if event.exec_id and event.last_qty and event.last_price is not None:
                fill = FillRecord(trade_id=event.exec_id, txid=event.order_id, cl_ord_id=order.cl_ord_id,
                                  pair=order.pair, side=order.side, price=event.last_price, volume=event.last_qty,
                                  cost=event.cost if event.cost is not None else event.last_qty * event.last_price,
                                  fee=sum((qty for _, qty in event.fees), Decimal(0)),
                                  time=_event_time(event.timestamp, self.clock.time()), maker=bool(event.maker))
                if self.store.record_fill(fill):
                    self._check_fee(fill, order.pair)
            status = _STREAM_STATUS.get(event.order_status or "")
            if event.snapshot or status is None or event.cum_qty is None:
                return order
            fee = sum((f.fee for f in self.store.fills(txid=order.txid)), Decimal(0))
            info = OrderInfo(txid=event.order_id, status=status, pair=order.pair, side=Side(order.side),
                             ordertype=order.ordertype, volume=order.volume, volume_executed=event.cum_qty,
                             cost=event.cum_cost if event.cum_cost is not None else order.cost, fee=fee,
                             average_price=event.avg_price or Decimal(0), limit_price=order.price or Decimal(0),
                             opened_at=order.created_at, cl_ord_id=event.cl_ord_id or order.cl_ord_id)
            return self._apply_info(order, info)

    def _txid_unknown(self, order: OrderRecord) -> OrderRecord:
        """Kraken knows no order by the txid its own answer gave us."""
        return self._find_by_client_id(order, "txid_unknown_at_exchange", order.txid or "",
                                       f"Kraken knows no order {order.txid}; looked up by client id")

    def _find_by_client_id(self, order: OrderRecord, kind: str, answer: str, detail: str) -> OrderRecord:
        """The txid an answer gave us is not this order's (unknown to Kraken, or another order's): record
        it, halt the pair, and find the order by cl_ord_id. Found: its real txid and state. Not found:
        UNKNOWN without a txid, settled by lookup like any ambiguous send (the pair stays blocked until
        then). It was counted when the answer came; a later find counts it again (more, never fewer)."""
        with self._order_lock(order.cl_ord_id):
            if order.txid is None:
                return order
            self._contradiction(order, kind, answer, detail)
            try:
                info = self._lookup(order, scan=False)
            except KrakenError:
                info = None
            if info is not None:
                order = self.store.update_order(order.cl_ord_id, txid=info.txid)
                order = self._apply_info(order, info)
                self._import_fills([order], {info.txid: info})
                return self.store.get_order(order.cl_ord_id) or order
            if OrderStatus(order.status) in (OrderStatus.OPEN, OrderStatus.PENDING_CANCEL):
                return self._transition(order, OrderEvent.TIMEOUT, txid=None,
                                        reason=f"txid {order.txid} not this order's ({kind}); not found by client id")
            return self.store.update_order(order.cl_ord_id, txid=None,
                                           reason=f"txid {order.txid} not this order's ({kind})")

    # -- cancel -----------------------------------------------------------------------------------
    def cancel(self, cl_ord_id: str) -> OrderRecord:
        """Cancel by txid (or by cl_ord_id while the txid is unknown), then read back the
        real outcome: it may have filled first.

        The cancel never waits on the store: when a write (or the read of the order) fails before the
        request, it leaves all the same, by txid when known, else by ``cl_ord_id`` (harmless if the
        order never landed), and ``CancelNotRecorded`` says so afterwards (``sent``)."""
        with self._order_lock(cl_ord_id):
            sent: list[bool] = []  # set once a cancel request has left
            try:
                return self._cancel(cl_ord_id, sent)
            except (sqlite3.Error, StoreError) as exc:
                if isinstance(exc, CancelNotRecorded):
                    raise
                if not sent:  # the store failed before the request: it leaves all the same
                    self._cancel_at_exchange(sent, cl_ord_id=cl_ord_id)  # KrakenError: not cancelled, said so
                raise CancelNotRecorded(f"the cancel was sent; the store could not record it ({exc})",
                                        sent=True) from exc

    def _cancel_at_exchange(self, sent: list[bool], txid: str | None = None, cl_ord_id: str | None = None) -> None:
        try:
            self.client.trading.cancel_order(txid=txid, cl_ord_id=cl_ord_id)
        except UnknownOrderError:
            pass  # already closed (filled, expired) or never placed - a read says which
        sent.append(True)

    def _cancel(self, cl_ord_id: str, sent: list[bool]) -> OrderRecord:
        order = self.store.get_order(cl_ord_id)
        if order is None:
            raise KeyError(cl_ord_id)
        if OrderStatus(order.status) in TERMINAL_STATUSES:
            return order
        if order.status in (OrderStatus.UNKNOWN.value, OrderStatus.PENDING_SUBMIT.value):
            order = self.resolve_unknown(cl_ord_id, wait=False)
            if order.status == OrderStatus.UNKNOWN.value:
                try:  # a cancel by client id is harmless if the order never landed
                    self._cancel_at_exchange(sent, cl_ord_id=cl_ord_id)
                except KrakenError:
                    pass
                return self.resolve_unknown(cl_ord_id, wait=False)
            if OrderStatus(order.status) in TERMINAL_STATUSES:
                return order
        try:
            order = self._transition(order, OrderEvent.CANCEL_REQUEST)
            unrecorded: Exception | None = None
        except (sqlite3.Error, StoreError) as exc:  # the cancel leaves all the same; raised once sent
            unrecorded = exc
        try:
            self._cancel_at_exchange(sent, txid=order.txid)
        except KrakenError as error:
            if unrecorded is not None:
                raise
            self.store.update_order(cl_ord_id, reason=f"cancel: {_reason(error)}")
        if unrecorded is not None:
            raise unrecorded
        try:
            return self.sync_order(cl_ord_id)
        except KrakenError:
            return self.store.get_order(cl_ord_id) or order

    # -- fills --------------------------------------------------------------------------------------
    def _missing_fills(self, orders: Iterable[OrderRecord]) -> list[OrderRecord]:
        wanting = []
        for o in orders:
            if not o.txid or o.volume_executed <= 0:
                continue
            have = sum((f.volume for f in self.store.fills(txid=o.txid)), Decimal(0))
            if have < o.volume_executed:
                wanting.append(o)
        return wanting

    def _import_fills(self, orders: Iterable[OrderRecord], infos: dict[str, OrderInfo] | None = None) -> int:
        """Fetch and record the fills of these orders that the store does not have yet:
        by trade id with QueryTrades when Kraken listed them (cheap), else from TradesHistory.
        An order left short (the read failed, or the exchange does not list its trades yet) owes them
        until a later look records them: said in the log and the audit, both when it falls short and
        when its fills are recorded; how a re-read of owed ones went paces the next."""
        orders = list(orders)
        wanting = self._missing_fills(orders)
        ids = {o.cl_ord_id for o in wanting}
        owed = set(self._owed_ids())
        again = owed & {o.cl_ord_id for o in orders}  # owed before this look: said already
        if again - ids:  # an owed order whose fills came meanwhile (the stream's) owes nothing
            self._mark_owed(drop=again - ids)
        if not wanting:
            if again:
                self._pace_owed([], "")
            return 0
        try:
            added, short = self._fetch_fills(wanting, infos or {})
        except Exception as error:
            self._mark_owed(add=ids)
            self._fills_short([o for o in wanting if o.cl_ord_id not in again], _reason(error))
            if again:
                self._pace_owed([o for o in wanting if o.cl_ord_id in again], _reason(error))
            raise
        self._mark_owed(add=short, drop=ids - short)
        why = "the exchange does not list them yet"
        self._fills_short([o for o in wanting if o.cl_ord_id in short and o.cl_ord_id not in again], why)
        for o in wanting:
            if o.cl_ord_id in again and o.cl_ord_id not in short:
                self._fills_recorded(o)
        if again:
            self._pace_owed([o for o in wanting if o.cl_ord_id in again and o.cl_ord_id in short], why)
        return added

    def _pace_owed(self, still: list[OrderRecord], why: str) -> None:
        """After a re-read of owed fills: due again at the next look when it left none owed, else after
        a delay that doubles with every failed re-read (said once, at the first)."""
        with self._lock:
            if not still:
                self._owed_retry_at, self._owed_retry_s = float("-inf"), 0.0
                return
            first = not self._owed_retry_s
            self._owed_retry_s = OWED_FILLS_RETRY_S if first else min(2 * self._owed_retry_s, OWED_FILLS_RETRY_MAX_S)
            self._owed_retry_at = self.clock.time() + self._owed_retry_s
        if first:
            ids = ", ".join(o.cl_ord_id for o in still)
            log.warning("fills of order(s) %s still unreadable (%s): read again in %d s, then less and less often "
                        "(at most every %d s) until recorded", ids, why, OWED_FILLS_RETRY_S, OWED_FILLS_RETRY_MAX_S,
                        extra={"fields": {"cl_ord_ids": [o.cl_ord_id for o in still], "reason": why}})

    def _fills_short(self, orders: list[OrderRecord], why: str) -> None:
        for o in orders:
            log.warning("order %s executed %s %s, its fills not recorded (%s): read again at the next look",
                        o.cl_ord_id, format(o.volume_executed, "f"), o.pair, why,
                        extra={"fields": {"cl_ord_id": o.cl_ord_id, "txid": o.txid, "reason": why}})
            self.store.append_audit({
                "time": self.clock.time(), "actor": "executor", "action": "fills_owed", "outcome": "retry",
                "detail": {"cl_ord_id": o.cl_ord_id, "txid": o.txid, "executed": str(o.volume_executed),
                           "why": why}})

    def _fills_recorded(self, order: OrderRecord) -> None:
        fills = self.store.fills(txid=order.txid)
        log.info("order %s: its missing fills are recorded (%d, %s %s)", order.cl_ord_id, len(fills),
                 format(sum((f.volume for f in fills), Decimal(0)), "f"), order.pair,
                 extra={"fields": {"cl_ord_id": order.cl_ord_id, "txid": order.txid}})
        self.store.append_audit({
            "time": self.clock.time(), "actor": "executor", "action": "fills_imported", "outcome": "recorded",
            "detail": {"cl_ord_id": order.cl_ord_id, "txid": order.txid, "trade_ids": [f.trade_id for f in fills]}})

    def _fetch_fills(self, wanting: list[OrderRecord], infos: dict[str, OrderInfo]) -> tuple[int, set[str]]:
        """The fills recorded, and the cl_ord_ids still short of fills."""
        ids = [tid for o in wanting for tid in (infos[o.txid].trade_ids if o.txid in infos else ())
               if not self.store.has_fill(tid)]
        added = 0
        for i in range(0, len(ids), 20):
            added += self.import_trades(self.client.account.query_trades(ids[i:i + 20]))
        wanting = self._missing_fills(self.store.get_order(o.cl_ord_id) or o for o in wanting)
        if wanting:
            start = int(min(o.created_at for o in wanting)) - TRADE_LOOKBACK_S
            added += self.import_trades(fetch_trades(self.client.account, start), only_txids={o.txid for o in wanting})
            wanting = self._missing_fills(self.store.get_order(o.cl_ord_id) or o for o in wanting)
        return added, {o.cl_ord_id for o in wanting}

    def import_trades(self, trades: dict[str, TradeInfo], only_txids: set[str] | None = None) -> int:
        """Record exchange trades that belong to our orders (by txid), once each; check fees."""
        added = 0
        for trade_id, t in sorted(trades.items(), key=lambda kv: kv[1].time):
            if only_txids is not None and t.order_txid not in only_txids:
                continue
            order = self.store.order_by_txid(t.order_txid)
            if order is None:
                continue
            fill = FillRecord(trade_id=trade_id, txid=t.order_txid, cl_ord_id=order.cl_ord_id, pair=t.pair,
                              side=t.side.value, price=t.price, volume=t.volume, cost=t.cost, fee=t.fee,
                              time=t.time, maker=t.maker)
            if self.store.record_fill(fill):
                added += 1
                self._check_fee(fill, order.pair)
        return added

    def _check_fee(self, fill: FillRecord, pair: str) -> None:
        """Flag (and audit) a fee that is not the account's own rate for the pair. When the rate cannot
        be read now, the fill is judged by the next reconciliation (it judges every fill)."""
        try:
            info = self.pair_rules.pair_info(pair)
        except Exception:  # noqa: BLE001 - no schedule, nothing to compare
            return
        rates = self.fees.rates(fill, info)
        d = None if rates is None else fee_discrepancy(fill, info, rates)
        if d is not None:
            self.fee_mismatches.append(d)
            self.store.append_audit({
                "time": self.clock.time(), "actor": "executor", "action": "fee_mismatch", "outcome": "flagged",
                "detail": {"trade_id": fill.trade_id, "expected": d.bot_value, "charged": d.exchange_value,
                           "maker": fill.maker, "rate_pct": " or ".join(str(r) for r in rates)},
            })


# The executions stream's order_status -> Kraken's REST order status
_STREAM_STATUS = {"pending_new": "pending", "new": "open", "partially_filled": "open", "filled": "closed",
                  "canceled": "canceled", "expired": "expired"}


def _event_time(timestamp: str | None, default: float) -> float:
    """An event's RFC 3339 time as epoch seconds (the bot's clock when it has none or it is unreadable)."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


def _log_order_event(order: OrderRecord, was: str, reason: str | None) -> None:
    """One line per order event, from the one place statuses change (WARNING when its outcome is unknown);
    nothing is formatted when the level is off."""
    level = logging.WARNING if order.status == "UNKNOWN" else logging.INFO
    if not log.isEnabledFor(level):
        return
    said = _SAID.get(order.status, order.status.lower())
    price = f" @ {format(order.price, 'f')}" if order.price is not None else ""
    text = f"order {order.cl_ord_id} {said}: {order.side} {format(order.volume, 'f')} {order.pair} {order.ordertype}{price}"
    if order.txid:
        text += f", txid {order.txid}"
    if order.volume_executed and order.status in ("PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED"):
        text += f", executed {format(order.volume_executed, 'f')} for {format(order.cost, 'f')}"
    if reason and order.status in ("REJECTED", "UNKNOWN", "CANCELED", "EXPIRED"):
        text += f" ({reason})"
    fields = {"event": said, "cl_ord_id": order.cl_ord_id, "txid": order.txid, "pair": order.pair,
              "side": order.side, "ordertype": order.ordertype, "volume": order.volume, "price": order.price,
              "status": order.status, "from": was, "volume_executed": order.volume_executed, "reason": reason}
    log.log(level, "%s", text, extra={"fields": fields})


def query_orders_isolating(account: Any, txids: list[str], trades: bool = False) -> tuple[dict[str, OrderInfo], set[str]]:
    """QueryOrders for ``txids`` and the txids Kraken does not know. Kraken refuses the whole call
    (``EOrder:Invalid order``) when one txid is unknown to it: then each is asked alone, so one bad
    txid (a lying answer) cannot stall refresh, reconcile and start-up for every other order."""
    try:
        return account.query_orders(txids, trades=trades), set()
    except UnknownOrderError:
        if len(txids) == 1:
            return {}, set(txids)
    infos: dict[str, OrderInfo] = {}
    unknown: set[str] = set()
    for txid in txids:
        try:
            infos.update(account.query_orders([txid], trades=trades))
        except UnknownOrderError:
            unknown.add(txid)
    return infos, unknown


def names_another_order(order: OrderRecord, info: OrderInfo) -> bool:
    """Is this exchange answer about a different order? Every order the bot sends carries its client
    id, and Kraken lists an order's ``cl_ord_id`` whenever one was given: an answer with another id,
    or with none (an order placed by hand, named by a replayed answer), is about someone else's."""
    return info.cl_ord_id != order.cl_ord_id


def _with_txid(info: OrderInfo, txid: str) -> OrderInfo:
    from dataclasses import replace

    return replace(info, txid=txid)
