from __future__ import annotations

import itertools

import pytest

from krakenbot.execution.order_state import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    InvalidTransition,
    OrderEvent,
    OrderStatus,
    apply,
    event_for_exchange_status,
)
from decimal import Decimal

ROWS = sorted(TRANSITIONS.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value))
MISSING = [pair for pair in itertools.product(OrderStatus, OrderEvent) if pair not in TRANSITIONS]


@pytest.mark.parametrize(("key", "expected"), ROWS, ids=[f"{s.value}-{e.value}" for (s, e), _ in ROWS])
def test_every_row_of_the_table(key, expected):
    state, event = key
    assert apply(state, event) is expected
    assert apply(state.value, event.value) is expected  # stored strings work too


@pytest.mark.parametrize(("state", "event"), MISSING, ids=[f"{s.value}-{e.value}" for s, e in MISSING])
def test_every_pair_not_in_the_table_is_refused_naming_both(state, event):
    with pytest.raises(InvalidTransition) as info:
        apply(state, event)
    assert state.value in str(info.value) and event.value in str(info.value)
    assert info.value.state is state and info.value.event is event


def test_real_world_edges_exist():
    assert apply(OrderStatus.PENDING_CANCEL, OrderEvent.FILL) is OrderStatus.FILLED
    assert apply(OrderStatus.CANCELED, OrderEvent.FILL) is OrderStatus.FILLED
    assert apply(OrderStatus.PENDING_SUBMIT, OrderEvent.TIMEOUT) is OrderStatus.UNKNOWN
    for event, target in [(OrderEvent.ACCEPT, OrderStatus.OPEN), (OrderEvent.FILL, OrderStatus.FILLED),
                          (OrderEvent.CANCEL, OrderStatus.CANCELED), (OrderEvent.NOT_FOUND, OrderStatus.REJECTED)]:
        assert apply(OrderStatus.UNKNOWN, event) is target


def test_terminal_states_do_not_go_back_to_open():
    for state in TERMINAL_STATUSES:
        for event in (OrderEvent.ACCEPT, OrderEvent.SUBMIT, OrderEvent.CANCEL_REQUEST, OrderEvent.TIMEOUT):
            with pytest.raises(InvalidTransition):
                apply(state, event)


def test_the_table_is_a_sizeable_lifecycle_not_a_free_for_all():
    assert len(TRANSITIONS) < len(OrderStatus) * len(OrderEvent) / 2


@pytest.mark.parametrize(("status", "executed", "event"), [
    ("pending", "0", OrderEvent.ACCEPT), ("open", "0", OrderEvent.ACCEPT), ("open", "0.1", OrderEvent.PARTIAL_FILL),
    ("closed", "1", OrderEvent.FILL), ("canceled", "0.2", OrderEvent.CANCEL), ("expired", "0", OrderEvent.EXPIRE),
])
def test_kraken_status_maps_to_an_event(status, executed, event):
    assert event_for_exchange_status(status, Decimal(executed), Decimal(1)) is event


def test_unknown_kraken_status_is_an_error():
    with pytest.raises(ValueError):
        event_for_exchange_status("weird", Decimal(0), Decimal(1))
