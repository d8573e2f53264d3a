"""The bot's durable memory: one SQLite file (or ``:memory:``) behind one lock.

Why SQLite: the bot must survive a crash between "decided to trade" and "heard back
from Kraken". Every order intent is written (and fsynced) *before* the request leaves,
fills are keyed by Kraken's trade id so one can never be counted twice, the audit
trail is append-only (a trigger refuses UPDATE/DELETE), and the daily risk counters
and the nonce high-water mark outlive the process.

Durability: files run in WAL mode with ``synchronous=NORMAL``: a WAL commit is atomic
and survives a process crash; only an OS crash/power cut can lose the last commits,
never corrupt the file. Order intents are the exception, because losing an intent after the
order reached Kraken would leave an order the bot does not know it owns: after the intent's
commit ``record_intent`` flushes the WAL file (``fdatasync``: everything committed so far is on
disk, the intent included), the guarantee ``synchronous=FULL`` gives at the commit, given after
it. The flush can be started and waited for later (``sync_later=True``): the executor waits for
it at the socket, right before the order's first byte leaves, so the disk works while the
request is prepared (``krakenbot.fsync``). Unlike a failed FULL commit, an intent whose flush
failed stays committed, and the kernel may report later flushes as clean although those pages
never reached the disk: after a failed flush the store refuses every further intent
(``StoreError``) until it is opened again (a restart), so no order leaves on a file that may not
hold it. The intent's own audit row rides in the intent's commit (``record_intent(order,
audit=...)``), so it costs no second transaction. A file SQLite cannot put in WAL mode runs every
commit at ``synchronous=EXTRA`` instead (the rollback journal's deletion synced as well).

Batching: ``batch()`` groups the writes that follow one event (a status change, its audit row,
the daily trade counter) into one transaction, one commit instead of one each. It only batches
WAL+NORMAL writes made *after* the intent is durable; the intent itself is never written inside a
batch (``record_intent`` refuses), so batching cannot delay or weaken it. A batch is all or
nothing: a crash loses the whole batch or none of it, which is what a status change and its
audit row should do anyway.

Audit rows written later: inside ``audit_later()`` a thread's audit rows are queued in memory and
ride in the next transaction this thread opens (the intent's commit, a batch, any write), or are
written behind when the block ends, in the order they were made. The wrapper opens it around one
order's gate, so the guard's AddOrder row (made just before the request leaves) and the wrapper's
own row cost no commit of their own. Only audit rows are queued, never an intent, a status or a
fill; a crash while AddOrder is in flight can lose the guard's "sent" row of that one order, but its
intent row (and the intent's audit row) are already durable and say more.

Written behind: ``write_behind()`` is for the bookkeeping that follows an exchange acknowledgement
(the order's new status and txid, its audit row, the daily trade count). Inside it those writes go
to the read cache at once, so every later read in this process sees them, and their statements are
committed as one unit, in order, by a background writer thread about 2 ms after the block (unless a
write of the caller's comes first and carries it), so the caller does not wait for that commit.
Every transaction first writes the units still owed (so a later write never overtakes them, and
the next intent's fsync covers them), every read that goes to the file first commits them, and
``close()`` commits them. A daily counter is recorded as an addition, made to the file's value when
the unit commits (another process may count too). What this gives up: a process crash in the few
milliseconds before the unit is committed loses it, exactly as if the crash had come just before
the acknowledgement: the order's intent is durable in ``PENDING_SUBMIT``, and recovery finds it at
Kraken by its cl_ord_id, adopts it and counts it (the path the crash tests kill into). If the
commit fails (disk full, a lock held elsewhere), the unit stays owed and the writer tries again
after ``RETRY_S``; meanwhile every later write, the next intent first of all, fails with it, so no
new order leaves while the store cannot record (fail closed). A closed store refuses new units.

Read cache: the rows every order reads (the meta keys such as the trading state, today's daily
counters, the orders that are not settled, the last fill's sequence number) are kept in memory and
written through by this store's own writes, so the pre-trade path makes no SELECT. Another process
may write the same file (``krakenbot resume`` sets the trading state): every cached read first asks
SQLite's ``PRAGMA data_version``, which changes exactly when another connection committed, and then
drops the whole cache; a rollback drops it too. Settled orders (``SETTLED_STATUSES``) are not kept,
so the cache is as large as the open book, not the history. Records handed out are shared: read-only.

Money is stored as TEXT holding ``str(Decimal)`` so nothing passes through float.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, Iterable, Iterator

from krakenbot.fsync import SYNCED, PendingSync, overlapping, settle, start_datasync
from krakenbot.models import Candle, evolve, quick_init

log = logging.getLogger(__name__)

# One encoder for every JSON column (json.dumps with options builds a new encoder per call).
_to_json = json.JSONEncoder(default=str, sort_keys=True).encode

__all__ = ["Store", "StoreError", "IntentFlush", "OrderRecord", "FillRecord", "MIGRATIONS", "SETTLED_STATUSES", "utc_day",
           "utc_day_bounds"]

# Statuses in which an order can no longer rest on the book, fill further or block a pair: the
# execution package's TERMINAL_STATUSES (a unit test keeps the two equal; the store does not import
# the execution package). Orders in any other status are held in the read cache.
SETTLED_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED", "VALIDATED"})


def utc_day(ts: float) -> str:
    """The UTC calendar day of a Unix time, ``YYYY-MM-DD``: the key of daily counters."""
    return _utc_day_of(int(ts // 86_400))


@lru_cache(maxsize=64)  # asked several times per order; a day is a day
def _utc_day_of(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * 86_400, tz=timezone.utc).date().isoformat()


def utc_day_bounds(ts: float) -> tuple[float, float]:
    """``[start, end)`` Unix seconds of the UTC day containing ``ts``: Unix time has no leap seconds,
    so every UTC day is 86,400 s long, as ``utc_day`` counts them (asked before every order)."""
    start = ts // 86_400 * 86_400.0
    return start, start + 86_400.0


class StoreError(Exception):
    """The store cannot be used safely (unknown schema version, bad write)."""


_V1_ORDER_COLUMNS = ("cl_ord_id, txid, pair, side, ordertype, volume, price, status, volume_executed, cost, fee, "
                     "created_at, updated_at, intent, reason")
_V1_AUDIT_COLUMNS = "id, time, actor, action, endpoint, mode, allowed, outcome, detail"

# Each entry upgrades the schema by one version; never edit a released entry, append.
MIGRATIONS: list[list[str]] = [
    # v1: orders, fills, append-only audit, daily counters, nonce, meta
    [
        """CREATE TABLE orders (
            cl_ord_id TEXT PRIMARY KEY,
            txid TEXT UNIQUE,
            pair TEXT NOT NULL,
            side TEXT NOT NULL,
            ordertype TEXT NOT NULL,
            volume TEXT NOT NULL,
            price TEXT,
            status TEXT NOT NULL,
            volume_executed TEXT NOT NULL DEFAULT '0',
            cost TEXT NOT NULL DEFAULT '0',
            fee TEXT NOT NULL DEFAULT '0',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            intent TEXT NOT NULL DEFAULT '{}',
            reason TEXT
        )""",
        "CREATE INDEX orders_status ON orders(status)",
        "CREATE INDEX orders_pair_status ON orders(pair, status)",
        """CREATE TABLE fills (
            trade_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE,
            txid TEXT NOT NULL,
            cl_ord_id TEXT,
            pair TEXT NOT NULL,
            side TEXT NOT NULL,
            price TEXT NOT NULL,
            volume TEXT NOT NULL,
            cost TEXT NOT NULL,
            fee TEXT NOT NULL,
            time REAL NOT NULL,
            maker INTEGER NOT NULL
        )""",
        "CREATE INDEX fills_txid ON fills(txid)",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            endpoint TEXT,
            mode TEXT,
            allowed INTEGER,
            outcome TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END""",
        """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END""",
        """CREATE TABLE daily_counters (
            day TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (day, name)
        )""",
        "CREATE TABLE nonce (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ],
    # v2: candles for the market data service
    [
        """CREATE TABLE candles (
            pair TEXT NOT NULL,
            interval INTEGER NOT NULL,
            time INTEGER NOT NULL,
            open TEXT NOT NULL, high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL,
            vwap TEXT NOT NULL, volume TEXT NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (pair, interval, time)
        )""",
    ],
    # v3: fewer pages per order write. The fsynced intent commit must flush every page written since
    # the previous fsync, so each page an order touches costs order latency (~14 us here, measured):
    # an intent wrote 7 pages (orders row, 4 indexes, audit row, sqlite_sequence), a place+cancel cycle
    # 37; now 4 and 24. The txid index holds only placed orders (an intent has none yet); the
    # status-only index goes (pair+status serves the bot's lookups; the open book is cached in
    # memory); the audit ids need no AUTOINCREMENT (no row is ever deleted, so the highest id never
    # goes back and ids stay strictly increasing) and so no sqlite_sequence page per commit.
    # Rebuilt tables keep their rows, rowids (insertion order) and audit ids.
    [
        """CREATE TABLE orders_v3 (
            cl_ord_id TEXT PRIMARY KEY,
            txid TEXT,
            pair TEXT NOT NULL,
            side TEXT NOT NULL,
            ordertype TEXT NOT NULL,
            volume TEXT NOT NULL,
            price TEXT,
            status TEXT NOT NULL,
            volume_executed TEXT NOT NULL DEFAULT '0',
            cost TEXT NOT NULL DEFAULT '0',
            fee TEXT NOT NULL DEFAULT '0',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            intent TEXT NOT NULL DEFAULT '{}',
            reason TEXT
        )""",
        f"INSERT INTO orders_v3(rowid, {_V1_ORDER_COLUMNS}) SELECT rowid, {_V1_ORDER_COLUMNS} FROM orders",
        "DROP TABLE orders",
        "ALTER TABLE orders_v3 RENAME TO orders",
        "CREATE UNIQUE INDEX orders_txid ON orders(txid) WHERE txid IS NOT NULL",
        "CREATE INDEX orders_pair_status ON orders(pair, status)",
        """CREATE TABLE audit_v3 (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            endpoint TEXT,
            mode TEXT,
            allowed INTEGER,
            outcome TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        )""",
        f"INSERT INTO audit_v3({_V1_AUDIT_COLUMNS}) SELECT {_V1_AUDIT_COLUMNS} FROM audit",
        "DROP TABLE audit",  # its triggers go with it; DROP TABLE fires no DELETE trigger
        "ALTER TABLE audit_v3 RENAME TO audit",
        """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END""",
        """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END""",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


@quick_init
@dataclass(frozen=True)
class OrderRecord:
    """The bot's view of one order; ``status`` is an ``OrderStatus`` value (a string here,
    so the store does not depend on the execution package)."""

    cl_ord_id: str
    pair: str
    side: str
    ordertype: str
    volume: Decimal
    price: Decimal | None
    status: str
    created_at: float
    updated_at: float
    txid: str | None = None
    volume_executed: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    intent: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True)
class FillRecord:
    """One execution, as Kraken reported it (TradesHistory / QueryTrades)."""

    trade_id: str
    txid: str
    pair: str
    side: str
    price: Decimal
    volume: Decimal
    cost: Decimal
    fee: Decimal
    time: float
    maker: bool
    cl_ord_id: str | None = None
    seq: int | None = None  # insertion order in the store, set when read back


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _txt(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


_ORDER_COLUMNS = (
    "cl_ord_id, txid, pair, side, ordertype, volume, price, status, volume_executed, "
    "cost, fee, created_at, updated_at, intent, reason"
)
# Every column but the key, as ``col = ?`` in _ORDER_COLUMNS order (UPDATE ... SET).
_ORDER_ASSIGNMENTS = ", ".join(f"{c.strip()} = ?" for c in _ORDER_COLUMNS.split(",")[1:])


# The order columns ``update_order`` may change (never the key, the pair, side or type).
_UPDATABLE = frozenset({"txid", "status", "volume_executed", "cost", "fee", "updated_at", "intent", "reason",
                        "volume", "price"})


@lru_cache(maxsize=64)  # an order's few kinds of update, built once each
def _update_sql(columns: tuple[str, ...]) -> str:
    return f"UPDATE orders SET {', '.join(f'{n} = ?' for n in columns)} WHERE cl_ord_id = ?"


# An audit event's keys stored as columns (``detail`` is the JSON of the rest).
_AUDIT_COLUMNS = frozenset({"time", "actor", "action", "endpoint", "mode", "allowed", "outcome", "detail"})

_ADD_DAILY = "-- add to a daily counter --"  # a recorded addition, made when the unit is committed


class _Recorder:
    """Stands in for the connection inside ``write_behind()``: keeps each statement for the writer.
    ``expect_one``: the statement must change exactly one row when it is finally run. An audit row
    is kept as its event (sql None) and encoded when written, off the caller's path."""

    rowcount = 1
    lastrowid = 0

    def __init__(self) -> None:
        self.statements: list[tuple[str | None, Any, bool]] = []

    def audit(self, event: dict[str, Any]) -> int:
        self.statements.append((None, dict(event), False))
        return 0

    def execute(self, sql: str, params: Iterable[Any] = (), expect_one: bool = False) -> "_Recorder":
        self.statements.append((sql, tuple(params), expect_one))
        return self


# How long the writer lets a unit wait before committing it (group commit). The caller of an order
# usually writes again within this (a cancel, a fill, the next intent), and the unit then rides in
# that commit; committing at once instead competes with the caller for the GIL and the store's lock
# while it is still working (measured: the bot path was slower with an immediate writer).
GROUP_COMMIT_S = 0.002
RETRY_S = 1.0  # after a failed background commit (disk full, a long lock elsewhere)


class _BackgroundWriter:
    """One daemon thread for the whole process commits every store's written-behind units
    (a thread per store would outlive stores that are never closed)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Store, float]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def submit(self, store: "Store") -> None:
        self._queue.put((store, time.monotonic()))
        if self._thread is None or not self._thread.is_alive():
            with self._start:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="krakenbot-store-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            store, submitted = self._queue.get()
            wait = submitted + GROUP_COMMIT_S - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # wall time, in the background: no caller waits for it
            try:
                store._background_turn()
            except Exception as error:  # noqa: BLE001 - the unit stays owed; the next write fails with it
                log.error("store %s: written-behind writes not committed yet (retrying in %.0f s): %s",
                          store.path, RETRY_S, error)
                # No later hand-on wakes the writer while units are owed (_hand_on): retry on a timer.
                timer = threading.Timer(RETRY_S, self.submit, args=(store,))
                timer.daemon = True
                timer.start()

    def after_fork(self) -> None:
        self.__init__()  # type: ignore[misc]


_WRITER = _BackgroundWriter()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WRITER.after_fork)


CLOSE_FLUSH_WAIT_S = 10.0  # how long close() waits for flushes still running before it closes the WAL


def _sync_directory(path: str) -> None:
    """fsync a directory, so a file created in it survives a power cut. As SQLite does, a directory
    that cannot be opened, or a file system that cannot sync one (EINVAL), is let be (a warning);
    a directory whose sync fails otherwise (EIO) raises."""
    try:
        fd = os.open(path or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as error:
        log.warning("cannot open %s to sync it (%s): a new WAL file's entry is left to the file system", path, error)
        return
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


class IntentFlush:
    """What ``record_intent`` returns: the intent is on disk once ``wait()`` has returned. It also waits
    for the store's earlier flushes still running when it began (glibc runs them in order, and after
    one fails the kernel may report the next as clean), and fails if any flush of the store failed."""

    __slots__ = ("_store", "_flushes")

    def __init__(self, store: "Store", flushes: tuple[Any, ...]) -> None:
        self._store, self._flushes = store, flushes

    @property
    def done(self) -> bool:
        return all(flush.done for flush in self._flushes)

    def wait(self, timeout: float | None = None) -> None:
        """Return once every flush has; ``OSError`` if one failed, ``TimeoutError`` past ``timeout`` s."""
        ends = None if timeout is None else time.monotonic() + timeout
        for flush in self._flushes:
            flush.wait(None if ends is None else max(0.0, ends - time.monotonic()))
        failed = self._store._flush_failed
        if failed is not None:
            raise OSError(failed.errno, f"a flush of the store's WAL failed earlier ({failed})")


class Store:
    """SQLite persistence; every public method is one transaction under one lock."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._batch_depth = 0  # > 0 while this thread (holding _lock) runs a batch()
        self._local = threading.local()  # .queued: this thread's audit rows inside audit_later()
        # The read cache (module docstring); every field is guarded by _lock. None = not loaded.
        self._seen_version: int | None = None          # PRAGMA data_version the cache belongs to
        self._live: dict[str, OrderRecord] | None = None  # unsettled orders, in (created_at, rowid) order
        self._meta: dict[str, str] | None = None
        self._daily: dict[tuple[str, str], Decimal] = {}
        self._fill_seq: int | None = None               # the highest fill seq
        self._cache_gen = 0  # moves whenever the cache is dropped or filled from the file
        self._pending: list[_Recorder] = []  # written-behind units not committed yet, oldest first
        # Guards _pending alone: handing a unit on must not wait for the writer's commit (_lock).
        self._pending_lock = threading.Lock()
        self._closed = False
        self._wal = False  # WAL mode: intents are made durable by flushing the WAL file (_sync_wal)
        self._wal_fd: int | None = None  # our own descriptor of the WAL file, for the flush
        self._wal_id: tuple[int, int] | None = None  # (st_dev, st_ino) of the file _wal_fd is open on
        self._wal_path: str | None = None  # the WAL file SQLite writes (symlinks resolved, absolute)
        self._unsettled: list[PendingSync] = []  # flushes started and not yet let go by _sync_wal (it settles them)
        self._flush_failed: OSError | None = None  # a flush of the WAL failed: no more intents (docstring)
        self._pending_since = 0.0  # monotonic time the oldest owed unit was handed on
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys=ON")
            if self.path != ":memory:":
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                self._wal = str(mode).lower() == "wal"
                # Without WAL (a file system that refuses it) there is no WAL file to flush after an
                # intent: every commit then syncs itself, the journal's deletion included (EXTRA).
                self._db.execute("PRAGMA synchronous=NORMAL" if self._wal else "PRAGMA synchronous=EXTRA")
                if self._wal:  # SQLite's own name for the file: a symlinked or relative path is resolved
                    main = next(r for r in self._db.execute("PRAGMA database_list") if r[1] == "main")
                    self._wal_path = str(main[2]) + "-wal"
                self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except BaseException:
            self._closed = True  # a writer turn queued by a committed migration step finds it closed
            self._db.close()  # a refused or unreadable file must not stay open
            raise

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        """Commit what is still owed (written behind), then close; a failing commit is raised."""
        with self._lock:
            if self._closed:
                return
            try:
                self._flush_behind()
            finally:
                with self._pending_lock:
                    self._closed = True
                    lost = len(self._pending)
                try:
                    self._close_wal_fd()
                finally:
                    self._db.close()
                if lost:  # the flush above failed and raises; say what that cost
                    log.error("store %s closed with %d written-behind unit(s) not committed", self.path, lost)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run several writes as one transaction (one commit); re-entrant. Every public write
        inside joins it; an exception that escapes the batch rolls all of them back. Inside
        ``write_behind()`` it joins that unit instead (committed as one, behind)."""
        with self._lock:
            if getattr(self._local, "unit", None) is not None:
                yield
                return
            if self._batch_depth:
                self._batch_depth += 1
                try:
                    yield
                finally:
                    self._batch_depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._batch_depth = 1
            owed: tuple[list, list] = ([], [])
            try:
                owed = self._write_owed(self._db)
                yield
            except BaseException:
                self._batch_depth = 0
                self._abort(owed)
                raise
            self._batch_depth = 0
            try:
                self._db.execute("COMMIT")
            except BaseException:
                self._abort(owed)  # disk full shows here in WAL mode: nothing of it is lost from the queue
                raise
            self._flush_ahead()

    @contextmanager
    def _tx(self, behind: bool = False, flushing: bool = False, intent: bool = False) -> Iterator[Any]:
        """One transaction (or the open batch's). ``behind``: the caller's statements only write
        (no SELECT whose answer it needs), so inside ``write_behind()`` they are recorded instead;
        any other write there is refused (``flushing``: only commits what is owed). ``intent``: an
        order intent's, whose flush the caller starts itself (``record_intent``)."""
        with self._lock:
            unit = getattr(self._local, "unit", None) if behind else None
            if unit is not None:
                yield unit
                return
            if self._batch_depth:  # inside batch(): its transaction commits (or rolls back) for us
                yield self._db
                return
            if not flushing and getattr(self._local, "unit", None) is not None:
                raise StoreError("a write that is not written behind, inside write_behind(): it would overtake the unit")
            self._db.execute("BEGIN IMMEDIATE")
            owed: tuple[list, list] = ([], [])
            try:
                owed = self._write_owed(self._db)
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._abort(owed)  # the cache may hold writes of this transaction; the owed stay owed
                raise
            if not intent:
                self._flush_ahead()

    def _abort(self, owed: tuple[list, list]) -> None:
        """A transaction failed (a statement, or its COMMIT): undo it, forget the cache, owe again."""
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        finally:
            self._drop_cache()
            self._requeue(owed)

    @contextmanager
    def write_behind(self) -> Iterator[None]:
        """Writes in this block reach the read cache now and the file right after, committed by the
        background writer as one unit (module docstring: what this gives up, and why it is safe).
        Inside a batch it joins the batch; an exception discards the unit and drops the cache."""
        with self._lock:
            if self._batch_depth or getattr(self._local, "unit", None) is not None:
                yield
                return
            if self._closed:
                raise StoreError("store is closed: nothing can be written behind")
            unit, generation = _Recorder(), self._cache_gen
            self._local.unit = unit
            try:
                yield
            except BaseException:
                self._drop_cache()  # it holds writes that will never reach the file
                raise
            finally:
                self._local.unit = None
            queued = getattr(self._local, "queued", None)
            if queued:  # this thread's audit rows made before the block go first
                self._local.queued = []
                head = _Recorder()
                for event in queued:
                    self._insert_audit(head, event)
                unit.statements[:0] = head.statements
            if not unit.statements:
                return
            wake = self._hand_on(unit)
            if self._cache_gen != generation:
                self._drop_cache()  # filled from the file while this unit was only in memory
        if wake:
            _WRITER.submit(self)

    def _hand_on(self, unit: _Recorder) -> bool:
        """Queue a unit; True when the writer must be woken. A wake-up is owed only when the queue
        was empty: a non-empty queue already has one coming (the writer takes the whole queue)."""
        with self._pending_lock:
            if self._closed:  # close() has committed what it could: this would never reach the file
                raise StoreError("store is closed: written-behind writes refused")
            self._pending.append(unit)
            if len(self._pending) == 1:
                self._pending_since = time.monotonic()
                return True
            return False

    def _background_turn(self) -> None:
        """The writer thread's turn: commit the owed units once they have waited GROUP_COMMIT_S. A
        younger batch was handed on after an earlier turn or ``flush()`` took its predecessors, and
        has a turn of its own coming: it is left for that turn, so the writer never competes with a
        caller who is still working."""
        if self._pending and self._pending_since <= time.monotonic() - GROUP_COMMIT_S:
            self._flush_behind()

    def flush(self) -> None:
        """Commit what is written behind now, on this thread (the writer thread would, shortly),
        after any commit the writer is making, then wait (boundedly) for the WAL's flushes still
        running to reach the disk. For a caller that wants the file complete at a point of its
        choosing, e.g. a benchmark that must not leave the writer's commit or the disk's flush to
        land in the next thing it times. A flush that failed raises ``StoreError``."""
        with self._lock:  # a commit the writer thread is making holds the lock: wait for it
            self._flush_behind()
            try:
                IntentFlush(self, tuple(self._unsettled)).wait(timeout=CLOSE_FLUSH_WAIT_S)
            except (OSError, TimeoutError) as error:
                raise StoreError(f"store {self.path}: the WAL did not reach the disk: {error}") from None
            self._unsettled = []

    def _flush_behind(self) -> None:
        """Commit the written-behind units now: the writer thread, a read that goes to the file, close."""
        if not self._pending:  # mostly, for the writer: a later write carried them (no lock taken)
            return
        with self._lock:
            if not self._pending or self._closed or self._batch_depth or self._db.in_transaction:
                return
            with self._tx(flushing=True):
                pass  # _tx writes what is owed first

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """A read from the file, after committing what is written behind (so the file says all)."""
        with self._lock:
            if self._pending:
                self._flush_behind()
            return self._db.execute(sql, tuple(args)).fetchall()

    @contextmanager
    def audit_later(self, on_error: Any = None) -> Iterator[None]:
        """Queue this thread's audit rows; they join the next transaction it opens, or are written
        behind at the end (see the module docstring). Re-entrant: the outermost block hands them on.
        A failure then is passed to ``on_error`` when given (the audit never stops an order's caller),
        else raised."""
        if getattr(self._local, "queued", None) is not None:
            yield
            return
        self._local.queued = []
        try:
            yield
        finally:
            queued, self._local.queued = self._local.queued, None
            try:
                if queued:
                    self._audit_behind(queued)
            except Exception as error:  # noqa: BLE001 - handed to the caller's policy
                if on_error is None:
                    raise
                on_error(error)

    def _audit_behind(self, events: list[dict[str, Any]]) -> None:
        """Audit rows owed at the end of ``audit_later()``: into this thread's open batch or unit, else
        written behind. Without _lock when the writer holds it: this thread then has no batch open."""
        if self._lock.acquire(blocking=False):
            try:
                open_unit = getattr(self._local, "unit", None)
                if self._batch_depth or open_unit is not None:
                    target = open_unit if open_unit is not None else self._db
                    for event in events:
                        self._insert_audit(target, event)
                    return
            finally:
                self._lock.release()
        unit = _Recorder()
        for event in events:
            self._insert_audit(unit, event)
        if self._hand_on(unit):
            _WRITER.submit(self)

    # -- read cache ------------------------------------------------------------------------
    def _drop_cache(self) -> None:
        self._live, self._meta, self._fill_seq = None, None, None
        self._daily.clear()
        self._cache_gen += 1

    @contextmanager
    def consistent_reads(self) -> Iterator[None]:
        """One decision's reads (an order's gates and risk check) see one state: another process's
        commit is looked for once, at the first read in the block, not at every read."""
        if getattr(self._local, "checked", None) is not None:
            yield
            return
        self._local.checked = False
        try:
            yield
        finally:
            self._local.checked = None

    def _fresh(self) -> None:
        """Drop the cache if another connection committed since it was filled (caller holds _lock)."""
        checked = getattr(self._local, "checked", None)
        if checked:
            return
        if checked is False:
            self._local.checked = True
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._seen_version:
            self._drop_cache()
            self._seen_version = version

    def _live_orders(self) -> dict[str, OrderRecord]:
        self._fresh()
        if self._live is None:
            settled = sorted(SETTLED_STATUSES)
            rows = self._query(f"SELECT * FROM orders WHERE status NOT IN ({','.join('?' * len(settled))}) "
                               "ORDER BY created_at, rowid", settled)
            self._live = {r["cl_ord_id"]: self._order_from_row(r) for r in rows}
            self._cache_gen += 1
        return self._live

    def _cache_changes(self, cl_ord_id: str, changes: dict[str, Any],
                       updated_from: tuple[OrderRecord, OrderRecord] | None = None) -> None:
        """Apply the columns this connection just wrote to one order's cached row. The cache holds
        every unsettled row, so an order missing from it is settled in the file. ``updated_from``:
        (the caller's record, it with the changes): reused when the cache holds that very record."""
        live = self._live
        if live is None:
            return
        cached = live.get(cl_ord_id)
        if cached is None:
            if "status" in changes and changes["status"] not in SETTLED_STATUSES:
                self._live = None  # a settled order coming back to life: its place is by rowid, reload
            return
        updated = updated_from if updated_from is not None and updated_from[0] is cached else None
        updated = updated[1] if updated is not None else evolve(cached, **changes)
        if updated.status in SETTLED_STATUSES:
            del live[cl_ord_id]
        else:
            live[cl_ord_id] = updated  # same row, same place in the order

    def _write_owed(self, db: sqlite3.Connection) -> tuple[list, list]:
        """At the start of a transaction: the written-behind units, then this thread's queued audit
        rows. Returns both, to be owed again if the transaction rolls back."""
        with self._pending_lock:
            units, self._pending = self._pending, []
        queued = getattr(self._local, "queued", None) or []
        if queued:
            self._local.queued = []
        try:
            for unit in units:
                for sql, params, expect_one in unit.statements:
                    if sql is None:
                        self._insert_audit(db, params)
                        continue
                    if sql is _ADD_DAILY:
                        day, name, amount = params
                        if self._add_daily_in(db, day, name, amount) != self._daily.get((day, name)):
                            # another process counted meanwhile, or later additions are still in memory:
                            # read it again from the file, after this unit (and any open one) is there
                            self._daily.pop((day, name), None)
                            self._cache_gen += 1
                        continue
                    cur = db.execute(sql, params)
                    if expect_one and cur.rowcount != 1:
                        raise StoreError(f"written-behind statement changed {cur.rowcount} rows: {sql[:60]}")
            for event in queued:
                self._insert_audit(db, event)
        except BaseException:
            self._requeue((units, queued))
            raise
        return units, queued

    def _requeue(self, owed: tuple[list, list]) -> None:
        units, queued = owed
        with self._pending_lock:
            self._pending[:0] = units
        if units:
            # The writer's turn for these may have come and gone while they sat in the failed
            # transaction (it found nothing owed); later hand-ons would not wake it (_hand_on).
            _WRITER.submit(self)
        if queued and getattr(self._local, "queued", None) is not None:
            self._local.queued[:0] = queued

    def _migrate(self) -> None:
        with self._lock:
            version = self.schema_version
            if version > SCHEMA_VERSION:
                # Fail closed: a newer bot wrote this file; we do not know its meaning.
                raise StoreError(f"store schema v{version} is newer than this bot (v{SCHEMA_VERSION})")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                with self._tx() as db:
                    for statement in MIGRATIONS[target - 1]:
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version={target}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def integrity_check(self) -> str:
        rows = self._query("PRAGMA integrity_check")
        return "; ".join(str(r[0]) for r in rows)

    # -- nonce (the client's nonce_store protocol) -------------------------------------
    def load_nonce(self) -> int:
        rows = self._query("SELECT value FROM nonce WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def save_nonce(self, n: int) -> None:
        """High-water mark: a lower value never overwrites a higher one."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO nonce(id, value) VALUES (1, ?) "
                "ON CONFLICT(id) DO UPDATE SET value = max(value, excluded.value)",
                (int(n),),
            )

    # -- audit (append-only) ---------------------------------------------------------------
    def append_audit(self, event: dict[str, Any]) -> int:
        """Append one audit row. Keys: time, actor, action, endpoint, mode, allowed, outcome;
        anything else goes into ``detail``. Callers redact secrets before calling.
        Inside ``audit_later()`` (and outside a batch) the row is queued and 0 is returned."""
        unit = getattr(self._local, "unit", None)
        if unit is not None:  # inside write_behind(): rides in its unit
            return self._insert_audit(unit, event)
        queued = getattr(self._local, "queued", None)
        if queued is not None and not self._batch_depth:
            queued.append(dict(event))
            return 0
        with self._tx() as db:
            return self._insert_audit(db, event)

    @staticmethod
    def _insert_audit(db: Any, event: dict[str, Any]) -> int:
        if isinstance(db, _Recorder):
            return db.audit(event)
        detail = dict(event.get("detail") or {})
        if not event.keys() <= _AUDIT_COLUMNS:  # keys beyond the columns go into detail
            detail.update({k: v for k, v in event.items() if k not in _AUDIT_COLUMNS})
        allowed = event.get("allowed")
        cur = db.execute(
            "INSERT INTO audit(time, actor, action, endpoint, mode, allowed, outcome, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                float(event.get("time", 0.0)),
                str(event.get("actor", "bot")),
                str(event.get("action", "")),
                event.get("endpoint"),
                None if event.get("mode") is None else str(event.get("mode")),
                None if allowed is None else int(bool(allowed)),
                event.get("outcome"),
                _to_json(detail),
            ),
        )
        return int(cur.lastrowid)

    def audit_rows(self, action: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM audit"
        args: tuple[Any, ...] = ()
        if action is not None:
            sql += " WHERE action = ?"
            args = (action,)
        rows = self._query(sql + " ORDER BY id", args)
        out = []
        for r in rows:
            row = dict(r)
            row["allowed"] = None if row["allowed"] is None else bool(row["allowed"])
            row["detail"] = json.loads(row["detail"])
            out.append(row)
        return out

    # -- orders --------------------------------------------------------------------------
    def record_intent(self, order: OrderRecord, audit: dict[str, Any] | None = None, *,
                      sync_later: bool = False) -> "IntentFlush":
        """Durably record an order *before* it is sent (committed, then flushed to disk; see the
        module docstring), with its audit row (``append_audit``'s event) in the same commit when given.
        Returns once the intent is on disk, or with ``sync_later`` as soon as it is committed (other
        processes see it): the returned flush must then be waited for before the order leaves
        (``wait()`` raises ``OSError`` if the disk refused it). Raises ``sqlite3.IntegrityError`` if
        the cl_ord_id already exists, ``StoreError`` (nothing recorded) once a flush has failed."""
        with self._lock:
            if self._batch_depth or getattr(self._local, "unit", None) is not None:
                raise StoreError("an order intent is committed on its own (fsynced), never inside a batch")
            if self._flush_failed is not None:
                raise StoreError(f"no order intent is recorded after a failed flush of {self._wal_path} "
                                 f"({self._flush_failed}); restart the bot once the disk is sound")
            with self._tx(intent=True) as db:
                db.execute(
                    f"INSERT INTO orders({_ORDER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    self._order_row(order),
                )
                if audit is not None:
                    self._insert_audit(db, audit)
            if self._live is not None and order.status not in SETTLED_STATUSES:
                self._live[order.cl_ord_id] = order  # the newest row: last in (created_at, rowid) order
            flush = IntentFlush(self, (SYNCED,))  # without WAL the commit synced itself; in memory: no disk
            if self._wal:
                try:
                    flush = self._sync_wal()
                except OSError as error:  # the WAL file cannot be opened: the intent is not known to be on disk
                    flush = IntentFlush(self, (PendingSync(error=error, on_failure=self._flush_refused),))
        if not sync_later:
            flush.wait()
        return flush

    def _sync_wal(self) -> "IntentFlush":
        """Start flushing the WAL file: every commit made so far, the intent's last, reaches the disk.
        Caller holds _lock. The descriptor is our own, and follows the file if SQLite ever replaces it
        (compared by device and inode); a new WAL file's directory entry is synced once, as SQLite
        does at synchronous=FULL."""
        wal = self._wal_path or self.path + "-wal"
        found = os.stat(wal)
        if self._wal_fd is None or self._wal_id != (found.st_dev, found.st_ino):
            # Closing a descriptor drops the process's POSIX locks on its file; SQLite locks the
            # database and -shm files, never the WAL, so opening and closing our own is safe.
            self._close_wal_fd()
            self._wal_fd = os.open(wal, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
            opened = os.fstat(self._wal_fd)
            self._wal_id = (opened.st_dev, opened.st_ino)
            _sync_directory(os.path.dirname(wal))
        still = settle(self._unsettled)  # what has ended is let go; a failure there latches the store
        still.append(start_datasync(self._wal_fd, on_failure=self._flush_refused))
        self._unsettled = still
        return IntentFlush(self, tuple(still))

    def _flush_ahead(self) -> None:
        """After an ordinary commit (caller holds _lock): start flushing the WAL in the background,
        unless a flush is still running (the next intent's covers what it misses). Nothing waits
        for it; it leaves the next intent's flush only its own pages: in-situ fdatasync of that WAL
        p50 271 -> 121 us, so the flush ends while the order's request is still being prepared. A
        failure latches the store like an intent's flush. Only where the flush really runs in the
        background (``overlapping()``): elsewhere it would make every commit wait for the disk."""
        if self._wal_fd is None or self._flush_failed is not None or not overlapping():
            return  # no intent yet (the descriptor opens with the first), or no more intents anyway
        running = settle(self._unsettled)
        if not running:
            running.append(start_datasync(self._wal_fd, on_failure=self._flush_refused))
        self._unsettled = running

    def _flush_refused(self, error: OSError) -> None:
        """A flush of the WAL failed (whoever saw it): no intent is recorded from now on."""
        if self._flush_failed is None:
            self._flush_failed = error
            log.error("store %s: a flush of the WAL failed (%s): no more orders until a restart", self.path, error)

    def _close_wal_fd(self) -> None:
        """Wait (boundedly) for the flushes still running on the descriptor, then close it."""
        if self._wal_fd is None:
            return
        try:
            IntentFlush(self, tuple(self._unsettled)).wait(timeout=CLOSE_FLUSH_WAIT_S)
        except TimeoutError:  # their outcome will never be seen: take it for a failure (no more intents)
            self._flush_refused(OSError(errno.ETIMEDOUT, f"flushes still running after {CLOSE_FLUSH_WAIT_S:.0f} s"))
        except OSError as error:
            log.error("store %s: the last flushes of the WAL did not end well: %s", self.path, error)
        finally:
            os.close(self._wal_fd)
            self._wal_fd, self._wal_id, self._unsettled = None, None, []

    def upsert_order(self, order: OrderRecord) -> None:
        """Insert an order or overwrite the one with its cl_ord_id (adopting an order found on the
        exchange, tests); a txid already owned by another order raises ``sqlite3.IntegrityError``."""
        with self._tx() as db:
            db.execute(
                f"INSERT INTO orders({_ORDER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                f"ON CONFLICT(cl_ord_id) DO UPDATE SET {_ORDER_ASSIGNMENTS}",
                self._order_row(order) + self._order_row(order)[1:],
            )
            self._live = None  # insert or overwrite: rare (adoption, tests); reload rather than guess its place

    def update_order(self, cl_ord_id: str, current: OrderRecord | None = None, **changes: Any) -> OrderRecord:
        """Change some fields of one order in one transaction; returns the new record.
        ``current``: the record the caller holds (under its order lock): only the changed columns
        are written and the row is not read back (no SELECT, no intent JSON round trip)."""
        unknown = changes.keys() - _UPDATABLE
        if unknown:
            raise StoreError(f"cannot update order fields {sorted(unknown)}")
        if current is not None and current.cl_ord_id == cl_ord_id and changes:
            record = evolve(current, **changes)
            values = [self._column_value(name, value) for name, value in changes.items()]
            with self._tx(behind=True) as db:
                sql = _update_sql(tuple(changes))
                if isinstance(db, _Recorder):
                    db.execute(sql, (*values, cl_ord_id), expect_one=True)
                    self._cache_changes(cl_ord_id, changes, (current, record))
                    return record
                cur = db.execute(sql, (*values, cl_ord_id))
                if cur.rowcount != 1:
                    raise StoreError(f"unknown order {cl_ord_id}")
                self._cache_changes(cl_ord_id, changes, (current, record))  # the cached row, not a copy
            return record
        with self._tx() as db:
            row = db.execute("SELECT * FROM orders WHERE cl_ord_id = ?", (cl_ord_id,)).fetchone()
            if row is None:
                raise StoreError(f"unknown order {cl_ord_id}")
            record = replace(self._order_from_row(row), **changes)
            # UPDATE, not INSERT OR REPLACE: a REPLACE that hit the UNIQUE txid of another
            # order would silently delete that other order's row.
            values = self._order_row(record)
            db.execute(f"UPDATE orders SET {_ORDER_ASSIGNMENTS} WHERE cl_ord_id = ?", values[1:] + (cl_ord_id,))
            self._cache_changes(cl_ord_id, changes)
            return record

    def get_order(self, cl_ord_id: str) -> OrderRecord | None:
        with self._lock:
            cached = self._live_orders().get(cl_ord_id)
            if cached is not None:
                return cached
            rows = self._query("SELECT * FROM orders WHERE cl_ord_id = ?", (cl_ord_id,))
        return self._order_from_row(rows[0]) if rows else None

    def order_by_txid(self, txid: str) -> OrderRecord | None:
        rows = self._query("SELECT * FROM orders WHERE txid = ?", (txid,))
        return self._order_from_row(rows[0]) if rows else None

    def orders(self, statuses: Iterable[str] | None = None, pair: str | None = None) -> list[OrderRecord]:
        """Orders oldest first (created_at, then insertion), optionally of some statuses and one pair.
        Asking only for unsettled statuses (the open book) is answered from the read cache."""
        if statuses is not None:
            statuses = list(statuses)
            if SETTLED_STATUSES.isdisjoint(statuses):
                wanted = frozenset(statuses)
                with self._lock:
                    live = list(self._live_orders().values())
                found = [o for o in live if o.status in wanted and (pair is None or o.pair == pair)]
                found.sort(key=lambda o: o.created_at)  # stable: ties keep insertion (rowid) order
                return found
        sql, args = "SELECT * FROM orders WHERE 1=1", []
        if statuses is not None:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args += statuses
        if pair is not None:
            sql += " AND pair = ?"
            args.append(pair)
        rows = self._query(sql + " ORDER BY created_at, rowid", args)
        return [self._order_from_row(r) for r in rows]

    @staticmethod
    def _column_value(name: str, value: Any) -> Any:
        """One column as ``_order_row`` writes it."""
        if name in ("volume", "volume_executed", "cost", "fee", "price"):
            return _txt(value)
        if name == "updated_at":
            return float(value)
        if name == "intent":
            return _to_json(value)
        return value

    @staticmethod
    def _order_row(o: OrderRecord) -> tuple[Any, ...]:
        return (
            o.cl_ord_id, o.txid, o.pair, o.side, o.ordertype, str(o.volume), _txt(o.price), o.status,
            str(o.volume_executed), str(o.cost), str(o.fee), float(o.created_at), float(o.updated_at),
            _to_json(o.intent), o.reason,
        )

    @staticmethod
    def _order_from_row(r: sqlite3.Row) -> OrderRecord:
        return OrderRecord(
            cl_ord_id=r["cl_ord_id"], txid=r["txid"], pair=r["pair"], side=r["side"],
            ordertype=r["ordertype"], volume=Decimal(r["volume"]), price=_dec(r["price"]),
            status=r["status"], volume_executed=Decimal(r["volume_executed"]), cost=Decimal(r["cost"]),
            fee=Decimal(r["fee"]), created_at=r["created_at"], updated_at=r["updated_at"],
            intent=json.loads(r["intent"]), reason=r["reason"],
        )

    # -- fills ---------------------------------------------------------------------------
    def record_fill(self, fill: FillRecord) -> bool:
        """Record a fill once: returns False (and changes nothing) if its trade id is known."""
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO fills(trade_id, seq, txid, cl_ord_id, pair, side, price, volume, cost, fee, time, "
                    "maker) VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM fills), ?,?,?,?,?,?,?,?,?,?)",
                    (fill.trade_id, fill.txid, fill.cl_ord_id, fill.pair, fill.side, str(fill.price),
                     str(fill.volume), str(fill.cost), str(fill.fee), float(fill.time), int(fill.maker)),
                )
                if self._fill_seq is not None:
                    self._fill_seq += 1  # the row took max(seq) + 1
        except sqlite3.IntegrityError:
            return False
        return True

    def has_fill(self, trade_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM fills WHERE trade_id = ?", (trade_id,)))

    def fills(self, pair: str | None = None, txid: str | None = None, after_seq: int = 0) -> list[FillRecord]:
        if after_seq >= self.last_fill_seq():
            return []  # nothing newer (the position replay asks before every order)
        sql, args = "SELECT * FROM fills WHERE seq > ?", [after_seq]
        if pair is not None:
            sql += " AND pair = ?"
            args.append(pair)
        if txid is not None:
            sql += " AND txid = ?"
            args.append(txid)
        rows = self._query(sql + " ORDER BY time, seq", args)
        return [
            FillRecord(
                trade_id=r["trade_id"], txid=r["txid"], cl_ord_id=r["cl_ord_id"], pair=r["pair"],
                side=r["side"], price=Decimal(r["price"]), volume=Decimal(r["volume"]),
                cost=Decimal(r["cost"]), fee=Decimal(r["fee"]), time=r["time"], maker=bool(r["maker"]),
                seq=r["seq"],
            )
            for r in rows
        ]

    def last_fill_seq(self) -> int:
        with self._lock:
            self._fresh()
            if self._fill_seq is None:
                self._fill_seq = int(self._query("SELECT max(seq) FROM fills")[0][0] or 0)
                self._cache_gen += 1
            return self._fill_seq

    # -- daily counters ----------------------------------------------------------------------
    def add_daily(self, day: str, name: str, amount: Decimal | int = 1) -> Decimal:
        """Add to a per-UTC-day counter and return the new value (Decimal, exact). The addition is
        made to the file's value under the write lock (another process may count too); written
        behind, it is recorded as an addition and made when the unit is committed."""
        amount = Decimal(amount)
        with self._tx(behind=True) as db:
            if isinstance(db, _Recorder):
                value = self.daily_value(day, name) + amount  # what this process sees meanwhile
                db.statements.append((_ADD_DAILY, (day, name, amount), False))
            else:
                value = self._add_daily_in(db, day, name, amount)
            self._daily[(day, name)] = value
            return value

    def _add_daily_in(self, db: sqlite3.Connection, day: str, name: str, amount: Decimal) -> Decimal:
        row = db.execute("SELECT value FROM daily_counters WHERE day = ? AND name = ?", (day, name)).fetchone()
        value = (Decimal(row[0]) if row else Decimal(0)) + amount
        db.execute("INSERT OR REPLACE INTO daily_counters(day, name, value) VALUES (?, ?, ?)", (day, name, str(value)))
        return value

    def daily_value(self, day: str, name: str) -> Decimal:
        with self._lock:
            self._fresh()
            cached = self._daily.get((day, name))
            if cached is None:
                rows = self._query("SELECT value FROM daily_counters WHERE day = ? AND name = ?", (day, name))
                if len(self._daily) >= 256:  # an entry per counter and day: old days go
                    self._daily.clear()
                cached = self._daily[(day, name)] = Decimal(rows[0][0]) if rows else Decimal(0)
                self._cache_gen += 1
            return cached

    def daily_trade_count(self, day: str) -> int:
        return int(self.daily_value(day, "trades"))

    # -- candles ---------------------------------------------------------------------------
    def save_candles(self, pair: str, interval: int, candles: Iterable[Candle]) -> int:
        """Upsert candles (the last, still-forming candle is overwritten as it changes)."""
        rows = [
            (pair, int(interval), int(c.time), str(c.open), str(c.high), str(c.low), str(c.close),
             str(c.vwap), str(c.volume), int(c.count))
            for c in candles
        ]
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO candles VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def load_candles(
        self, pair: str, interval: int, since: int | None = None, until: int | None = None
    ) -> list[Candle]:
        """Candles with ``since <= time <= until`` (either bound optional), oldest first
        (the market data service's candle store protocol)."""
        sql, args = "SELECT * FROM candles WHERE pair = ? AND interval = ?", [pair, int(interval)]
        if since is not None:
            sql += " AND time >= ?"
            args.append(int(since))
        if until is not None:
            sql += " AND time <= ?"
            args.append(int(until))
        rows = self._query(sql + " ORDER BY time", args)
        return [
            Candle(time=r["time"], open=Decimal(r["open"]), high=Decimal(r["high"]), low=Decimal(r["low"]),
                   close=Decimal(r["close"]), vwap=Decimal(r["vwap"]), volume=Decimal(r["volume"]),
                   count=r["count"])
            for r in rows
        ]

    # -- meta / locks key-value ------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            self._fresh()
            if self._meta is None:
                self._meta = {str(k): str(v) for k, v in self._query("SELECT key, value FROM meta")}
                self._cache_gen += 1
            return self._meta.get(key, default)

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))
            if self._meta is not None:
                self._meta[key] = str(value)
