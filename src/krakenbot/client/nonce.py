"""Strictly increasing nonces for one API key, across threads and process restarts.

Kraken rejects a nonce that is not greater than the last one it accepted for the key
(auth-and-errors.md §2), so one lock-protected generator per client hands out
``max(now_us, last + 1)``.

Units are wall-clock microseconds, read from the real clock and not the injected one
on purpose: a ``ManualClock`` starts every test or scenario at the same instant, so
nonces taken from it would repeat across clients sharing a key. Microseconds rather
than milliseconds keep back-to-back calls from running ahead of real time (a
millisecond counter drifts ahead by one per call under bursts and then collides with
the next process). Caveat: after this client, a millisecond client (krakenex, ccxt)
on the same key is rejected until the key's mark is reset.

Persistence: with a ``nonce_store`` (``load_nonce() -> int``, ``save_nonce(n)``) the
generator starts above the stored high-water mark. Writing on every call would cost a
disk write per request, so it reserves blocks: it saves ``n + block`` and hands out
numbers below that without saving again; after a crash the next process starts at
the saved ceiling, which is above everything handed out.

A stored mark far ahead of the clock: a mark is at most ``block`` ahead of the
clock of the process that saved it, so one more than ``block + MARK_SLACK`` ahead of this
clock is either a mark made under a clock that has since stepped back (nonces up there were
really sent, and Kraken, which remembers the highest nonce it saw, refuses every lower one with
``EAPI:Invalid nonce``, cancels included) or one that never reached Kraken (a copied or
hand-edited store; used as is, it would push the key's mark, for every client of the key, as
far ahead). Which it is, only Kraken knows, so the bound is: start from the clock, keep the
stored mark, and let Kraken's first answer decide. ``EAPI:Invalid nonce`` (the client calls
``rejected()``) moves the generator past the stored mark at once: a read's one retry, or the
kill switch's second CancelAll, then goes through. The mark is not lowered in the store (no
reservation is saved below it), so a restart decides again, and the operator is told each
time (a warning; ``mark_ahead_s`` in the bot's status).
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Protocol

from krakenbot.errors import NonceNotSaved

log = logging.getLogger(__name__)


class NonceStore(Protocol):
    def load_nonce(self) -> int: ...

    def save_nonce(self, n: int) -> None: ...


def wall_microseconds() -> int:
    return time.time_ns() // 1000


class NonceGenerator:
    """Thread-safe source of strictly increasing nonces."""

    DEFAULT_BLOCK = 10_000_000  # 10 s of microseconds: at most one store write per ~10 s
    MARK_SLACK = 60_000_000  # a minute beyond ``block``: clock corrections between two runs

    def __init__(
        self,
        store: NonceStore | None = None,
        *,
        now: Callable[[], int] = wall_microseconds,
        block: int = DEFAULT_BLOCK,
    ) -> None:
        if block < 1:
            raise ValueError("block must be >= 1")
        self._now = now
        self._store = store
        self._block = block
        self._lock = threading.Lock()
        self._last = 0
        self._unsaved_ok = threading.local()  # set by unsaved_allowed() on the cancelling thread
        self._reserved = 0  # highest value persisted; everything handed out is below it
        self._unproven = 0  # a stored mark too far ahead to trust: used once Kraken says it was real
        self.mark_ahead_s = 0.0  # how far that mark was ahead of the clock at start (0: none)
        if store is not None:
            stored = int(store.load_nonce() or 0)
            self._reserved = stored
            ahead = stored - self._now()
            if ahead > block + self.MARK_SLACK:
                self._unproven, self.mark_ahead_s = stored, ahead / 1e6
                log.warning("the saved nonce mark is %.0f s ahead of this machine's clock: nonces start from "
                            "the clock, and go past the mark if Kraken refuses them (check the clock)",
                            self.mark_ahead_s)
            else:
                self._last = stored

    @property
    def last(self) -> int:
        return self._last

    def next(self) -> int:
        with self._lock:
            n = self._now()
            if n <= self._last:
                n = self._last + 1
            if self._store is not None and n >= self._reserved:
                # Persist first: if the save fails nothing is handed out, and the next call tries again.
                try:
                    self._store.save_nonce(n + self._block)
                    self._reserved = n + self._block
                except Exception as exc:
                    if not getattr(self._unsaved_ok, "on", False):
                        raise NonceNotSaved(f"not sent: the nonce mark could not be saved ({exc})") from exc
                    log.warning("nonce mark not saved (%s): this cancel goes out anyway", exc)
            self._last = n
            return n

    @contextmanager
    def unsaved_allowed(self) -> Iterator[None]:
        """For cancels only: a nonce whose reservation cannot be saved still goes out. Reducing
        exposure never waits on the disk; the cost is small: the next process starts at
        ``max(now, saved mark + 1)``, past this wall-clock nonce unless the clock went back."""
        previous = getattr(self._unsaved_ok, "on", False)
        self._unsaved_ok.on = True
        try:
            yield
        finally:
            self._unsaved_ok.on = previous

    def rejected(self) -> None:
        """Kraken answered ``EAPI:Invalid nonce``: if a stored mark was set aside as too far ahead,
        it was real after all; hand out only nonces above it from now on (see the module's doc)."""
        with self._lock:
            if self._unproven and self._last < self._unproven:
                log.warning("Kraken refused a nonce below the saved mark: the mark was used; continuing above it")
                self._last = self._unproven
            self._unproven = 0

    def advance_past(self, value: int) -> None:
        """Never hand out ``value`` or anything below it (e.g. a mark learned elsewhere)."""
        with self._lock:
            if value > self._last:
                self._last = value
