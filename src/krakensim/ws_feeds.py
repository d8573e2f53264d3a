"""What each WebSocket v2 channel shows, read from the engine (called under the exchange lock).

Streams never keep a second copy of the market: each channel compares what the engine shows now
with what it last sent its subscriber and sends the difference (a book diff, new tape entries, new
order events, new ledger entries). Any change, whatever made it (a REST order, a control, the
clock, the dead man's switch), reaches every stream the same way. Numbers are Decimals quantized
to the pair's or asset's precision; ``ws_server.encode`` writes them as JSON numbers verbatim.
"""
from __future__ import annotations

import functools
import math
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from krakensim.accounts import Account
from krakensim.orders import Order
from krakensim.pairs import ASSETS, PAIRS, PairSpec
from krakensim.ws_book import level_text
from krakensim.wire import q

V2_ASSET = {a.id: ("BTC" if a.altname == "XBT" else a.altname) for a in ASSETS.values()}
V2_SYMBOLS: dict[str, PairSpec] = {f"{V2_ASSET[p.base]}/{V2_ASSET[p.quote]}": p for p in PAIRS.values()}
SYMBOL_OF = {p.id: s for s, p in V2_SYMBOLS.items()}
_TEXTS: dict[str, tuple[dict, dict]] = {}  # pair -> the texts of recent prices and quantities (a book repeats them)
_TEXTS_MAX = 20_000


def rfc3339_us(ts: float) -> str:
    """``ts`` as Kraken writes a time (``2026-01-02T03:04:05.123456Z``), rounded as ``datetime`` rounds."""
    seconds = math.floor(ts)
    micros = round((ts - seconds) * 1_000_000)
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return f"{_utc_second(seconds)}.{micros:06d}Z"


@functools.lru_cache(maxsize=64)
def _utc_second(seconds: int) -> str:
    """A whole second's text, kept: every message of a second stamps it (a stream's are many)."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _price(p: PairSpec, value: Decimal | None) -> Decimal | None:
    return None if value is None else q(value, p.pair_decimals)


def _qty(p: PairSpec, value: Decimal) -> Decimal:
    return q(value, p.lot_decimals)


# ---------------------------------------------------------------------------------------- public
def book_rows(exchange: Any, p: PairSpec, depth: int) -> tuple[list, list]:
    """The engine's top ``depth`` levels a side as (price, price text, qty text), best first."""
    user_asks, user_bids = exchange.matcher.resting_book(p.id)
    asks, bids = exchange.markets[p.id].levels(depth, user_asks, user_bids)
    prices, qtys = _TEXTS.setdefault(p.id, ({}, {}))
    if len(prices) + len(qtys) > _TEXTS_MAX:
        prices.clear()
        qtys.clear()
    pp, qp = p.pair_decimals, p.lot_decimals
    out = []
    for rows in (asks, bids):
        side = []
        for k, v in rows:
            price = prices.get(k)
            if price is None:
                price = prices[k] = level_text(k, pp)
            qty = qtys.get(v)
            if qty is None:
                qty = qtys[v] = level_text(v, qp)
            side.append((k, price, qty))
        out.append(side)
    return out[0], out[1]


def ticker(exchange: Any, p: PairSpec) -> dict:
    m = exchange.markets[p.id]
    day = m.stats(exchange._now)["24h"]
    last = m.last
    change = last - day["open"]
    return {
        "symbol": SYMBOL_OF[p.id], "bid": _price(p, m.best_bid), "bid_qty": _qty(p, m.level_volume("bids", 0)),
        "ask": _price(p, m.best_ask), "ask_qty": _qty(p, m.level_volume("asks", 0)), "last": _price(p, last),
        "volume": _qty(p, day["volume"]), "vwap": _price(p, day["vwap"]), "low": _price(p, day["low"]),
        "high": _price(p, day["high"]), "change": _price(p, change),
        "change_pct": q(change / day["open"] * 100, 2) if day["open"] else Decimal("0.00"),
    }


def trades_after(exchange: Any, p: PairSpec, after_id: int | None, limit: int = 50) -> list[dict]:
    """Public trades with a trade id above ``after_id`` (the last ``limit`` when None), oldest first."""
    tape = exchange.markets[p.id]._tape
    rows = []
    for t in reversed(tape):
        if (after_id is not None and t.trade_id <= after_id) or (after_id is None and len(rows) >= limit):
            break
        rows.append(t)
    rows.reverse()
    return [{"symbol": SYMBOL_OF[p.id], "side": "buy" if t.side == "b" else "sell", "price": _price(p, t.price),
             "qty": _qty(p, t.volume), "ord_type": "market" if t.kind == "m" else "limit",
             "trade_id": t.trade_id, "timestamp": rfc3339_us(t.time)} for t in rows]


def last_trade_id(exchange: Any, p: PairSpec) -> int:
    return exchange.markets[p.id]._tape[-1].trade_id


def candles(exchange: Any, p: PairSpec, interval: int, count: int) -> list[dict]:
    rows, _ = exchange.markets[p.id].ohlc(interval, None, exchange._now)
    out = []
    for t, o, h, lo, c, vwap, vol, n in rows[-count:]:
        out.append({"symbol": SYMBOL_OF[p.id], "open": Decimal(o), "high": Decimal(h), "low": Decimal(lo),
                    "close": Decimal(c), "trades": n, "volume": Decimal(vol), "vwap": Decimal(vwap),
                    "interval_begin": rfc3339_us(t), "interval": interval,
                    "timestamp": rfc3339_us(t + interval * 60)})
    return out


def instrument(exchange: Any) -> dict:
    system = exchange.system_status
    assets = [{"id": V2_ASSET[a.id], "status": "enabled", "precision": a.decimals,
               "precision_display": a.display_decimals, "borrowable": False, "collateral_value": Decimal("0"),
               "margin_rate": Decimal("0")} for a in ASSETS.values()]
    pairs = []
    for symbol, p in V2_SYMBOLS.items():
        pairs.append({
            "symbol": symbol, "base": V2_ASSET[p.base], "quote": V2_ASSET[p.quote],
            "status": exchange.pair_status.get(p.id, system if system != "maintenance" else "online"),
            "qty_precision": p.lot_decimals, "qty_increment": p.lot_quantum, "qty_min": p.ordermin,
            "price_precision": p.pair_decimals, "price_increment": p.tick_size, "cost_precision": p.cost_decimals,
            "cost_min": p.costmin, "marginable": False, "has_index": False,
        })
    return {"assets": assets, "pairs": pairs}


# --------------------------------------------------------------------------------------- private
_STATUS = {"pending": "pending_new", "open": "new", "closed": "filled", "canceled": "canceled",
           "expired": "expired"}


def _order_status(o: Order) -> str:
    if o.status == "open" and o.vol_exec > 0:
        return "partially_filled"
    return _STATUS.get(o.status, o.status)


def _ids(o: Order) -> dict:
    out: dict[str, Any] = {"order_id": o.txid, "order_userref": o.userref or 0}
    if o.cl_ord_id:
        out["cl_ord_id"] = o.cl_ord_id
    return out


def order_full(o: Order, exec_type: str, when: float) -> dict:
    p = o.pair
    out = {**_ids(o), "exec_type": exec_type, "order_status": _order_status(o) if exec_type != "pending_new"
           else "pending_new", "symbol": SYMBOL_OF[p.id], "side": o.side, "order_type": o.ordertype,
           "order_qty": _qty(p, o.volume), "cum_qty": _qty(p, o.vol_exec), "cum_cost": q(o.cost, p.cost_decimals),
           "time_in_force": o.timeinforce, "post_only": o.post_only, "timestamp": rfc3339_us(when)}
    if o.ordertype == "limit":
        out["limit_price"] = _price(p, o.price)
    elif o.ordertype.endswith("-limit"):
        out["limit_price"] = _price(p, o.price2)
    if o.price is not None and o.ordertype != "limit":
        out["triggers"] = {"reference": "last", "price": _price(p, o.price), "price_type": "static"}
    if o.vol_exec > 0:
        out["avg_price"] = _price(p, o.cost / o.vol_exec)
    return out


class ExecutionsFeed:
    """One subscriber's view of one account's orders: the events that took it to the engine's state."""

    def __init__(self, account_name: str) -> None:
        self.account_name = account_name
        self._seen: dict[str, tuple] = {}  # txid -> (status, trades counted, amends counted)
        self._account: Account | None = None

    def snapshot(self, account: Account, snap_orders: bool, snap_trades: bool, now: float) -> list[dict]:
        self._account = account
        self._seen = {txid: self._key(o, len(o.trade_ids)) for txid, o in account.orders.items()}
        out: list[dict] = []
        if snap_trades:
            for trade in list(account.trades.values())[-50:]:
                o = account.orders.get(trade.ordertxid)
                if o is not None:
                    out.append(self._trade(o, trade, None))
        if snap_orders:
            out += [order_full(o, "new", o.opentm) for o in account.open.values()]
        return out

    @staticmethod
    def _key(o: Order, trades: int) -> tuple:
        return (o.status, trades, len(o.amends))

    def events(self, account: Account, now: float) -> list[dict]:
        """Events since the last call, in order: per order pending_new, new, each trade, amended, the end."""
        if account is not self._account:  # the simulator was reset: a new book of orders
            self._account = account
            self._seen = {}
        out: list[dict] = []
        for txid, o in account.orders.items():
            before = self._seen.get(txid)
            now_key = self._key(o, len(o.trade_ids))
            if before == now_key:
                continue
            self._seen[txid] = now_key
            if before is None:
                out.append(order_full(o, "pending_new", o.opentm))
                if o.status != "pending":
                    out.append({**_ids(o), "exec_type": "new", "order_status": "new",
                                "timestamp": rfc3339_us(o.opentm)})
                before = ("pending", 0, 0)
            for trade_txid in o.trade_ids[before[1]:]:
                out.append(self._trade(o, account.trades[trade_txid], o.trade_ids.index(trade_txid)))
            if now_key[2] > before[2]:
                out.append({**_ids(o), "exec_type": "amended", "order_status": _order_status(o),
                            "order_qty": _qty(o.pair, o.volume), "limit_price": _price(o.pair, o.price),
                            "reason": "User requested", "amended": True, "timestamp": rfc3339_us(now)})
            if o.status != before[0] and o.status in ("closed", "canceled", "expired"):
                end = {**_ids(o), "exec_type": _STATUS[o.status], "order_status": _STATUS[o.status],
                       "cum_qty": _qty(o.pair, o.vol_exec), "cum_cost": q(o.cost, o.pair.cost_decimals),
                       "fee_usd_equiv": o.fee, "timestamp": rfc3339_us(o.closetm or now)}
                if o.status != "closed":
                    end["reason"] = o.reason or "User requested"
                if o.vol_exec > 0:
                    end["avg_price"] = _price(o.pair, o.cost / o.vol_exec)
                out.append(end)
        return out

    def _trade(self, o: Order, t: Any, index: int | None) -> dict:
        p = o.pair
        account = self._account
        done = o.trade_ids if index is None else o.trade_ids[: index + 1]
        fills = [account.trades[x] for x in done if x in account.trades] if account is not None else [t]
        cum_qty = sum((f.vol for f in fills), Decimal(0))
        cum_cost = sum((f.cost for f in fills), Decimal(0))
        fee_asset = p.base if t.fee_in_base else p.quote
        complete = cum_qty >= o.volume
        return {**_ids(o), "exec_id": t.txid, "exec_type": "trade", "trade_id": t.trade_id,
                "symbol": SYMBOL_OF[p.id], "side": o.side, "order_type": o.ordertype,
                "last_qty": _qty(p, t.vol), "last_price": _price(p, t.price), "liquidity_ind": "m" if t.maker else "t",
                "cost": t.cost, "order_status": "filled" if complete else "partially_filled",
                "cum_qty": _qty(p, cum_qty), "cum_cost": cum_cost,
                "avg_price": _price(p, cum_cost / cum_qty) if cum_qty else None,
                "fee_usd_equiv": t.fee, "fees": [{"asset": V2_ASSET[fee_asset], "qty": t.fee}],
                "timestamp": rfc3339_us(t.time)}


class BalancesFeed:
    """One subscriber's view of one account's ledger: a snapshot, then one update per new entry."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._account: Account | None = None

    def snapshot(self, account: Account) -> list[dict]:
        self._account = account
        self._seen = set(account.ledger)
        out = []
        for asset, amount in account.balances.items():
            if asset not in ASSETS:
                continue
            value = q(amount, ASSETS[asset].decimals)
            out.append({"asset": V2_ASSET[asset], "asset_class": "currency", "balance": value,
                        "wallets": [{"type": "spot", "id": "main", "balance": value}]})
        return out

    def updates(self, account: Account) -> list[dict]:
        if account is not self._account:
            self._account = account
            self._seen = set()
        out = []
        for lid, e in account.ledger.items():
            if lid in self._seen:
                continue
            self._seen.add(lid)
            places = ASSETS[e.asset].decimals
            out.append({"ledger_id": e.id, "ref_id": e.refid, "timestamp": rfc3339_us(e.time), "type": e.type,
                        "asset": V2_ASSET[e.asset], "asset_class": "currency", "category": e.type,
                        "wallet_type": "spot", "wallet_id": "main", "amount": q(e.amount, places),
                        "fee": q(e.fee, places), "balance": q(e.balance, places)})
        return out
