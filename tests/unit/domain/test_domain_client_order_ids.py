"""Client order ids: one bot id per store (kept in its meta table), unique across restarts."""
from __future__ import annotations

from decimal import Decimal

from krakenbot.clock import ManualClock
from krakenbot.execution.executor import Executor
from krakenbot.store import OrderRecord, Store


def executor(store, clock, bot_id=None):
    return Executor(None, store, clock, lambda pair: None, bot_id=bot_id)


def remember(store, clock, cid):
    store.record_intent(OrderRecord(cid, "XXBTZEUR", "buy", "limit", Decimal("0.001"), Decimal("1"), "REJECTED",
                                    clock.time(), clock.time()))


def test_the_bot_id_is_drawn_once_per_store_and_kept():
    store, clock = Store(":memory:"), ManualClock()
    first = executor(store, clock)
    assert len(first.bot_id) == 4 and first.id_head == "kb" + first.bot_id
    assert executor(store, clock).bot_id == first.bot_id
    assert executor(store, clock, bot_id="ab12").id_head == "kbab12"


def test_a_restart_with_a_standing_clock_never_repeats_an_id():
    store, clock = Store(":memory:"), ManualClock()
    before = executor(store, clock)
    made = [before.new_cl_ord_id() for _ in range(3)]
    for cid in made:
        remember(store, clock, cid)
    after = executor(store, clock)  # same store, same bot id, the clock has not moved
    again = [after.new_cl_ord_id() for _ in range(3)]
    assert not set(made) & set(again)
    assert all(len(cid) == 17 and cid.startswith(before.id_head) for cid in made + again)
