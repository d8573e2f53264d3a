"""An order's lifecycle as one transition table.

Every legal move is one entry ``(state, event) -> next``; anything else raises
``InvalidTransition`` naming both, so an impossible report from the exchange (or a
bug) is loud instead of silently overwriting a status. No other module decides a
status: they feed events to ``apply()``.

Events that come from reading the exchange (``ACCEPT``, ``PARTIAL_FILL``, ``FILL``,
``CANCEL``, ``EXPIRE``) mean "Kraken now says the order is ...".
"""
from __future__ import annotations

from enum import Enum

__all__ = [
    "OrderStatus", "OrderEvent", "TRANSITIONS", "InvalidTransition", "apply",
    "ACTIVE_STATUSES", "TERMINAL_STATUSES", "CANCELLABLE_STATUSES", "EXCHANGE_STATUS_FOR_EVENT",
    "event_for_exchange_status",
]


class OrderStatus(str, Enum):
    NEW = "NEW"                            # intent recorded, nothing sent
    PENDING_SUBMIT = "PENDING_SUBMIT"      # AddOrder in flight
    OPEN = "OPEN"                          # resting, nothing filled
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"      # CancelOrder sent, outcome not yet seen
    CANCELED = "CANCELED"                  # may carry a partial fill
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"                  # definitely not placed (locally or by Kraken)
    UNKNOWN = "UNKNOWN"                    # AddOrder outcome ambiguous: blocks the pair until resolved
    VALIDATED = "VALIDATED"                # validate=true (paper): Kraken checked it, nothing was placed


class OrderEvent(str, Enum):
    SUBMIT = "SUBMIT"              # AddOrder about to leave
    ACCEPT = "ACCEPT"              # Kraken: open (or pending) with nothing filled
    PARTIAL_FILL = "PARTIAL_FILL"  # Kraken: open with vol_exec > 0, or a fill report
    FILL = "FILL"                  # Kraken: closed (fully filled)
    CANCEL_REQUEST = "CANCEL_REQUEST"
    CANCEL = "CANCEL"              # Kraken: canceled
    EXPIRE = "EXPIRE"              # Kraken: expired
    REJECT = "REJECT"              # refused: locally, by Kraken, or deadline elapsed
    TIMEOUT = "TIMEOUT"            # ambiguous AddOrder failure (timeout, reset, 5xx, dropped reply)
    NOT_FOUND = "NOT_FOUND"        # lookup by cl_ord_id found nothing after the deadline
    VALIDATE = "VALIDATE"          # validate-only AddOrder succeeded


S, E = OrderStatus, OrderEvent

TRANSITIONS: dict[tuple[OrderStatus, OrderEvent], OrderStatus] = {
    (S.NEW, E.SUBMIT): S.PENDING_SUBMIT,
    (S.NEW, E.REJECT): S.REJECTED,                      # local rejection: rounding/minimums, nothing sent

    (S.PENDING_SUBMIT, E.ACCEPT): S.OPEN,
    (S.PENDING_SUBMIT, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PENDING_SUBMIT, E.FILL): S.FILLED,               # market order filled before we looked
    (S.PENDING_SUBMIT, E.CANCEL): S.CANCELED,           # IOC remainder / post-only that would cross
    (S.PENDING_SUBMIT, E.EXPIRE): S.EXPIRED,
    (S.PENDING_SUBMIT, E.REJECT): S.REJECTED,
    (S.PENDING_SUBMIT, E.TIMEOUT): S.UNKNOWN,           # real world: the reply was lost
    (S.PENDING_SUBMIT, E.VALIDATE): S.VALIDATED,

    (S.OPEN, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.OPEN, E.FILL): S.FILLED,
    (S.OPEN, E.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.OPEN, E.CANCEL): S.CANCELED,                     # canceled by Kraken (dead man's switch, CancelAll)
    (S.OPEN, E.EXPIRE): S.EXPIRED,
    (S.OPEN, E.TIMEOUT): S.UNKNOWN,                     # its txid proved false (Kraken never issued it)
    (S.PENDING_CANCEL, E.TIMEOUT): S.UNKNOWN,           # the same, found while cancelling

    (S.PARTIALLY_FILLED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, E.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, E.CANCEL): S.CANCELED,
    (S.PARTIALLY_FILLED, E.EXPIRE): S.EXPIRED,

    (S.PENDING_CANCEL, E.CANCEL): S.CANCELED,
    (S.PENDING_CANCEL, E.FILL): S.FILLED,               # real world: it filled before the cancel landed
    (S.PENDING_CANCEL, E.EXPIRE): S.EXPIRED,
    (S.PENDING_CANCEL, E.ACCEPT): S.OPEN,               # cancel did not happen; Kraken still shows it open
    (S.PENDING_CANCEL, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PENDING_CANCEL, E.CANCEL_REQUEST): S.PENDING_CANCEL,  # repeated cancel request

    (S.CANCELED, E.FILL): S.FILLED,                     # real world: a late fill after our cancel
    (S.CANCELED, E.PARTIAL_FILL): S.CANCELED,           # late partial fill report: still canceled
    (S.EXPIRED, E.FILL): S.FILLED,
    (S.EXPIRED, E.PARTIAL_FILL): S.EXPIRED,

    (S.UNKNOWN, E.ACCEPT): S.OPEN,                      # lookup by cl_ord_id found it resting
    (S.UNKNOWN, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.UNKNOWN, E.FILL): S.FILLED,
    (S.UNKNOWN, E.CANCEL): S.CANCELED,
    (S.UNKNOWN, E.EXPIRE): S.EXPIRED,
    (S.UNKNOWN, E.REJECT): S.REJECTED,                  # e.g. EService:Deadline elapsed learnt later
    (S.UNKNOWN, E.NOT_FOUND): S.REJECTED,               # absent from Open and Closed orders after deadline
}

# What each exchange-derived event says the status now is (so a repeated report is a no-op,
# and a reconciliation can compare Kraken's word with ours).
EXCHANGE_STATUS_FOR_EVENT: dict[OrderEvent, OrderStatus] = {
    E.ACCEPT: S.OPEN, E.PARTIAL_FILL: S.PARTIALLY_FILLED, E.FILL: S.FILLED, E.CANCEL: S.CANCELED, E.EXPIRE: S.EXPIRED,
}

TERMINAL_STATUSES = frozenset({S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED, S.VALIDATED})
ACTIVE_STATUSES = frozenset(set(OrderStatus) - TERMINAL_STATUSES)
CANCELLABLE_STATUSES = frozenset({S.OPEN, S.PARTIALLY_FILLED, S.PENDING_CANCEL})


class InvalidTransition(Exception):
    def __init__(self, state: OrderStatus, event: OrderEvent) -> None:
        super().__init__(f"invalid order transition: {state.value} --{event.value}--> (not in TRANSITIONS)")
        self.state = state
        self.event = event


def apply(state: OrderStatus | str, event: OrderEvent | str) -> OrderStatus:
    """The next status, or ``InvalidTransition`` naming the state and the event."""
    state, event = OrderStatus(state), OrderEvent(event)
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


def event_for_exchange_status(status: str, volume_executed, volume) -> OrderEvent:
    """Translate Kraken's order ``status`` (and fill progress) into an event."""
    if status in ("pending", "open"):
        return E.PARTIAL_FILL if volume_executed > 0 else E.ACCEPT
    if status == "closed":
        return E.FILL
    if status == "canceled":
        return E.CANCEL
    if status == "expired":
        return E.EXPIRE
    raise ValueError(f"unknown Kraken order status {status!r}")
