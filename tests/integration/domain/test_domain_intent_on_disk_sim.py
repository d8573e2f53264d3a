"""An order leaves only once its intent is on disk: the flush starts at the intent's commit and the
executor waits for it at the send gate; a flush that fails stops the order (REJECTED, nothing sent).
A store file, not ``:memory:``, so the WAL flush really happens."""
from __future__ import annotations

import errno
from decimal import Decimal

import pytest
from domain_sim_rig import Rig

import krakenbot.store as store_module
from krakenbot.errors import IntentNotDurable
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


class _HeldFlush:
    """A flush the test sees being waited for: what the exchange held at that moment is noted."""

    done = False

    def __init__(self, sim) -> None:
        self.sim, self.seen_at_wait = sim, []

    def wait(self, timeout=None) -> None:
        self.seen_at_wait.append(len(self.sim.orders()))


def test_the_order_leaves_only_after_the_send_waited_for_its_intent_flush(file_rig, monkeypatch):
    flush = _HeldFlush(file_rig.sim)
    started: list[int] = []

    def start(fd, on_failure=None):
        started.append(fd)
        return flush

    monkeypatch.setattr(store_module, "start_datasync", start)
    result = file_rig.executor.place(_buy())
    assert result.placed and result.status is OrderStatus.OPEN
    assert len(started) == 1 and flush.seen_at_wait == [0]  # waited for once, before the exchange had it


def test_the_real_flush_runs_and_is_done_when_the_order_is_out(file_rig, monkeypatch):
    flushes: list[PendingSync] = []
    real_start = store_module.start_datasync

    def start(fd, on_failure=None):
        flushes.append(real_start(fd, on_failure))
        return flushes[-1]

    monkeypatch.setattr(store_module, "start_datasync", start)
    assert file_rig.executor.place(_buy()).placed
    assert len(flushes) == 1 and flushes[0].done
    assert file_rig.store._unsettled == flushes  # settled (and dropped) when the next intent starts its own


def test_an_intent_that_cannot_reach_the_disk_is_not_sent_and_stops_further_orders(file_rig, monkeypatch, sim,
                                                                                    clock, tmp_path):
    monkeypatch.setattr(store_module, "start_datasync", lambda fd, on_failure=None: PendingSync(
        error=OSError(errno.EIO, "fdatasync failed: I/O error"), on_failure=on_failure))
    seen = len(file_rig.sim.access_log)
    result = file_rig.executor.place(_buy())
    assert result.status is OrderStatus.REJECTED and not result.placed
    assert "IntentNotDurable" in result.reason and "could not be written to disk" in result.reason
    assert file_rig.executor.unknown_pairs() == frozenset()  # known not sent: REJECTED, not UNKNOWN
    monkeypatch.undo()  # the disk answers again, but the file may not hold what it acknowledged
    with pytest.raises(IntentNotDurable, match="failed flush"):  # the store's StoreError, as a refusal
        file_rig.executor.place(_buy())
    assert _added(file_rig, seen) == [] and file_rig.sim.orders() == []
    file_rig.store.close()  # a restart on the same file
    restarted = Rig(sim, clock, Store(str(tmp_path / "bot.sqlite")))
    try:
        assert restarted.executor.place(_buy()).placed
    finally:
        restarted.client.close()
        restarted.store.close()


def test_a_flush_that_does_not_return_in_time_refuses_the_order(file_rig, monkeypatch):
    class Stuck:
        done = False

        def wait(self, timeout=None):
            raise TimeoutError("fdatasync has not returned")

    monkeypatch.setattr(store_module, "start_datasync", lambda fd, on_failure=None: Stuck())
    seen = len(file_rig.sim.access_log)
    result = file_rig.executor.place(_buy())
    assert result.status is OrderStatus.REJECTED and "not on disk within 2.0 s" in result.reason
    assert _added(file_rig, seen) == []


def test_a_request_that_left_without_its_gate_is_looked_up_not_resent(file_rig, monkeypatch):
    from krakenbot.client import _transport

    monkeypatch.setattr(_transport._GatedSend, "send", lambda self, data: super(_transport._GatedSend, self).send(data))
    seen = len(file_rig.sim.access_log)
    result = file_rig.executor.place(_buy())
    assert result.placed and result.txid and result.status is OrderStatus.OPEN  # found by cl_ord_id, adopted
    assert len(_added(file_rig, seen)) == 1


def test_an_order_whose_deadline_would_be_too_short_at_the_send_is_refused_there(file_rig):
    """The gate's wait is bounded by what the deadline leaves; with nothing left the order is refused
    as not sent (a local refusal, so it is no trial for the circuit breaker either)."""
    from dataclasses import replace

    from krakenbot.errors import DeadlineTooShort, LocalRefusal
    from krakenbot.fsync import SYNCED
    from krakenbot.store import IntentFlush

    near = replace(_buy(), deadline=file_rig.executor._exchange_now() + 2.0)  # under the 3 s Kraken needs
    with pytest.raises(DeadlineTooShort) as refused:
        file_rig.executor._intent_on_disk(IntentFlush(file_rig.store, (SYNCED,)), near)
    assert isinstance(refused.value, LocalRefusal)
