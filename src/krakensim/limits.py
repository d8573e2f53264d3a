"""Kraken's per-key REST API call counter.

Hand-written rather than taken from a rate-limiting library because Kraken's
model is specific: one leaky counter per API key, a cost per endpoint (+2 for
ledger and trade-history queries, +1 for other private calls, 0 for order
placement and cancellation, which the exchange's per-pair trading counter
governs), a tier maximum and a tier decay rate, and a refusal when a call would
push the counter above the maximum (../shared/kraken/limits-and-trading-rules.md
section 1). A key that keeps calling while limited extends its own penalty, as
Kraken says it does (section 1.2), up to Kraken's historic 15-minute ban. Decay
is computed from the injected clock, so tests advance time instead of sleeping.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from krakensim import errors

# tier -> (maximum, decay per second)
TIERS: dict[str, tuple[int, float]] = {
    "starter": (15, 0.33),
    "intermediate": (20, 0.5),
    "pro": (20, 1.0),
}
HEAVY_ENDPOINTS = frozenset({"Ledgers", "QueryLedgers", "TradesHistory", "QueryTrades"})
LONGEST_BAN_SECONDS = 900  # old support text: a 15-minute ban; current docs: "a few seconds, possibly longer"
TRADING_COUNTER_ENDPOINTS = frozenset({
    "AddOrder", "AddOrderBatch", "CancelOrder", "CancelOrderBatch", "EditOrder", "AmendOrder",
})


def cost_of(endpoint: str) -> int:
    if endpoint in TRADING_COUNTER_ENDPOINTS:
        return 0
    return 2 if endpoint in HEAVY_ENDPOINTS else 1


@dataclass
class _Counter:
    value: float = 0.0
    peak: float = 0.0
    updated: float | None = None


class ApiCounter:
    """Counters for every key of one simulator, all on the same tier."""

    def __init__(self, clock, tier: str = "starter", enabled: bool = True) -> None:
        self.enabled = enabled
        self._clock = clock
        self._counters: dict[str, _Counter] = {}
        self._lock = threading.Lock()
        self.set_tier(tier)

    def set_tier(self, tier: str) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; expected one of {sorted(TIERS)}")
        with self._lock:
            for key in list(self._counters):  # time already passed decays at the old tier's rate
                self._decayed(key)
            self.maximum, self.decay = TIERS[tier]

    def charge(self, key: str, endpoint: str) -> None:
        """Add the endpoint's cost to the key's counter or raise ``EAPI:Rate limit exceeded``.

        A call refused while the key is limited (not even a +1 call fits) still adds its
        cost, so hammering keeps the key locked longer; a +2 call refused with room for
        a +1 adds nothing. Calls that cost 0 here (orders, cancels) are never refused:
        the trading counter governs them, and a limited key must still be able to cancel.
        """
        cost = cost_of(endpoint)
        with self._lock:
            counter = self._decayed(key)
            if self.enabled and cost and counter.value + cost > self.maximum + 1e-9:
                if counter.value + 1 > self.maximum + 1e-9:
                    counter.value = min(counter.value + cost, self.maximum + self.decay * LONGEST_BAN_SECONDS)
                    counter.peak = max(counter.peak, counter.value)
                raise errors.KrakenAPIError(errors.API_RATE_LIMIT)
            counter.value += cost
            counter.peak = max(counter.peak, counter.value)

    def snapshot(self, key: str) -> dict[str, float]:
        with self._lock:
            counter = self._decayed(key)
            return {"api": counter.value, "api_max": self.maximum, "api_peak": counter.peak}

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()

    def _decayed(self, key: str) -> _Counter:
        now = self._clock.monotonic()
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = _Counter(updated=now)
            return counter
        elapsed = now - counter.updated if counter.updated is not None else 0.0
        if elapsed > 0:
            counter.value = max(0.0, counter.value - elapsed * self.decay)
        counter.updated = now
        return counter
