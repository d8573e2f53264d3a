"""The schema as a list of migrations: a store file at any earlier version is upgraded when opened."""
from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

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
    # v3: fewer pages per order write (each page an intent touches is flushed with it): the txid index
    # holds only placed orders (an intent has none yet), the status-only index goes, and audit ids need no
    # AUTOINCREMENT (no row is ever deleted, so ids stay strictly increasing without sqlite_sequence).
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
    # v4: the open book is read from the file before every order: an index on status alone finds it
    # without scanning the history.
    [
        "CREATE INDEX orders_status ON orders(status)",
    ],
    # v5: no query reads orders by pair and status (the open book and the unknown outcomes are found by
    # status alone), yet every intent and status change wrote this index's pages (flushed with the intent).
    [
        "DROP INDEX orders_pair_status",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
