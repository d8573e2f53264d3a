"""The one SQLite connection every store module writes through: its lock, its transactions, its migrations.

When is a row on disk? Files run in WAL mode. An ordinary commit (``tx()``) runs at
``synchronous=NORMAL``: it is atomic and survives a crash of the process; a power cut may lose the
last such commits, never corrupt the file. A durable commit (``tx(durable=True)``, the order intent's)
runs at ``synchronous=FULL``: it returns only once the WAL, this commit and every earlier one in it,
is on disk (``fullfsync`` where the platform has it, Darwin). SQLite syncs the file itself, so
nothing here depends on ``os.fdatasync``. A file SQLite cannot put in WAL mode runs every commit
at ``synchronous=EXTRA`` (the rollback journal's deletion synced as well), durable or not.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from krakenbot.store.schema import MIGRATIONS, SCHEMA_VERSION

STARTUP_CHECK_KEY = "startup_check"  # meta: set with a new schema, cleared once start-up asked the exchange

__all__ = ["Database", "StoreError"]


def _connect_read_only(path: str, busy_timeout: float) -> sqlite3.Connection:
    """``mode=ro`` sees a running bot's WAL; it needs the WAL index (``-shm``) next to the file, which a
    read-only directory refuses when no bot has the file open: then the file alone (``immutable``), all
    there is when no bot has it open. Never creates the file."""
    from urllib.parse import quote

    if path == ":memory:" or not os.path.isfile(path):
        raise StoreError(f"no store at {path}")
    last: sqlite3.Error | None = None
    for options in ("mode=ro", "immutable=1"):
        db = sqlite3.connect(f"file:{quote(path)}?{options}", uri=True, check_same_thread=False,
                             isolation_level=None, timeout=busy_timeout)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.Error as exc:
            db.close()
            last = exc
    raise StoreError(f"the store {path} cannot be read: {last}")


class StoreError(Exception):
    """The store cannot be used safely (unknown schema version, a write out of place, closed)."""


class Database:
    """One connection behind one re-entrant lock; every public store method is one transaction."""

    def __init__(self, path: str = ":memory:", *, busy_timeout: float = 5.0, read_only: bool = False) -> None:
        """``busy_timeout``: seconds a write waits for another connection's lock before it fails
        (short for ``krakenbot kill``: a locked file must not hold its cancel). ``read_only``: an
        existing store, opened so that nothing can write it (the history commands): no migration, no
        pragma change; SQLite itself refuses every write; ``StoreError`` when it is not a store."""
        self.path = str(path)
        self._lock = threading.RLock()
        self._batch_depth = 0  # > 0 while the thread holding _lock runs a batch()
        self._closed = False
        self._normal = self._durable = None  # in memory: nothing to sync
        if read_only:
            self._db = _connect_read_only(self.path, busy_timeout)
        else:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            self._db.row_factory = sqlite3.Row
            if read_only:
                self._check_readable()
                return
            self._db.execute("PRAGMA foreign_keys=ON")
            if self.path != ":memory:":
                wal = str(self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower() == "wal"
                self._normal, self._durable = ("NORMAL", "FULL") if wal else ("EXTRA", "EXTRA")
                self._db.execute(f"PRAGMA synchronous={self._normal}")
                self._db.execute("PRAGMA fullfsync=ON")  # Darwin: F_FULLFSYNC, past the drive's cache; a no-op elsewhere
                self._db.execute(f"PRAGMA busy_timeout={max(0, int(busy_timeout * 1000))}")
            self._migrate()
        except BaseException:
            self._closed = True
            self._db.close()  # a refused or unreadable file must not stay open
            raise

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def tx(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction, or the open batch's. ``durable``: committed at ``synchronous=FULL`` (on
        disk when this returns) and therefore never inside a batch, whose commit would come later."""
        with self._lock:
            if self._batch_depth:
                if durable:
                    raise StoreError("a durable write is committed on its own, never inside a batch")
                yield self._db
                return
            if self._closed:
                raise StoreError(f"store {self.path} is closed")
            sync = durable and self._durable != self._normal
            if sync:
                self._db.execute(f"PRAGMA synchronous={self._durable}")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            finally:
                if sync:
                    self._db.execute(f"PRAGMA synchronous={self._normal}")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several writes as one transaction (one commit): a status change and its audit row land
        together or not at all. Re-entrant; an exception that escapes it rolls all of them back."""
        with self._lock:
            if self._batch_depth:
                self._batch_depth += 1
                try:
                    yield
                finally:
                    self._batch_depth -= 1
                return
            with self.tx():
                self._batch_depth = 1
                try:
                    yield
                finally:
                    self._batch_depth = 0

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    # -- schema ----------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._lock:
            version = self.schema_version
            if version > SCHEMA_VERSION:
                # Fail closed: a newer bot wrote this file; we do not know its meaning.
                raise StoreError(f"store schema v{version} is newer than this bot (v{SCHEMA_VERSION})")
            if version == 0:
                # No schema: the file was just created, or was empty (deleted, truncated to 0 bytes). The
                # whole schema and the mark that start-up must ask the exchange whether this bot had been
                # trading (a lost store must not look new) are one transaction: a start that fails or
                # dies before that check leaves the mark for the next one (Bot.start clears it).
                with self.tx() as db:
                    for statements in MIGRATIONS:
                        for statement in statements:
                            db.execute(statement)
                    db.execute("INSERT INTO meta(key, value) VALUES (?, 'pending')", (STARTUP_CHECK_KEY,))
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                return
            for target in range(version + 1, SCHEMA_VERSION + 1):
                with self.tx() as db:
                    for statement in MIGRATIONS[target - 1]:
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version={target}")

    def _check_readable(self) -> None:
        version = self.schema_version
        if version == 0:
            raise StoreError(f"{self.path} is not a krakenbot store (no schema)")
        if version > SCHEMA_VERSION:
            raise StoreError(f"store schema v{version} is newer than this bot (v{SCHEMA_VERSION})")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def integrity_check(self) -> str:
        return "; ".join(str(r[0]) for r in self._query("PRAGMA integrity_check"))
