from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import replace
from decimal import Decimal

import pytest

from domain_helpers import file_view, store_order

from krakenbot.models import Candle
from krakenbot.store import MIGRATIONS, FillRecord, OrderRecord, Store, StoreError, utc_day, utc_day_bounds


def _fill(trade_id: str = "T1", **kw) -> FillRecord:
    base = dict(trade_id=trade_id, txid="O1", pair="XXBTZEUR", side="buy", price=Decimal("60000.0"),
                volume=Decimal("0.001"), cost=Decimal("60.00000"), fee=Decimal("0.24000"), time=100.0, maker=False)
    base.update(kw)
    return FillRecord(**base)




def test_fresh_store_is_at_latest_schema_and_integrity_ok(store):
    assert store.schema_version == len(MIGRATIONS)
    assert store.integrity_check() == "ok"


def test_migrations_upgrade_an_old_file_and_are_not_reapplied(tmp_path):
    path = tmp_path / "bot.sqlite"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO meta(key, value) VALUES ('kept', 'yes')")
    db.commit()
    db.close()
    with Store(str(path)) as s:
        assert s.schema_version == len(MIGRATIONS)
        assert s.get_meta("kept") == "yes"           # v1 data survives the upgrade
        assert s.save_candles("XXBTZEUR", 1, []) == 0  # v2 table exists
    with Store(str(path)) as s:                       # reopening applies nothing twice
        assert s.schema_version == len(MIGRATIONS)


def test_v3_keeps_every_order_and_audit_row_and_their_order(tmp_path):
    """The v3 rebuild of orders and audit loses nothing: rows, insertion order (rowid, which breaks
    created_at ties), audit ids, the unique txid and the append-only audit all survive."""
    path = tmp_path / "bot.sqlite"
    db = sqlite3.connect(path)
    for migration in MIGRATIONS[:2]:
        for statement in migration:
            db.execute(statement)
    db.execute("PRAGMA user_version=2")
    for cid, txid in (("kb-b", "OB"), ("kb-a", None), ("kb-c", None)):  # same created_at: rowid decides
        db.execute("INSERT INTO orders(cl_ord_id, txid, pair, side, ordertype, volume, price, status, created_at, "
                   "updated_at) VALUES (?, ?, 'XXBTZEUR', 'buy', 'limit', '0.001', '60000.0', 'OPEN', 1.0, 1.0)",
                   (cid, txid))
    for n in (1, 2, 3):
        db.execute("INSERT INTO audit(time, actor, action, detail) VALUES (?, 'bot', ?, '{}')", (float(n), f"a{n}"))
    db.commit()
    db.close()
    with Store(str(path)) as s:
        assert s.schema_version == len(MIGRATIONS)
        assert [o.cl_ord_id for o in s.orders()] == ["kb-b", "kb-a", "kb-c"]
        assert s.order_by_txid("OB").cl_ord_id == "kb-b"
        assert [(r["id"], r["action"]) for r in s.audit_rows()] == [(1, "a1"), (2, "a2"), (3, "a3")]
        assert s.append_audit({"time": 4.0, "action": "a4"}) == 4  # ids go on from the highest
        with pytest.raises(sqlite3.IntegrityError):  # a txid is still one order's only
            s.upsert_order(store_order("kb-d", txid="OB"))
        s.upsert_order(store_order("kb-e"))  # many orders without a txid yet
        assert s.integrity_check() == "ok"
    raw = sqlite3.connect(path)
    try:
        for statement in ("UPDATE audit SET action = 'x'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                raw.execute(statement)
    finally:
        raw.close()


def test_an_intent_and_its_audit_row_write_few_pages(tmp_path):
    """The intent's fsync flushes every page written since the last one, so the pages an order
    writes are order latency: an intent with its audit row is 4 WAL frames (orders row, its
    cl_ord_id and pair+status index entries, audit row); v2 wrote 7."""
    path = tmp_path / "bot.sqlite"
    with Store(str(path)) as s:
        s._db.execute("PRAGMA wal_autocheckpoint=0")  # the WAL only grows: its size counts frames
        for n in range(5):  # the b-tree pages exist
            s.record_intent(store_order(f"kb-w{n}"), audit={"time": 1.0, "action": "order_intent"})
        before = (tmp_path / "bot.sqlite-wal").stat().st_size
        for n in range(20):
            s.record_intent(store_order(f"kb-{n}"), audit={"time": 1.0, "action": "order_intent"})
        frames = ((tmp_path / "bot.sqlite-wal").stat().st_size - before) / (4096 + 24) / 20
    assert frames <= 4.2


def _newer_schema_file(tmp_path):
    path = tmp_path / "bot.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    return path


def test_newer_schema_is_refused(tmp_path):
    with pytest.raises(StoreError, match="newer"):
        Store(str(_newer_schema_file(tmp_path)))


def test_file_store_uses_wal(tmp_path):
    with Store(str(tmp_path / "w.sqlite")) as s:
        assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_audit_is_append_only(store):
    row_id = store.append_audit({"time": 1.0, "actor": "t", "action": "endpoint", "endpoint": "AddOrder",
                                 "mode": "PAPER", "allowed": True, "outcome": "ok", "extra": 5})
    rows = store.audit_rows()
    assert rows[0]["id"] == row_id and rows[0]["allowed"] is True and rows[0]["detail"] == {"extra": 5}
    assert not hasattr(store, "delete_audit") and not hasattr(store, "update_audit")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._db.execute("UPDATE audit SET outcome = 'forged'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._db.execute("DELETE FROM audit")
    assert store.audit_rows()[0]["outcome"] == "ok"


def test_duplicate_fill_is_refused(store):
    assert store.record_fill(_fill()) is True
    assert store.record_fill(_fill(price=Decimal("1"))) is False      # same trade id: nothing changes
    assert [f.price for f in store.fills()] == [Decimal("60000.0")]
    with pytest.raises(sqlite3.IntegrityError):
        store._db.execute("INSERT INTO fills(trade_id, seq, txid, pair, side, price, volume, cost, fee, time, maker)"
                          " VALUES ('T1', 99, 'O', 'P', 'buy', '1', '1', '1', '0', 0, 0)")


def test_fills_keep_decimals_exactly_and_order(store):
    store.record_fill(_fill("T2", time=200.0, volume=Decimal("0.12345678")))
    store.record_fill(_fill("T1", time=100.0))
    fills = store.fills()
    assert [f.trade_id for f in fills] == ["T1", "T2"]
    assert fills[1].volume == Decimal("0.12345678") and isinstance(fills[1].volume, Decimal)
    assert store.last_fill_seq() == 2
    assert [f.trade_id for f in store.fills(after_seq=1)] == ["T1"]  # seq = recording order, not fill time


def test_order_intent_roundtrip_and_update(store):
    store.record_intent(store_order())
    with pytest.raises(sqlite3.IntegrityError):
        store.record_intent(store_order())
    updated = store.update_order("kb1", status="OPEN", txid="OABC", volume_executed=Decimal("0.0005"))
    assert updated.status == "OPEN"
    got = store.get_order("kb1")
    assert got == updated and got.intent == {"why": "test"} and got.price == Decimal("60000.0")
    assert store.order_by_txid("OABC").cl_ord_id == "kb1"
    assert [o.cl_ord_id for o in store.orders(statuses=["OPEN"])] == ["kb1"]
    assert store.orders(statuses=["FILLED"]) == []
    with pytest.raises(StoreError):
        store.update_order("kb1", pair="other")


def test_intent_is_durable_in_a_file_before_anything_else(tmp_path):
    path = str(tmp_path / "bot.sqlite")
    s = Store(path)
    s.record_intent(store_order())
    # a second connection (another process after a crash) sees it at once
    other = Store(path)
    assert other.get_order("kb1").status == "PENDING_SUBMIT"
    other.close()
    s.close()


def test_nonce_is_a_high_water_mark(store):
    assert store.load_nonce() == 0
    store.save_nonce(100)
    store.save_nonce(50)
    assert store.load_nonce() == 100


def test_daily_counters_are_per_day_and_exact(store):
    assert store.add_daily("2026-01-01", "trades") == 1
    assert store.add_daily("2026-01-01", "trades") == 2
    assert store.add_daily("2026-01-01", "pnl", Decimal("-0.1")) == Decimal("-0.1")
    assert store.add_daily("2026-01-01", "pnl", Decimal("-0.2")) == Decimal("-0.3")
    assert store.daily_trade_count("2026-01-01") == 2
    assert store.daily_trade_count("2026-01-02") == 0


def test_candles_upsert_and_range(store):
    def c(t, close):
        return Candle(t, Decimal(1), Decimal(2), Decimal("0.5"), Decimal(close), Decimal(1), Decimal("3.5"), 4)

    store.save_candles("XXBTZEUR", 1, [c(60, "1.1"), c(120, "1.2"), c(180, "1.3")])
    store.save_candles("XXBTZEUR", 1, [c(180, "1.4")])
    assert [x.close for x in store.load_candles("XXBTZEUR", 1)] == [Decimal("1.1"), Decimal("1.2"), Decimal("1.4")]
    assert [x.time for x in store.load_candles("XXBTZEUR", 1, since=100, until=180)] == [120, 180]
    assert store.load_candles("XXBTZEUR", 5) == []


def test_utc_day_helpers():
    assert utc_day(1_767_225_600.0) == "2026-01-01"
    assert utc_day(1_767_225_599.0) == "2025-12-31"
    assert utc_day_bounds(1_767_225_600.0 + 3600) == (1_767_225_600.0, 1_767_312_000.0)


def test_concurrent_writers_on_a_file_lose_nothing(tmp_path):
    import threading

    with Store(str(tmp_path / "c.sqlite")) as s:
        def work(n: int) -> None:
            for i in range(40):
                s.add_daily("2026-01-01", "trades")
                s.record_fill(_fill(f"T{n}-{i}"))
                s.record_fill(_fill(f"T{n}-{i}"))          # the duplicate is refused, not double counted
                s.append_audit({"time": 1.0, "action": "t"})

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert s.daily_trade_count("2026-01-01") == 240
        assert len(s.fills()) == 240 and len({f.seq for f in s.fills()}) == 240
        assert len(s.audit_rows()) == 240
        assert s.integrity_check() == "ok"


def test_giving_an_order_a_txid_another_order_owns_fails_and_deletes_nothing(store):
    for cid, txid in (("kb-a", "OTX-1"), ("kb-b", None)):
        store.record_intent(OrderRecord(cid, "XXBTZEUR", "buy", "limit", Decimal("0.001"), Decimal("60000"),
                                        "OPEN", 1.0, 1.0, txid=txid))
    with pytest.raises(sqlite3.IntegrityError):
        store.update_order("kb-b", txid="OTX-1")
    with pytest.raises(sqlite3.IntegrityError):
        store.upsert_order(OrderRecord("kb-c", "XXBTZEUR", "buy", "limit", Decimal("1"), None, "OPEN", 1.0, 1.0,
                                       txid="OTX-1"))
    assert [(o.cl_ord_id, o.txid) for o in store.orders()] == [("kb-a", "OTX-1"), ("kb-b", None)]
    adopted = store.get_order("kb-a")
    store.upsert_order(OrderRecord("kb-a", "XXBTZEUR", "buy", "limit", Decimal("0.001"), Decimal("60000"),
                                   "FILLED", 1.0, 2.0, txid="OTX-1"))
    assert store.get_order("kb-a").status == "FILLED" and adopted.status == "OPEN"


def test_a_refused_store_closes_its_file(tmp_path):
    """A bot that refuses a newer store (and retries, or keeps running) must not leak the sqlite handle."""
    import os

    path = _newer_schema_file(tmp_path)

    def open_handles():
        fds = os.listdir("/proc/self/fd")
        return sum(1 for fd in fds if str(path) in os.path.realpath(f"/proc/self/fd/{fd}"))

    for _ in range(3):
        with pytest.raises(StoreError):
            Store(str(path))
    assert open_handles() == 0


def _commits(db: Store) -> list[str]:
    seen: list[str] = []
    db._db.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper() in ("COMMIT", "ROLLBACK") else None)
    return seen


def test_a_batch_commits_its_writes_once_and_fails_as_a_whole(tmp_path):
    with Store(str(tmp_path / "b.sqlite")) as db:
        db.record_intent(store_order("kb1"))
        commits = _commits(db)
        with db.batch():
            db.update_order("kb1", status="OPEN", txid="O1")
            db.append_audit({"action": "order_status", "outcome": "OPEN"})
            db.add_daily("2026-01-01", "trades", 1)
        assert commits == ["COMMIT"]
        with pytest.raises(RuntimeError):
            with db.batch():
                db.update_order("kb1", status="CANCELED")
                with db.batch():  # nested: joins the outer one
                    db.append_audit({"action": "order_status", "outcome": "CANCELED"})
                raise RuntimeError("boom")
        assert commits == ["COMMIT", "ROLLBACK"]
        assert db.get_order("kb1").status == "OPEN"
        assert [r["outcome"] for r in db.audit_rows("order_status")] == ["OPEN"]
    with Store(str(tmp_path / "b.sqlite")) as again:  # what was committed is on disk
        assert again.get_order("kb1").txid == "O1" and again.daily_trade_count("2026-01-01") == 1


def test_an_intent_is_committed_with_its_audit_row_alone_and_never_inside_a_batch(tmp_path):
    with Store(str(tmp_path / "i.sqlite")) as db:
        commits = _commits(db)
        db.record_intent(store_order("kb1"), audit={"action": "order_intent", "outcome": "PENDING_SUBMIT"})
        assert commits == ["COMMIT"] and [r["action"] for r in db.audit_rows()] == ["order_intent"]
        with pytest.raises(StoreError):
            with db.batch():
                db.record_intent(store_order("kb2"))
        assert db.get_order("kb2") is None


def test_an_intent_is_put_on_disk_by_flushing_the_wal_file_after_its_commit(tmp_path, monkeypatch):
    """What synchronous=FULL does inside the commit, done after it: the WAL file (every commit so far,
    the intent's last) is flushed; returned at once with ``sync_later``, waited for otherwise."""
    import krakenbot.store as store_module

    flushed: list[tuple[int, int]] = []
    real_start = store_module.start_datasync

    def start(fd, on_failure=None):
        flushed.append((os.fstat(fd).st_ino, len(db.orders())))  # what the file held when the flush began
        return real_start(fd, on_failure)

    monkeypatch.setattr(store_module, "start_datasync", start)
    with Store(str(tmp_path / "s.sqlite")) as db:
        statements: list[str] = []
        db._db.set_trace_callback(statements.append)
        db.record_intent(store_order("kb1"))
        later = db.record_intent(store_order("kb2"), sync_later=True)
        monkeypatch.setattr(store_module, "overlapping", lambda: False)  # no flush ahead (tested below)
        db.append_audit({"action": "ordinary"})
        db._db.set_trace_callback(None)
        later.wait()
        wal = (tmp_path / "s.sqlite-wal").stat().st_ino
        assert flushed == [(wal, 1), (wal, 2)]  # one flush per intent, after its commit, of the WAL file
        control = [s for s in statements if s.startswith(("PRAGMA synchronous", "BEGIN", "COMMIT"))]
        assert control == ["BEGIN IMMEDIATE", "COMMIT"] * 3  # no switching: everything commits under NORMAL
        assert db._db.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_the_flush_follows_the_wal_file_when_it_is_not_the_one_the_descriptor_is_open_on(tmp_path):
    with Store(str(tmp_path / "r.sqlite")) as db:
        db.record_intent(store_order("kb1"))
        db._wal_id = (0, 0)  # as if SQLite had replaced the file since
        db.record_intent(store_order("kb2"))
        assert os.fstat(db._wal_fd).st_ino == (tmp_path / "r.sqlite-wal").stat().st_ino
        assert db._wal_id == ((tmp_path / "r.sqlite-wal").stat().st_dev, (tmp_path / "r.sqlite-wal").stat().st_ino)


def test_after_a_failed_flush_the_store_takes_no_more_intents_until_it_is_opened_again(tmp_path, monkeypatch):
    """The kernel may call the next flush clean although the failed pages never reached the disk."""
    import krakenbot.store as store_module
    from krakenbot.fsync import PendingSync

    real_start = store_module.start_datasync
    monkeypatch.setattr(store_module, "start_datasync", lambda fd, on_failure=None: PendingSync(
        error=OSError(errno.EIO, "fdatasync failed: I/O error"), on_failure=on_failure))
    with Store(str(tmp_path / "f.sqlite")) as db:
        later = db.record_intent(store_order("kb1"), sync_later=True)  # committed; the caller waits
        with pytest.raises(OSError, match="I/O error"):
            later.wait()
        monkeypatch.setattr(store_module, "start_datasync", real_start)  # the disk answers again
        with pytest.raises(StoreError, match="failed flush"):
            db.record_intent(store_order("kb2"))
        assert db.get_order("kb2") is None
    with Store(str(tmp_path / "f.sqlite")) as again:  # a restart: the file is read afresh
        again.record_intent(store_order("kb3"))


class _Flush:
    """A flush the test ends: ``fail()`` makes it a failed one (reported to its starter once waited for)."""

    def __init__(self, on_failure=None) -> None:
        self.done, self.error, self.on_failure = False, None, on_failure

    def fail(self) -> None:
        self.done, self.error = True, OSError(errno.EIO, "fdatasync failed: I/O error")

    def wait(self, timeout=None) -> None:
        if not self.done and timeout is not None:
            raise TimeoutError("still running")
        if self.error is not None:
            if self.on_failure is not None:
                self.on_failure(self.error)
            raise self.error


def test_an_intent_waits_for_the_stores_earlier_flush_still_running_and_fails_with_it(tmp_path, monkeypatch):
    """glibc runs a descriptor's flushes in order, and once one fails the kernel may report the next as
    clean: the second intent is on disk only if the first flush, still running, succeeds."""
    import krakenbot.store as store_module

    flushes: list[_Flush] = []

    def start(fd, on_failure=None):
        flushes.append(_Flush(on_failure))
        return flushes[-1]

    monkeypatch.setattr(store_module, "start_datasync", start)
    with Store(str(tmp_path / "q.sqlite")) as db:
        db.record_intent(store_order("kb1"), sync_later=True)  # its send never came: nobody waits
        second = db.record_intent(store_order("kb2"), sync_later=True)
        flushes[1].done = True  # the second flush reports success...
        with pytest.raises(TimeoutError):
            second.wait(timeout=0)  # ...but the first is still running
        flushes[0].fail()
        with pytest.raises(OSError, match="I/O error"):
            second.wait()
        with pytest.raises(StoreError, match="failed flush"):
            db.record_intent(store_order("kb3"))


@pytest.fixture
def flushes_ahead(monkeypatch):
    """Flushes the test ends (``_Flush``), started as where glibc runs them in the background."""
    import krakenbot.store as store_module

    started: list[_Flush] = []

    def start(fd, on_failure=None):
        started.append(_Flush(on_failure))
        return started[-1]

    monkeypatch.setattr(store_module, "start_datasync", start)
    monkeypatch.setattr(store_module, "overlapping", lambda: True)
    return started


def test_an_ordinary_commit_starts_the_wals_flush_ahead_of_the_next_intent_one_at_a_time(tmp_path, flushes_ahead):
    """The next intent's flush then has only its own pages to write; a flush still running covers the
    commits that follow it (the intent's own flush takes what it missed)."""
    with Store(str(tmp_path / "a.sqlite")) as db:
        db.set_meta("before", "any intent")  # no WAL descriptor yet: nothing to flush ahead
        assert flushes_ahead == []
        db.record_intent(store_order("kb1"), sync_later=True)
        flushes_ahead[0].done = True
        db.append_audit({"action": "ordinary"})
        assert len(flushes_ahead) == 2  # started by the ordinary commit, waited for by nobody
        db.set_meta("k", "v")
        with db.batch():
            db.append_audit({"action": "in a batch"})
        assert len(flushes_ahead) == 2  # still running: no second one behind it
        flushes_ahead[1].done = True
        with db.batch():
            db.append_audit({"action": "in a batch"})
        assert len(flushes_ahead) == 3  # a batch's commit starts one too
        later = db.record_intent(store_order("kb2"), sync_later=True)
        assert len(flushes_ahead) == 4  # the intent's own, never skipped
        flushes_ahead[3].done = True
        with pytest.raises(TimeoutError):
            later.wait(timeout=0)  # the flush ahead, still running, holds the intent back too
        flushes_ahead[2].done = True
        later.wait(timeout=0)
        db.record_intent(store_order("kb3"), sync_later=True)  # nothing running: still just its own
        assert len(flushes_ahead) == 5


def test_a_flush_ahead_that_failed_stops_the_next_intent(tmp_path, flushes_ahead):
    with Store(str(tmp_path / "b.sqlite")) as db:
        db.record_intent(store_order("kb1"), sync_later=True)
        flushes_ahead[0].done = True
        db.append_audit({"action": "ordinary"})
        flushes_ahead[1].fail()
        db.append_audit({"action": "ordinary"})  # settles the failed flush: the store latches
        with pytest.raises(StoreError, match="failed flush"):
            db.record_intent(store_order("kb2"))
        assert db.get_order("kb2") is None


def test_flush_waits_for_the_wals_flushes_and_reports_a_failed_one(tmp_path, flushes_ahead):
    with Store(str(tmp_path / "c.sqlite")) as db:
        db.record_intent(store_order("kb1"), sync_later=True)
        flushes_ahead[0].done = True
        db.append_audit({"action": "ordinary"})
        with pytest.raises(StoreError, match="did not reach the disk"):
            db.flush()  # still running: the bounded wait ends (the fake never finishes by itself)
        flushes_ahead[1].done = True
        db.flush()
        assert db._unsettled == []
        db.append_audit({"action": "ordinary"})
        flushes_ahead[2].fail()
        with pytest.raises(StoreError, match="did not reach the disk"):
            db.flush()


def test_no_flush_ahead_where_the_flush_would_not_run_in_the_background(tmp_path, flushes_ahead, monkeypatch):
    """There ``start_datasync`` flushes at once: every ordinary commit would wait for the disk."""
    import krakenbot.store as store_module

    monkeypatch.setattr(store_module, "overlapping", lambda: False)
    with Store(str(tmp_path / "d.sqlite")) as db:
        db.record_intent(store_order("kb1"), sync_later=True)
        flushes_ahead[0].done = True
        db.append_audit({"action": "ordinary"})
        assert len(flushes_ahead) == 1


def test_an_earlier_flush_that_failed_unwatched_fails_the_next_intent(tmp_path, monkeypatch):
    """An order stopped before its send never waits for its flush: a failure there must still stop the
    next intent, which passed the store's check before anyone had seen it."""
    import krakenbot.store as store_module
    from krakenbot import fsync

    if not fsync.overlapping():
        pytest.skip("without glibc AIO the failed flush is seen at once, before the next intent")

    read_end, write_end = os.pipe()
    real_start = store_module.start_datasync
    try:
        monkeypatch.setattr(store_module, "start_datasync",  # a pipe cannot be flushed: EINVAL
                            lambda fd, on_failure=None: real_start(write_end, on_failure))
        with Store(str(tmp_path / "u.sqlite")) as db:
            db.record_intent(store_order("kb1"), sync_later=True)  # nobody waits for this one
            monkeypatch.setattr(store_module, "start_datasync", real_start)
            later = db.record_intent(store_order("kb2"), sync_later=True)
            with pytest.raises(OSError):
                later.wait()
            with pytest.raises(StoreError, match="failed flush"):
                db.record_intent(store_order("kb3"))
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize("how", ["symlink", "relative"])
def test_the_wal_flushed_is_the_one_sqlite_writes_whatever_the_path_given(tmp_path, monkeypatch, how):
    real = tmp_path / "data" / "bot.sqlite"
    real.parent.mkdir()
    if how == "symlink":
        (tmp_path / "link.sqlite").symlink_to(real)
        path = str(tmp_path / "link.sqlite")
    else:
        monkeypatch.chdir(real.parent)
        path = "bot.sqlite"
    with Store(path) as db:
        monkeypatch.chdir(tmp_path)  # a relative path must not follow the working directory
        db.record_intent(store_order("kb1"))
        assert os.fstat(db._wal_fd).st_ino == (real.parent / "bot.sqlite-wal").stat().st_ino


def test_a_store_without_a_wal_syncs_every_commit_itself():
    with Store(":memory:") as db:
        assert db.record_intent(store_order("kb1"), sync_later=True).done


def test_audit_rows_made_later_ride_in_the_next_commit_in_order_and_survive_a_rollback(tmp_path):
    with Store(str(tmp_path / "l.sqlite")) as db:
        db.record_intent(store_order("kb1"))
        commits = _commits(db)
        with db.audit_later():
            db.append_audit({"action": "endpoint", "outcome": "sent"})  # queued: no commit of its own
            assert commits == [] and db.audit_rows() == []
            with pytest.raises(RuntimeError):
                with db.batch():  # rolled back: the queued row is owed again, not lost
                    raise RuntimeError("boom")
            with db.batch():
                db.update_order("kb1", status="OPEN", txid="O1")
                db.append_audit({"action": "order_status", "outcome": "OPEN"})
            assert commits == ["ROLLBACK", "COMMIT"]
            db.append_audit({"action": "order", "outcome": "open"})
        # the last row is written behind: one commit, by the writer thread or by the read below
        assert [r["action"] for r in db.audit_rows()] == ["endpoint", "order_status", "order"]
        assert commits == ["ROLLBACK", "COMMIT", "COMMIT"]
        db.append_audit({"action": "after", "outcome": "x"})  # outside the block: written at once
        assert commits[-1] == "COMMIT" and len(commits) == 4


def test_an_update_from_the_held_record_writes_only_the_changed_columns(tmp_path):
    with Store(str(tmp_path / "u.sqlite")) as db:
        held = store_order("kb1")
        db.record_intent(held)
        db.update_order("kb1", reason="set by someone else")  # a column the holder did not change
        new = db.update_order("kb1", current=held, status="OPEN", txid="O1", updated_at=5.0,
                              volume_executed=Decimal("0.00010000"))
        stored = db.get_order("kb1")
        assert (stored.status, stored.txid, stored.updated_at, stored.volume_executed) == \
            ("OPEN", "O1", 5.0, Decimal("0.00010000"))
        assert stored.reason == "set by someone else" and stored.intent == held.intent
        assert (new.status, new.txid) == ("OPEN", "O1")
        with pytest.raises(StoreError):
            db.update_order("kb9", current=replace(held, cl_ord_id="kb9"), status="OPEN")


# -- the read cache --------------------------------------------------------------------------------
def _sql_orders(db: Store, statuses: list[str]) -> list[OrderRecord]:
    rows = db._db.execute(f"SELECT * FROM orders WHERE status IN ({','.join('?' * len(statuses))}) "
                          "ORDER BY created_at, rowid", statuses).fetchall()
    return [Store._order_from_row(r) for r in rows]


def test_settled_statuses_are_the_executors_terminal_statuses():
    from krakenbot.execution.order_state import TERMINAL_STATUSES
    from krakenbot.store import SETTLED_STATUSES

    assert SETTLED_STATUSES == {s.value for s in TERMINAL_STATUSES}


def test_the_open_book_read_from_memory_matches_the_file_through_every_kind_of_write(tmp_path):
    live = ["NEW", "PENDING_SUBMIT", "OPEN", "PARTIALLY_FILLED", "PENDING_CANCEL", "UNKNOWN"]
    with Store(str(tmp_path / "c.sqlite")) as db:
        db.record_intent(store_order("kb1", created_at=5.0))
        assert db.orders(statuses=live) == _sql_orders(db, live)  # loads the cache
        db.record_intent(store_order("kb2", created_at=5.0))           # same time: insertion order decides
        db.record_intent(store_order("kb0", created_at=1.0))           # older: sorts first
        held = db.get_order("kb1")
        db.update_order("kb1", reason="set elsewhere")            # full-row path
        db.update_order("kb1", current=held, status="OPEN", txid="O1")  # held copy lacks the reason
        assert db.get_order("kb1").reason == "set elsewhere"      # the cache applied columns, not the copy
        db.update_order("kb2", status="CANCELED")                 # settles: leaves the cache
        db.upsert_order(store_order("kb3", status="UNKNOWN", created_at=2.0))
        db.update_order("kb2", status="OPEN")                     # a settled row back to life
        with pytest.raises(RuntimeError):
            with db.batch():                                      # rolled back: nothing of it stays
                db.update_order("kb0", status="FILLED")
                assert [o.cl_ord_id for o in db.orders(statuses=live)] == ["kb3", "kb1", "kb2"]
                raise RuntimeError("boom")
        for statuses in (live, ["OPEN"], ["UNKNOWN", "PENDING_SUBMIT"]):
            assert db.orders(statuses=statuses) == _sql_orders(db, statuses)
        assert [o.cl_ord_id for o in db.orders(statuses=live)] == ["kb0", "kb3", "kb1", "kb2"]
        assert db.orders(statuses=live, pair="XETHZEUR") == []
        assert db.get_order("kb1") == Store._order_from_row(
            db._db.execute("SELECT * FROM orders WHERE cl_ord_id = 'kb1'").fetchone())


def test_another_process_writing_the_file_is_seen_at_once(tmp_path):
    """``krakenbot resume`` runs in another process and writes the trading state: the running
    bot's cached meta, counters, orders and fill count must not hide it."""
    path = str(tmp_path / "shared.sqlite")
    with Store(path) as bot, Store(path) as other:
        bot.record_intent(store_order("kb1"))
        assert bot.get_meta("risk.trading_state", "active") == "active"
        assert bot.daily_value("2026-11-26", "trades") == 0
        assert [o.status for o in bot.orders(statuses=["PENDING_SUBMIT", "UNKNOWN"])] == ["PENDING_SUBMIT"]
        assert bot.last_fill_seq() == 0
        other.set_meta("risk.trading_state", "halted")
        other.add_daily("2026-11-26", "trades", 3)
        other.update_order("kb1", status="UNKNOWN")
        other.record_fill(_fill("T1"))
        assert bot.get_meta("risk.trading_state", "active") == "halted"
        assert bot.daily_value("2026-11-26", "trades") == 3
        assert [o.status for o in bot.orders(statuses=["PENDING_SUBMIT", "UNKNOWN"])] == ["UNKNOWN"]
        assert bot.last_fill_seq() == 1 and [f.trade_id for f in bot.fills(after_seq=0)] == ["T1"]
        bot.add_daily("2026-11-26", "trades", 1)  # counts on from the other process's value
        assert other.daily_value("2026-11-26", "trades") == 4


def test_counters_and_fill_sequence_from_memory_follow_writes_and_rollbacks(store):
    assert store.daily_value("d", "trades") == 0 and store.last_fill_seq() == 0
    store.add_daily("d", "trades", 2)
    store.record_fill(_fill("T1"))
    assert not store.record_fill(_fill("T1"))  # a duplicate does not move the sequence
    with pytest.raises(RuntimeError):
        with store.batch():
            store.add_daily("d", "trades", 5)
            store.record_fill(_fill("T2"))
            store.set_meta("k", "inside")
            raise RuntimeError("boom")
    assert store.daily_value("d", "trades") == 2 and store.last_fill_seq() == 1
    assert store.get_meta("k") is None
    assert store.fills(after_seq=1) == [] and [f.trade_id for f in store.fills(after_seq=0)] == ["T1"]


# -- written behind ---------------------------------------------------------------------------------


def test_writes_behind_are_seen_at_once_and_reach_the_file_in_order_without_another_call(tmp_path):
    import threading

    path = str(tmp_path / "wb.sqlite")
    with Store(path) as db:
        held = store_order("kb1")
        db.record_intent(held, audit={"action": "order_intent"})
        committed = threading.Event()
        db._db.set_trace_callback(lambda sql: committed.set() if sql.strip().upper() == "COMMIT" else None)
        with db.audit_later():
            db.append_audit({"action": "endpoint"})  # queued before the block: goes first
            with db.write_behind():
                db.update_order("kb1", current=held, status="OPEN", txid="O1")
                db.append_audit({"action": "order_status"})
                db.add_daily("2026-11-26", "trades", 1)
            # this process sees the unit at once, from memory
            assert [(o.cl_ord_id, o.status, o.txid) for o in db.orders(statuses=["OPEN"])] == [("kb1", "OPEN", "O1")]
            assert db.daily_value("2026-11-26", "trades") == 1
            db.append_audit({"action": "order"})  # queued: written behind when the block ends
        while True:  # the writer thread commits; its COMMIT starts under the store's lock
            assert committed.wait(timeout=30), "the writer thread never committed the unit"
            committed.clear()
            with db._lock:  # ... so taking the lock waits for that commit to end
                if not db._pending:
                    break
        orders, actions, daily = file_view(path)
        assert orders == [("kb1", "OPEN", "O1")]
        assert actions == ["order_intent", "endpoint", "order_status", "order"]
        assert daily == [("2026-11-26", "trades", "1")]


def test_a_later_write_never_overtakes_a_unit_still_owed(tmp_path):
    path = str(tmp_path / "wo.sqlite")
    with Store(path) as db:
        held = store_order("kb1")
        db.record_intent(held)
        with db._lock:  # the writer thread cannot commit meanwhile
            with db.write_behind():
                opened = db.update_order("kb1", current=held, status="OPEN", txid="O1")
            assert file_view(path)[0] == [("kb1", "PENDING_SUBMIT", None)]  # still owed
            db.update_order("kb1", current=opened, status="PENDING_CANCEL")  # a synchronous write
        assert file_view(path)[0] == [("kb1", "PENDING_CANCEL", "O1")]  # owed unit first, then this


def test_a_failed_block_leaves_nothing_and_a_read_from_the_file_commits_what_is_owed(tmp_path):
    path = str(tmp_path / "wf.sqlite")
    with Store(path) as db:
        held = store_order("kb1")
        db.record_intent(held)
        with pytest.raises(RuntimeError):
            with db.write_behind():
                db.update_order("kb1", current=held, status="OPEN", txid="O1")
                raise RuntimeError("boom")
        assert db.get_order("kb1").status == "PENDING_SUBMIT"  # the cache forgot it too
        with db._lock:
            with db.write_behind():
                db.update_order("kb1", current=held, status="OPEN", txid="O1")
            assert [r["action"] for r in db.audit_rows()] == []  # a read that goes to the file ...
            assert file_view(path)[0] == [("kb1", "OPEN", "O1")]  # ... committed the unit first


def test_close_commits_what_is_owed(tmp_path):
    path = str(tmp_path / "wc.sqlite")
    db = Store(path)
    held = store_order("kb1")
    db.record_intent(held)
    with db._lock:
        with db.write_behind():
            db.update_order("kb1", current=held, status="OPEN", txid="O1")
            db.add_daily("d", "trades", 1)
        db.close()
    assert file_view(path)[0] == [("kb1", "OPEN", "O1")] and file_view(path)[2] == [("d", "trades", "1")]


def test_flush_commits_what_is_owed_on_the_calling_thread(tmp_path):
    path = str(tmp_path / "fl.sqlite")
    with Store(path) as db:
        held = store_order("kb1")
        db.record_intent(held)
        with db._lock:  # the writer thread cannot take the unit before flush() does
            with db.write_behind():
                db.update_order("kb1", current=held, status="OPEN", txid="O1")
            assert file_view(path)[0] == [("kb1", "PENDING_SUBMIT", None)]
            db.flush()
            assert not db._pending
        assert file_view(path)[0] == [("kb1", "OPEN", "O1")]


def test_a_unit_given_back_by_a_failed_transaction_gets_a_writer_turn_of_its_own(tmp_path):
    """Review regression: the writer's turn came while the unit sat in another transaction (it
    found nothing owed), that transaction rolled back and gave the unit back; no later hand-on
    wakes the writer while units are owed, so it stayed in memory until some unrelated write."""
    import threading

    path = str(tmp_path / "rq.sqlite")
    Store(path).close()  # created (its schema commit's writer turn goes to that object)
    with Store(path) as db:  # reopened: no commit, so no writer turn is queued for this one
        held = store_order("kb1")
        db.record_intent(held)
        turned = threading.Event()
        turn = db._background_turn

        def watched() -> None:
            turn()
            turned.set()
        db._background_turn = watched
        with db._lock:  # the writer cannot take the unit before the batch below does
            with db.write_behind():
                db.update_order("kb1", current=held, status="OPEN", txid="O1")
            with pytest.raises(RuntimeError):
                with db.batch():  # carries the unit...
                    assert turned.wait(timeout=30), "the writer's turn never came"  # ...while it finds none
                    turned.clear()
                    raise RuntimeError("a statement of this batch failed")  # rollback gives it back
        assert db._pending
        while db._pending:  # committed by a writer turn of its own, not by another write of ours
            assert turned.wait(timeout=10), "no writer turn for the unit given back"  # set after its commit
            turned.clear()
        assert file_view(path)[0] == [("kb1", "OPEN", "O1")]


def test_a_unit_the_file_refuses_stays_owed_and_stops_the_next_intent(tmp_path):
    """Fail closed: memory and file disagree until the unit lands, so no new order may be recorded."""
    path = str(tmp_path / "wr.sqlite")
    db = Store(path)
    try:
        with db._lock:
            with db.write_behind():  # an order the file does not hold: the UPDATE will change no row
                db.update_order("ghost", current=store_order("ghost"), status="OPEN", txid="O9")
            with pytest.raises(StoreError, match="changed 0 rows"):
                db.record_intent(store_order("kb2"))
        with pytest.raises(StoreError, match="changed 0 rows"):
            db.record_intent(store_order("kb2"))
        assert file_view(path)[0] == []
    finally:
        with pytest.raises(StoreError):
            db.close()  # still owed: said loudly, not dropped


def test_a_unit_written_while_another_process_wrote_is_not_hidden_by_a_reload(tmp_path):
    path = str(tmp_path / "wx.sqlite")
    with Store(path) as db, Store(path) as other:
        held = store_order("kb1")
        db.record_intent(held)
        assert db.get_meta("risk.trading_state") is None
        with db._lock:
            with db.write_behind():
                db.update_order("kb1", current=held, status="OPEN", txid="O1")
                other.set_meta("risk.trading_state", "halted")   # another process commits ...
                assert db.get_meta("risk.trading_state") == "halted"  # ... the cache reloads meanwhile
            assert db.get_order("kb1").status == "OPEN"  # the reload did not hide the unit
        assert [o.status for o in db.orders(statuses=["OPEN", "PENDING_SUBMIT"])] == ["OPEN"]


def test_one_decision_looks_for_another_process_once_and_the_next_sees_it(tmp_path):
    path = str(tmp_path / "cr.sqlite")
    with Store(path) as bot, Store(path) as other:
        with bot.consistent_reads():
            assert bot.get_meta("risk.trading_state", "active") == "active"
            other.set_meta("risk.trading_state", "halted")
            assert bot.get_meta("risk.trading_state", "active") == "active"  # one view for the decision
        with bot.consistent_reads():
            assert bot.get_meta("risk.trading_state", "active") == "halted"  # the next decision sees it
        other.set_meta("risk.trading_state", "active")
        assert bot.get_meta("risk.trading_state", "active") == "active"  # outside a block: every read
