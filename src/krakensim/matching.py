"""Matching: taker sweeps of the book, maker fills of resting orders, triggers, self-trade prevention.

The book on each side of a pair is the seeded synthetic depth (market.py) plus the resting limit
orders of the accounts and of the other traders (flow.py), each price level a queue in time
priority: synthetic depth already at a price when an order joins it is ahead of that order, depth
that comes back later is behind. A taker sweep walks the levels from the best price; an arriving
order meeting a resting order of its own account applies its ``stptype`` (cancel-newest: the
arriving order is cancelled, cancel-oldest: the resting one, cancel-both: both; reason "Cannot
trade with self"). A resting order the market moves through fills as maker at its own price, at
most one book level of volume per step; stop-loss / take-profit orders trigger on the last trade
price, checked after every trade that prints (an account's, another account's, the flow's), and
trailing stops follow the best last price since placement (the peak for a sell, the trough for a
buy) and trigger when the price comes back by their offset. An order with a
conditional close places, for each of its fills, an opposite order of the filled volume once the
matching step that filled it is over.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from krakensim.accounts import Account, fee_amount
from krakensim.ids import IdGenerator
from krakensim.market import BOOK_LEVELS, PairMarket
from krakensim.orders import TRAILING_TYPES, Order, Trade, trade_ordertype
from krakensim.pairs import ASSETS, MAKER_TIERS, TAKER_TIERS, fee_percent
from krakensim.wire import q

ZERO = Decimal(0)
_BUDGET_MARGIN = Decimal("0.001")  # keeps rounding of cost and fee inside the buyer's funds
SELF_TRADE = "Cannot trade with self"  # the reason of an order self-trade prevention cancels
STP_TYPES = ("cancel-newest", "cancel-oldest", "cancel-both")


@dataclass(slots=True, eq=False)
class OtherOrder:
    """A resting limit order of another trader (background flow): no account, no money, only its place."""

    pair_id: str
    side: str
    working_limit: Decimal
    remaining: Decimal
    seq: int = 0
    ahead: Decimal = ZERO
    account: None = None


@dataclass(slots=True)
class Take:
    """One step of a planned sweep: synthetic depth (``maker`` None, at ``level``), a resting order's
    volume, or (``stp``, volume 0) a resting order of the taker's own account to cancel."""

    price: Decimal
    vol: Decimal
    maker: Any = None
    level: int = 0
    queued: tuple = ()  # resting orders at this price the synthetic volume taken was ahead of
    stp: bool = False


def crosses(o: Order, market: PairMarket) -> bool:
    """True when a live limit price is through the synthetic book (buy >= ask, sell <= bid)."""
    limit = o.working_limit
    if limit is None or o.status != "open":
        return False
    return limit >= market.best_ask if o.side == "buy" else limit <= market.best_bid


def trigger_hit(o: Order, last: Decimal) -> bool:
    if o.triggered or o.price is None:
        return False
    if o.ordertype.startswith(("stop-loss", "trailing-stop")):
        return last >= o.price if o.side == "buy" else last <= o.price
    return last <= o.price if o.side == "buy" else last >= o.price


def trail(o: Order, last: Decimal, market: PairMarket) -> None:
    """Move a trailing order's peak (sell: highest last, buy: lowest) and its trigger and limit with it."""
    if o.ordertype not in TRAILING_TYPES or o.triggered or o.offset is None:
        return
    if o.peak is not None and (last <= o.peak if o.side == "sell" else last >= o.peak):
        return
    o.peak = last
    # the offset is sent with "+": below the peak for a sell, above the trough for a buy
    distance = o.offset.apply(last) - last
    o.price = market.round_price(last - distance if o.side == "sell" else last + distance)
    if o.limit_offset is not None:
        o.price2 = market.round_price(o.limit_offset.apply(o.price))


class Matcher:
    def __init__(self, markets: dict[str, PairMarket], accounts: dict[str, Account], ids: IdGenerator) -> None:
        self.markets = markets
        self.accounts = accounts
        self.ids = ids
        self.others: dict[str, list[OtherOrder]] = {pid: [] for pid in markets}
        self._seq = 0
        self._closes: list[tuple[Order, Decimal, float]] = []  # (primary, filled volume, time) to place
        self.fee_factor = Decimal(1)

    def fee_rate(self, account: Account, maker: bool) -> Decimal:
        """The account's tier for its 30-day volume, times ``fee_factor`` (1 unless a ``wrong_fee`` fault)."""
        return fee_percent(MAKER_TIERS if maker else TAKER_TIERS, account.volume) * self.fee_factor

    # ------------------------------------------------------------------ queue
    def queue(self, o: Order | OtherOrder) -> None:
        """``o`` joins the back of the queue at its price (placed, triggered, or re-priced by an amend)."""
        self._seq += 1
        o.seq = self._seq
        market = self.markets[o.pair.id if isinstance(o, Order) else o.pair_id]
        side = "bids" if o.side == "buy" else "asks"
        level = market.level_at(side, o.working_limit)
        o.ahead = market.level_volume(side, level) if level is not None else ZERO

    def resting(self, pair_id: str, side: str) -> list:
        """The resting orders of ``side`` (``asks``/``bids``), the accounts' and others', best price
        first, then time priority."""
        want = "sell" if side == "asks" else "buy"
        out: list = [o for o in self.open_orders_of_pair(pair_id)
                     if o.side == want and o.status == "open" and o.working_limit is not None and o.remaining > 0]
        out.extend(x for x in self.others[pair_id] if x.side == want)
        sign = 1 if side == "asks" else -1
        out.sort(key=lambda x: (sign * x.working_limit, x.seq))
        return out

    def resting_book(self, pair_id: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """(asks, bids): the resting orders' volume per price, for Depth."""
        books: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]] = ({}, {})
        for book, side in zip(books, ("asks", "bids")):
            for o in self.resting(pair_id, side):
                book[o.working_limit] = book.get(o.working_limit, ZERO) + o.remaining
        return books

    # ------------------------------------------------------------------ fills
    def fill(self, o: Order, price: Decimal, vol: Decimal, maker: bool, now: float, tape: bool = True) -> Trade:
        """Book one fill of ``o``; ``tape`` False when the taker's side prints the public trade."""
        account = self.accounts[o.account]
        p = o.pair
        cost = q(price * vol, ASSETS[p.quote].decimals)
        fee = fee_amount(cost, vol, self.fee_rate(account, maker), o.fee_in_base, p.base, p.quote)
        trade = Trade(self.ids.next("T"), o.txid, self.ids.next("T"), p, now, o.side, trade_ordertype(o),
                      price, cost, fee, o.fee_in_base, vol, maker, 0)
        account.book_fill(o, trade, (self.ids.next("L"), self.ids.next("L")))
        market = self.markets[p.id]
        trade.trade_id = market.next_trade_id
        if tape:  # the tape records the taker's side: a maker buy was hit by a seller
            taker_side = (o.side if not maker else ("sell" if o.side == "buy" else "buy"))[0]
            market.record_trade(price, vol, now, taker_side, "l" if (maker or o.working_limit) else "m")
        if o.close_spec is not None:
            self._closes.append((o, vol, now))
        return trade

    def place_closes(self) -> None:
        """The conditional closes of the fills so far: each an independent opposite order of the
        filled volume. Placed after the sweep or step that filled the primary, never inside it
        (a nested sweep would take book levels the outer one has already planned). A close the
        account cannot fund is cancelled at once, with Kraken's reason."""
        while self._closes:
            primary, vol, now = self._closes.pop(0)
            spec = primary.close_spec
            account = self.accounts[primary.account]
            close = Order(txid=self.ids.next("O"), account=account.name, pair=primary.pair,
                          side="sell" if primary.side == "buy" else "buy", ordertype=spec.ordertype, volume=vol,
                          price=spec.price, price2=spec.price2, oflags=(), timeinforce="GTC", opentm=now,
                          offset=spec.offset, limit_offset=spec.limit_offset, trigger=primary.trigger,
                          aged_from=now)
            account.add_open(close)
            asset, _ = account.hold_of(close)
            if account.available(asset) < 0:
                close.close("canceled", now, "Insufficient funds")
                account.mark_closed(close)
                continue
            self.arrive(close, now)

    def plan(self, pair_id: str, side: str, volume: Decimal | None, limit: Decimal | None = None,
             budget: Decimal | None = None, account: str | None = None,
             stptype: str = "cancel-newest") -> tuple[list[Take], bool]:
        """A taker sweep of ``side`` up to ``limit``, touching nothing: the takes in order, and whether
        self-trade prevention stops the taker there."""
        market = self.markets[pair_id]
        lot = market.spec.lot_quantum
        queued = self.resting(pair_id, side)
        reaches = (lambda a, b: a <= b) if side == "asks" else (lambda a, b: a >= b)  # a at or better than b
        takes: list[Take] = []
        left, j, i = volume, 0, 0

        def room(price: Decimal) -> Decimal:
            cap = left if left is not None else Decimal("Infinity")
            if budget is not None:
                cap = min(cap, (budget / price).quantize(lot, rounding=ROUND_FLOOR))
            return cap

        def take(t: Take) -> bool:
            """Record ``t``; False once the taker is done (volume or budget spent)."""
            nonlocal left, budget
            takes.append(t)
            if left is not None:
                left -= t.vol
            if budget is not None:
                budget -= t.vol * t.price
            return (left is None or left > 0) and (budget is None or budget > 0)

        while True:
            synthetic = market.level_price(side, i) if i < BOOK_LEVELS else None
            if synthetic is not None and synthetic <= 0:
                synthetic = None
            head = queued[j].working_limit if j < len(queued) else None
            if synthetic is None and head is None:
                return takes, False
            price = head if synthetic is None or (head is not None and reaches(head, synthetic)) else synthetic
            if limit is not None and not reaches(price, limit):
                return takes, False
            depth = market.level_volume(side, i) if synthetic == price else ZERO
            at_price = []
            while j < len(queued) and queued[j].working_limit == price:
                at_price.append(queued[j])
                j += 1
            before = ZERO  # synthetic volume taken ahead of the queue at this price so far
            for n, maker in enumerate(at_price):
                ahead = min(max(maker.ahead - before, ZERO), depth)
                if ahead > 0:
                    vol = min(ahead, room(price))
                    if vol <= 0:
                        return takes, False
                    depth -= vol
                    before += vol
                    if not take(Take(price, vol, None, i, tuple(at_price[n:]))) or vol < ahead:
                        return takes, False
                if account is not None and maker.account == account:
                    takes.append(Take(price, ZERO, None if stptype == "cancel-newest" else maker, stp=True))
                    if stptype != "cancel-oldest":
                        return takes, True
                    continue
                vol = min(maker.remaining, room(price))
                if vol <= 0 or not take(Take(price, vol, maker)):
                    return takes, False
            if depth > 0:
                vol = min(depth, room(price))
                if vol <= 0 or not take(Take(price, vol, None, i)):
                    return takes, False
            if synthetic == price:
                i += 1

    def execute(self, taker: Order | None, side: str, takes: list[Take], pair_id: str, now: float) -> None:
        """Carry out a planned sweep for ``taker``: an account's order, or None (another trader's market order)."""
        market = self.markets[pair_id]
        for t in takes:
            maker = t.maker
            if t.stp:
                if maker is not None:  # cancel-oldest / cancel-both: the resting order goes
                    maker.close("canceled", now, SELF_TRADE)
                    self.accounts[maker.account].mark_closed(maker)
                continue
            if maker is None:
                market.consume(side, t.level, t.vol)
                for behind in t.queued:
                    behind.ahead = max(ZERO, behind.ahead - t.vol)
            elif isinstance(maker, Order):
                self.fill(maker, t.price, t.vol, maker=True, now=now, tape=False)
                if maker.remaining <= 0:
                    maker.close("closed", now)
                    self.accounts[maker.account].mark_closed(maker)
            else:
                maker.remaining -= t.vol
                if maker.remaining <= 0:
                    self.others[pair_id].remove(maker)
            if taker is None:
                market.record_trade(t.price, t.vol, now, "b" if side == "asks" else "s", "m")
                continue
            if taker.quote_volume is not None:
                taker.volume += t.vol  # viqc: the base volume is what the quote amount bought
            self.fill(taker, t.price, t.vol, maker=False, now=now)

    def buy_cost(self, account: Account, pair_id: str, volume: Decimal) -> Decimal:
        """What a market buy of ``volume`` would cost now (before fees), touching nothing."""
        takes, _ = self.plan(pair_id, "asks", volume, account=account.name)
        return sum((t.price * t.vol for t in takes), ZERO)

    def sweep(self, o: Order, now: float, limit: Decimal | None) -> bool:
        """Take liquidity for ``o`` from the book, up to ``limit``; funds cap buys. True when
        self-trade prevention cancels the rest of ``o``."""
        account = self.accounts[o.account]
        side = "asks" if o.side == "buy" else "bids"
        budget = None
        volume: Decimal | None = o.remaining
        if o.side == "buy":
            funds = account.available(o.pair.quote)
            if o.txid in account.open:  # its own hold is there to be spent
                funds += account.hold_of(o)[1]
            rate = ZERO if o.fee_in_base else self.fee_rate(account, maker=False) / 100
            budget = funds / (1 + rate) - _BUDGET_MARGIN
            if o.quote_volume is not None:
                budget = min(budget, o.quote_volume)
                volume = None
            if budget <= 0:
                return False
        takes, stopped = self.plan(o.pair.id, side, volume, limit, budget, o.account, o.stptype)
        self.execute(o, side, takes, o.pair.id, now)
        return stopped

    def arrive(self, o: Order, now: float, post_only_mode: bool = False) -> None:
        """An order becomes live: market and crossing limits take, the rest rests."""
        self._arrive(o, now, post_only_mode)
        self.triggers(self.markets[o.pair.id], now)  # its trades may have reached other orders' stops
        self.place_closes()

    def _arrive(self, o: Order, now: float, post_only_mode: bool) -> None:
        market = self.markets[o.pair.id]
        account = self.accounts[o.account]
        if o.ordertype == "market" or (o.triggered and not o.ordertype.endswith("-limit")):
            stopped = self.sweep(o, now, None)
            self._finish(account, o, now, SELF_TRADE if stopped else "Insufficient liquidity")
            return
        limit = o.working_limit
        if limit is None:  # untriggered stop / take-profit / trailing: check the last price right away
            trail(o, market.last, market)
            self.check_trigger(o, market, now)
            return
        if o.post_only and self.would_take(o):
            o.close("canceled", now, "Post only order")
            account.mark_closed(o)
            return
        if not post_only_mode and self.sweep(o, now, limit):
            self._finish(account, o, now, SELF_TRADE)
        elif o.remaining <= 0 or o.timeinforce == "IOC":
            self._finish(account, o, now, "Immediate or cancel")
        else:
            self.queue(o)

    def would_take(self, o: Order) -> bool:
        """True when ``o``'s limit reaches the other side: the synthetic touch or a resting order."""
        if crosses(o, self.markets[o.pair.id]):
            return True
        best = self.resting(o.pair.id, "asks" if o.side == "buy" else "bids")[:1]
        return bool(best) and (o.working_limit >= best[0].working_limit if o.side == "buy"
                               else o.working_limit <= best[0].working_limit)

    def _finish(self, account: Account, o: Order, now: float, reason: str) -> None:
        if o.remaining <= 0 and o.vol_exec > 0:
            o.close("closed", now)
        else:
            o.close("canceled", now, reason)
        account.mark_closed(o)

    def check_trigger(self, o: Order, market: PairMarket, now: float) -> bool:
        """Trigger ``o`` if the last price reached it; True when it did."""
        if not trigger_hit(o, market.last):
            return False
        o.triggered = True
        o.misc.append("touched" if o.ordertype.startswith("take-profit") else "stopped")
        o.aged_from = now  # a triggered order joins the back of the queue
        self._arrive(o, now, False)
        return True

    # ------------------------------------------------------------------ steps
    def open_orders_of_pair(self, pair_id: str) -> list[Order]:
        return [o for a in self.accounts.values() for o in a.open.values() if o.pair.id == pair_id]

    def has_crossing(self) -> bool:
        for a in self.accounts.values():
            for o in a.open.values():
                if crosses(o, self.markets[o.pair.id]):
                    return True
        return False

    def triggers(self, market: PairMarket, now: float) -> None:
        """Trailing stops follow, and stops and take-profits trigger on, the last price; again after a
        triggered order's own trades moved it, until none triggers (each order triggers once)."""
        fired = True
        while fired:
            fired = False
            for o in self.open_orders_of_pair(market.spec.id):
                if o.is_open and o.working_limit is None and o.ordertype != "market" and not o.triggered:
                    trail(o, market.last, market)
                    fired = self.check_trigger(o, market, now) or fired

    def step(self, market: PairMarket, now: float) -> None:
        """One market step: triggers on the last price, then maker fills of the orders the synthetic
        book has moved through (others' orders there leave the book: the market makers took them)."""
        self.triggers(market, now)
        for o in self.open_orders_of_pair(market.spec.id):
            if crosses(o, market):
                vol = min(o.remaining, market.level0_volume("asks" if o.side == "buy" else "bids"))
                if vol > 0:
                    self.fill(o, o.working_limit, vol, maker=True, now=now)
                if o.remaining <= 0:
                    o.close("closed", now)
                    self.accounts[o.account].mark_closed(o)
        self.triggers(market, now)  # the maker fills printed
        others = self.others[market.spec.id]
        if others:
            others[:] = [x for x in others if not (x.working_limit >= market.best_ask if x.side == "buy"
                                                   else x.working_limit <= market.best_bid)]
        self.place_closes()
