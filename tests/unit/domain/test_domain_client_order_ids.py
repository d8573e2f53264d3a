"""Client order ids: one bot id per store (kept in its meta table), unique across restarts."""
from __future__ import annotations

from decimal import Decimal

from krakenbot.clock import ManualClock
from krakenbot.execution.executor import Executor
from krakenbot.store import OrderRecord, Store


def executor(store, clock, bot_id=None):
    return Executor(None, store, clock, None, bot_id=bot_id)


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


def test_an_id_the_store_already_holds_is_skipped_and_nothing_is_sent_under_it():
    """Another process with the same BOT_ID made an id ahead of this one: the store's key catches it
    before anything is sent, and the order goes out under the next id."""
    from types import SimpleNamespace

    from domain_helpers import pair_rules

    from krakenbot.models import OrderAck, OrderRequest, OrderType, Side

    store, clock = Store(":memory:"), ManualClock()
    sent: list[str] = []

    def add_order(wire):
        sent.append(wire.cl_ord_id)
        return OrderAck(txids=("OTAKEN-00000-000001",), description="buy")

    ex = Executor(SimpleNamespace(trading=SimpleNamespace(add_order=add_order)), store, clock, pair_rules,
                  sync_after_place=False)
    standing = (ex._last_millis, ex._seq)
    taken = ex._next_cl_ord_id()
    remember(store, clock, taken)
    ex._last_millis, ex._seq = standing  # the generator will draw ``taken`` again
    result = ex.place(OrderRequest(pair="XBTEUR", side=Side.BUY, ordertype=OrderType.LIMIT,
                                   volume=Decimal("0.001"), price=Decimal("50000")))
    assert sent == [result.cl_ord_id] and result.cl_ord_id != taken and result.placed
    assert store.get_order(taken).status == "REJECTED"  # the other order is untouched
