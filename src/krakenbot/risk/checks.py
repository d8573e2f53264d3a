"""Pre-trade checks: pure functions ``(intent, snapshot, limits) -> Denial | None``.

Each check names the rule it enforces with a stable ``DenialCode`` and puts the
numbers involved in ``detail`` (tests assert on the code, operators read the detail).
They read only their arguments, so they are tested without a store, a clock or a
network. The manager runs all of them and reports every denial, not just the first.

Exemptions (a spot bot must always be able to get *out*): a sell that only reduces
the bot's position is not stopped by the daily trade or daily loss limits, nor by the largest
order value, nor by fills still owed; position limits apply to buys only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Callable, Mapping

from krakenbot.models import OrderBook, OrderRequest, OrderType, PairInfo, Side
from krakenbot.risk.limits import RiskLimits

__all__ = [
    "DenialCode", "Denial", "TradingState", "RiskSnapshot", "CHECKS",
    "order_price", "order_notional", "is_reducing", "sells_only_held", "estimate_fill",
]


class DenialCode(str, Enum):
    TRADING_HALTED = "TRADING_HALTED"
    PAIR_NOT_ALLOWED = "PAIR_NOT_ALLOWED"
    LEVERAGE_NOT_ALLOWED = "LEVERAGE_NOT_ALLOWED"
    UNKNOWN_ORDER_OUTSTANDING = "UNKNOWN_ORDER_OUTSTANDING"
    FILLS_OWED = "FILLS_OWED"
    STALE_MARKET_DATA = "STALE_MARKET_DATA"
    PRICE_COLLAR = "PRICE_COLLAR"
    BELOW_EXCHANGE_MINIMUM = "BELOW_EXCHANGE_MINIMUM"
    BELOW_MIN_VOLUME = "BELOW_MIN_VOLUME"
    BELOW_MIN_NOTIONAL = "BELOW_MIN_NOTIONAL"
    MAX_NOTIONAL = "MAX_NOTIONAL"
    MAX_POSITION = "MAX_POSITION"
    MAX_POSITION_PCT = "MAX_POSITION_PCT"
    MAX_OPEN_ORDERS = "MAX_OPEN_ORDERS"
    DAILY_TRADE_LIMIT = "DAILY_TRADE_LIMIT"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"


class TradingState(str, Enum):
    ACTIVE = "ACTIVE"
    HALTED = "HALTED"


@dataclass(frozen=True)
class Denial:
    code: DenialCode
    detail: str


@dataclass(frozen=True)
class RiskSnapshot:
    """What the checks know about the world at decision time.

    ``position_base`` is the bot's holding of the intent pair's base asset;
    ``free_balances`` maps Kraken asset ids (``XXBT``, ``ZEUR``) to what is free to use.
    The manager fills ``daily_trades``, ``daily_realised_loss`` and ``trading_state``
    from the store, so callers need not.
    """

    pair_info: PairInfo | None = None
    mid_price: Decimal | None = None
    market_data_age_s: Decimal | None = None
    position_base: Decimal = Decimal(0)
    portfolio_value: Decimal | None = None
    free_balances: Mapping[str, Decimal] = field(default_factory=dict)
    open_orders: int = 0
    daily_trades: int = 0
    daily_realised_loss: Decimal = Decimal(0)  # positive number = money lost today
    trading_state: TradingState = TradingState.ACTIVE
    unknown_order_pairs: frozenset[str] = frozenset()
    # Remaining volume of the bot's open buy orders on the pair: it can fill at any moment,
    # so the position limits count it as held (else resting buys can fill past the cap).
    pending_buy_base: Decimal = Decimal(0)
    # Remaining volume of the bot's open sell orders on the pair: once they fill, the position is
    # that much smaller (their fills may already have happened unseen).
    pending_sell_base: Decimal = Decimal(0)
    # The current book, for market orders: their fill price is estimated by walking it
    # (``check_market_slippage``). The wrapper always supplies it for a market order.
    order_book: OrderBook | None = None
    # TOTAL_BTC is the bot's whole allocation measured in BTC (``check_max_position``): what one
    # unit of the pair's base asset is worth in BTC at the exchange's price (None: unknown; 1 is
    # assumed only for a BTC base), and the BTC value of the bot's holdings and open buys on every
    # other pair (None: one of them has no price in BTC).
    base_in_btc: Decimal | None = None
    other_pairs_btc: Decimal | None = Decimal(0)
    # Orders (cl_ord_ids, on any pair) that executed volume whose fills are not recorded yet: their
    # profit or loss is unknown, so the daily loss limit cannot be measured (``check_fills_owed``).
    # Their volume is in ``pending_buy_base``/``pending_sell_base`` (a sell as gone already).
    fills_owed: tuple[str, ...] = ()


PRICED_TYPES = {OrderType.LIMIT, OrderType.STOP_LOSS, OrderType.TAKE_PROFIT,
                OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
TRIGGER_TYPES = PRICED_TYPES - {OrderType.LIMIT}


def order_price(intent: OrderRequest, snap: RiskSnapshot) -> Decimal | None:
    """The price the order would trade at: its own price when it has one, else the mid."""
    if intent.ordertype in PRICED_TYPES and intent.price is not None:
        return intent.price
    return snap.mid_price


def order_notional(intent: OrderRequest, snap: RiskSnapshot) -> Decimal | None:
    price = order_price(intent, snap)
    return None if price is None else intent.volume * price


def is_reducing(intent: OrderRequest, snap: RiskSnapshot) -> bool:
    """A sell no larger than what the bot holds: it can only shrink exposure."""
    return intent.side is Side.SELL and intent.volume <= snap.position_base


def sells_only_held(intent: OrderRequest, snap: RiskSnapshot) -> bool:
    """A sell of no more than the bot holds once its resting sells, and its sells whose fills are
    not recorded yet, have left: it can only shrink exposure, whatever those fills were."""
    return intent.side is Side.SELL and intent.volume <= snap.position_base - snap.pending_sell_base


def _pair_names(intent: OrderRequest, snap: RiskSnapshot) -> set[str]:
    names = {intent.pair}
    if snap.pair_info is not None:
        names |= {snap.pair_info.name, snap.pair_info.altname, snap.pair_info.wsname}
    return names


def check_trading_state(intent, snap: RiskSnapshot, limits: RiskLimits) -> Denial | None:
    if snap.trading_state is not TradingState.ACTIVE:
        return Denial(DenialCode.TRADING_HALTED, f"trading state is {snap.trading_state.value}")
    return None


def check_pair_allowed(intent, snap, limits) -> Denial | None:
    """A pair Kraken has restricted (``cancel_only``, ``reduce_only``, ...) takes no new order here."""
    if snap.pair_info is not None and snap.pair_info.status != "online":
        return Denial(DenialCode.PAIR_NOT_ALLOWED, f"pair {intent.pair} status is {snap.pair_info.status}")
    return None


def check_leverage(intent, snap, limits) -> Denial | None:
    leverage = intent.leverage
    if leverage in (None, "", "none"):
        return None
    requested = Decimal(str(leverage).split(":")[0])
    if requested > limits.max_leverage:
        return Denial(DenialCode.LEVERAGE_NOT_ALLOWED,
                      f"leverage {requested} > max leverage {limits.max_leverage} (spot only)")
    return None


def check_unknown_orders(intent, snap, limits) -> Denial | None:
    if _pair_names(intent, snap) & set(snap.unknown_order_pairs):
        return Denial(DenialCode.UNKNOWN_ORDER_OUTSTANDING,
                      f"an order on {intent.pair} has an unknown outcome; resolve it before placing another")
    return None


def check_fills_owed(intent, snap, limits) -> Denial | None:
    """Global, like the daily loss limit it protects: an order whose fills are missing may have lost
    money on any pair. Until they are recorded only a sell of what the bot holds goes out."""
    if not snap.fills_owed or sells_only_held(intent, snap):
        return None
    return Denial(DenialCode.FILLS_OWED,
                  f"order(s) {', '.join(snap.fills_owed)} traded but their fills are not recorded yet, so today's "
                  "profit and loss is unknown: only selling what the bot holds until they are read")


def check_market_data(intent, snap, limits) -> Denial | None:
    if snap.mid_price is None:
        return Denial(DenialCode.STALE_MARKET_DATA, f"no market price for {intent.pair}")
    if snap.market_data_age_s is not None and Decimal(str(snap.market_data_age_s)) > limits.max_data_age_s:
        return Denial(DenialCode.STALE_MARKET_DATA,
                      f"market data age {snap.market_data_age_s}s > max {limits.max_data_age_s}s")
    return None


def check_price_collar(intent, snap, limits) -> Denial | None:
    """Limit prices must sit within the collar around mid. Triggers (stop-loss, take-profit) are
    meant to be far from the market; for them the fat finger is the wrong side of mid, where
    the order fires at once as a market order."""
    if intent.price is None or snap.mid_price is None or intent.ordertype not in PRICED_TYPES:
        return None
    price, mid = intent.price, snap.mid_price
    ordertype = intent.ordertype
    if ordertype in TRIGGER_TYPES:
        is_stop = ordertype in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)
        fires_now = price >= mid if (intent.side is Side.SELL) == is_stop else price <= mid
        if fires_now:
            return Denial(DenialCode.PRICE_COLLAR,
                          f"{ordertype.value} {intent.side.value} trigger {price} is on the wrong side of "
                          f"mid {mid}: it would fire at once")
        return None
    deviation = abs(price - mid) / mid * 100
    if deviation > limits.price_collar_pct:
        return Denial(DenialCode.PRICE_COLLAR,
                      f"price {price} is {deviation:.4f}% from mid {mid} > collar {limits.price_collar_pct}%")
    return None


def estimate_fill(book: OrderBook, side: Side | str, volume: Decimal) -> tuple[Decimal, Decimal] | None:
    """(average, worst) price of sweeping ``volume`` through the book's levels (asks for a buy,
    bids for a sell); None when the levels shown hold less than ``volume``."""
    levels = book.asks if Side(side) is Side.BUY else book.bids
    left, cost, worst = Decimal(volume), Decimal(0), None
    for level in levels:
        if left <= 0:
            break
        take = min(left, level.volume)
        if take <= 0:
            continue
        cost += take * level.price
        left -= take
        worst = level.price
    if left > 0 or worst is None:
        return None
    return cost / Decimal(volume), worst


def check_market_slippage(intent, snap, limits) -> Denial | None:
    """The price collar for market orders, which carry no price of their own.

    Design (as established bots do before a taker order): walk the current book for the
    order's volume and refuse with PRICE_COLLAR when the estimated average *or* worst fill
    price is beyond the collar from mid, or when the book shown does not hold the volume
    (the fill price beyond it is unknown: fail closed). The order stays a market order, so
    the spec's market-order scenarios (taker fee, fill, balances) keep their meaning. Residual
    risk: the book can move between this look and the fill; limit orders are the tool when
    that matters."""
    if intent.ordertype is not OrderType.MARKET or snap.mid_price is None or snap.order_book is None:
        return None
    mid, volume, side = snap.mid_price, intent.volume, intent.side.value
    estimate = estimate_fill(snap.order_book, side, volume)
    if estimate is None:
        return Denial(DenialCode.PRICE_COLLAR,
                      f"market {side} of {volume}: the order book shown cannot fill it, so its price is "
                      f"unknown (collar {limits.price_collar_pct}% from mid {mid})")
    average, worst = estimate
    for name, price in (("worst", worst), ("average", average)):
        deviation = abs(price - mid) / mid * 100
        if deviation > limits.price_collar_pct:
            return Denial(DenialCode.PRICE_COLLAR,
                          f"market {side} of {volume} would fill at about {average:.2f} on average, worst "
                          f"{worst}: the {name} price is {deviation:.4f}% from mid {mid} > collar "
                          f"{limits.price_collar_pct}%")
    return None


def check_exchange_minimum(intent, snap, limits) -> Denial | None:
    info = snap.pair_info
    if info is None:
        return None
    volume = intent.volume
    if volume < info.ordermin:
        return Denial(DenialCode.BELOW_EXCHANGE_MINIMUM,
                      f"volume {volume} < exchange ordermin {info.ordermin} for {info.altname}")
    notional = order_notional(intent, snap)
    if notional is not None and notional < info.costmin:
        return Denial(DenialCode.BELOW_EXCHANGE_MINIMUM,
                      f"cost {notional} < exchange costmin {info.costmin} for {info.altname}")
    return None


def check_min_volume(intent, snap, limits) -> Denial | None:
    volume = intent.volume
    if volume < limits.min_trade_volume:
        return Denial(DenialCode.BELOW_MIN_VOLUME, f"volume {volume} < min trade volume {limits.min_trade_volume}")
    return None


def check_min_notional(intent, snap, limits) -> Denial | None:
    notional = order_notional(intent, snap)
    if notional is not None and notional < limits.min_eur_for_trade:
        return Denial(DenialCode.BELOW_MIN_NOTIONAL,
                      f"notional {notional} < min notional {limits.min_eur_for_trade}")
    return None


def check_max_notional(intent, snap, limits) -> Denial | None:
    """A fat-finger cap on new exposure. A sell of what the bot holds, beyond what its resting sells
    already offer, is exempt: the documented defaults allow a position (0.01 XBT) worth several
    largest orders (100 EUR), and the protective exit sells the whole position in one order, so
    capping it would leave the bot unable to get out. The resting sells count because their fills
    can have happened before the bot saw them."""
    if sells_only_held(intent, snap):
        return None
    notional = order_notional(intent, snap)
    if notional is not None and notional > limits.max_order_notional:
        return Denial(DenialCode.MAX_NOTIONAL, f"notional {notional} > max order notional {limits.max_order_notional}")
    return None


BTC_ASSETS = frozenset({"XXBT", "XBT"})


def base_in_btc(snap: RiskSnapshot) -> Decimal | None:
    """What one unit of the pair's base is worth in BTC: the snapshot's price, else 1 for a BTC base."""
    if snap.base_in_btc is not None:
        return snap.base_in_btc
    if snap.pair_info is None or snap.pair_info.base in BTC_ASSETS:
        return Decimal(1)
    return None


def check_max_position(intent, snap, limits) -> Denial | None:
    """TOTAL_BTC: the bot's holdings on every pair, with open buys and this buy, valued in BTC."""
    if intent.side is not Side.BUY:
        return None
    rate = base_in_btc(snap)
    if rate is None or snap.other_pairs_btc is None:
        base = snap.pair_info.base if rate is None and snap.pair_info is not None else "a holding on another pair"
        return Denial(DenialCode.MAX_POSITION, f"no price in BTC for {base}: the allocation cannot be measured")
    held = snap.position_base + snap.pending_buy_base + intent.volume
    after = snap.other_pairs_btc + held * rate
    if after > limits.max_position_btc:
        other = f"other pairs {snap.other_pairs_btc} BTC + " if snap.other_pairs_btc else ""
        worth = f" x {rate} BTC" if rate != 1 else ""
        return Denial(DenialCode.MAX_POSITION,
                      f"allocation after order {after} BTC ({other}(now {snap.position_base} + open buys "
                      f"{snap.pending_buy_base} + {intent.volume}){worth}) > max position {limits.max_position_btc} BTC")
    return None


def check_max_position_pct(intent, snap, limits) -> Denial | None:
    price = order_price(intent, snap)
    if intent.side is not Side.BUY or price is None or not snap.portfolio_value:
        return None
    after_value = (snap.position_base + snap.pending_buy_base + intent.volume) * price
    pct = after_value / snap.portfolio_value * 100
    if pct > limits.max_position_pct:
        return Denial(DenialCode.MAX_POSITION_PCT,
                      f"position value after order {after_value} is {pct:.4f}% of portfolio "
                      f"{snap.portfolio_value} > max {limits.max_position_pct}%")
    return None


def check_open_orders(intent, snap, limits) -> Denial | None:
    if snap.open_orders >= limits.max_open_orders:
        return Denial(DenialCode.MAX_OPEN_ORDERS, f"open orders {snap.open_orders} >= max {limits.max_open_orders}")
    return None


def check_daily_trades(intent, snap, limits) -> Denial | None:
    if is_reducing(intent, snap):
        return None
    if snap.daily_trades >= limits.max_daily_trades:
        return Denial(DenialCode.DAILY_TRADE_LIMIT,
                      f"trades today {snap.daily_trades} >= max daily trades {limits.max_daily_trades}")
    return None


def check_daily_loss(intent, snap, limits) -> Denial | None:
    if is_reducing(intent, snap):
        return None
    if snap.daily_realised_loss >= limits.max_daily_loss:
        return Denial(DenialCode.DAILY_LOSS_LIMIT,
                      f"realised loss today {snap.daily_realised_loss} >= max daily loss {limits.max_daily_loss}")
    return None


def check_balance(intent, snap, limits) -> Denial | None:
    info = snap.pair_info
    if info is None:
        return None
    volume = intent.volume
    if intent.side is Side.SELL:
        free = Decimal(snap.free_balances.get(info.base, 0))
        if volume > free:
            return Denial(DenialCode.INSUFFICIENT_BALANCE, f"sell {volume} {info.base} > free {free} {info.base}")
        return None
    notional = order_notional(intent, snap)
    if notional is None:
        return None
    needed = notional * (1 + info.fee_taker / 100)  # Kraken holds size plus fee
    free = Decimal(snap.free_balances.get(info.quote, 0))
    if needed > free:
        return Denial(DenialCode.INSUFFICIENT_BALANCE,
                      f"buy needs {needed} {info.quote} (incl. {info.fee_taker}% fee) > free {free} {info.quote}")
    return None


Check = Callable[[OrderRequest, RiskSnapshot, RiskLimits], "Denial | None"]

# Fixed, documented order: state and permissions first, then data quality, size, exposure, funds.
CHECKS: tuple[Check, ...] = (
    check_trading_state,
    check_pair_allowed,
    check_leverage,
    check_unknown_orders,
    check_fills_owed,
    check_market_data,
    check_price_collar,
    check_market_slippage,
    check_exchange_minimum,
    check_min_volume,
    check_min_notional,
    check_max_notional,
    check_max_position,
    check_max_position_pct,
    check_open_orders,
    check_daily_trades,
    check_daily_loss,
    check_balance,
)
