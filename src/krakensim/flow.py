"""Other traders: seeded background order flow on every pair.

Each pair has its own Poisson process of arrivals, ``rate`` a second, drawn from a generator
seeded by (seed, pair): another trader's market order, which takes from the book as an
account's does (resting orders in their queues, then the synthetic depth); a limit order that
joins the queue at the touch or a few ticks behind it; or the cancel of one of those. Lazy, like
the exchange's catch-up: the arrivals due up to the clock's now run, in time order, when the
exchange is next touched (of a long idle stretch, only its last minute: Exchange._catch_up), so a
manual clock drives the flow and the same seed and calls give the same trades. No thread, no sleep.
"""
from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Any, Iterable

from krakensim.market import PairMarket
from krakensim.matching import Matcher, OtherOrder
from krakensim.wire import q

MAX_RATE = 1000.0
_MAX_OTHERS = 200  # others' resting orders per pair; beyond, the oldest is cancelled
_MARKET_SHARE = 0.35  # of arrivals: market orders; then limit orders up to _LIMIT_SHARE, the rest cancels
_LIMIT_SHARE = 0.8


def parse_rate(value: Any) -> float:
    """Arrivals per second on each pair (a count, not money: float is fine); one clear error otherwise."""
    try:
        rate = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        rate = math.nan
    if not 0 <= rate <= MAX_RATE:  # NaN fails the comparison too
        raise ValueError(f"flow rate must be a number from 0 to {MAX_RATE:g} arrivals per second, got {value!r}")
    return rate


class BackgroundFlow:
    """The arrival times of every pair; ``next_at`` is the earliest, so an idle check is one comparison."""

    def __init__(self, seed: int, pair_ids: Iterable[str], rate: float, now: float) -> None:
        self.rate = rate
        self._rngs = {pid: random.Random(f"flow:{seed}:{pid}") for pid in pair_ids}
        self._next: dict[str, float] = {}
        self.next_at = math.inf
        self.reschedule(now)

    def reschedule(self, now: float, rate: float | None = None) -> None:
        """Draw every pair's next arrival from ``now`` on (a new rate, or a skipped idle stretch)."""
        if rate is not None:
            self.rate = rate
        self._next = {pid: self._after(pid, now) for pid in self._rngs}
        self.next_at = min(self._next.values(), default=math.inf)

    def _after(self, pid: str, t: float) -> float:
        return t + self._rngs[pid].expovariate(self.rate) if self.rate > 0 else math.inf

    def pop_due(self, until: float) -> tuple[float, str] | None:
        """The earliest arrival at or before ``until`` (time, pair), its successor drawn; None if none."""
        if self.next_at > until:
            return None
        pid = min(self._next, key=lambda p: (self._next[p], p))
        t = self._next[pid]
        self._next[pid] = self._after(pid, t)
        self.next_at = min(self._next.values())
        return t, pid

    def run(self, pid: str, t: float, market: PairMarket, matcher: Matcher, trading: bool) -> None:
        """One arrival on ``pid`` at ``t``. Always drawn, so the sequence does not depend on the market's
        status; applied only while the pair trades."""
        rng = self._rngs[pid]
        kind, pick = rng.random(), rng.random()
        side = "buy" if rng.random() < 0.5 else "sell"
        spec = market.spec
        size = q(spec.level_volume * Decimal(rng.randint(5, 150)) / 100, spec.lot_decimals)
        behind = min(int(rng.expovariate(0.7)), 10)  # ticks behind the touch, mostly 0 or 1
        if not trading:
            return
        others = matcher.others[pid]
        book_side = "asks" if side == "buy" else "bids"
        if kind < _MARKET_SHARE:
            takes, _ = matcher.plan(pid, book_side, size)
            matcher.execute(None, book_side, takes, pid, t)
            matcher.triggers(market, t)  # the trades moved the last price
            matcher.place_closes()
        elif kind < _LIMIT_SHARE or not others:
            best_ask = min([market.best_ask, *(o.working_limit for o in matcher.resting(pid, "asks")[:1])])
            best_bid = max([market.best_bid, *(o.working_limit for o in matcher.resting(pid, "bids")[:1])])
            tick = spec.tick_size
            price = best_bid - behind * tick if side == "buy" else best_ask + behind * tick
            price = min(price, best_ask - tick) if side == "buy" else max(price, best_bid + tick)
            if price <= 0:
                return
            order = OtherOrder(pid, side, price, size)
            matcher.queue(order)
            others.append(order)
            if len(others) > _MAX_OTHERS:
                others.pop(0)
        else:
            others.pop(int(pick * len(others)))
