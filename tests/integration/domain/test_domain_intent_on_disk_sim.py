"""An order leaves only once its intent is on disk: the intent's commit is durable (FULL sync) and
comes before the request is built; an intent the file refuses stops the order (nothing sent). A store
file, not ``:memory:``, so the sync really happens; and the platform needs neither ``os.fdatasync``
nor ``select.poll`` (absent on macOS and Windows)."""
from __future__ import annotations

import os
import select
from decimal import Decimal

import pytest
from domain_sim_rig import Rig

from krakenbot.errors import IntentNotDurable
from krakenbot.execution import OrderStatus
from krakenbot.models import OrderRequest, OrderType, Side
from krakenbot.store import Store


@pytest.fixture
def file_rig(sim, clock, tmp_path):
    store = Store(str(tmp_path / "bot.sqlite"))
    rig = Rig(sim, clock, store)
    yield rig
    rig.client.close()
    store.close()


def _buy() -> OrderRequest:
    return OrderRequest(pair="XBTEUR", side=Side.BUY, ordertype=OrderType.LIMIT,
                        volume=Decimal("0.001"), price=Decimal("59000"))


def _added(rig, since: int) -> list:
    return [r for r in rig.sim.access_log[since:] if r.endpoint == "AddOrder"]


def test_the_order_leaves_only_after_its_intent_was_committed_durably(file_rig):
    """At the intent's durable commit the exchange has nothing yet; the order follows."""
    sync, at_durable_commit = [], []

    def trace(sql: str) -> None:
        if sql.startswith("PRAGMA synchronous="):
            sync.append(sql.split("=")[1])
        elif sql == "COMMIT" and sync and sync[-1] == "FULL":
            at_durable_commit.append(len(file_rig.sim.access_log))

    seen = len(file_rig.sim.access_log)
    file_rig.store._db.set_trace_callback(trace)
    result = file_rig.executor.place(_buy())
    file_rig.store._db.set_trace_callback(None)
    assert result.placed and result.status is OrderStatus.OPEN
    assert len(at_durable_commit) == 1 and _added(file_rig, seen)  # one durable commit, then the order
    assert _added(file_rig, at_durable_commit[0]) == _added(file_rig, seen)  # none of it before that commit


def test_an_intent_the_disk_refuses_is_not_sent_and_the_next_order_goes_once_it_accepts(file_rig):
    store = file_rig.store
    assert file_rig.executor.place(_buy()).placed
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages}")  # the file cannot grow: a full disk
    seen = len(file_rig.sim.access_log)
    with pytest.raises(IntentNotDurable, match="could not be recorded"):
        for _ in range(200):  # until the intent needs a new page
            file_rig.executor.place(_buy())
    full = len(store.orders())
    assert file_rig.executor.unknown_pairs() == frozenset()  # known not sent: nothing in flight
    assert len(_added(file_rig, seen)) == full - 1  # every order recorded was sent, the refused one not
    store._db.execute("PRAGMA max_page_count=1073741823")
    assert file_rig.executor.place(_buy()).placed


def test_an_order_is_placed_where_the_os_has_no_fdatasync_and_no_poll(file_rig, monkeypatch):
    """macOS has no ``os.fdatasync``, Windows no ``select.poll``: neither is needed to place an order
    over a kept-alive connection and record it durably."""
    monkeypatch.delattr(os, "fdatasync", raising=False)
    monkeypatch.delattr(select, "poll", raising=False)
    assert file_rig.executor.place(_buy()).placed  # opens the connection
    result = file_rig.executor.place(_buy())  # reuses it: the idle check runs
    assert result.placed and result.status is OrderStatus.OPEN
    assert file_rig.client._transport.connections_opened == 1
    reopened = Store(file_rig.store.path)  # what another process (a restart) reads
    try:
        assert reopened.get_order(result.cl_ord_id).txid == result.txid
    finally:
        reopened.close()
