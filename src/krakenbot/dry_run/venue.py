"""The dry run's venue: Kraken's private trading calls, answered locally against the live market.

It answers, in Kraken's own shapes and error strings, the calls listed in
``allowlist.VENUE_ENDPOINTS`` (order entry, cancels, the dead man's switch, the reads of its own
orders, fills and wallet), so the executor, reconciler and wrapper above it run unchanged. It reads
the market through the bot's client (Depth, Trades, Ticker, Assets, TradeVolume: public data and
an account read), every read passing the guard like any other.

The fill model, stated (README "Dry run"):
- **Market orders** walk the order book the exchange shows at that moment (Depth, 500 levels),
  level by level, each level a fill at its price: the slippage live would pay. A book too thin
  for the whole volume fills what it has; the rest is cancelled (``Insufficient liquidity``).
  The exchange's book never shows the dry run's own fills, so the venue keeps, per pair, what it
  took at each level: the level stays that much smaller while the exchange shows it with the
  timestamp it had then; a newer timestamp (the exchange updated the level) makes it whole again.
  The book is read once, before the order is recorded: it is checked and filled on that read,
  and a read that fails refuses the order (nothing placed), as an exchange error would.
- **Limit orders** that cross the book take it like a market order up to their price (taker);
  the rest rests. A resting limit fills as maker at its own price, and only from the public trade
  tape (Trades), conservatively: a print strictly through its price fills it (up to that print's
  volume); a print at its price first uses up the volume that was ahead of it in the queue (the
  book's volume at that price when it arrived) and fills it only with the volume beyond. A book
  that moves through it without a print does not fill it. One print's volume fills the dry run's
  orders once, in the exchange's priority (best price, then oldest). An order sees only the prints
  made after it was placed (the tape's position is read as it arrives).
- **Stop-loss / take-profit** trigger on the last traded price as Kraken's do (stop-loss: a sell at
  or below, a buy at or above its price; take-profit the other way), then execute as a market
  order (``-limit`` variants: as a limit at ``price2``). A triggered buy spends at most what the
  wallet holds for it (its free quote and its own hold): when the market gapped past its trigger
  it buys what that pays for and the rest is cancelled ``Insufficient funds`` (Kraken's reason
  string; how Kraken splits a triggered order it cannot wholly pay is not documented: a stated
  choice). A trigger whose book cannot be read executes at the next call.
- **Fees**: the account's own fee tier (TradeVolume for the pair), else the pair's schedule
  (AssetPairs); maker for resting fills, taker otherwise. Cost and fee are rounded half-up to the
  quote asset's decimals (Assets), as Kraken books them.
- **Funds**: a market buy needs what its fills on the book will cost, each level's cost and taker
  fee rounded as they are booked; a limit buy its volume at its price plus the fee, a sell its
  volume of base; what resting orders hold is not free. Short: ``EOrder:Insufficient funds``,
  nothing placed.
- **Restarts**: with a ``journal`` (the dry run's own store) the wallet, every order and fill, the
  tape cursor and the dead man's switch are saved after each call that changed them, in one
  transaction, and restored when the next process starts on that store: the rehearsal goes on as
  an exchange's account does across a restart (resting orders fill from the prints made while it
  was down, and a dead man's switch that fired meanwhile cancels after the prints made before its
  time; the P&L and daily limits continue). A save that fails is made by the next one. What the
  dry run took from the book is not saved (the book has moved by the next start).
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any, Callable

from krakenbot.clock import Clock
from krakenbot.dry_run.wallet import Wallet
from krakenbot.errors import KrakenError, from_codes
from krakenbot.execution.executor import base36
from krakenbot.execution.fills import account_rates
from krakenbot.models import BookLevel, OrderBook, PairInfo
from krakenbot.safety.allowlist import VENUE_ENDPOINTS
from krakenbot.safety.modes import TradingMode

ZERO = Decimal(0)
_PAGE = 50  # ClosedOrders / TradesHistory page size, as Kraken's
_TAPE_PAGE = 1000  # Trades: a full page means more may follow
_TRIGGERED = ("stop-loss", "take-profit", "stop-loss-limit", "take-profit-limit")
_TYPES = ("market", "limit", *_TRIGGERED)
JOURNAL = "dry_run."  # the store's meta keys that hold the venue's state


def _refuse(code: str, endpoint: str) -> KrakenError:
    return from_codes([code], endpoint)


def _fmt(value: Decimal) -> str:
    return format(value, "f")


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else _fmt(value)


def _rfc3339(seconds: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))


@dataclass
class _Order:
    txid: str
    pair: PairInfo
    side: str
    ordertype: str
    volume: Decimal
    price: Decimal | None
    price2: Decimal | None
    oflags: str
    timeinforce: str
    opentm: float
    cl_ord_id: str | None = None
    userref: int | None = None
    status: str = "open"
    vol_exec: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    trades: list[str] = field(default_factory=list)
    closetm: float | None = None
    reason: str | None = None
    ahead: Decimal = ZERO  # queue volume ahead of a resting limit at its price
    triggered: bool = False
    arrived: bool = True  # False: triggered, but the book could not be read to execute it yet

    @property
    def remaining(self) -> Decimal:
        return self.volume - self.vol_exec

    @property
    def limit(self) -> Decimal | None:
        """The price it rests at now (None: a market order, or a stop not yet triggered)."""
        if self.ordertype == "limit":
            return self.price
        if self.triggered and self.ordertype.endswith("-limit"):
            return self.price2
        return None

    def saved(self) -> dict[str, Any]:
        return {"txid": self.txid, "pair": self.pair.name, "side": self.side, "ordertype": self.ordertype,
                "volume": _fmt(self.volume), "price": _opt(self.price), "price2": _opt(self.price2),
                "oflags": self.oflags, "timeinforce": self.timeinforce, "opentm": self.opentm,
                "cl_ord_id": self.cl_ord_id, "userref": self.userref, "status": self.status,
                "vol_exec": _fmt(self.vol_exec), "cost": _fmt(self.cost), "fee": _fmt(self.fee),
                "trades": self.trades, "closetm": self.closetm, "reason": self.reason, "ahead": _fmt(self.ahead),
                "triggered": self.triggered, "arrived": self.arrived}

    @classmethod
    def restored(cls, row: dict[str, Any], pair: PairInfo) -> "_Order":
        money = {k: Decimal(row[k]) for k in ("volume", "vol_exec", "cost", "fee", "ahead")}
        prices = {k: Decimal(row[k]) if row[k] is not None else None for k in ("price", "price2")}
        rest = {k: v for k, v in row.items() if k not in (*money, *prices, "pair", "trades")}
        return cls(pair=pair, **money, **prices, **rest, trades=list(row["trades"]))

    def view(self, with_trades: bool) -> dict[str, Any]:
        p = self.pair
        avg = self.cost / self.vol_exec if self.vol_exec else ZERO
        out: dict[str, Any] = {
            "refid": None, "userref": self.userref if self.cl_ord_id is None else None,
            "status": self.status, "opentm": self.opentm, "starttm": 0, "expiretm": 0,
            "descr": {"pair": p.altname, "type": self.side, "ordertype": self.ordertype,
                      "price": _fmt(self.price or ZERO), "price2": _fmt(self.price2 or ZERO), "leverage": "none",
                      "order": describe(self), "close": ""},
            "vol": _fmt(self.volume), "vol_exec": _fmt(self.vol_exec), "cost": _fmt(self.cost),
            "fee": _fmt(self.fee), "price": _fmt(avg), "stopprice": "0", "limitprice": "0",
            "misc": "partial" if 0 < self.vol_exec < self.volume else "", "oflags": self.oflags or "fciq",
        }
        if self.cl_ord_id is not None:
            out["cl_ord_id"] = self.cl_ord_id
        if self.status not in ("open", "pending"):
            out["closetm"] = self.closetm
            out["reason"] = self.reason
        if with_trades and self.trades:
            out["trades"] = list(self.trades)
        return out


@dataclass(frozen=True)
class _Fill:
    trade_id: str
    order: _Order
    time: float
    price: Decimal
    volume: Decimal
    cost: Decimal
    fee: Decimal
    maker: bool

    def saved(self) -> dict[str, Any]:
        return {"trade_id": self.trade_id, "order": self.order.txid, "time": self.time, "price": _fmt(self.price),
                "volume": _fmt(self.volume), "cost": _fmt(self.cost), "fee": _fmt(self.fee), "maker": self.maker}

    def view(self) -> dict[str, Any]:
        o = self.order
        return {"ordertxid": o.txid, "postxid": "", "pair": o.pair.name, "time": self.time, "type": o.side,
                "ordertype": o.ordertype if o.ordertype in ("market", "limit") else "market",
                "price": _fmt(self.price), "cost": _fmt(self.cost), "fee": _fmt(self.fee), "vol": _fmt(self.volume),
                "margin": "0", "leverage": "0", "misc": "", "maker": self.maker}


def describe(o: _Order) -> str:
    """Kraken's ``descr.order``: ``buy 0.01 XBTEUR @ market``, ``sell 0.01 XBTEUR @ limit 61000``."""
    price = f" {_fmt(o.price)}" if o.price is not None else ""
    return f"{o.side} {_fmt(o.volume)} {o.pair.altname} @ {o.ordertype}{price}"


class DryRunVenue:
    """Kraken's private trading API for the dry run (module docstring). ``call`` is what the client
    uses; every call first catches up with the market (triggers, resting fills, the dead man's
    switch), so the venue moves exactly when the bot looks, as an exchange seen through its API."""

    endpoints = VENUE_ENDPOINTS[TradingMode.DRY_RUN]

    def __init__(self, client: Any, pair_rules: Any, clock: Clock, wallet: Wallet, journal: Any = None) -> None:
        """``journal``: the dry run's store, where the venue's state is saved (module docstring); when it
        holds a saved state, that state is restored (``wallet`` is then only the fallback: unused)."""
        self.client = client
        self.pair_rules = pair_rules
        self.clock = clock
        self.wallet = wallet
        self.orders: dict[str, _Order] = {}  # every order, in placement order
        self.fills: dict[str, _Fill] = {}
        self._cursor: dict[str, str] = {}  # pair id -> the Trades cursor already seen
        self._read: set[str] = set()  # pairs whose tape this call has read up to now
        self._taken: dict[str, dict[tuple[str, Decimal], tuple[int, Decimal]]] = {}  # _available
        self._rates: dict[str, tuple[Decimal, Decimal]] = {}  # pair id -> (taker, maker) percent
        self._decimals: dict[str, int] = {}
        self._dms_trigger: float | None = None
        self._lock = threading.RLock()
        self._run = base36(int(clock.time() * 1000) % 36 ** 6).rjust(6, "0")  # ids unique across runs
        self._seq = 0
        self.journal = journal
        self._saved: dict[str, str] = {}  # journal key -> the JSON last written there
        self._unresolved: list[dict[str, Any]] = []  # restored orders whose pair is looked up at the first call
        self._fill_rows: list[dict[str, Any]] = []
        self._changed: set[str] = set()  # orders closed since the last save (open ones are always compared)
        self._new_fills: list[_Fill] = []
        if journal is not None:
            self._load(journal.meta_items(JOURNAL))
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "AddOrder": self._add_order, "CancelOrder": self._cancel_order, "CancelAll": self._cancel_all,
            "CancelAllOrdersAfter": self._cancel_all_after, "OpenOrders": self._open_orders,
            "ClosedOrders": self._closed_orders, "QueryOrders": self._query_orders,
            "QueryTrades": self._query_trades, "TradesHistory": self._trades_history, "Balance": self._balance,
            "BalanceEx": self._balance_ex,
        }

    # -- the client's entry point -----------------------------------------------------------------
    def call(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._resolve()
            try:
                self.catch_up()
                return self._handlers[endpoint](params)
            finally:
                self._save()

    def catch_up(self) -> None:
        """The market since the last look, in the order it happened: every pair with open orders against
        the trades printed since; when the dead man's switch fired meanwhile, first the trades printed
        before it fired, then the switch (the later trades then concern no order). First of all, a
        triggered order whose book could not be read at the last look executes now."""
        self._read = set()
        for o in [o for o in self._open() if not o.arrived]:
            self._arrive(o)
        trigger = self._dms_trigger
        if trigger is not None and self.clock.time() >= trigger:
            for pair_id in self._open_pairs():
                self._follow_tape(pair_id, until=trigger)
            self._dms_trigger = None
            for o in self._open():
                self._close(o, "canceled", "Dead man's switch")
        for pair_id in self._open_pairs():
            self._follow_tape(pair_id)

    def _open_pairs(self) -> list[str]:
        return sorted({o.pair.name for o in self._open()})

    # -- the journal: the venue's state in the dry run's store -------------------------------------
    @property
    def restored(self) -> bool:
        """True when this venue continues a saved state."""
        return bool(self._saved)

    def _load(self, saved: dict[str, str]) -> None:
        state = saved.get(JOURNAL + "state")
        if state is None:
            return
        self._saved = dict(saved)
        head = json.loads(state)
        self.wallet = Wallet({a: Decimal(v) for a, v in head["wallet"].items()})
        self._cursor, self._run, self._seq = dict(head["cursor"]), head["run"], int(head["seq"])
        self._dms_trigger = head["dms_trigger"]
        self._unresolved = [json.loads(v) for k, v in saved.items() if k.startswith(JOURNAL + "order.")]
        self._unresolved.sort(key=lambda row: (row["opentm"], row["txid"]))
        self._fill_rows = [json.loads(v) for k, v in saved.items() if k.startswith(JOURNAL + "fill.")]

    def _resolve(self) -> None:
        """The restored orders and fills, once their pairs' rules can be read (the first call)."""
        if not self._unresolved:
            return
        for row in self._unresolved:
            self.orders[row["txid"]] = _Order.restored(row, self.pair_rules.pair_info(row["pair"]))
        for row in sorted(self._fill_rows, key=lambda r: (r["time"], r["trade_id"])):
            self.fills[row["trade_id"]] = _Fill(row["trade_id"], self.orders[row["order"]], row["time"],
                                                *(Decimal(row[k]) for k in ("price", "volume", "cost", "fee")),
                                                row["maker"])
        self._unresolved, self._fill_rows = [], []

    def _save(self) -> None:
        """What changed since the last save, in one transaction (nothing when nothing changed)."""
        if self.journal is None or self._unresolved:
            return
        state = {"wallet": {a: _fmt(v) for a, v in self.wallet.balances.items()}, "cursor": self._cursor,
                 "run": self._run, "seq": self._seq, "dms_trigger": self._dms_trigger}
        rows = {JOURNAL + "state": state}
        orders = [*self._open(), *(self.orders[t] for t in self._changed)]
        rows.update((f"{JOURNAL}order.{o.txid}", o.saved()) for o in orders)
        rows.update((f"{JOURNAL}fill.{f.trade_id}", f.saved()) for f in self._new_fills)  # a fill never changes
        texts = {key: json.dumps(value, sort_keys=True) for key, value in rows.items()}
        changed = {key: text for key, text in texts.items() if self._saved.get(key) != text}
        if changed:  # a failed write raises here: what it held is written by the next save
            self.journal.set_metas(changed)
            self._saved.update(changed)
        self._changed, self._new_fills = set(), []

    # -- market reads ------------------------------------------------------------------------------
    def _book(self, pair: PairInfo) -> OrderBook:
        return self._available(pair, self.client.market.depth(pair.name, 500))

    def _available(self, pair: PairInfo, book: OrderBook) -> OrderBook:
        """``book`` less the volume the dry run's own orders already took from it (Kraken's book never
        shows the dry run's fills). A level the dry run took from stays that much smaller while the
        exchange shows it with the timestamp it had then; a level showing a newer timestamp (the
        exchange updated it since) or gone from the book is the exchange's again, whole."""
        taken = self._taken.get(pair.name)
        if not taken:
            return book
        kept: dict[tuple[str, Decimal], tuple[int, Decimal]] = {}
        sides: dict[str, tuple[BookLevel, ...]] = {}
        for side, levels in (("asks", book.asks), ("bids", book.bids)):
            out = []
            for level in levels:
                record = taken.get((side, level.price))
                if record is None or record[0] != level.timestamp:
                    out.append(level)
                    continue
                kept[(side, level.price)] = record
                if level.volume > record[1]:
                    out.append(BookLevel(level.price, level.volume - record[1], level.timestamp))
            sides[side] = tuple(out)
        self._taken[pair.name] = kept
        return OrderBook(book.pair, sides["asks"], sides["bids"])

    def _took(self, pair: PairInfo, taker_side: str, level: BookLevel, volume: Decimal) -> None:
        key = ("asks" if taker_side == "buy" else "bids", level.price)
        record = self._taken.setdefault(pair.name, {}).get(key)
        before = record[1] if record is not None and record[0] == level.timestamp else ZERO
        self._taken[pair.name][key] = (level.timestamp, before + volume)

    def _rate(self, pair: PairInfo, maker: bool) -> Decimal:
        rates = self._rates.get(pair.name)
        if rates is None:
            try:  # the account's own tier, when Kraken gives it for the pair
                rates = account_rates(self.client.account, pair)
            except KrakenError:
                rates = (pair.fee_taker, pair.fee_maker)  # the pair's schedule (AssetPairs): its first tier
            self._rates[pair.name] = rates
        return rates[1] if maker else rates[0]

    def _quote_decimals(self, pair: PairInfo) -> int:
        asset = pair.quote
        if asset not in self._decimals:
            try:
                self._decimals[asset] = int(self.client.market.assets([asset])[asset]["decimals"])
            except (KrakenError, KeyError):
                self._decimals[asset] = pair.cost_decimals
        return self._decimals[asset]

    def _money(self, pair: PairInfo, amount: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
        return amount.quantize(Decimal(1).scaleb(-self._quote_decimals(pair)), rounding=rounding)

    def _priced(self, pair: PairInfo, price: Decimal, volume: Decimal, maker: bool) -> Decimal:
        """What one fill costs a buyer, cost plus fee, each rounded as the fill books them."""
        cost = self._money(pair, price * volume)
        return cost + self._money(pair, cost * self._rate(pair, maker) / 100)

    def _affordable(self, pair: PairInfo, price: Decimal, volume: Decimal, budget: Decimal) -> Decimal:
        """The most of ``volume`` (in lots) a taker buy at ``price`` can pay with ``budget``. The second
        try leaves room for the two roundings (cost, fee: half a unit each, at most)."""
        if self._priced(pair, price, volume, maker=False) <= budget:
            return volume
        lot, unit = Decimal(1).scaleb(-pair.lot_decimals), Decimal(1).scaleb(-self._quote_decimals(pair))
        per = price * (1 + self._rate(pair, maker=False) / 100)
        for spend in (budget, budget - 2 * unit):
            fits = min(volume, max(ZERO, spend / per).quantize(lot, rounding=ROUND_DOWN))
            if self._priced(pair, price, fits, maker=False) <= budget:
                return fits
        return ZERO

    # -- holds and funds ---------------------------------------------------------------------------
    def _hold(self, o: _Order) -> tuple[str, Decimal]:
        if o.side == "sell":
            return o.pair.base, o.remaining
        price = o.price2 if o.ordertype.endswith("-limit") else o.price
        if price is None:
            return o.pair.quote, ZERO
        rate = self._rate(o.pair, maker=False)
        return o.pair.quote, self._money(o.pair, o.remaining * price * (1 + rate / 100), ROUND_UP)

    def _held(self, but: _Order | None = None) -> dict[str, Decimal]:
        held: dict[str, Decimal] = {}
        for o in self._open():
            if o is but:
                continue
            asset, amount = self._hold(o)
            held[asset] = held.get(asset, ZERO) + amount
        return held

    def free(self, asset: str) -> Decimal:
        return self.wallet.balance(asset) - self._held().get(asset, ZERO)

    def _needs(self, o: _Order, book: OrderBook | None) -> tuple[str, Decimal]:
        """What ``o`` needs free: a market buy what its fills on ``book`` will cost (rounded as booked)."""
        if o.ordertype != "market":
            return self._hold(o)
        if o.side == "sell" or book is None:
            return o.pair.base, o.volume
        return o.pair.quote, sum((self._priced(o.pair, level.price, vol, maker=False)
                                  for level, vol in _walk(book, "buy", o.volume, None)), ZERO)

    # -- order entry ----------------------------------------------------------------------------------
    def _add_order(self, params: dict[str, Any]) -> dict[str, Any]:
        ep = "AddOrder"
        try:
            pair = self.pair_rules.pair_info(str(params["pair"]))
            side, ordertype = str(params["type"]), str(params["ordertype"])
            volume = Decimal(str(params["volume"]))
            price = Decimal(str(params["price"])) if params.get("price") is not None else None
            price2 = Decimal(str(params["price2"])) if params.get("price2") is not None else None
        except (KeyError, ArithmeticError, ValueError) as exc:
            raise _refuse(f"EGeneral:Invalid arguments:{exc}", ep) from None
        if side not in ("buy", "sell") or ordertype not in _TYPES or volume <= 0:
            raise _refuse("EGeneral:Invalid arguments", ep)
        if ordertype != "market" and price is None or ordertype.endswith("-limit") and price2 is None:
            raise _refuse("EGeneral:Invalid arguments:price", ep)
        cl_ord_id = params.get("cl_ord_id")
        if cl_ord_id is not None and any(o.cl_ord_id == cl_ord_id for o in self._open()):
            raise _refuse("EOrder:Duplicate order", ep)
        o = _Order(txid="", pair=pair, side=side, ordertype=ordertype, volume=volume, price=price, price2=price2,
                   oflags=str(params.get("oflags") or ""), timeinforce=str(params.get("timeinforce") or "GTC"),
                   opentm=self.clock.time(), cl_ord_id=cl_ord_id,
                   userref=int(params["userref"]) if params.get("userref") is not None else None)
        validate = str(params.get("validate", "")).lower() in ("true", "1")
        # The market as the order arrives, read before anything is recorded: a read that fails refuses
        # the order, as an exchange error would. First the tape's position (the order sees only the
        # trades printed after it), then the book it is checked and filled on.
        if not validate:
            self._tape_now(pair)
        book = None
        if ordertype not in _TRIGGERED or not validate and self._trigger(o, self.client.market.ticker(pair.name).last):
            book = self._book(pair)
        asset, need = self._needs(o, book)
        if self.free(asset) < need:
            raise _refuse("EOrder:Insufficient funds", ep)
        descr = {"order": describe(o)}
        if validate:
            return {"descr": descr}
        o.txid = self._next_id("O")
        self.orders[o.txid] = o
        self._arrive(o, book)
        return {"descr": descr, "txid": [o.txid]}

    def _tape_now(self, pair: PairInfo) -> None:
        """The pair's tape cursor at now, unless this call already read it there (its open orders)."""
        if pair.name not in self._read:
            self._cursor[pair.name] = self.client.market.recent_trades(pair.name).last
            self._read.add(pair.name)

    def _arrive(self, o: _Order, book: OrderBook | None = None) -> None:
        """A new (or just triggered) order: market and crossing limits take, the rest rests. A triggered
        order whose book cannot be read waits, triggered, for the next look (``catch_up``)."""
        if o.ordertype in _TRIGGERED and not o.triggered:
            return
        if book is None:
            try:
                book = self._book(o.pair)
            except KrakenError:
                o.arrived = False
                return
        o.arrived = True
        limit = o.limit
        if limit is None:  # market, or a triggered stop-loss / take-profit
            short = self._take(o, book, None)
            self._finish(o, "Insufficient funds" if short else "Insufficient liquidity")
            return
        best = book.best_ask if o.side == "buy" else book.best_bid
        crosses = best is not None and (limit >= best if o.side == "buy" else limit <= best)
        if "post" in o.oflags.split(",") and crosses:
            self._close(o, "canceled", "Post only order")
            return
        if self._take(o, book, limit):
            self._finish(o, "Insufficient funds")
            return
        if o.remaining <= 0 or o.timeinforce.upper() == "IOC":
            self._finish(o, "Immediate or cancel")
            return
        same = book.bids if o.side == "buy" else book.asks
        o.ahead = sum((lv.volume for lv in same if lv.price == limit), ZERO) if not crosses else ZERO

    def _trigger(self, o: _Order, last: Decimal) -> bool:
        stop = o.ordertype.startswith("stop-loss")
        price = o.price or ZERO
        hit = (last >= price if o.side == "buy" else last <= price) if stop else \
              (last <= price if o.side == "buy" else last >= price)
        o.triggered = hit
        return hit

    def _take(self, o: _Order, book: OrderBook, limit: Decimal | None) -> bool:
        """``o`` takes ``book`` up to ``limit``. A buy spends at most what the wallet holds for it (the
        quote not held by other orders), as a triggered stop must when the market gapped past its hold:
        it fills what that pays for. True when the funds ran out before the volume did."""
        pair = o.pair
        budget = self.wallet.balance(pair.quote) - self._held(but=o).get(pair.quote, ZERO) \
            if o.side == "buy" else None
        for level, wanted in _walk(book, o.side, o.remaining, limit):
            volume = wanted if budget is None else self._affordable(pair, level.price, wanted, budget)
            if volume > 0:
                spent = self._fill(o, level.price, volume, maker=False)
                self._took(pair, o.side, level, volume)
                if budget is not None:
                    budget -= spent
            if volume < wanted:
                return True
        return False

    def _finish(self, o: _Order, reason: str) -> None:
        if o.remaining <= 0:
            self._close(o, "closed", None)
        else:
            self._close(o, "canceled", reason)

    def _close(self, o: _Order, status: str, reason: str | None) -> None:
        o.status, o.reason, o.closetm = status, reason, self.clock.time()
        if o.txid:  # a placed order (not a refused one): saved with its end
            self._changed.add(o.txid)

    def _fill(self, o: _Order, price: Decimal, volume: Decimal, maker: bool) -> Decimal:
        """One fill, booked; returns what it cost a buyer (cost plus fee)."""
        pair = o.pair
        cost = self._money(pair, price * volume)
        fee = self._money(pair, cost * self._rate(pair, maker) / 100)
        sign = 1 if o.side == "buy" else -1
        self.wallet.move(pair.base, sign * volume)
        self.wallet.move(pair.quote, -sign * cost - fee)
        fill = _Fill(self._next_id("T"), o, self.clock.time(), price, volume, cost, fee, maker)
        self.fills[fill.trade_id] = fill
        self._new_fills.append(fill)
        o.vol_exec += volume
        o.cost += cost
        o.fee += fee
        o.trades.append(fill.trade_id)
        return cost + fee

    # -- resting orders and the tape ---------------------------------------------------------------
    def _follow_tape(self, pair_id: str, until: float | None = None) -> None:
        """The trades printed since the pair's cursor, page after full page; ``until``: only those printed
        before that time (the dead man's switch fires then and cancels every order: the later trades
        concern none)."""
        while True:
            since = self._cursor.get(pair_id)
            page = self.client.market.recent_trades(pair_id, since=since)
            self._cursor[pair_id] = page.last
            self._read.add(pair_id)
            for trade in page.trades:
                if until is not None and trade.time >= until:
                    return
                self._on_trade(pair_id, trade.price, trade.volume)
            if len(page.trades) < _TAPE_PAGE or page.last == since:
                return

    def _on_trade(self, pair_id: str, price: Decimal, volume: Decimal) -> None:
        """One public print: the stops it triggers, then the resting orders it fills."""
        for o in [o for o in self._open() if o.pair.name == pair_id]:
            if o.ordertype in _TRIGGERED and not o.triggered and self._trigger(o, price):
                self._arrive(o)
        for side in ("buy", "sell"):
            self._queue_fill(side, [o for o in self._open() if o.pair.name == pair_id and o.side == side],
                             price, volume)

    def _queue_fill(self, side: str, orders: list[_Order], price: Decimal, volume: Decimal) -> None:
        """The conservative queue model (module docstring) for one public print on one side: its volume
        fills the resting orders in the exchange's priority (best price, then time), each unit once. At
        an order's own price it first uses up the volume that was ahead of it in the queue."""
        better = (lambda a, b: a > b) if side == "buy" else (lambda a, b: a < b)
        resting = [o for o in orders if o.limit is not None and o.remaining > 0
                   and (better(o.limit, price) or o.limit == price)]
        resting.sort(key=lambda o: (-o.limit if side == "buy" else o.limit, o.opentm, o.txid))  # type: ignore[operator]
        given = through = ZERO  # volume given to the dry run's orders; to those strictly through the print
        for o in resting:
            take = volume - given
            if o.limit == price:
                used = min(o.ahead, volume - through)  # the queue ahead of it, after the better-priced orders
                o.ahead -= used
                take -= used
            take = min(o.remaining, take)
            if take > 0:
                self._fill(o, o.limit, take, maker=True)  # type: ignore[arg-type]
                given += take
                if o.limit != price:
                    through += take
            if o.remaining <= 0:
                self._close(o, "closed", None)

    # -- cancels ------------------------------------------------------------------------------------
    def _cancel_order(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = params.get("txid") if params.get("txid") is not None else params.get("cl_ord_id")
        found = [o for o in self._open() if ref in (o.txid, o.cl_ord_id) or str(o.userref) == str(ref)]
        if not found:
            raise _refuse("EOrder:Unknown order", "CancelOrder")
        for o in found:
            self._close(o, "canceled", "User requested")
        return {"count": len(found)}

    def _cancel_all(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self._open()
        for o in found:
            self._close(o, "canceled", "User requested")
        return {"count": len(found)}

    def _cancel_all_after(self, params: dict[str, Any]) -> dict[str, Any]:
        timeout = int(params.get("timeout", 0))
        now = self.clock.time()
        self._dms_trigger = now + timeout if timeout else None
        return {"currentTime": _rfc3339(now), "triggerTime": _rfc3339(now + timeout) if timeout else "0"}

    # -- reads --------------------------------------------------------------------------------------
    def _open(self) -> list[_Order]:
        return [o for o in self.orders.values() if o.status in ("open", "pending")]

    @staticmethod
    def _wanted(params: dict[str, Any]) -> Callable[[_Order], bool]:
        cl_ord_id, userref = params.get("cl_ord_id"), params.get("userref")
        return lambda o: (cl_ord_id is None or o.cl_ord_id == cl_ord_id) and \
            (userref is None or str(o.userref) == str(userref))

    def _open_orders(self, params: dict[str, Any]) -> dict[str, Any]:
        keep, trades = self._wanted(params), _truthy(params.get("trades"))
        return {"open": {o.txid: o.view(trades) for o in self._open() if keep(o)}}

    def _closed_orders(self, params: dict[str, Any]) -> dict[str, Any]:
        keep, trades = self._wanted(params), _truthy(params.get("trades"))
        closed = sorted((o for o in self.orders.values() if o.status not in ("open", "pending") and keep(o)),
                        key=lambda o: o.closetm or 0, reverse=True)
        closed = [o for o in closed if _in_range(o.closetm or 0, params)]
        ofs = int(params.get("ofs") or 0)
        return {"closed": {o.txid: o.view(trades) for o in closed[ofs:ofs + _PAGE]}, "count": len(closed)}

    def _query_orders(self, params: dict[str, Any]) -> dict[str, Any]:
        ids = [t for t in str(params.get("txid", "")).split(",") if t]
        if not ids or any(t not in self.orders for t in ids):
            raise _refuse("EOrder:Invalid order", "QueryOrders")
        trades = _truthy(params.get("trades"))
        return {t: self.orders[t].view(trades) for t in ids}

    def _query_trades(self, params: dict[str, Any]) -> dict[str, Any]:
        ids = [t for t in str(params.get("txid", "")).split(",") if t]
        if not ids or any(t not in self.fills for t in ids):
            raise _refuse("EGeneral:Invalid arguments:txid", "QueryTrades")
        return {t: self.fills[t].view() for t in ids}

    def _trades_history(self, params: dict[str, Any]) -> dict[str, Any]:
        fills = sorted((f for f in self.fills.values() if _in_range(f.time, params)), key=lambda f: f.time,
                       reverse=True)
        ofs = int(params.get("ofs") or 0)
        return {"trades": {f.trade_id: f.view() for f in fills[ofs:ofs + _PAGE]}, "count": len(fills)}

    def _balance(self, params: dict[str, Any]) -> dict[str, Any]:
        return {asset: _fmt(amount) for asset, amount in self.wallet.balances.items()}

    def _balance_ex(self, params: dict[str, Any]) -> dict[str, Any]:
        held = self._held()
        return {asset: {"balance": _fmt(amount), "hold_trade": _fmt(min(held.get(asset, ZERO), amount))}
                for asset, amount in self.wallet.balances.items()}

    def _next_id(self, kind: str) -> str:
        self._seq += 1
        return f"{kind}DRY{self._run.upper()}-{self._seq:05d}"


def _walk(book: OrderBook, side: str, volume: Decimal, limit: Decimal | None) -> list[tuple[BookLevel, Decimal]]:
    """A taker's fills on the book: [(level, volume)] level by level from the best, up to ``limit``."""
    levels = book.asks if side == "buy" else book.bids
    fills: list[tuple[BookLevel, Decimal]] = []
    left = volume
    for level in levels:
        if left <= 0:
            break
        if limit is not None and (level.price > limit if side == "buy" else level.price < limit):
            break
        take = min(left, level.volume)
        if take > 0:
            fills.append((level, take))
            left -= take
    return fills


def _in_range(when: float, params: dict[str, Any]) -> bool:
    start, end = params.get("start"), params.get("end")
    return (start is None or when > float(start)) and (end is None or when <= float(end))


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")
