"""Volatility-scaled position sizing.

Why: a fixed size risks more in a wild market than in a calm one. Sizing so that a
move of ``k`` standard deviations costs ``risk_per_trade_pct`` of equity keeps the risk
per trade roughly constant:

    notional = equity * risk_pct / 100 / (k * volatility)

then clipped by the hard limits (max order notional, max position in base and in %
of equity) and rounded down to the pair's lot size. A result below the exchange's
or our own minimums is zero: no trade, rather than a rounded-up one.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from krakenbot.models import PairInfo
from krakenbot.risk.limits import RiskLimits

__all__ = ["SizeResult", "volatility", "size_order"]

ZERO = Decimal(0)


@dataclass(frozen=True)
class SizeResult:
    volume: Decimal            # base, rounded to the pair's lot decimals; 0 = do not trade
    notional: Decimal          # volume * price
    volatility: Decimal        # per-period stdev of returns used (after the floor)
    limited_by: str            # "volatility", "max_order_notional", "max_position", "max_position_pct", "minimum"


def volatility(closes: Sequence[Decimal]) -> Decimal:
    """Sample standard deviation of simple returns of ``closes`` (Decimal throughout)."""
    values = [Decimal(c) for c in closes]
    returns = [(b - a) / a for a, b in zip(values, values[1:]) if a != 0]
    if len(returns) < 2:
        return ZERO
    mean = sum(returns, ZERO) / len(returns)
    variance = sum(((r - mean) ** 2 for r in returns), ZERO) / (len(returns) - 1)
    return variance.sqrt()


def size_order(
    equity: Decimal,
    price: Decimal,
    closes: Sequence[Decimal],
    limits: RiskLimits,
    pair: PairInfo,
    position_base: Decimal = ZERO,
) -> SizeResult:
    """How much base to buy now, given equity (quote) and recent closes."""
    price = Decimal(price)
    vol = max(volatility(closes), limits.min_volatility)
    candidates = {
        "volatility": Decimal(equity) * limits.risk_per_trade_pct / 100 / (limits.volatility_k * vol),
        "max_order_notional": limits.max_order_notional,
        "max_position": max(ZERO, limits.max_position_btc - position_base) * price,
        "max_position_pct": max(ZERO, Decimal(equity) * limits.max_position_pct / 100 - position_base * price),
    }
    limited_by = min(candidates, key=lambda k: candidates[k])
    volume = pair.round_volume(candidates[limited_by] / price)
    notional = volume * price
    if volume < max(pair.ordermin, limits.min_trade_volume) or notional < max(pair.costmin, limits.min_eur_for_trade):
        return SizeResult(ZERO, ZERO, vol, "minimum")
    return SizeResult(volume, notional, vol, limited_by)
