"""The bot's durable memory: one SQLite file (or ``:memory:``) behind one lock, one module per entity.

Why SQLite: the bot must survive a crash between "decided to trade" and "heard back from Kraken".
Every order intent is on disk *before* the request is built (``Store.record_intent``, a durable
commit; ``database``), fills are keyed by Kraken's trade id so one can never be counted twice, the
audit trail is append-only, and the daily risk counters and the nonce high-water mark outlive the
process. Every other write is an ordinary commit: atomic, and lost to a power cut at worst, which
recovery covers (an intent without its outcome is looked up at Kraken by its cl_ord_id).
"""
from __future__ import annotations

from krakenbot.store.audit import AuditLog
from krakenbot.store.candles import Candles
from krakenbot.store.counters import Counters, utc_day, utc_day_bounds
from krakenbot.store.database import STARTUP_CHECK_KEY, Database, StoreError
from krakenbot.store.orders import SETTLED_STATUSES, FillRecord, OrderRecord, Orders
from krakenbot.store.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["Store", "StoreError", "STARTUP_CHECK_KEY", "OrderRecord", "FillRecord", "MIGRATIONS", "SCHEMA_VERSION", "SETTLED_STATUSES",
           "utc_day",
           "utc_day_bounds"]


class Store(Orders, AuditLog, Counters, Candles, Database):
    """Every entity's methods over one ``Database``: each public method is one transaction."""

    def __enter__(self) -> "Store":
        return self
