"""Kraken's JSON into typed ``krakenbot.models`` values, refusing anything doubtful.

Every helper raises ``MalformedResponse`` naming the endpoint and field: a missing
key, a wrong type, ``"NaN"``/``"Infinity"``, a negative price or an absurd magnitude
never surfaces as ``KeyError``/``TypeError`` and never becomes a silent bad value.
Money is parsed from Kraken's strings with ``Decimal``; the few JSON numbers Kraken
sends for money (fee tiers) go through ``str`` first so no binary float leaks in.

OHLC candles that break their own invariants (high below open/close, low above them,
times not strictly increasing) are refused, not flagged: a strategy must not act on a
candle series the exchange itself got wrong. Gaps between candles are legitimate
(quiet minutes) and are reported by ``krakenbot.market_data``, not refused here.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from krakenbot.errors import MalformedResponse
from krakenbot.models import (
    AssetBalance,
    BookLevel,
    Candle,
    LedgerEntry,
    OhlcPage,
    OrderAck,
    OrderBook,
    OrderInfo,
    PairInfo,
    PublicTrade,
    Side,
    SpreadEntry,
    SpreadPage,
    SystemStatus,
    Ticker,
    TradeInfo,
    TradesPage,
    TradeVolume,
)

MAX_MAGNITUDE = Decimal("1e15")  # no price, volume or balance on Kraken comes near this
_MIN_TIME, _MAX_TIME = 946_684_800, 4_102_444_800  # 2000-01-01 .. 2100-01-01
ORDER_STATUSES = frozenset({"pending", "open", "closed", "canceled", "expired"})


def bad(endpoint: str, what: str) -> MalformedResponse:
    return MalformedResponse(f"{endpoint}: {what}", (), endpoint)


def obj(value: Any, what: str, endpoint: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad(endpoint, f"{what} is not an object")
    return value


def seq(value: Any, what: str, endpoint: str, min_len: int = 0) -> list[Any]:
    if not isinstance(value, list) or len(value) < min_len:
        raise bad(endpoint, f"{what} is not a list of at least {min_len} items")
    return value


def field(mapping: Mapping[str, Any], key: str, what: str, endpoint: str) -> Any:
    try:
        return mapping[key]
    except (KeyError, TypeError):
        raise bad(endpoint, f"{what}.{key} is missing") from None


def text(value: Any, what: str, endpoint: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise bad(endpoint, f"{what} is not a {'string' if allow_empty else 'non-empty string'}")
    return value


def dec(value: Any, what: str, endpoint: str, *, signed: bool = False, positive: bool = False,
        allow_number: bool = False) -> Decimal:
    """A decimal from Kraken's string (or, with ``allow_number``, a JSON number)."""
    if type(value) is str:  # the hot path: Kraken sends money as strings
        raw = value
    elif allow_number and type(value) in (int, float):
        raw = str(value)
    else:
        raise bad(endpoint, f"{what} is {type(value).__name__}, expected a decimal string")
    try:
        number = Decimal(raw)
    except (InvalidOperation, ValueError):
        raise bad(endpoint, f"{what} is not a decimal ({raw[:32]!r})") from None
    if not number.is_finite():
        raise bad(endpoint, f"{what} is not finite ({raw[:32]!r})")
    if number < 0:
        if not signed:
            raise bad(endpoint, f"{what} is negative ({raw[:32]!r})")
        if -number >= MAX_MAGNITUDE:
            raise bad(endpoint, f"{what} is implausibly large ({raw[:32]!r})")
    elif number >= MAX_MAGNITUDE:
        raise bad(endpoint, f"{what} is implausibly large ({raw[:32]!r})")
    if positive and not number:
        raise bad(endpoint, f"{what} must be positive ({raw[:32]!r})")
    return number


def integer(value: Any, what: str, endpoint: str, *, minimum: int | None = 0, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(endpoint, f"{what} is {type(value).__name__}, expected an integer")
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        raise bad(endpoint, f"{what} is out of range ({value})")
    return value


def timestamp(value: Any, what: str, endpoint: str) -> float:
    """Unix seconds (int, float or numeric string) within a sane range."""
    if isinstance(value, bool):
        raise bad(endpoint, f"{what} is a boolean, expected a timestamp")
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise bad(endpoint, f"{what} is not a timestamp") from None
    if not _MIN_TIME <= t <= _MAX_TIME:  # also refuses NaN and infinities
        raise bad(endpoint, f"{what} is not a plausible Unix time ({value!r})")
    return t


def int_time(value: Any, what: str, endpoint: str) -> int:
    integer(value, what, endpoint)
    timestamp(value, what, endpoint)
    return value


def pair_result(result: Mapping[str, Any], pair: str, endpoint: str) -> tuple[str, Any]:
    """The one pair entry of a market-data result (keyed by pair id even when asked by altname)."""
    if pair in result:
        return pair, result[pair]
    keys = [k for k in result if k != "last"]
    if len(keys) != 1:
        raise bad(endpoint, f"expected one pair in the result, got {len(keys)}")
    return keys[0], result[keys[0]]


# -- public -----------------------------------------------------------------------------
def parse_server_time(result: Mapping[str, Any]) -> int:
    return int_time(field(result, "unixtime", "result", "Time"), "unixtime", "Time")


def parse_system_status(result: Mapping[str, Any]) -> SystemStatus:
    ep = "SystemStatus"
    return SystemStatus(
        status=text(field(result, "status", "result", ep), "status", ep),
        timestamp=text(field(result, "timestamp", "result", ep), "timestamp", ep),
    )


def parse_assets(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    ep = "Assets"
    out: dict[str, dict[str, Any]] = {}
    for asset_id, raw in result.items():
        raw = obj(raw, asset_id, ep)
        out[asset_id] = {
            "altname": text(field(raw, "altname", asset_id, ep), f"{asset_id}.altname", ep),
            "decimals": integer(field(raw, "decimals", asset_id, ep), f"{asset_id}.decimals", ep, maximum=30),
            "display_decimals": integer(raw.get("display_decimals", 0), f"{asset_id}.display_decimals", ep, maximum=30),
            "status": text(raw.get("status", "enabled"), f"{asset_id}.status", ep),
        }
    return out


def _first_fee(raw: Mapping[str, Any], key: str, what: str, ep: str) -> Decimal:
    tiers = raw.get(key)
    if tiers is None:
        return Decimal(0)
    tiers = seq(tiers, f"{what}.{key}", ep, 1)
    tier = seq(tiers[0], f"{what}.{key}[0]", ep, 2)
    return dec(tier[1], f"{what}.{key}[0][1]", ep, allow_number=True)


def parse_pair_info(pair_id: str, raw: Any) -> PairInfo:
    ep = "AssetPairs"
    raw = obj(raw, pair_id, ep)

    def get(key: str) -> Any:
        return field(raw, key, pair_id, ep)

    taker = _first_fee(raw, "fees", pair_id, ep)
    maker = _first_fee(raw, "fees_maker", pair_id, ep) if "fees_maker" in raw else taker
    return PairInfo(
        name=pair_id,
        altname=text(get("altname"), f"{pair_id}.altname", ep),
        wsname=text(raw.get("wsname", get("altname")), f"{pair_id}.wsname", ep),
        base=text(get("base"), f"{pair_id}.base", ep),
        quote=text(get("quote"), f"{pair_id}.quote", ep),
        pair_decimals=integer(get("pair_decimals"), f"{pair_id}.pair_decimals", ep, maximum=20),
        lot_decimals=integer(get("lot_decimals"), f"{pair_id}.lot_decimals", ep, maximum=20),
        cost_decimals=integer(raw.get("cost_decimals", get("pair_decimals")), f"{pair_id}.cost_decimals", ep, maximum=20),
        tick_size=dec(get("tick_size"), f"{pair_id}.tick_size", ep, positive=True),
        ordermin=dec(get("ordermin"), f"{pair_id}.ordermin", ep),
        costmin=dec(raw.get("costmin", "0"), f"{pair_id}.costmin", ep),
        fee_taker=taker,
        fee_maker=maker,
        status=text(get("status"), f"{pair_id}.status", ep),
    )


def parse_asset_pairs(result: Mapping[str, Any]) -> dict[str, PairInfo]:
    return {pair_id: parse_pair_info(pair_id, raw) for pair_id, raw in result.items()}


def resolve_pair(pairs: Mapping[str, PairInfo], name: str) -> PairInfo | None:
    """Find a pair by id (``XXBTZEUR``), altname (``XBTEUR``) or wsname (``XBT/EUR``)."""
    found = pairs.get(name)
    if found is not None:
        return found
    wanted = name.upper()
    for info in pairs.values():
        if wanted in (info.altname.upper(), info.wsname.upper(), info.name.upper()):
            return info
    return None


def parse_ticker(result: Mapping[str, Any], pair: str, fetched_at: float = 0.0) -> Ticker:
    ep = "Ticker"
    pair_id, raw = pair_result(result, pair, ep)
    try:  # a missing key, a non-list or a short list is reported as MalformedResponse below
        lists = raw["a"], raw["b"], raw["c"], raw["v"], raw["p"], raw["t"], raw["l"], raw["h"]
        if any(type(item) is not list for item in lists):
            raise TypeError
        a, b, c, v, p, t, low, high = (lists[0][0], lists[1][0], lists[2][0], lists[3][1], lists[4][1], lists[5][1],
                                       lists[6][1], lists[7][1])
        o = raw["o"]
    except (KeyError, IndexError, TypeError):
        raise bad(ep, f"{pair_id} ticker lacks a field (a, b, c, v, p, t, l, h, o)") from None
    # Constant field labels: building an f-string per field would cost more than parsing it.
    ask, bid = dec(a, "ticker a[0]", ep, positive=True), dec(b, "ticker b[0]", ep, positive=True)
    if bid > ask:
        raise bad(ep, f"{pair_id} ticker is crossed (bid {bid} > ask {ask})")
    return Ticker(
        pair=pair_id,
        ask=ask,
        bid=bid,
        last=dec(c, "ticker c[0]", ep, positive=True),
        volume_24h=dec(v, "ticker v[1]", ep),
        vwap_24h=dec(p, "ticker p[1]", ep),
        low_24h=dec(low, "ticker l[1]", ep),
        high_24h=dec(high, "ticker h[1]", ep),
        open_today=dec(o, "ticker o", ep),
        trades_24h=integer(t, "ticker t[1]", ep),
        fetched_at=fetched_at,
    )


def parse_candle(row: Any, what: str, ep: str = "OHLC") -> Candle:
    row = seq(row, what, ep, 8)
    candle = Candle(
        time=int_time(row[0], f"{what}.time", ep),
        open=dec(row[1], f"{what}.open", ep, positive=True),
        high=dec(row[2], f"{what}.high", ep, positive=True),
        low=dec(row[3], f"{what}.low", ep, positive=True),
        close=dec(row[4], f"{what}.close", ep, positive=True),
        vwap=dec(row[5], f"{what}.vwap", ep),
        volume=dec(row[6], f"{what}.volume", ep),
        count=integer(row[7], f"{what}.count", ep),
    )
    check_candle(candle, what, ep)
    return candle


def check_candle(c: Candle, what: str, ep: str = "OHLC") -> None:
    if c.high < max(c.open, c.close) or c.low > min(c.open, c.close) or c.high < c.low:
        raise bad(ep, f"{what} is inconsistent (o={c.open} h={c.high} l={c.low} c={c.close})")


def parse_ohlc(result: Mapping[str, Any], pair: str, interval: int) -> OhlcPage:
    ep = "OHLC"
    pair_id, rows = pair_result(result, pair, ep)
    rows = seq(rows, pair_id, ep)
    candles = tuple(parse_candle(row, f"{pair_id}[{i}]") for i, row in enumerate(rows))
    for prev, cur in zip(candles, candles[1:]):
        if cur.time <= prev.time:
            raise bad(ep, f"{pair_id} candle times not strictly increasing ({prev.time} then {cur.time})")
        if (cur.time - prev.time) % (interval * 60):
            raise bad(ep, f"{pair_id} candle at {cur.time} is off the {interval}-minute grid")
    last = int_time(field(result, "last", "result", ep), "last", ep)
    return OhlcPage(pair=pair_id, interval=interval, candles=candles, last=last)


def _levels(rows: Any, what: str, ep: str) -> tuple[BookLevel, ...]:
    out = []
    for i, row in enumerate(seq(rows, what, ep)):
        row = seq(row, f"{what}[{i}]", ep, 3)
        out.append(
            BookLevel(
                price=dec(row[0], f"{what}[{i}].price", ep, positive=True),
                volume=dec(row[1], f"{what}[{i}].volume", ep, positive=True),
                timestamp=int(timestamp(row[2], f"{what}[{i}].timestamp", ep)),
            )
        )
    return tuple(out)


def parse_depth(result: Mapping[str, Any], pair: str) -> OrderBook:
    ep = "Depth"
    pair_id, raw = pair_result(result, pair, ep)
    raw = obj(raw, pair_id, ep)
    asks = _levels(field(raw, "asks", pair_id, ep), f"{pair_id}.asks", ep)
    bids = _levels(field(raw, "bids", pair_id, ep), f"{pair_id}.bids", ep)
    if any(b.price <= a.price for a, b in zip(asks, asks[1:])):
        raise bad(ep, f"{pair_id} asks are not in ascending price order")
    if any(b.price >= a.price for a, b in zip(bids, bids[1:])):
        raise bad(ep, f"{pair_id} bids are not in descending price order")
    if asks and bids and bids[0].price >= asks[0].price:
        raise bad(ep, f"{pair_id} book is crossed (bid {bids[0].price} >= ask {asks[0].price})")
    return OrderBook(pair=pair_id, asks=asks, bids=bids)


def parse_trades(result: Mapping[str, Any], pair: str) -> TradesPage:
    ep = "Trades"
    pair_id, rows = pair_result(result, pair, ep)
    trades = []
    for i, row in enumerate(seq(rows, pair_id, ep)):
        what = f"{pair_id}[{i}]"
        row = seq(row, what, ep, 5)
        side, ordertype = row[3], row[4]
        if side not in ("b", "s") or ordertype not in ("m", "l"):
            raise bad(ep, f"{what} has side {side!r} / type {ordertype!r}")
        trade_id = integer(row[6], f"{what}.trade_id", ep) if len(row) > 6 else None
        trades.append(
            PublicTrade(
                price=dec(row[0], f"{what}.price", ep, positive=True),
                volume=dec(row[1], f"{what}.volume", ep, positive=True),
                time=timestamp(row[2], f"{what}.time", ep),
                side=side,
                ordertype=ordertype,
                trade_id=trade_id,
            )
        )
    last = field(result, "last", "result", ep)
    if isinstance(last, int) and not isinstance(last, bool):
        last = str(last)
    if not isinstance(last, str) or not last.isdigit():
        raise bad(ep, "last is not a numeric string")
    return TradesPage(pair=pair_id, trades=tuple(trades), last=last)


def parse_spread(result: Mapping[str, Any], pair: str) -> SpreadPage:
    ep = "Spread"
    pair_id, rows = pair_result(result, pair, ep)
    entries = []
    for i, row in enumerate(seq(rows, pair_id, ep)):
        what = f"{pair_id}[{i}]"
        row = seq(row, what, ep, 3)
        bid = dec(row[1], f"{what}.bid", ep, positive=True)
        ask = dec(row[2], f"{what}.ask", ep, positive=True)
        if bid > ask:
            raise bad(ep, f"{what} is crossed")
        entries.append(SpreadEntry(time=int_time(row[0], f"{what}.time", ep), bid=bid, ask=ask))
    last = int_time(field(result, "last", "result", ep), "last", ep)
    return SpreadPage(pair=pair_id, entries=tuple(entries), last=last)


# -- private: account ---------------------------------------------------------------------
def parse_balance(result: Mapping[str, Any]) -> dict[str, Decimal]:
    return {asset: dec(value, asset, "Balance") for asset, value in result.items()}


def parse_balance_ex(result: Mapping[str, Any]) -> dict[str, AssetBalance]:
    ep = "BalanceEx"
    out = {}
    for asset, raw in result.items():
        raw = obj(raw, asset, ep)
        balance = dec(field(raw, "balance", asset, ep), f"{asset}.balance", ep)
        hold = dec(raw.get("hold_trade", "0"), f"{asset}.hold_trade", ep)
        if hold > balance:
            raise bad(ep, f"{asset} holds more than its balance")
        out[asset] = AssetBalance(asset=asset, balance=balance, hold_trade=hold)
    return out


def parse_trade_balance(result: Mapping[str, Any]) -> dict[str, Decimal]:
    return {key: dec(value, key, "TradeBalance", signed=True) for key, value in result.items()}


def _side(value: Any, what: str, ep: str) -> Side:
    try:
        return Side(value)
    except ValueError:
        raise bad(ep, f"{what} is not buy/sell ({value!r})") from None


def _order_price(value: Any, what: str, ep: str) -> Decimal:
    """An order's listed price; an offset (a trailing stop's ``"+1.0000%"``, a relative ``"-50"`` or
    ``"#5"``) is no price: 0, as for a market order. Anything else that is no number is refused."""
    if isinstance(value, str) and value[:1] in ("+", "-", "#"):
        return Decimal(0)
    return dec(value, what, ep)


def parse_order(txid: str, raw: Any, ep: str) -> OrderInfo:
    raw = obj(raw, txid, ep)
    descr = obj(field(raw, "descr", txid, ep), f"{txid}.descr", ep)
    status = field(raw, "status", txid, ep)
    if not isinstance(status, str) or status not in ORDER_STATUSES:
        raise bad(ep, f"{txid}.status is {status!r}")
    volume = dec(field(raw, "vol", txid, ep), f"{txid}.vol", ep)
    executed = dec(field(raw, "vol_exec", txid, ep), f"{txid}.vol_exec", ep)
    if executed > volume and "viqc" not in str(raw.get("oflags", "")):
        raise bad(ep, f"{txid} executed {executed} of {volume}")
    closed = raw.get("closetm")
    userref = raw.get("userref")
    cl_ord_id = raw.get("cl_ord_id")
    reason = raw.get("reason")
    trades = raw.get("trades") or []
    return OrderInfo(
        txid=txid,
        status=status,
        pair=text(field(descr, "pair", f"{txid}.descr", ep), f"{txid}.descr.pair", ep),
        side=_side(field(descr, "type", f"{txid}.descr", ep), f"{txid}.descr.type", ep),
        ordertype=text(field(descr, "ordertype", f"{txid}.descr", ep), f"{txid}.descr.ordertype", ep),
        volume=volume,
        volume_executed=executed,
        cost=dec(raw.get("cost", "0"), f"{txid}.cost", ep),
        fee=dec(raw.get("fee", "0"), f"{txid}.fee", ep),
        average_price=dec(raw.get("price", "0"), f"{txid}.price", ep),
        limit_price=_order_price(descr.get("price", "0"), f"{txid}.descr.price", ep),
        opened_at=timestamp(field(raw, "opentm", txid, ep), f"{txid}.opentm", ep),
        closed_at=timestamp(closed, f"{txid}.closetm", ep) if closed not in (None, 0, "0") else None,
        cl_ord_id=text(cl_ord_id, f"{txid}.cl_ord_id", ep) if cl_ord_id not in (None, "") else None,
        userref=integer(userref, f"{txid}.userref", ep, minimum=None) or None if userref is not None else None,
        reason=text(reason, f"{txid}.reason", ep, allow_empty=True) if reason is not None else None,
        oflags=text(raw.get("oflags", ""), f"{txid}.oflags", ep, allow_empty=True),
        trade_ids=tuple(text(t, f"{txid}.trades[]", ep) for t in seq(trades, f"{txid}.trades", ep)),
    )


def parse_orders(mapping: Any, ep: str) -> dict[str, OrderInfo]:
    return {txid: parse_order(txid, raw, ep) for txid, raw in obj(mapping, "orders", ep).items()}


def parse_trade(trade_id: str, raw: Any, ep: str) -> TradeInfo:
    raw = obj(raw, trade_id, ep)

    def get(key: str) -> Any:
        return field(raw, key, trade_id, ep)

    maker = raw.get("maker", False)  # absent in older answers: taker is the conservative (higher-fee) reading
    if not isinstance(maker, bool):
        raise bad(ep, f"{trade_id}.maker is not a boolean")
    return TradeInfo(
        trade_id=trade_id,
        order_txid=text(get("ordertxid"), f"{trade_id}.ordertxid", ep),
        pair=text(get("pair"), f"{trade_id}.pair", ep),
        side=_side(get("type"), f"{trade_id}.type", ep),
        ordertype=text(get("ordertype"), f"{trade_id}.ordertype", ep),
        price=dec(get("price"), f"{trade_id}.price", ep, positive=True),
        volume=dec(get("vol"), f"{trade_id}.vol", ep, positive=True),
        cost=dec(get("cost"), f"{trade_id}.cost", ep),
        fee=dec(get("fee"), f"{trade_id}.fee", ep),
        time=timestamp(get("time"), f"{trade_id}.time", ep),
        maker=maker,
    )


def parse_trades_map(mapping: Any, ep: str) -> dict[str, TradeInfo]:
    return {tid: parse_trade(tid, raw, ep) for tid, raw in obj(mapping, "trades", ep).items()}


def parse_ledger(mapping: Any, ep: str) -> dict[str, LedgerEntry]:
    out = {}
    for lid, raw in obj(mapping, "ledger", ep).items():
        raw = obj(raw, lid, ep)
        out[lid] = LedgerEntry(
            ledger_id=lid,
            refid=text(field(raw, "refid", lid, ep), f"{lid}.refid", ep, allow_empty=True),
            time=timestamp(field(raw, "time", lid, ep), f"{lid}.time", ep),
            type=text(field(raw, "type", lid, ep), f"{lid}.type", ep),
            subtype=text(raw.get("subtype", ""), f"{lid}.subtype", ep, allow_empty=True),
            asset=text(field(raw, "asset", lid, ep), f"{lid}.asset", ep),
            amount=dec(field(raw, "amount", lid, ep), f"{lid}.amount", ep, signed=True),
            fee=dec(raw.get("fee", "0"), f"{lid}.fee", ep),
            balance=dec(field(raw, "balance", lid, ep), f"{lid}.balance", ep),
        )
    return out


def parse_trade_volume(result: Mapping[str, Any]) -> TradeVolume:
    ep = "TradeVolume"

    def fees(key: str) -> dict[str, Decimal]:
        raw = result.get(key) or {}
        return {
            pair: dec(field(obj(entry, f"{key}.{pair}", ep), "fee", f"{key}.{pair}", ep), f"{key}.{pair}.fee", ep)
            for pair, entry in obj(raw, key, ep).items()
        }

    return TradeVolume(
        currency=text(field(result, "currency", "result", ep), "currency", ep),
        volume=dec(field(result, "volume", "result", ep), "volume", ep),
        fees=fees("fees"),
        fees_maker=fees("fees_maker"),
    )


# -- private: trading -------------------------------------------------------------------
def parse_add_order(result: Mapping[str, Any], validate: bool) -> OrderAck:
    ep = "AddOrder"
    descr = obj(field(result, "descr", "result", ep), "descr", ep)
    description = text(descr.get("order", ""), "descr.order", ep, allow_empty=True)
    if validate and result.get("txid") in (None, [], ""):
        return OrderAck(txids=(), description=description, validated_only=True)
    # A txid in a validate-only answer means an order exists anyway: it is parsed as placed.
    txids = seq(field(result, "txid", "result", ep), "txid", ep, 1)
    return OrderAck(txids=tuple(text(t, "txid[]", ep) for t in txids), description=description)


def parse_count(result: Mapping[str, Any], ep: str) -> int:
    return integer(field(result, "count", "result", ep), "count", ep)
