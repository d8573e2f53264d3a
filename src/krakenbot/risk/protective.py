"""The bot's own stop-loss and take-profit (``ProtectiveMonitor``).

The bot watches the price and emits a market sell of the whole position when a level is crossed; no trigger
order rests at the exchange holding the coins. Levels are percentages from the average entry (fees included),
configured in ``RiskLimits.stop_loss_pct`` / ``take_profit_pct``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

from krakenbot.models import OrderRequest, OrderType, PairInfo, Side
from krakenbot.positions import Position

__all__ = ["ProtectiveLevels", "ProtectiveSignal", "ProtectiveMonitor", "levels_for"]


@dataclass(frozen=True)
class ProtectiveLevels:
    stop: Decimal | None
    target: Decimal | None


@dataclass(frozen=True)
class ProtectiveSignal:
    kind: str                 # "stop_loss" | "take_profit"
    price: Decimal            # the price that crossed
    level: Decimal
    intent: OrderRequest      # market sell of the whole position


def levels_for(entry: Decimal, stop_loss_pct: Decimal | None, take_profit_pct: Decimal | None) -> ProtectiveLevels:
    stop = entry * (1 - Decimal(stop_loss_pct) / 100) if stop_loss_pct is not None else None
    target = entry * (1 + Decimal(take_profit_pct) / 100) if take_profit_pct is not None else None
    return ProtectiveLevels(stop, target)


class ProtectiveMonitor:
    """Bot-side stop-loss / take-profit. Fires once per position (pair, entry, volume):
    after a signal it stays quiet until the position changes, so a slow exit is not
    doubled by the next price tick."""

    def __init__(self, stop_loss_pct: Decimal | None, take_profit_pct: Decimal | None) -> None:
        self.stop_loss_pct = stop_loss_pct
        self.take_profit_pct = take_profit_pct
        self._fired: set[tuple[str, Decimal, Decimal]] = set()
        self._lock = threading.Lock()

    def check(self, position: Position, price: Decimal, pair: PairInfo | None = None,
              committed_sells: Decimal = Decimal(0)) -> ProtectiveSignal | None:
        """``committed_sells``: what sells of the pair rest on the book or executed with their fills not
        recorded yet: the recorded position still holds it, the account no longer does (or will not),
        so the exit sells the rest."""
        entry = position.average_entry
        held = position.volume - committed_sells
        if entry is None or held <= 0:
            return None
        volume = pair.round_volume(held) if pair is not None else held
        if pair is not None and volume < pair.ordermin:
            return None
        price = Decimal(price)
        levels = levels_for(entry, self.stop_loss_pct, self.take_profit_pct)
        kind, level = None, None
        if levels.stop is not None and price <= levels.stop:
            kind, level = "stop_loss", levels.stop
        elif levels.target is not None and price >= levels.target:
            kind, level = "take_profit", levels.target
        if kind is None:
            return None
        key = (position.pair, entry, position.volume)
        with self._lock:
            if key in self._fired:
                return None
            self._fired.add(key)
        intent = OrderRequest(pair=position.pair, side=Side.SELL, ordertype=OrderType.MARKET, volume=volume)
        return ProtectiveSignal(kind, price, level, intent)

    def rearm(self, pair: str) -> None:
        """The exit for ``pair`` did not go out (refused, breaker open, exchange error): let the
        next check fire again, or a refused stop-loss would never be retried for this position."""
        with self._lock:
            self._fired = {key for key in self._fired if key[0] != pair}

    def reset(self) -> None:
        with self._lock:
            self._fired.clear()
