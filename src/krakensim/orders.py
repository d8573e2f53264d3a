"""An order on the simulated exchange and the shape Kraken reports it in.

The view functions produce exactly the order/trade/ledger objects of
../shared/kraken/endpoints.md sections 3.4, 3.8 and 3.11 (strings with fixed
decimals, ``descr.order`` text that ccxt splits on spaces).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from krakensim.pairs import ASSETS, WIRE_PRICE_DECIMALS, PairSpec
from krakensim.wire import fmt

OPEN_STATUSES = ("pending", "open")
TRAILING_TYPES = ("trailing-stop", "trailing-stop-limit")
TRIGGERED_TYPES = ("stop-loss", "take-profit", "stop-loss-limit", "take-profit-limit") + TRAILING_TYPES
ORDER_TYPES = ("market", "limit") + TRIGGERED_TYPES
CLOSE_TYPES = TRIGGERED_TYPES + ("limit",)  # a conditional close's types (iceberg is not simulated)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Offset:
    """A trailing distance as sent (``+1.5%``, ``+500``, ``-0.5%``): signed amount, percent or quote units."""

    amount: Decimal  # signed
    percent: bool
    text: str  # as Kraken echoes it in descr: "+1.5000%", "+500.0"

    def apply(self, price: Decimal) -> Decimal:
        return price + (price * self.amount / 100 if self.percent else self.amount)


@dataclass(frozen=True, slots=True)
class CloseSpec:
    """A conditional close (``close[ordertype]``, ``close[price]``, ``close[price2]``): each fill of the
    primary places an opposite order of the filled volume with these terms."""

    ordertype: str
    price: Decimal | None
    price2: Decimal | None
    offset: Offset | None = None  # trailing types: the trailing distance instead of a price
    limit_offset: Offset | None = None


@dataclass(slots=True)
class Order:
    txid: str
    account: str
    pair: PairSpec
    side: str
    ordertype: str
    volume: Decimal  # base units (quote units while an unexecuted viqc market buy)
    price: Decimal | None  # limit price, or trigger price for stop/take-profit types
    price2: Decimal | None  # limit price of *-limit types
    oflags: tuple[str, ...]
    timeinforce: str
    opentm: float
    starttm: float = 0.0
    expiretm: float = 0.0
    userref: int | None = None
    cl_ord_id: str | None = None
    status: str = "open"
    vol_exec: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    misc: list[str] = field(default_factory=list)
    reason: str | None = None
    closetm: float | None = None
    trade_ids: list[str] = field(default_factory=list)
    triggered: bool = False
    trigger: str = "last"  # reference price: last (default) or index (the simulator has only last)
    offset: Offset | None = None  # trailing types: distance of the trigger from the peak
    limit_offset: Offset | None = None  # trailing-stop-limit: distance of the limit from the trigger
    peak: Decimal | None = None  # trailing types: the best last price since placement
    close_spec: CloseSpec | None = None
    amends: list[dict] = field(default_factory=list)  # the amend history, once amended
    aged_from: float = 0.0  # creation or last amend: the trading counter's order age
    quote_volume: Decimal | None = None  # viqc: amount of quote to spend
    stptype: str = "cancel-newest"  # self-trade prevention when it arrives on an own resting order
    seq: int = 0  # queue priority once resting (matching.py): lower is earlier at the same price
    ahead: Decimal = ZERO  # synthetic depth queued before it at its price
    view_key: tuple | None = None  # what the cached Kraken view was built from
    view: dict | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.volume - self.vol_exec

    @property
    def fee_in_base(self) -> bool:
        # Kraken reports fciq when no flag is given; we charge in quote unless fcib is asked for.
        return "fcib" in self.oflags

    @property
    def post_only(self) -> bool:
        return "post" in self.oflags

    @property
    def working_limit(self) -> Decimal | None:
        """The price the order rests at, once live: limit price, or price2 of a triggered *-limit."""
        if self.ordertype == "limit":
            return self.price
        if self.ordertype.endswith("-limit") and self.triggered:
            return self.price2
        return None

    def close(self, status: str, now: float, reason: str | None = None) -> None:
        self.status = status
        self.closetm = now
        self.reason = reason
        if "partial" in self.misc and self.remaining <= 0:
            self.misc.remove("partial")


def descr_text(o: Order) -> str:
    p = o.pair
    vol = o.quote_volume if o.quote_volume is not None and o.vol_exec == 0 else o.volume
    head = f"{o.side} {fmt(vol, p.lot_decimals)} {p.altname} @ "
    pd = p.pair_decimals
    if o.ordertype == "market":
        return head + "market"
    if o.ordertype == "limit":
        return head + f"limit {fmt(o.price, pd)}"
    return head + _terms(o.ordertype, o.price, o.price2, o.offset, o.limit_offset, pd)


def _terms(ordertype: str, price: Decimal | None, price2: Decimal | None, offset: Offset | None,
           limit_offset: Offset | None, pd: int) -> str:
    """``stop loss 30000.0 -> limit 29900.0``, ``trailing stop +1.5000%``: the words after ``@``."""
    if ordertype == "limit":
        return f"limit {fmt(price, pd)}"
    words = {"stop": "stop loss", "take": "take profit", "trai": "trailing stop"}[ordertype[:4]]
    text = f"{words} {offset.text if offset is not None else fmt(price, pd)}"
    if ordertype.endswith("-limit"):
        text += f" -> limit {limit_offset.text if limit_offset is not None else fmt(price2, pd)}"
    return text


def close_text(o: Order) -> str:
    """``descr.close``: ``close position @ stop loss 29000.0 -> limit 28900.0``, or "" without one."""
    c = o.close_spec
    if c is None:
        return ""
    return "close position @ " + _terms(c.ordertype, c.price, c.price2, c.offset, c.limit_offset,
                                        o.pair.pair_decimals)


def descr_prices(o: Order) -> tuple[str, str]:
    """``descr.price`` / ``descr.price2`` as Kraken shows them: a trailing order's offsets as sent."""
    pd = o.pair.pair_decimals
    price = o.offset.text if o.offset is not None else fmt(o.price, pd) if o.price is not None else "0"
    price2 = o.limit_offset.text if o.limit_offset is not None else \
        fmt(o.price2, pd) if o.price2 is not None else "0"
    return price, price2


def trade_ordertype(o: Order) -> str:
    """A fill's ``ordertype``: a triggered stop fills as ``stop market`` (live TradesHistory)."""
    if o.triggered and o.ordertype in ("stop-loss", "trailing-stop"):
        return "stop market"
    return o.ordertype


def order_view(o: Order, with_trades: bool = False) -> dict:
    """Kraken's order object; cached per order until anything it shows changes (OpenOrders is polled)."""
    key = (o.status, o.vol_exec, o.volume, o.price, o.price2, o.fee, len(o.misc), o.triggered, o.closetm, o.peak)
    if o.view_key != key:
        o.view = _build_order_view(o)
        o.view_key = key
    view = {**o.view, "descr": dict(o.view["descr"])}
    if with_trades and o.trade_ids:
        view["trades"] = list(o.trade_ids)
    return view


def _build_order_view(o: Order) -> dict:
    p = o.pair
    pd, ld, cd = p.pair_decimals, p.lot_decimals, p.cost_decimals
    avg = o.cost / o.vol_exec if o.vol_exec else ZERO
    fee_places = ASSETS[p.base].decimals if o.fee_in_base else cd
    price, price2 = descr_prices(o)
    stopprice, limitprice = _trigger_prices(o)
    view: dict = {
        "refid": None,
        # an order placed with cl_ord_id has no userref: null live, 0 for an order with neither
        "userref": None if o.cl_ord_id is not None else o.userref if o.userref is not None else 0,
    }
    if o.cl_ord_id is not None:
        view["cl_ord_id"] = o.cl_ord_id
    view.update({
        "status": o.status,
        "opentm": round(o.opentm, 4),
        "starttm": round(o.starttm, 4) if o.starttm else 0,
        "expiretm": round(o.expiretm, 4) if o.expiretm else 0,
        "descr": {
            "pair": p.altname,
            "type": o.side,
            "ordertype": o.ordertype,
            "price": price,
            "price2": price2,
            "leverage": "none",
            "order": descr_text(o),
            "close": close_text(o),
        },
        "vol": fmt(o.volume if o.quote_volume is None or o.vol_exec else o.quote_volume, ld),
        "vol_exec": fmt(o.vol_exec, ld),
        "cost": fmt(o.cost, cd),
        "fee": fmt(o.fee, fee_places),
        "price": fmt(avg, pd + 4),
        "stopprice": stopprice,
        "limitprice": limitprice,
        "misc": ",".join(o.misc),
        "oflags": ",".join(o.oflags) if o.oflags else "fciq",
    })
    if o.trigger == "index":  # live answers carry ``trigger`` only on orders placed with trigger=index
        view["trigger"] = o.trigger
    if not o.is_open:
        view["closetm"] = round(o.closetm or o.opentm, 4)
        view["reason"] = o.reason
    return view


def _trigger_prices(o: Order) -> tuple[str, str]:
    """``stopprice`` / ``limitprice``: zeros until a stop triggers (live), then its trigger and limit;
    a trailing order shows its moving trigger and the peak it trails (live captures)."""
    places = o.pair.pair_decimals + 4
    zero = fmt(ZERO, places)
    if o.ordertype in TRAILING_TYPES and o.peak is not None:
        return fmt(o.price, places), fmt(o.peak, places)
    if not o.triggered or o.ordertype not in TRIGGERED_TYPES:
        return zero, zero
    return fmt(o.price, places), fmt(o.price2, places) if o.price2 is not None else zero


@dataclass(slots=True)
class Trade:
    txid: str
    ordertxid: str
    postxid: str
    pair: PairSpec
    time: float
    side: str
    ordertype: str
    price: Decimal
    cost: Decimal
    fee: Decimal
    fee_in_base: bool
    vol: Decimal
    maker: bool
    trade_id: int
    ledger_ids: list[str] = field(default_factory=list)


def trade_view(t: Trade, with_ledgers: bool = False) -> dict:
    p = t.pair
    view = {
        "ordertxid": t.ordertxid,
        "postxid": t.postxid,
        "pair": p.id,
        "time": round(t.time, 4),
        "type": t.side,
        "ordertype": t.ordertype,
        "price": fmt(t.price, WIRE_PRICE_DECIMALS),
        "cost": fmt(t.cost, p.cost_decimals),
        "fee": fmt(t.fee, ASSETS[p.base].decimals if t.fee_in_base else p.cost_decimals),
        "vol": fmt(t.vol, p.lot_decimals),
        "margin": fmt(ZERO, p.cost_decimals),
        "leverage": "0",
        "misc": "",
        "trade_id": t.trade_id,
        "maker": t.maker,
    }
    if with_ledgers:
        view["ledgers"] = list(t.ledger_ids)
    return view


@dataclass(slots=True)
class LedgerEntry:
    id: str
    refid: str
    time: float
    type: str
    asset: str
    amount: Decimal
    fee: Decimal
    balance: Decimal


def ledger_view(e: LedgerEntry) -> dict:
    places = ASSETS[e.asset].decimals
    return {
        "refid": e.refid,
        "time": round(e.time, 4),
        "type": e.type,
        "subtype": "",
        "aclass": "currency",
        "asset": e.asset,
        "amount": fmt(e.amount, places),
        "fee": fmt(e.fee, places),
        "balance": fmt(e.balance, places),
    }
