"""One deadline per order: the value the executor records is the value on the wire.

Before, the client stamped its own deadline when it sent, so anything that delayed the send
after the intent was recorded (a slow commit, a read holding the private-call lock) made
the exchange's deadline later than the executor's "not placed after the deadline" verdict:
the order could still execute after the bot had declared it not placed.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from krakenbot.execution import OrderStatus
from krakenbot.models import OrderRequest, OrderType, Side


def _delay_sends_after_intent(rig, seconds: float) -> None:
    """The intent is durably recorded, then ``seconds`` pass before the request leaves."""
    record = rig.store.record_intent

    def slow_record(*args, **kwargs):
        result = record(*args, **kwargs)
        rig.clock.advance(seconds)
        return result

    rig.store.record_intent = slow_record


def _buy() -> OrderRequest:
    return OrderRequest(pair="XBTEUR", side=Side.BUY, ordertype=OrderType.LIMIT,
                        volume=Decimal("0.001"), price=Decimal("59000"))


def test_the_deadline_sent_is_the_deadline_recorded(rig):
    _delay_sends_after_intent(rig, 5.0)
    seen = len(rig.sim.access_log)
    result = rig.executor.place(_buy())
    assert result.placed
    sent = [r for r in rig.sim.access_log[seen:] if r.endpoint == "AddOrder"]
    assert len(sent) == 1
    on_wire = datetime.strptime(sent[0].params["deadline"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    recorded = rig.store.get_order(result.cl_ord_id).intent["deadline"]
    assert on_wire.timestamp() == int(recorded), (sent[0].params["deadline"], recorded)


def test_an_order_whose_deadline_passed_before_sending_is_not_sent(rig):
    _delay_sends_after_intent(rig, 20.0)  # longer than the 15 s deadline
    seen = len(rig.sim.access_log)
    result = rig.executor.place(_buy())
    assert not result.placed and result.status is OrderStatus.REJECTED
    assert [r for r in rig.sim.access_log[seen:] if r.endpoint == "AddOrder"] == []
    assert rig.sim.orders() == [] or all(o.get("cl_ord_id") != result.cl_ord_id for o in rig.sim.orders())
