"""Keeps Kraken's dead man's switch (CancelAllOrdersAfter) armed while the bot is alive.

Why: if the bot dies, hangs or loses its network, Kraken itself cancels every open
order when the countdown ends. The keeper re-arms on the injected clock (every third of
the timeout, Kraken recommends 15-30 s for 60 s) and disarms (timeout=0) on a graceful
shutdown, so a clean stop does not cancel orders an operator meant to keep.
"""
from __future__ import annotations

from typing import Any, Callable


class DeadMansSwitch:
    def __init__(self, cancel_all_orders_after: Callable[[int], Any], clock, refresh_fraction: float = 1 / 3) -> None:
        self._call = cancel_all_orders_after
        self._clock = clock
        self._fraction = refresh_fraction
        self.timeout: int = 0
        self.armed_at: float | None = None
        self.next_due: float | None = None
        self.last_result: Any = None

    @property
    def armed(self) -> bool:
        return self.timeout > 0

    def arm(self, timeout: int) -> Any:
        if timeout <= 0 or timeout >= 86_400:
            raise ValueError(f"dead man's switch timeout must be 1..86399 seconds, got {timeout}")
        self.last_result = self._call(int(timeout))
        now = self._clock.time()
        self.timeout = int(timeout)
        self.armed_at = now
        self.next_due = now + max(1.0, timeout * self._fraction)
        return self.last_result

    def due(self) -> bool:
        return self.armed and self.next_due is not None and self._clock.time() >= self.next_due

    def keep_alive(self) -> bool:
        """Re-arm when due; True when a request was sent."""
        if not self.due():
            return False
        self.arm(self.timeout)
        return True

    def disarm(self) -> Any:
        if not self.armed:
            return None
        result = self._call(0)
        self.timeout = 0
        self.armed_at = None
        self.next_due = None
        return result
