"""Candles the market data service keeps between runs (its candle store protocol)."""
from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from krakenbot.models import Candle
from krakenbot.store.database import Database

__all__ = ["Candles"]


class Candles(Database):
    def save_candles(self, pair: str, interval: int, candles: Iterable[Candle]) -> int:
        """Upsert candles (the last, still-forming candle is overwritten as it changes)."""
        rows = [(pair, int(interval), int(c.time), str(c.open), str(c.high), str(c.low), str(c.close),
                 str(c.vwap), str(c.volume), int(c.count)) for c in candles]
        with self.tx() as db:
            db.executemany("INSERT OR REPLACE INTO candles VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def load_candles(self, pair: str, interval: int, since: int | None = None,
                     until: int | None = None) -> list[Candle]:
        """Candles with ``since <= time <= until`` (either bound optional), oldest first."""
        sql, args = "SELECT * FROM candles WHERE pair = ? AND interval = ?", [pair, int(interval)]
        if since is not None:
            sql += " AND time >= ?"
            args.append(int(since))
        if until is not None:
            sql += " AND time <= ?"
            args.append(int(until))
        return [Candle(time=r["time"], open=Decimal(r["open"]), high=Decimal(r["high"]), low=Decimal(r["low"]),
                       close=Decimal(r["close"]), vwap=Decimal(r["vwap"]), volume=Decimal(r["volume"]),
                       count=r["count"])
                for r in self._query(sql + " ORDER BY time", args)]
