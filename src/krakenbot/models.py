"""Typed values the client returns and the rest of the bot passes around.

All money, prices and volumes are ``Decimal``; times are Unix seconds (float).
Frozen dataclasses: a value read from the exchange is never edited in place.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import Enum


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"


class OrderType(str, Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_LOSS = "stop-loss"
    TAKE_PROFIT = "take-profit"
    STOP_LOSS_LIMIT = "stop-loss-limit"
    TAKE_PROFIT_LIMIT = "take-profit-limit"


@dataclass(frozen=True)
class PairInfo:
    """One tradable pair's rules, from AssetPairs. Drives rounding and pre-trade validation."""

    name: str  # Kraken pair id, e.g. XXBTZEUR
    altname: str  # XBTEUR
    wsname: str  # XBT/EUR
    base: str  # XXBT
    quote: str  # ZEUR
    pair_decimals: int
    lot_decimals: int
    cost_decimals: int
    tick_size: Decimal
    ordermin: Decimal
    costmin: Decimal
    fee_taker: Decimal  # percent, e.g. Decimal("0.40")
    fee_maker: Decimal
    status: str = "online"

    def round_volume(self, volume: Decimal) -> Decimal:
        """Volumes are truncated (never rounded up: that could exceed a limit or a balance)."""
        return volume.quantize(Decimal(1).scaleb(-self.lot_decimals), rounding=ROUND_DOWN)

    def round_price(self, price: Decimal) -> Decimal:
        """Prices snap to the pair's tick size, then to its price decimals."""
        ticks = (price / self.tick_size).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        snapped = ticks * self.tick_size
        return snapped.quantize(Decimal(1).scaleb(-self.pair_decimals), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class SystemStatus:
    status: str  # online | maintenance | cancel_only | post_only
    timestamp: str


@dataclass(frozen=True)
class Ticker:
    pair: str
    ask: Decimal
    bid: Decimal
    last: Decimal
    volume_24h: Decimal
    vwap_24h: Decimal
    low_24h: Decimal
    high_24h: Decimal
    open_today: Decimal
    trades_24h: int
    fetched_at: float = 0.0

    @property
    def mid(self) -> Decimal:
        return (self.ask + self.bid) / 2


@dataclass(frozen=True)
class Candle:
    time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    vwap: Decimal
    volume: Decimal
    count: int


@dataclass(frozen=True)
class OhlcPage:
    pair: str
    interval: int
    candles: tuple[Candle, ...]
    last: int


@dataclass(frozen=True)
class BookLevel:
    price: Decimal
    volume: Decimal
    timestamp: int


@dataclass(frozen=True)
class OrderBook:
    pair: str
    asks: tuple[BookLevel, ...]  # ascending
    bids: tuple[BookLevel, ...]  # descending

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None


@dataclass(frozen=True)
class PublicTrade:
    price: Decimal
    volume: Decimal
    time: float
    side: str  # "b" | "s"
    ordertype: str  # "m" | "l"
    trade_id: int | None


@dataclass(frozen=True)
class TradesPage:
    pair: str
    trades: tuple[PublicTrade, ...]
    last: str


def exact_amount(value: object, name: str) -> Decimal:
    """A finite Decimal from a Decimal, int or decimal string; floats and bools are refused."""
    if isinstance(value, (float, bool)):
        raise TypeError(f"OrderRequest.{name} is a {type(value).__name__}: pass a Decimal or a string, never a float")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, (int, str)):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"OrderRequest.{name} is not a decimal number") from None
    else:
        raise TypeError(f"OrderRequest.{name} must be a Decimal, not {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"OrderRequest.{name} must be a finite number")
    return number


@dataclass(frozen=True)
class OrderRequest:
    """What the bot asks the exchange for. ``cl_ord_id`` is always set by the executor."""

    pair: str
    side: Side
    ordertype: OrderType
    volume: Decimal
    price: Decimal | None = None
    price2: Decimal | None = None
    cl_ord_id: str | None = None
    userref: int | None = None
    post_only: bool = False
    timeinforce: str | None = None  # GTC | IOC | GTD
    expiretm: str | None = None
    validate: bool = False
    # Exchange-time Unix seconds by which Kraken must have executed the order. The executor
    # sets it and records the same value, so its "not placed after the deadline" verdict and
    # the deadline on the wire can never drift apart (e.g. when pacing delays the send).
    deadline: float | None = None
    # Leverage the caller asked for ("2", "2:1"): the risk check refuses anything above spot, and
    # ``as_params`` never sends it (a spot bot places no margin order).
    leverage: str | None = None

    def __post_init__(self) -> None:
        """Amounts become exact Decimals here, once: a float (``Decimal(0.3)`` is
        0.29999999999999998889...) or a non-finite value never reaches risk or the wire.
        Side and order type become the enums (``"buy"`` is accepted), so no reader converts again."""
        if type(self.side) is not Side:
            object.__setattr__(self, "side", Side(self.side))
        if type(self.ordertype) is not OrderType:
            object.__setattr__(self, "ordertype", OrderType(self.ordertype))
        for name in ("volume", "price", "price2"):
            value = getattr(self, name)
            if value is None and name != "volume":
                continue
            object.__setattr__(self, name, exact_amount(value, name))

    def as_params(self) -> dict[str, str]:
        params: dict[str, str] = {
            "pair": self.pair,
            "type": self.side.value,
            "ordertype": self.ordertype.value,
            "volume": format(self.volume, "f"),
        }
        if self.price is not None:
            params["price"] = format(self.price, "f")
        if self.price2 is not None:
            params["price2"] = format(self.price2, "f")
        if self.cl_ord_id:
            params["cl_ord_id"] = self.cl_ord_id
        if self.userref is not None:
            params["userref"] = str(self.userref)
        if self.post_only:
            params["oflags"] = "post"
        if self.timeinforce:
            params["timeinforce"] = self.timeinforce
        if self.expiretm:
            params["expiretm"] = self.expiretm
        if self.validate:
            params["validate"] = "true"
        return params


@dataclass(frozen=True)
class OrderAck:
    txids: tuple[str, ...]
    description: str
    validated_only: bool = False  # validate=true: nothing was placed, no txid


@dataclass(frozen=True)
class OrderInfo:
    txid: str
    status: str  # pending | open | closed | canceled | expired
    pair: str  # altname, as Kraken puts it in descr.pair
    side: Side
    ordertype: str
    volume: Decimal
    volume_executed: Decimal
    cost: Decimal
    fee: Decimal
    average_price: Decimal
    limit_price: Decimal
    opened_at: float
    closed_at: float | None = None
    cl_ord_id: str | None = None
    userref: int | None = None
    reason: str | None = None
    oflags: str = ""
    trade_ids: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class TradeInfo:
    trade_id: str  # T... id
    order_txid: str
    pair: str  # pair id
    side: Side
    ordertype: str
    price: Decimal
    volume: Decimal
    cost: Decimal
    fee: Decimal
    time: float
    maker: bool


@dataclass(frozen=True)
class AssetBalance:
    """One asset's line from BalanceEx: total and the part held by open orders."""

    asset: str
    balance: Decimal
    hold_trade: Decimal

    @property
    def free(self) -> Decimal:
        return self.balance - self.hold_trade


@dataclass(frozen=True)
class SpreadEntry:
    time: int
    bid: Decimal
    ask: Decimal


@dataclass(frozen=True)
class SpreadPage:
    pair: str
    entries: tuple[SpreadEntry, ...]
    last: int


@dataclass(frozen=True)
class LedgerEntry:
    ledger_id: str
    refid: str
    time: float
    type: str
    subtype: str
    asset: str
    amount: Decimal  # signed
    fee: Decimal
    balance: Decimal


@dataclass(frozen=True)
class TradeVolume:
    currency: str
    volume: Decimal
    fees: dict[str, Decimal]  # pair id -> taker fee percent
    fees_maker: dict[str, Decimal]
