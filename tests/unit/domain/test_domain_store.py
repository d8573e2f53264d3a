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
    """The intent's sync flushes every page written since the last one, so the pages an order
    writes are order latency: an intent with its audit row is 5 WAL frames (orders row, its
    cl_ord_id, pair+status and status index entries, audit row); v2 wrote 7."""
    path = tmp_path / "bot.sqlite"
    with Store(str(path)) as s:
        s._db.execute("PRAGMA wal_autocheckpoint=0")  # the WAL only grows: its size counts frames
        for n in range(5):  # the b-tree pages exist
            s.record_intent(store_order(f"kb-w{n}"), audit={"time": 1.0, "action": "order_intent"})
        before = (tmp_path / "bot.sqlite-wal").stat().st_size
        for n in range(20):
            s.record_intent(store_order(f"kb-{n}"), audit={"time": 1.0, "action": "order_intent"})
        frames = ((tmp_path / "bot.sqlite-wal").stat().st_size - before) / (4096 + 24) / 20
    assert frames <= 5.2


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


def _statements(db: Store) -> list[str]:
    seen: list[str] = []
    db._db.set_trace_callback(lambda sql: seen.append(" ".join(sql.split()[:3])))
    return seen


def test_an_intent_is_committed_at_full_sync_and_every_other_write_at_normal(tmp_path):
    """The intent's commit returns only once it is on disk (FULL syncs the WAL at the commit); the
    writes after it stay at NORMAL (atomic, not synced), so an order pays for one sync."""
    with Store(str(tmp_path / "s.sqlite")) as db:
        assert db._db.execute("PRAGMA fullfsync").fetchone()[0] == 1  # Darwin's F_FULLFSYNC where it exists
        seen = _statements(db)
        db.record_intent(store_order("kb1"), audit={"action": "order_intent"})
        assert seen == ["PRAGMA synchronous=FULL", "BEGIN IMMEDIATE", "INSERT INTO orders(cl_ord_id,",
                        "INSERT INTO audit(time,", "COMMIT", "PRAGMA synchronous=NORMAL"]
        seen.clear()
        db.update_order("kb1", status="OPEN", txid="O1")
        db.append_audit({"action": "order_status"})
        assert not any("synchronous" in sql for sql in seen)
        with pytest.raises(sqlite3.IntegrityError):  # a refused intent leaves the connection at NORMAL too
            db.record_intent(store_order("kb1"))
        assert db._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_an_intent_the_file_refuses_is_not_recorded(tmp_path):
    """A full disk at the intent's commit: the caller gets the error and nothing of the intent stays."""
    with Store(str(tmp_path / "f.sqlite")) as db:
        db.record_intent(store_order("kb1"))
        pages = db._db.execute("PRAGMA page_count").fetchone()[0]
        db._db.execute(f"PRAGMA max_page_count={pages}")  # the file cannot grow: SQLITE_FULL
        with pytest.raises(sqlite3.OperationalError, match="full"):
            for n in range(200):  # until a page must be added
                db.record_intent(store_order(f"kb-full-{n}", intent={"pad": "x" * 2000}))
        refused = f"kb-full-{n}"
        db._db.execute("PRAGMA max_page_count=1073741823")
        assert db.get_order(refused) is None and not db._db.in_transaction
        assert db._db.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_a_commit_that_fails_is_rolled_back_and_the_store_writes_on(tmp_path):
    """A refused COMMIT (here a deferred foreign key) leaves no transaction open: the next write begins its own."""
    with Store(str(tmp_path / "c.sqlite")) as db:
        db._db.execute("CREATE TABLE parent(id INTEGER PRIMARY KEY)")
        db._db.execute("CREATE TABLE child(pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            with db.tx() as conn:
                conn.execute("INSERT INTO child VALUES (1)")  # checked at the COMMIT
        assert not db._db.in_transaction and db._db.execute("SELECT count(*) FROM child").fetchone()[0] == 0
        db.record_intent(store_order("kb1"))
        assert db.get_order("kb1") is not None


def test_a_store_in_memory_records_intents_without_a_sync():
    with Store(":memory:") as db:
        seen = _statements(db)
        db.record_intent(store_order("kb1"))
        assert db.get_order("kb1") is not None and not any("synchronous" in sql for sql in seen)



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


def test_settled_statuses_are_the_executors_terminal_statuses():
    from krakenbot.execution.order_state import TERMINAL_STATUSES
    from krakenbot.store import SETTLED_STATUSES

    assert SETTLED_STATUSES == {s.value for s in TERMINAL_STATUSES}


def test_another_process_writing_the_file_is_seen_at_once(tmp_path):
    """``krakenbot resume`` runs in another process and writes the trading state: the running
    bot's next read sees it, and its counts go on from the other process's."""
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


def test_counters_and_fill_sequence_follow_writes_and_rollbacks(store):
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


@pytest.mark.parametrize("price", [Decimal("57000.1"), None])
def test_an_orders_insert_row_stores_each_column_as_an_update_would(price):
    from krakenbot.store.orders import _ORDER_COLUMNS, _column, _order_row

    order = OrderRecord(cl_ord_id="kbA", pair="XXBTZEUR", side="buy", ordertype="limit", volume=Decimal("0.0002"),
                        price=price, status="OPEN", created_at=1, updated_at=2.5, txid="OTX", reason="why",
                        volume_executed=Decimal("0.0001"), cost=Decimal("5.7"), fee=Decimal("0.01"), intent={"b": 1, "a": 2})
    assert _order_row(order) == tuple(_column(name, getattr(order, name)) for name in _ORDER_COLUMNS)
