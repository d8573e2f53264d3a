"""Stay under Kraken's rate limits instead of discovering them.

Hand-written because the model is Kraken's own (limits-and-trading-rules.md §1): one
call counter per API key that rises by a per-endpoint cost and decays continuously
at the tier's rate; a call that would push it over the tier maximum is refused with
``EAPI:Rate limit exceeded``. ``CallCounterPacer`` keeps a local copy of that counter
and, before a call that would go above ``max - margin``, sleeps on the injected clock
until the counter has decayed enough. It decays at ``decay_factor`` (90 %) of the
nominal rate so the local copy is never below the exchange's.

Public endpoints are limited per IP at roughly one call per second (exact burst not
published): ``PublicPacer`` is a token bucket, ``burst`` calls at once then ``rate``
per second.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from krakenbot.client import endpoints
from krakenbot.clock import Clock

log = logging.getLogger("krakenbot.client")

# Waits shorter than this are treated as none: a clock at Unix-time magnitude cannot
# represent smaller steps, so sleeping them would spin without time moving.
_EPSILON = 1e-6


@dataclass(frozen=True)
class Tier:
    max_counter: float
    decay_per_second: float


TIERS: dict[str, Tier] = {
    "starter": Tier(15, 0.33),
    "intermediate": Tier(20, 0.5),
    "pro": Tier(20, 1.0),
}

def call_cost(endpoint: str) -> int:
    """What a private call adds to the per-key counter (its row in ``client.endpoints``; 1 if unknown)."""
    row = endpoints.lookup(endpoint)
    return 1 if row is None else row.cost


class CallCounterPacer:
    """Local leaky bucket mirroring Kraken's per-key call counter."""

    def __init__(
        self,
        clock: Clock,
        tier: str = "starter",
        *,
        margin: float = 1.0,
        decay_factor: float = 0.9,
        rate_limit_backoff: float | None = None,
    ) -> None:
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {sorted(TIERS)}, got {tier!r}")
        if not 0 < decay_factor <= 1:
            raise ValueError("decay_factor must be in (0, 1]")
        spec = TIERS[tier]
        if not 0 <= margin < spec.max_counter - 2:
            raise ValueError("margin must leave room for a +2 call")
        self.tier = tier
        self.max_counter = float(spec.max_counter)
        self.decay = spec.decay_per_second * decay_factor
        self.limit = self.max_counter - margin
        # Kraken: after a rejection stop calling for about max/decay seconds (Starter ~45 s).
        self.rate_limit_backoff = (
            rate_limit_backoff if rate_limit_backoff is not None else spec.max_counter / spec.decay_per_second
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._level = 0.0
        self._at = clock.monotonic()
        self._blocked_until = float("-inf")

    @property
    def level(self) -> float:
        with self._lock:
            return self._decayed(self._clock.monotonic())

    def _decayed(self, now: float) -> float:
        elapsed = now - self._at
        if elapsed > 0:
            self._level = max(0.0, self._level - elapsed * self.decay)
            self._at = now
        return self._level

    def acquire(self, endpoint: str) -> float:
        """Reserve room for one call, sleeping on the clock if needed; returns seconds waited."""
        cost = call_cost(endpoint)
        if cost == 0:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock.monotonic()
                level = self._decayed(now)
                wait = max(self._blocked_until - now, (level + cost - self.limit) / self.decay)
                if wait <= _EPSILON:
                    self._level = level + cost
                    return waited
            log.debug("pacing %s: counter %.2f, waiting %.2fs", endpoint, level, wait)
            self._clock.sleep(wait)
            waited += wait

    def assume_used(self, idle_seconds: float | None = None) -> float:
        """At start-up (``Bot.start``): take the exchange's counter as the last process may have left
        it - full, less what it decayed in the ``idle_seconds`` since that process's last call (None:
        unknown, so full). Kraken keeps one counter per key, not per process: a restart right after a
        busy or crashed process that paced from empty would be refused and backed off (45 s on starter).
        Returns the level assumed."""
        idle = max(0.0, idle_seconds) if idle_seconds is not None else 0.0
        with self._lock:
            level = max(self._decayed(self._clock.monotonic()), self.max_counter - idle * self.decay)
            self._level = max(0.0, level)
            return self._level

    def block_for(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (``EService: Throttled: <ts>`` names when to come back)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock.monotonic() + max(0.0, seconds))

    def on_rate_limited(self) -> None:
        """Kraken said ``EAPI:Rate limit exceeded``: assume the counter is full and back off."""
        with self._lock:
            now = self._clock.monotonic()
            self._decayed(now)
            self._level = self.max_counter
            self._blocked_until = now + self.rate_limit_backoff
        log.warning("rate limit exceeded: backing off %.0fs", self.rate_limit_backoff)


class PublicPacer:
    """Token bucket for public (per-IP) calls: ``burst`` at once, then ``rate`` per second."""

    def __init__(self, clock: Clock, burst: int = 10, rate: float = 1.0) -> None:
        if burst < 1 or rate <= 0:
            raise ValueError("burst must be >= 1 and rate > 0")
        self._clock = clock
        self.burst = float(burst)
        self.rate = float(rate)
        self._tokens = float(burst)
        self._at = clock.monotonic()
        self._lock = threading.Lock()
        self._blocked_until = float("-inf")

    def acquire(self, endpoint: str = "") -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock.monotonic()
                elapsed = now - self._at
                if elapsed > 0:
                    self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
                    self._at = now
                wait = max(self._blocked_until - now, (1.0 - self._tokens) / self.rate)
                if wait <= _EPSILON:
                    self._tokens -= 1.0
                    return waited
            self._clock.sleep(wait)
            waited += wait

    def on_rate_limited(self, backoff: float = 5.0) -> None:
        with self._lock:
            self._tokens = 0.0
            self._blocked_until = self._clock.monotonic() + backoff
