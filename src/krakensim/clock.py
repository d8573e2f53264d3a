"""Time as a dependency.

Everything in the simulator that depends on time (rate-counter decay, order
expiry, deadlines, the dead man's switch, market movement) reads a ``Clock`` so
tests move time forward instead of sleeping. The bot keeps its own copy: the two
packages share only the wire protocol. Any object with these three methods
works, so a test can hand one clock to both.
"""
from __future__ import annotations

import math
import threading
import time as _time
from typing import Callable, Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock Unix seconds."""

    def monotonic(self) -> float:
        """Seconds for measuring intervals; never goes backwards."""

    def sleep(self, seconds: float) -> None:
        """Wait; a manual clock advances instead of blocking."""


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _time.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to; ``sleep`` advances it at once.

    Thread-safe. Listeners are called after every advance with the new time, so a
    component that must act when time passes (e.g. a dead man's switch) can.
    """

    DEFAULT_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[float], None]] = []
        self.slept: list[float] = []  # every sleep requested, for assertions on backoff

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        return self.time()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> float:
        if not math.isfinite(seconds):  # a NaN or infinite clock would break every later request
            raise ValueError("seconds must be a finite number")
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        with self._lock:
            self._now += seconds
            now = self._now
        for listener in list(self._listeners):
            listener(now)
        return now

    def set(self, when: float) -> None:
        with self._lock:
            if when < self._now:
                raise ValueError("time cannot go backwards")
        self.advance(when - self.time())

    def on_advance(self, listener: Callable[[float], None]) -> None:
        self._listeners.append(listener)
