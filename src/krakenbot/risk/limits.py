"""Risk limits as one immutable value, built from settings.

Every limit is a ``Decimal`` (or an int count) so checks compare exact numbers;
``None`` disables a limit that has no safe universal default. The bot builds it from its
settings (``krakenbot.bot.risk_limits_from``).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["RiskLimits"]


@dataclass(frozen=True)
class RiskLimits:
    max_position_btc: Decimal = Decimal("0.01")       # TOTAL_BTC: all the bot holds, valued in BTC, after the order
    max_position_pct: Decimal = Decimal("50")         # position value as % of portfolio value
    max_order_notional: Decimal = Decimal("1000")     # quote per order
    min_trade_volume: Decimal = Decimal("0.00005")    # MIN_TRADE_VOLUME (base)
    min_eur_for_trade: Decimal = Decimal("5.0")       # MIN_EUR_FOR_TRADE (quote)
    max_daily_trades: int = 50
    max_daily_loss: Decimal = Decimal("100")          # realised, quote, per UTC day
    max_open_orders: int = 10
    max_leverage: Decimal = Decimal("1")              # 1 = spot, no margin
    price_collar_pct: Decimal = Decimal("5")          # fat-finger guard vs mid
    max_data_age_s: Decimal = Decimal("30")           # older market data -> STALE_MARKET_DATA
    stop_loss_pct: Decimal | None = Decimal("5")
    take_profit_pct: Decimal | None = Decimal("10")
    risk_per_trade_pct: Decimal = Decimal("1")        # sizing: % of equity risked per trade
    volatility_k: Decimal = Decimal("2")              # sizing: stop distance in volatility units
    min_volatility: Decimal = Decimal("0.001")        # sizing floor: no division by ~0
