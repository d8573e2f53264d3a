"""Strategies decide what the bot would like to trade; they never call the exchange.

Why a protocol: the orchestrator feeds a strategy a read-only view of the market and of
the bot's position and gets back intents; every intent then goes through the safety
wrapper (mode, kill switch, risk limits) like any other order. A strategy cannot bypass
the safety checks because it is never handed a client.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from krakenbot.models import OrderType, Side


@dataclass(frozen=True)
class MarketView:
    """What a strategy sees for one pair at one moment."""

    pair: str
    time: float
    bid: Decimal
    ask: Decimal
    position_volume: Decimal = Decimal(0)  # base currency the bot holds for this pair
    average_entry: Decimal | None = None  # average cost per unit of that position (quote)

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True)
class TradeIntent:
    """An order the strategy would like; the safety wrapper decides whether it is placed."""

    pair: str
    side: Side
    ordertype: OrderType
    volume: Decimal
    price: Decimal | None = None
    reason: str = ""
    post_only: bool = False


class Strategy(Protocol):
    name: str

    def decide(self, view: MarketView) -> list[TradeIntent]:
        """Intents for this pair now (usually none)."""

    def acknowledge(self, intent: TradeIntent, placed: bool, now: float) -> None:
        """Told whether an intent was placed, so the strategy can update its reference."""


@dataclass
class DipBuyStrategy:
    """Buy a fixed EUR amount on a dip below the reference price, or every interval;
    sell the whole position once the price is ``rise_pct`` above the average entry.

    Orders are limit orders at the touch (ask for buys, bid for sells): marketable, yet
    with a price ceiling, so a thin book cannot fill them far away.
    """

    buy_eur: Decimal
    dip_pct: Decimal
    rise_pct: Decimal
    interval_seconds: float | None = None  # None: buy on dips only
    volume_decimals: int = 8
    name: str = "dip-buy"
    reference: dict[str, Decimal] = field(default_factory=dict)
    last_buy_at: dict[str, float] = field(default_factory=dict)

    def decide(self, view: MarketView) -> list[TradeIntent]:
        if view.bid <= 0 or view.ask < view.bid:  # (then the ask is positive too)
            return []  # a broken quote is not a signal
        sell = self._take_profit(view)
        if sell is not None:
            return [sell]
        reference = self.reference.setdefault(view.pair, view.mid)
        dip_price = reference * (1 - self.dip_pct / 100)
        reason = ""
        if view.ask <= dip_price:
            reason = f"ask {view.ask} is {self.dip_pct}% or more below reference {reference}"
        elif self.interval_seconds is not None:
            last = self.last_buy_at.get(view.pair)
            if last is None or view.time - last >= self.interval_seconds:
                reason = f"interval buy (every {self.interval_seconds:g} s)"
        if not reason:
            return []
        volume = (self.buy_eur / view.ask).quantize(Decimal(1).scaleb(-self.volume_decimals), rounding=ROUND_DOWN)
        if volume <= 0:
            return []
        return [TradeIntent(view.pair, Side.BUY, OrderType.LIMIT, volume, view.ask, reason)]

    def _take_profit(self, view: MarketView) -> TradeIntent | None:
        if view.position_volume <= 0 or not view.average_entry:
            return None
        target = view.average_entry * (1 + self.rise_pct / 100)
        if view.bid < target:
            return None
        return TradeIntent(view.pair, Side.SELL, OrderType.LIMIT, view.position_volume, view.bid,
                           f"bid {view.bid} reached {self.rise_pct}% above average entry {view.average_entry}")

    def acknowledge(self, intent: TradeIntent, placed: bool, now: float) -> None:
        if not placed:
            return
        if intent.side is Side.BUY:
            self.last_buy_at[intent.pair] = now
            if intent.price is not None:
                self.reference[intent.pair] = intent.price
        else:
            self.reference.pop(intent.pair, None)  # start afresh from the next observed price


class HoldStrategy:
    """Never trades: for read-only runs and tests of the loop itself."""

    name = "hold"

    def decide(self, view: MarketView) -> list[TradeIntent]:
        return []

    def acknowledge(self, intent: TradeIntent, placed: bool, now: float) -> None:
        return None
