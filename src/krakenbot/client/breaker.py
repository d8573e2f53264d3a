"""Circuit breaker: stop talking to an exchange that keeps failing, then probe it.

Hand-written rather than pybreaker: pybreaker's open state reads the wall clock
(``datetime.now``) to decide when to half-open, so tests would have to wait out the
recovery timeout; it also has no failure *window* and lets several trial calls through
in half-open. This one takes an injected ``Clock``.

    CLOSED --failure_threshold failures within `window` s--> OPEN
    OPEN --recovery_timeout s--> HALF_OPEN (one trial call at a time)
    HALF_OPEN --success_threshold successful trials--> CLOSED
    HALF_OPEN --a failed trial--> OPEN

Only errors with ``counts_for_breaker`` (timeouts, 5xx, ``EService:Unavailable``...)
are failures; an answer such as ``EOrder:Insufficient funds`` proves the exchange is
up, so it counts as a success. While OPEN, ``before_call`` raises ``CircuitOpenError``
and the caller sends nothing.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Protocol

from krakenbot.clock import Clock, SystemClock
from krakenbot.errors import CircuitOpenError

log = logging.getLogger("krakenbot.client")


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerListener(Protocol):
    def state_change(self, old: BreakerState, new: BreakerState, reason: str) -> None: ...


@dataclass(frozen=True)
class BreakerStats:
    state: BreakerState
    opened_count: int
    rejected_calls: int
    failures: int
    successes: int
    recent_failures: int  # failures inside the current window (CLOSED) or trial successes (HALF_OPEN)
    opened_at: float | None


class CircuitBreaker:
    def __init__(
        self,
        clock: Clock | None = None,
        failure_threshold: int = 5,
        window: float = 60.0,
        recovery_timeout: float = 30.0,
        success_threshold: int = 2,
        listeners: Iterable[BreakerListener] = (),
    ) -> None:
        for name, value in (("failure_threshold", failure_threshold), ("success_threshold", success_threshold)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name, value in (("window", window), ("recovery_timeout", recovery_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        self._clock = clock or SystemClock()
        self.failure_threshold = failure_threshold
        self.window = float(window)
        self.recovery_timeout = float(recovery_timeout)
        self.success_threshold = success_threshold
        self._listeners: list[BreakerListener] = list(listeners)
        self._lock = threading.RLock()
        self._state = BreakerState.CLOSED
        self._failure_times: deque[float] = deque()
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._trial_successes = 0
        self.opened_count = 0
        self.rejected_calls = 0
        self.failures = 0
        self.successes = 0

    # -- observation -------------------------------------------------------------
    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._maybe_half_open()
            return self._state

    @property
    def stats(self) -> BreakerStats:
        with self._lock:
            self._maybe_half_open()
            recent = self._trial_successes if self._state is BreakerState.HALF_OPEN else len(self._failure_times)
            return BreakerStats(
                self._state, self.opened_count, self.rejected_calls, self.failures, self.successes, recent, self._opened_at
            )

    def add_listener(self, listener: BreakerListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: BreakerListener) -> None:
        with self._lock:
            self._listeners.remove(listener)

    # -- the call protocol ---------------------------------------------------------
    def before_call(self, endpoint: str | None = None) -> None:
        """Admit a call or raise ``CircuitOpenError``; in HALF_OPEN admits one trial at a time.
        Call it right before the send: a call admitted earlier may go out after the breaker opened."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return
            self._maybe_half_open()
            if self._state is BreakerState.HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return
            self._refuse(endpoint)

    def ensure_not_open(self, endpoint: str | None = None) -> None:
        """Raise ``CircuitOpenError`` if ``before_call`` would, without taking a trial slot: an
        early check before a caller spends rate budget or waits for a lock."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return
            self._maybe_half_open()
            if self._state is BreakerState.HALF_OPEN and not self._trial_in_flight:
                return
            self._refuse(endpoint)

    def _refuse(self, endpoint: str | None) -> None:
        self.rejected_calls += 1
        what = "a trial call is in flight" if self._state is BreakerState.HALF_OPEN else "open"
        raise CircuitOpenError(f"{endpoint or 'call'}: circuit breaker {what}; nothing was sent", (), endpoint)

    def record_success(self) -> None:
        with self._lock:
            self.successes += 1
            if self._state is BreakerState.HALF_OPEN:
                self._trial_in_flight = False
                self._trial_successes += 1
                if self._trial_successes >= self.success_threshold:
                    self._transition(BreakerState.CLOSED, f"{self._trial_successes} successful trial calls")

    def record_failure(self, error: BaseException | None = None) -> None:
        """An outcome that says the exchange is unhealthy. Errors without ``counts_for_breaker`` count as success."""
        if error is not None and not getattr(error, "counts_for_breaker", False):
            self.record_success()
            return
        with self._lock:
            self.failures += 1
            now = self._clock.monotonic()
            reason = type(error).__name__ if error is not None else "failure"
            code = getattr(error, "code", None)
            if code:
                reason = f"{reason} {code}"
            if self._state is BreakerState.HALF_OPEN:  # _open frees the trial slot with the state change
                self._open(now, f"trial call failed: {reason}")
                return
            if self._state is BreakerState.OPEN:
                return
            self._failure_times.append(now)
            self._prune(now)
            if len(self._failure_times) >= self.failure_threshold:
                self._open(now, f"{len(self._failure_times)} failures within {self.window:g}s, last: {reason}")

    def record(self, error: BaseException | None) -> None:
        """Record a call's outcome: ``None`` for success."""
        if error is None:
            self.record_success()
        else:
            self.record_failure(error)

    def release(self) -> None:
        """The admitted call ended without reaching the exchange (refused locally): free the trial slot."""
        with self._lock:
            self._trial_in_flight = False

    # -- manual control --------------------------------------------------------------
    def trip(self, reason: str = "tripped manually") -> None:
        with self._lock:
            self._open(self._clock.monotonic(), reason)

    def reset(self, reason: str = "reset manually") -> None:
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                self._transition(BreakerState.CLOSED, reason)
            self._failure_times.clear()

    # -- internals ----------------------------------------------------------------------
    def _prune(self, now: float) -> None:
        horizon = now - self.window
        times = self._failure_times
        while times and times[0] <= horizon:
            times.popleft()

    def _maybe_half_open(self) -> None:
        if self._state is BreakerState.OPEN and self._opened_at is not None:
            if self._clock.monotonic() - self._opened_at >= self.recovery_timeout:
                self._transition(BreakerState.HALF_OPEN, f"recovery timeout {self.recovery_timeout:g}s elapsed")

    def _open(self, now: float, reason: str) -> None:
        self._opened_at = now
        self.opened_count += 1
        self._transition(BreakerState.OPEN, reason)

    def _transition(self, new: BreakerState, reason: str) -> None:
        old = self._state
        self._state = new
        self._trial_in_flight = False
        self._trial_successes = 0
        if new is BreakerState.CLOSED:
            self._failure_times.clear()
            self._opened_at = None
        log.warning("circuit breaker %s -> %s: %s", old.value, new.value, reason)
        for listener in list(self._listeners):
            try:
                listener.state_change(old, new, reason)
            except Exception:  # a broken listener must not break the breaker
                log.exception("circuit breaker listener %r failed", listener)
