"""Keeps Kraken's dead man's switch (CancelAllOrdersAfter) armed while the bot is alive.

Why: if the bot dies, hangs or loses its network, Kraken itself cancels every open
order when the countdown ends. The keeper re-arms on the injected clock (every third of
the timeout, Kraken recommends 15-30 s for 60 s) and disarms (timeout=0) on a graceful
shutdown, so a clean stop does not cancel orders an operator meant to keep. A refused or
failed arm (rate limit, outage) is sent again: the call is idempotent. In canary and live the trading
loop places no order while the switch is not armed (``Orchestrator``).

Armed means the countdown the exchange last confirmed is still running: when keep-alives fail, the
exchange's switch fires and lapses, so ``armed`` turns False at the last confirmed deadline (the
exchange's ``triggerTime`` less its ``currentTime``, counted from when the request left, or the
timeout when the answer lacks them) and the loop re-arms before its next order.
"""
from __future__ import annotations

from datetime import datetime
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
        self.timeout: int = 0  # > 0: the switch is wanted (kept alive, disarmed on a clean stop)
        self.armed_at: float | None = None
        self.expires_at: float | None = None  # when the last confirmed countdown ends, on the clock
        self.next_due: float | None = None
        self.last_result: Any = None

    @property
    def armed(self) -> bool:
        """The exchange's countdown is running: armed or kept alive, and its deadline not yet reached."""
        return self.timeout > 0 and self.expires_at is not None and self._clock.time() < self.expires_at

    @property
    def lapsed(self) -> bool:
        """Wanted but its countdown ran out (keep-alives failed): the exchange has cancelled all orders."""
        return self.timeout > 0 and not self.armed

    def arm(self, timeout: int, retry: bool = True) -> Any:
        """``retry``: send again after a rate limit or a transient failure (start-up: the bot must
        not run without the switch). The loop's own attempts and the re-arms send once each, and a
        failed one is due again only after the longest retry delay (the account's rate allowance)."""
        if timeout <= 0 or timeout >= 86_400:
            raise ValueError(f"dead man's switch timeout must be 1..86399 seconds, got {timeout}")
        self.timeout = int(timeout)  # wanted from now on, even if this attempt fails
        try:
            sent, self.last_result = self._send(int(timeout), self._delays if retry else ())
        except BaseException:
            # Due again after the longest retry delay (a short switch: its refresh interval), not at once:
            # the wait between cycles asks every second, and a failing exchange gets no keep-alive a second.
            self.next_due = self._clock.time() + min(max((1.0, *self._delays)), max(1.0, timeout * self._fraction))
            raise
        now = self._clock.time()
        self.armed_at = now
        self.expires_at = sent + _countdown(self.last_result, timeout)
        self.next_due = now + max(1.0, timeout * self._fraction)
        return self.last_result

    def due(self) -> bool:
        return self.timeout > 0 and self.next_due is not None and self._clock.time() >= self.next_due

    def keep_alive(self) -> bool:
        """Re-arm when due; True when a request was sent."""
        if not self.due():
            return False
        self.arm(self.timeout, retry=False)
        return True

    def disarm(self) -> Any:
        """Timeout 0 while the switch is wanted (also when it seems lapsed: the exchange's countdown
        may end a little after the one counted here)."""
        if self.timeout <= 0:
            return None
        result = self._call(0)
        self.timeout = 0
        self.armed_at = None
        self.expires_at = None
        self.next_due = None
        return result

    def _send(self, timeout: int, delays: tuple[float, ...]) -> tuple[float, Any]:
        """CancelAllOrdersAfter, sent again after each delay on a rate limit or a transient failure:
        it only sets the countdown, so a second copy is harmless (unlike an order). A local refusal
        (mode, open breaker, closed client) or a permanent error is raised at once. Returns when the
        answered attempt was sent (its countdown started no earlier) and the answer."""
        for delay in (*delays, None):
            sent = self._clock.time()
            try:
                return sent, self._call(timeout)
            except KrakenError as exc:
                if delay is None or isinstance(exc, LocalRefusal) or not exc.retryable:
                    raise
            self._clock.sleep(delay)
        raise AssertionError("unreachable")


def _countdown(answer: Any, timeout: int) -> float:
    """Seconds the exchange's countdown runs: its ``triggerTime`` less its ``currentTime`` (both its
    own clock, so a skewed local clock does not matter), never more than ``timeout``; 0 when the
    trigger time is "0" (no countdown); ``timeout`` when the answer does not carry both times."""
    try:
        if str(answer["triggerTime"]) == "0":  # Kraken's "no countdown runs": the switch is off
            return 0.0
        trigger, current = (datetime.fromisoformat(str(answer[k]).replace("Z", "+00:00")).timestamp()
                            for k in ("triggerTime", "currentTime"))
    except (TypeError, KeyError, ValueError, IndexError):
        return float(timeout)
    return max(0.0, min(float(timeout), trigger - current))
