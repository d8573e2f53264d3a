"""Matching: taker sweeps of the synthetic book, maker fills of resting orders, triggers.

The book on the other side of every order is the pair's seeded synthetic book
(market.py); user orders do not trade with each other. A taker sweep walks levels
from the best price (one trade per level), a resting order fills as maker at its own
price once the market moves through it, at most one book level of volume per step,
stop-loss / take-profit orders trigger on the last trade price, and trailing stops follow the best
last price since placement (the peak for a sell, the trough for a buy) and trigger when the price
comes back by their offset. An order with a conditional close places, for each of its fills, an
opposite order of the filled volume once the matching step that filled it is over.
"""
from __future__ import annotations

from decimal import Decimal
from krakensim.accounts import Account, fee_amount
from krakensim.ids import IdGenerator
from krakensim.market import PairMarket
from krakensim.orders import TRAILING_TYPES, Order, Trade, trade_ordertype
from krakensim.pairs import ASSETS, MAKER_TIERS, TAKER_TIERS, fee_percent
from krakensim.wire import q

ZERO = Decimal(0)
_BUDGET_MARGIN = Decimal("0.001")  # keeps rounding of cost and fee inside the buyer's funds


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
        self._closes: list[tuple[Order, Decimal, float]] = []  # (primary, filled volume, time) to place

    def fee_rate(self, account: Account, maker: bool) -> Decimal:
        return fee_percent(MAKER_TIERS if maker else TAKER_TIERS, account.volume)

    # ------------------------------------------------------------------ fills
    def fill(self, o: Order, price: Decimal, vol: Decimal, maker: bool, now: float) -> Trade:
        account = self.accounts[o.account]
        p = o.pair
        cost = q(price * vol, ASSETS[p.quote].decimals)
        fee = fee_amount(cost, vol, self.fee_rate(account, maker), o.fee_in_base, p.base, p.quote)
        trade = Trade(self.ids.next("T"), o.txid, self.ids.next("T"), p, now, o.side, trade_ordertype(o),
                      price, cost, fee, o.fee_in_base, vol, maker, 0)
        account.book_fill(o, trade, (self.ids.next("L"), self.ids.next("L")))
        market = self.markets[p.id]
        # The tape records the taker's side: a maker buy was hit by a seller.
        taker_side = (o.side if not maker else ("sell" if o.side == "buy" else "buy"))[0]
        trade.trade_id = market.next_trade_id
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

    def sweep(self, o: Order, now: float, limit: Decimal | None) -> None:
        """Take liquidity for ``o`` from the book, up to ``limit``; funds cap buys."""
        market = self.markets[o.pair.id]
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
                return
        for level, price, vol in market.walk(side, volume, limit, budget):
            market.consume(side, level, vol)
            if o.quote_volume is not None:
                o.volume += vol  # viqc: the base volume is what the quote amount bought
            self.fill(o, price, vol, maker=False, now=now)

    def arrive(self, o: Order, now: float, post_only_mode: bool = False) -> None:
        """An order becomes live: market and crossing limits take, the rest rests."""
        self._arrive(o, now, post_only_mode)
        self.place_closes()

    def _arrive(self, o: Order, now: float, post_only_mode: bool) -> None:
        market = self.markets[o.pair.id]
        account = self.accounts[o.account]
        if o.ordertype == "market" or (o.triggered and not o.ordertype.endswith("-limit")):
            self.sweep(o, now, None)
            self._finish(account, o, now, "Insufficient liquidity")
            return
        limit = o.working_limit
        if limit is None:  # untriggered stop / take-profit / trailing: check the last price right away
            trail(o, market.last, market)
            self.check_trigger(o, market, now)
            return
        if o.post_only and crosses(o, market):
            o.close("canceled", now, "Post only order")
            account.mark_closed(o)
            return
        if not post_only_mode:
            self.sweep(o, now, limit)
        if o.remaining <= 0 or o.timeinforce == "IOC":
            self._finish(account, o, now, "Immediate or cancel")

    def _finish(self, account: Account, o: Order, now: float, reason: str) -> None:
        if o.remaining <= 0 and o.vol_exec > 0:
            o.close("closed", now)
        else:
            o.close("canceled", now, reason)
        account.mark_closed(o)

    def check_trigger(self, o: Order, market: PairMarket, now: float) -> None:
        if trigger_hit(o, market.last):
            o.triggered = True
            o.misc.append("touched" if o.ordertype.startswith("take-profit") else "stopped")
            o.aged_from = now  # a triggered order joins the back of the queue
            self._arrive(o, now, False)

    # ------------------------------------------------------------------ steps
    def open_orders_of_pair(self, pair_id: str) -> list[Order]:
        return [o for a in self.accounts.values() for o in a.open.values() if o.pair.id == pair_id]

    def has_crossing(self) -> bool:
        for a in self.accounts.values():
            for o in a.open.values():
                if crosses(o, self.markets[o.pair.id]):
                    return True
        return False

    def step(self, market: PairMarket, now: float) -> None:
        """One market step: triggers on the last price, then maker fills of crossing orders."""
        orders = self.open_orders_of_pair(market.spec.id)
        for o in orders:
            if o.is_open and o.working_limit is None and o.ordertype != "market" and not o.triggered:
                trail(o, market.last, market)
                self.check_trigger(o, market, now)
        for o in orders:
            if crosses(o, market):
                vol = min(o.remaining, market.level0_volume("asks" if o.side == "buy" else "bids"))
                if vol > 0:
                    self.fill(o, o.working_limit, vol, maker=True, now=now)
                if o.remaining <= 0:
                    o.close("closed", now)
                    self.accounts[o.account].mark_closed(o)
        self.place_closes()

    def user_book(self, pair_id: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        asks: dict[Decimal, Decimal] = {}
        bids: dict[Decimal, Decimal] = {}
        for o in self.open_orders_of_pair(pair_id):
            limit = o.working_limit
            if limit is None or o.status != "open" or o.remaining <= 0:
                continue
            book = bids if o.side == "buy" else asks
            book[limit] = book.get(limit, ZERO) + o.remaining
        return asks, bids


def market_buy_cost(market: PairMarket, volume: Decimal) -> tuple[Decimal, Decimal]:
    """(fillable volume, its cost) for a market buy, without touching the book."""
    fills = market.walk("asks", volume)
    return sum((v for _, _, v in fills), ZERO), sum((p * v for _, p, v in fills), ZERO)


