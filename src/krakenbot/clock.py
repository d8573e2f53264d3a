"""Time as a dependency.

Everything in the bot that waits or reads the time (backoff, breaker recovery,
rate-limit decay, daily reset, dead man's switch) takes a ``Clock`` so tests move
time forward instead of sleeping. The simulator accepts any object with the same
three methods, so one ``ManualClock`` can drive bot and exchange together.
"""
from __future__ import annotations

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


class Interrupted(BaseException):
    """The operator asked the bot to stop (SIGINT/SIGTERM) while it waited: the wait ends at once.

    A BaseException, like KeyboardInterrupt: the steps that record a failed call and carry on
    (``except Exception``) must not swallow a stop. Only a wait raises it, never a send. One wait
    does follow an order: ``Executor.resolve_unknown`` sleeps on the clock after an ambiguous
    AddOrder; a stop there leaves that order UNKNOWN (``run`` reports it and exits non-zero; the
    next start resolves it by its cl_ord_id, never by re-sending). A check request (SIGUSR1) in
    that wait runs the kill-switch check there too."""

    def __init__(self, signum: int | None = None) -> None:
        super().__init__(f"stop requested (signal {signum})" if signum else "stop requested")
        self.signum = signum


class Wakeup:
    """What the signal handlers tell a waiting bot: stop now, or look at the kill switch now.

    Every wait of the bot (back-off, pacing, the cycle interval) goes through ``wait``. A handler
    never sets the event itself: it runs on the main thread, which may hold the event's own lock
    at that instant (``Event.set`` would deadlock); a one-shot thread sets it instead."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.stop_signal: int | None = None
        self._check = False
        self.on_check: Callable[[], None] | None = None  # run at a safe point when a check is asked

    def request_stop(self, signum: int = 0) -> None:
        self.stop_signal = signum or -1
        self._poke()

    def request_check(self) -> None:
        self._check = True
        self._poke()

    def _poke(self) -> None:
        threading.Thread(target=self._event.set, name="krakenbot-wakeup", daemon=True).start()

    @property
    def stopping(self) -> bool:
        return self.stop_signal is not None

    def checkpoint(self) -> None:
        """Raise ``Interrupted`` if a stop was asked; run the pending check if one was."""
        if self.stop_signal is not None:
            raise Interrupted(self.stop_signal if self.stop_signal > 0 else None)
        if self._check:
            self._check = False
            if self.on_check is not None:
                self.on_check()

    def wait(self, seconds: float, monotonic: Callable[[], float] = _time.monotonic) -> None:
        end = monotonic() + max(0.0, seconds)
        while True:
            self.checkpoint()
            left = end - monotonic()
            if left <= 0:
                return
            if self._event.wait(left):
                self._event.clear()


class SystemClock:
    """The real clock; with a ``Wakeup`` every sleep ends at once on a stop request."""

    def __init__(self, wakeup: Wakeup | None = None) -> None:
        self.wakeup = wakeup

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()

    def sleep(self, seconds: float) -> None:
        if self.wakeup is not None:
            self.wakeup.wait(seconds)
        elif seconds > 0:
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
        self.wakeup: Wakeup | None = None  # as SystemClock's: a stop request ends a sleep (raises)

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        return self.time()

    def sleep(self, seconds: float) -> None:
        if self.wakeup is not None:
            self.wakeup.checkpoint()
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> float:
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

    def off_advance(self, listener: Callable[[float], None]) -> None:
        """Stop calling ``listener`` (one given to ``on_advance``); a clock outlives what listens to it."""
        if listener in self._listeners:
            self._listeners.remove(listener)
