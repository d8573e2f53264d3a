"""Small values that outlive the process: per-UTC-day risk counters, the nonce high-water mark, meta keys."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache

from krakenbot.store.database import Database

__all__ = ["Counters", "utc_day", "utc_day_bounds"]


def utc_day(ts: float) -> str:
    """The UTC calendar day of a Unix time, ``YYYY-MM-DD``: the key of daily counters."""
    return _day_name(int(ts // 86_400))


@lru_cache(maxsize=8)
def _day_name(day: int) -> str:
    """Day ``day`` since the epoch, named once: every order asks for today's name twice."""
    return datetime.fromtimestamp(day * 86_400, tz=timezone.utc).date().isoformat()


def utc_day_bounds(ts: float) -> tuple[float, float]:
    """``[start, end)`` Unix seconds of the UTC day containing ``ts``: Unix time has no leap seconds,
    so every UTC day is 86,400 s long, as ``utc_day`` counts them."""
    start = ts // 86_400 * 86_400.0
    return start, start + 86_400.0


class Counters(Database):
    # -- daily counters ----------------------------------------------------------------------
    def add_daily(self, day: str, name: str, amount: Decimal | int = 1) -> Decimal:
        """Add to a per-UTC-day counter and return the new value (exact). The read and the write sit in
        one write transaction, so another process counting on the same file loses nothing."""
        with self.tx() as db:
            row = db.execute("SELECT value FROM daily_counters WHERE day = ? AND name = ?", (day, name)).fetchone()
            value = (Decimal(row[0]) if row else Decimal(0)) + Decimal(amount)
            if row:  # an UPDATE leaves the key's index alone (REPLACE deletes and re-inserts: one page more)
                db.execute("UPDATE daily_counters SET value = ? WHERE day = ? AND name = ?", (str(value), day, name))
            else:
                db.execute("INSERT INTO daily_counters(day, name, value) VALUES (?, ?, ?)", (day, name, str(value)))
            return value

    def daily_value(self, day: str, name: str) -> Decimal:
        rows = self._query("SELECT value FROM daily_counters WHERE day = ? AND name = ?", (day, name))
        return Decimal(rows[0][0]) if rows else Decimal(0)

    def daily_trade_count(self, day: str) -> int:
        return int(self.daily_value(day, "trades"))

    # -- nonce (the client's nonce_store protocol) -------------------------------------------
    def load_nonce(self) -> int:
        rows = self._query("SELECT value FROM nonce WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def save_nonce(self, n: int) -> None:
        """High-water mark: a lower value never overwrites a higher one."""
        with self.tx() as db:
            db.execute("INSERT INTO nonce(id, value) VALUES (1, ?) "
                       "ON CONFLICT(id) DO UPDATE SET value = max(value, excluded.value)", (int(n),))

    # -- meta ----------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))

    def meta_items(self, prefix: str) -> dict[str, str]:
        """Every meta key starting with ``prefix`` and its value (a range on the key's index)."""
        rows = self._query("SELECT key, value FROM meta WHERE key >= ? AND key < ?", (prefix, prefix + "\U0010ffff"))
        return {str(k): str(v) for k, v in rows}

    def set_metas(self, items: dict[str, str]) -> None:
        """Several meta keys in one transaction: all of them or none."""
        with self.tx() as db:
            db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(items.items()))

    def clear_meta(self, key: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))
