"""The exchange's clock, as seen from ours: the offset between Kraken's time and the local clock.

Why: an AddOrder ``deadline`` and the executor's "not placed after its deadline" conclusion
are both about the *exchange's* time. With a local clock running ahead, the bot would give
up on an order the exchange may still execute, and send it again: a doubled order. So the
offset is measured with the public ``Time`` endpoint, refreshed every ``refresh_seconds``
of the local clock, and trading stops when it is unknown or larger than ``max_skew_seconds``.

Kraken-specific, so hand-written: ``Time.unixtime`` is whole seconds, truncated. The real
server time at the answer lies in [unixtime, unixtime + 1) and the answer came between the
local times t0 and t1, so the true offset is at least ``unixtime - t1``. We keep that lower
bound: exchange time is never overestimated, so a deadline is never declared passed early.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

__all__ = ["ServerClock"]


class ServerClock:
    def __init__(self, fetch_unixtime: Callable[[], Any], clock: Any, *, refresh_seconds: float = 600.0,
                 max_skew_seconds: float = 5.0) -> None:
        self._fetch = fetch_unixtime
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.max_skew_seconds = max_skew_seconds
        self.offset: float | None = None      # exchange time - local time (lower bound), seconds
        self.synced_at: float | None = None   # local time of the last successful measurement
        self.error: str | None = None         # why the last measurement failed
        self._lock = threading.Lock()

    def sync(self) -> float | None:
        """Measure the offset now; on failure the offset becomes unknown (fail closed)."""
        with self._lock:
            t0 = self.clock.time()
            try:
                unixtime = float(self._fetch())
            except Exception as exc:  # noqa: BLE001 - any failure leaves the offset unknown
                self.offset, self.synced_at = None, None
                self.error = f"{type(exc).__name__}: {exc}"
                return None
            t1 = self.clock.time()
            self.offset = unixtime - max(t0, t1)
            self.synced_at = t1
            self.error = None
            return self.offset

    def due(self) -> bool:
        if self.offset is None or self.synced_at is None:
            return True
        age = self.clock.time() - self.synced_at
        return age >= self.refresh_seconds or age < 0

    def now(self) -> float:
        """The exchange's time by our estimate; the local time while the offset is unknown (the
        safety wrapper refuses orders then, so this fallback only serves direct client use)."""
        offset = self.offset
        return self.clock.time() + (offset or 0.0)

    def problem(self) -> str | None:
        """None when the offset is known, fresh and within the bound; else why not to trade.
        Refreshes the measurement when it is due."""
        if self.due():
            self.sync()
        if self.offset is None:
            return f"exchange time unknown ({self.error or 'not measured'}): no orders until it is measured"
        if abs(self.offset) > self.max_skew_seconds:
            way = "ahead of" if self.offset < 0 else "behind"
            return (f"local clock is {abs(self.offset):.1f} s {way} the exchange "
                    f"(bound {self.max_skew_seconds:g} s): no orders until the clock is fixed")
        return None
