"""An order leaves only once its intent is on disk: the flush starts at the intent's commit and the
executor waits for it at the send gate; a flush that fails stops the order (REJECTED, nothing sent).
A store file, not ``:memory:``, so the WAL flush really happens."""
from __future__ import annotations

import errno
from decimal import Decimal

import pytest
from domain_sim_rig import Rig

import krakenbot.store as store_module
from krakenbot.execution import OrderStatus
from krakenbot.fsync import PendingSync
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


def test_the_order_leaves_after_its_intent_flush_has_returned(file_rig, monkeypatch):
    flushes: list[PendingSync] = []
    at_send: list[tuple[bool, int]] = []
    real_start = store_module.start_datasync
    gate = file_rig.executor._intent_on_disk

    def start(fd):
        flushes.append(real_start(fd))
        return flushes[-1]

    def watched_gate(flush):
        gate(flush)
        at_send.append((flush.done, len(file_rig.sim.orders())))  # flushed, and the exchange has nothing yet

    monkeypatch.setattr(store_module, "start_datasync", start)
    file_rig.executor._intent_on_disk = watched_gate
    result = file_rig.executor.place(_buy())
    assert result.placed and result.status is OrderStatus.OPEN
    assert len(flushes) == 1 and at_send == [(True, 0)]


def test_an_intent_that_cannot_reach_the_disk_is_not_sent(file_rig, monkeypatch):
    monkeypatch.setattr(store_module, "start_datasync",
                        lambda fd: PendingSync(error=OSError(errno.EIO, "fdatasync failed: I/O error")))
    seen = len(file_rig.sim.access_log)
    result = file_rig.executor.place(_buy())
    assert result.status is OrderStatus.REJECTED and not result.placed
    assert "IntentNotDurable" in result.reason and "could not be written to disk" in result.reason
    assert _added(file_rig, seen) == [] and file_rig.sim.orders() == []
    assert file_rig.executor.unknown_pairs() == frozenset()  # known not sent: the pair is not blocked
    monkeypatch.undo()
    assert file_rig.executor.place(_buy()).placed  # the disk is back: the next order goes out
