"""The store's read cache and written-behind units when things go wrong: a full disk at COMMIT, a
write lock held elsewhere, another process counting too, a store closed under a caller.

Each test was written against a defect an independent review found (all failed before the fix)."""
from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
from decimal import Decimal

import pytest

from domain_helpers import file_view, store_order

from krakenbot.store import OrderRecord, Store, StoreError






class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.set()


# 1 ------------------------------------------------------------------------------------------------
_DISK_FULL_AT_COMMIT = textwrap.dedent("""
    import json, logging, resource, signal, sqlite3, sys, threading
    from decimal import Decimal
    from krakenbot.store import OrderRecord, Store

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), like a full disk
    tried = threading.Event()
    class Seen(logging.Handler):
        def emit(self, record): tried.set()
    logging.getLogger("krakenbot.store").addHandler(Seen(logging.ERROR))

    def order(cid):
        return OrderRecord(cl_ord_id=cid, pair="XXBTZEUR", side="buy", ordertype="limit", volume=Decimal("0.001"),
                           price=Decimal("60000"), status="PENDING_SUBMIT", created_at=1.0, updated_at=1.0)

    path = sys.argv[1]
    db = Store(path)
    held = order("kb1")
    db.record_intent(held)
    db.orders(statuses=["PENDING_SUBMIT", "OPEN"])  # the open book is cached
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    with db._lock:
        with db.write_behind():  # the executor's post-ack unit
            db.update_order("kb1", current=held, status="OPEN", txid="O1")
            db.append_audit({"action": "order_status"})
        resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))  # the disk fills up
    logged = tried.wait(10)  # the writer thread's commit fails (WAL frames are written at COMMIT)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again
    owed_after_failure = len(db._pending)
    db.record_intent(order("kb2"))  # the next intent: carries what is owed, or fails with it
    cached = db.get_order("kb1").status
    other = sqlite3.connect(path)
    print(json.dumps({
        "logged": logged, "owed_after_failure": owed_after_failure, "cached": cached,
        "file": other.execute("SELECT cl_ord_id, status, txid FROM orders ORDER BY rowid").fetchall(),
        "audit": [r[0] for r in other.execute("SELECT action FROM audit ORDER BY id")],
    }))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE disk-full simulation")
def test_a_commit_that_fails_keeps_the_owed_unit_for_the_next_write(tmp_path):
    """The docstring: 'If the writer cannot commit (disk full), the unit stays owed'. A full disk in WAL mode
    fails at COMMIT, and _tx's COMMIT sits outside its try: the units _write_owed took are neither requeued nor
    is the cache dropped. The unit is gone, the next intent succeeds, and memory says OPEN while the file says
    PENDING_SUBMIT for good."""
    script = tmp_path / "disk_full.py"
    script.write_text(_DISK_FULL_AT_COMMIT)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "df.sqlite")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["logged"], "the writer's commit did not fail: the simulation did not bite"
    # memory says OPEN; once space is back the next write must carry the unit (or fail with it)
    assert (seen["owed_after_failure"], [tuple(r) for r in seen["file"]][0], seen["audit"]) == (
        1, ("kb1", "OPEN", "O1"), ["order_status"]), seen


# 2 ------------------------------------------------------------------------------------------------
def test_after_a_failed_background_commit_the_writer_tries_again_on_its_own(tmp_path, monkeypatch):
    """_hand_on wakes the writer only when the queue goes from empty to one. A writer commit that fails
    (here: another process holds the write lock past busy_timeout) leaves the unit queued, so later units
    wake nobody: the writer must retry by itself, or an idle bot keeps them in memory indefinitely."""
    import krakenbot.store as store_module

    monkeypatch.setattr(store_module, "RETRY_S", 0.0)  # the production pause (1 s) is wall time
    path = str(tmp_path / "wake.sqlite")
    handler = _Records()
    logger = logging.getLogger("krakenbot.store")
    logger.addHandler(handler)
    db = Store(path)
    try:
        held = store_order("kb1")
        db.record_intent(held)
        db._db.execute("PRAGMA busy_timeout=20")  # keep the test short (the store uses 5 s)
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # e.g. a backup or `krakenbot` CLI holding the write lock
        with db.write_behind():
            opened = db.update_order("kb1", current=held, status="OPEN", txid="O1")
        assert handler.seen.wait(10), "the writer's commit did not fail"
        blocker.execute("ROLLBACK")
        blocker.close()
        committed = threading.Event()
        db._db.set_trace_callback(lambda sql: committed.set() if sql.strip().upper() == "COMMIT" else None)
        with db.write_behind():  # the next order's post-ack unit
            db.update_order("kb1", current=opened, status="PENDING_CANCEL")
            db.append_audit({"action": "order_status"})
        while True:  # no call of ours commits: only the writer's retry can
            assert committed.wait(timeout=30), "nobody committed the owed units"
            committed.clear()
            with db._lock:  # the COMMIT started under the lock: taking it waits for its end
                if not db._pending:
                    break
        assert file_view(path)[0] == [("kb1", "PENDING_CANCEL", "O1")]
    finally:
        logger.removeHandler(handler)
        db.close()


# 3 ------------------------------------------------------------------------------------------------
def test_a_count_inside_one_decision_adds_to_another_processes_count(tmp_path):
    """add_daily is a read-modify-write that stores an absolute value. Inside consistent_reads() (the wrapper
    opens it around every submit_order, and the executor counts the trade inside it) _fresh() is skipped, so
    even under BEGIN IMMEDIATE the cached value from before another process's increment is used: that
    increment is lost (the daily trade limit undercounts). test_another_process_writing_the_file_is_seen_at_once
    promises 'counts on from the other process's value'."""
    path = str(tmp_path / "cr.sqlite")
    with Store(path) as bot, Store(path) as other:
        with bot.consistent_reads():
            assert bot.daily_value("2026-11-26", "trades") == 0  # the risk check reads the count
            other.add_daily("2026-11-26", "trades", 1)           # another process counts a trade
            bot.add_daily("2026-11-26", "trades", 1)             # the executor counts its trade
        assert other.daily_value("2026-11-26", "trades") == 2


# 4 ------------------------------------------------------------------------------------------------
def test_a_count_written_behind_adds_to_another_processes_count(tmp_path):
    """Inside write_behind() add_daily computes the new absolute value now, outside any write lock, and the
    writer stores that value later: another process's increment committed in between is overwritten."""
    path = str(tmp_path / "wb.sqlite")
    with Store(path) as bot, Store(path) as other:
        with bot._lock:  # pins the group-commit window (the writer waits 2 ms anyway)
            with bot.write_behind():
                bot.add_daily("2026-11-26", "trades", 1)  # recorded as value = '1'
            other.add_daily("2026-11-26", "trades", 1)    # another process: file 0 -> 1
        bot.audit_rows()  # a file read commits the owed unit
        assert file_view(path)[2] == [("2026-11-26", "trades", "2")]


# 5 ------------------------------------------------------------------------------------------------
def test_a_closed_store_refuses_writes_behind_instead_of_dropping_them(tmp_path):
    """Shutdown race: Bot.close() closes the store while an order's AddOrder is in flight. Before, the post-ack
    batch() raised (closed database). Now write_behind() records the unit, hands it on, and the writer's
    _flush_behind returns silently because _closed: the status change and its audit row are lost, no error."""
    path = str(tmp_path / "closed.sqlite")
    db = Store(path)
    held = store_order("kb1")
    db.record_intent(held)
    db.close()
    with pytest.raises(StoreError):
        with db.write_behind():
            db.update_order("kb1", current=held, status="OPEN", txid="O1")
            db.append_audit({"action": "order_status"})
    assert file_view(path)[0] == [("kb1", "PENDING_SUBMIT", None)]


# 6 ------------------------------------------------------------------------------------------------
def test_audit_rows_handed_on_after_close_reach_on_error(tmp_path):
    """audit_later()'s final rows are handed to the writer (_audit_behind). If the store was closed meanwhile
    (another thread shutting down, or close() holding _lock so the non-blocking attempt fails), the writer skips
    the closed store silently: the rows are lost and on_error never hears of it (before this change the final
    write raised and on_error logged it)."""
    path = str(tmp_path / "audit_close.sqlite")
    db = Store(path)
    errors: list[BaseException] = []
    with db.audit_later(on_error=errors.append):
        db.append_audit({"action": "order"})  # the wrapper's row, queued
        closer = threading.Thread(target=db.close)  # shutdown from another thread
        closer.start()
        closer.join(10)
    assert errors or file_view(path)[1] == ["order"], "the audit row vanished and nobody was told"
