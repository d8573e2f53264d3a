"""Keeps Kraken's dead man's switch (CancelAllOrdersAfter) armed while the bot is alive.

Why: if the bot dies, hangs or loses its network, Kraken itself cancels every open
order when the countdown ends. The keeper re-arms on the injected clock (every third of
the timeout, Kraken recommends 15-30 s for 60 s) and disarms (timeout=0) on a graceful
shutdown, so a clean stop does not cancel orders an operator meant to keep. A refused or
failed arm (rate limit, outage) is sent again: the call is idempotent. In canary and live the trading
loop places no order while the switch is not armed (``Orchestrator``).
"""
from __future__ import annotations

from typing import Any, Callable

from krakenbot.errors import KrakenError, LocalRefusal

# Seconds on the clock between attempts (after a rate limit the pacer waits out its back-off too). Three
# attempts: fewer than the circuit breaker's five failures, so an outage at start-up leaves it shut.
RETRY_DELAYS = (2.0, 5.0)


class DeadMansSwitch:
    def __init__(self, cancel_all_orders_after: Callable[[int], Any], clock, refresh_fraction: float = 1 / 3,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self._call = cancel_all_orders_after
        self._clock = clock
        self._fraction = refresh_fraction
        self._delays = retry_delays
        self.timeout: int = 0
        self.armed_at: float | None = None
        self.next_due: float | None = None
        self.last_result: Any = None

    @property
    def armed(self) -> bool:
        return self.timeout > 0

    def arm(self, timeout: int, retry: bool = True) -> Any:
        """``retry``: send again after a rate limit or a transient failure (start-up: the bot must
        not run without the switch). The loop's own attempts and the re-arms send once each: every
        failure counts toward the circuit breaker, which must stay shut for protective exits."""
        if timeout <= 0 or timeout >= 86_400:
            raise ValueError(f"dead man's switch timeout must be 1..86399 seconds, got {timeout}")
        self.last_result = self._send(int(timeout), self._delays if retry else ())
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
        self.arm(self.timeout, retry=False)
        return True

    def disarm(self) -> Any:
        if not self.armed:
            return None
        result = self._call(0)
        self.timeout = 0
        self.armed_at = None
        self.next_due = None
        return result

    def _send(self, timeout: int, delays: tuple[float, ...]) -> Any:
        """CancelAllOrdersAfter, sent again after each delay on a rate limit or a transient failure:
        it only sets the countdown, so a second copy is harmless (unlike an order). A local refusal
        (mode, open breaker, closed client) or a permanent error is raised at once."""
        for delay in (*delays, None):
            try:
                return self._call(timeout)
            except KrakenError as exc:
                if delay is None or isinstance(exc, LocalRefusal) or not exc.retryable:
                    raise
            self._clock.sleep(delay)
        raise AssertionError("unreachable")
