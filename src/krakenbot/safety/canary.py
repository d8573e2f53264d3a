"""Canary rules: the only orders canary mode lets out.

Why: a canary proves the whole path (signing, nonce, AddOrder, acknowledgement,
CancelOrder) with real money at stake but no real risk. So a canary order is a
post-only limit order on the passive side, at least ``offset_pct`` % from mid (it
cannot fill unless the market jumps that far), of the smallest volume the pair and our
own minimums allow, under a notional cap; the wrapper cancels it as soon as it is
acknowledged. Pure functions of the pair rules and the mid price, so they are unit-tested.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

from krakenbot.models import OrderType, PairInfo, Side


@dataclass(frozen=True)
class CanaryRules:  # no defaults: the bot builds them from the settings only, where the defaults live
    offset_pct: Decimal  # CANARY_OFFSET_PCT
    max_notional: Decimal  # CANARY_MAX_EUR
    min_volume: Decimal  # MIN_TRADE_VOLUME
    min_notional: Decimal  # MIN_EUR_FOR_TRADE

    @classmethod
    def from_settings(cls, settings: Any) -> "CanaryRules":
        return cls(Decimal(settings.canary_offset_pct), Decimal(settings.canary_max_eur),
                   Decimal(settings.min_trade_volume), Decimal(settings.min_eur_for_trade))

    def volume(self, info: PairInfo, price: Decimal) -> Decimal:
        """The smallest volume the pair and our own minimums allow at ``price``."""
        step = Decimal(1).scaleb(-info.lot_decimals)
        floor_notional = max(info.costmin, self.min_notional)
        by_cost = (floor_notional / price).quantize(step, rounding=ROUND_UP) if price > 0 else info.ordermin
        return max(info.ordermin, self.min_volume, by_cost)

    def price(self, info: PairInfo, side: Side, mid: Decimal) -> Decimal:
        """A tick-aligned price at least ``offset_pct`` % from mid on the passive side."""
        factor = self.offset_pct / 100
        limit = mid * (1 - factor) if side is Side.BUY else mid * (1 + factor)
        price = info.round_price(limit)
        while side is Side.BUY and price > limit:
            price -= info.tick_size
        while side is Side.SELL and price < limit:
            price += info.tick_size
        return price

    def problem(self, info: PairInfo, side: Side, ordertype: OrderType, volume: Decimal, price: Decimal | None,
                post_only: bool, mid: Decimal | None) -> str | None:
        """None when the order is a valid canary, else why not."""
        if ordertype is not OrderType.LIMIT or price is None:
            return "canary mode places only limit orders"
        if not post_only:
            return "canary mode places only post-only orders"
        if mid is None or mid <= 0:
            return "canary mode needs a market price"
        distance = (mid - price) / mid * 100 if side is Side.BUY else (price - mid) / mid * 100
        if distance < self.offset_pct:
            return (f"canary {side.value} at {price} is {distance:.2f}% from mid {mid} on the passive side; "
                    f"needs at least {self.offset_pct}%")
        minimal = self.volume(info, price)
        if volume > minimal:
            return f"canary volume {volume} is above the minimal volume {minimal}"
        if volume * price > self.max_notional:
            return f"canary notional {volume * price} is above the cap {self.max_notional}"
        return None
