"""Kraken's per-pair trading-engine rate counter (``EOrder:Rate limit exceeded``).

Kraken charges every add +1 on receipt, cancels and amends a penalty that shrinks with
the order's age, and lets the counter decay at a tier rate. The model is Kraken's own
(../shared/kraken/limits-and-trading-rules.md section 2), so it is written out here.
Cancels are never refused by it, only adds.
"""
from __future__ import annotations

from dataclasses import dataclass

# (threshold, decay per second, max open orders per pair)
TIERS: dict[str, tuple[float, float, int]] = {
    "starter": (60.0, 1.0, 60),
    "intermediate": (125.0, 2.34, 80),
    "pro": (180.0, 3.75, 225),
}

_CANCEL_PENALTY = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))
_AMEND_PENALTY = ((5, 3), (10, 2), (15, 1))


def cancel_penalty(age: float) -> int:
    for limit, cost in _CANCEL_PENALTY:
        if age < limit:
            return cost
    return 0


def amend_cost(age: float) -> int:
    for limit, cost in _AMEND_PENALTY:
        if age < limit:
            return 1 + cost
    return 1


@dataclass
class _Cell:
    value: float = 0.0
    at: float = 0.0
    peak: float = 0.0


class TradingCounter:
    """One leaky counter per (account, pair), read lazily at a given time."""

    def __init__(self, tier: str) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}")
        self.threshold, self.decay, self.max_open = TIERS[tier]
        self._cells: dict[tuple[str, str], _Cell] = {}

    def _cell(self, account: str, pair: str, now: float) -> _Cell:
        cell = self._cells.get((account, pair))
        if cell is None:
            cell = self._cells[(account, pair)] = _Cell(0.0, now, 0.0)
        elif now > cell.at:
            cell.value = max(0.0, cell.value - self.decay * (now - cell.at))
            cell.at = now
        return cell

    def value(self, account: str, pair: str, now: float) -> float:
        return self._cell(account, pair, now).value

    def would_exceed(self, account: str, pair: str, cost: float, now: float) -> bool:
        return self._cell(account, pair, now).value + cost > self.threshold

    def charge(self, account: str, pair: str, cost: float, now: float) -> None:
        cell = self._cell(account, pair, now)
        cell.value += cost
        cell.peak = max(cell.peak, cell.value)

    def snapshot(self, account: str, now: float) -> dict[str, dict[str, float]]:
        values: dict[str, float] = {}
        peaks: dict[str, float] = {}
        for (acct, pair), _ in list(self._cells.items()):
            if acct == account:
                cell = self._cell(acct, pair, now)
                values[pair] = cell.value
                peaks[pair] = cell.peak
        return {"trading": values, "trading_peak": peaks}
