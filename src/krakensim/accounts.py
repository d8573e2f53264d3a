"""An account's money: balances, what open orders hold, trades and the ledger.

Holds are derived from the open orders (never stored separately) so they cannot
drift from them: an open buy holds ``limit price x remaining x (1 + taker fee)`` of
quote, an open sell holds the remaining base (plus the fee when paid in base).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, ROUND_UP, Decimal

from krakensim.orders import Order, LedgerEntry, Trade
from krakensim.pairs import ASSETS, TAKER_TIERS
from krakensim.wire import q

ZERO = Decimal(0)
MAX_TAKER_RATE = TAKER_TIERS[0][1] / 100  # holds reserve the worst fee, so any fill is covered

DEFAULT_BALANCES = {"ZEUR": Decimal("10000"), "ZUSD": Decimal("10000"), "XXBT": Decimal("1"), "XETH": Decimal("10")}


class Account:
    def __init__(self, name: str, balances: dict[str, Decimal]) -> None:
        self.name = name
        self.balances: dict[str, Decimal] = {a: ZERO for a in ASSETS}
        for asset, amount in balances.items():
            self.balances[asset] = q(Decimal(amount), ASSETS[asset].decimals)
        self.orders: dict[str, Order] = {}  # every order, in placement order
        self.open: dict[str, Order] = {}  # pending + open orders
        self.closed: list[Order] = []  # in closing order
        self.trades: dict[str, Trade] = {}
        self.ledger: dict[str, LedgerEntry] = {}
        self.volume = ZERO  # traded cost, for the fee tier (quote currencies counted 1:1)
        self.dms_trigger: float | None = None
        self._holds: dict[str, Decimal] | None = None

    # ------------------------------------------------------------------ holds
    def hold_of(self, o: Order) -> tuple[str, Decimal]:
        p = o.pair
        remaining = o.remaining
        if o.side == "sell":
            amount = remaining * (1 + MAX_TAKER_RATE) if o.fee_in_base else remaining
            return p.base, q(amount, ASSETS[p.base].decimals, ROUND_UP)
        price = o.price2 if o.ordertype.endswith("-limit") else o.price
        if price is None:  # an unexecuted market order never rests
            return p.quote, ZERO
        amount = remaining * price
        if not o.fee_in_base:
            amount *= 1 + MAX_TAKER_RATE
        return p.quote, q(amount, ASSETS[p.quote].decimals, ROUND_UP)

    def holds(self) -> dict[str, Decimal]:
        """Per-asset holds, recomputed only after an order changed (see ``changed``)."""
        if self._holds is None:
            out: dict[str, Decimal] = {}
            for o in self.open.values():
                asset, amount = self.hold_of(o)
                out[asset] = out.get(asset, ZERO) + amount
            self._holds = out
        return self._holds

    def changed(self) -> None:
        """Call after any change to an open order's volume, price, fills or openness."""
        self._holds = None

    def available(self, asset: str) -> Decimal:
        return self.balances.get(asset, ZERO) - self.holds().get(asset, ZERO)

    def add_open(self, o: Order) -> None:
        self.orders[o.txid] = o
        self.open[o.txid] = o
        self._holds = None

    # ------------------------------------------------------------------ fills
    def book_fill(self, o: Order, trade: Trade, ledger_ids: tuple[str, str]) -> None:
        """Move the money of one fill and write its two ledger entries."""
        p = o.pair
        base_delta = trade.vol if o.side == "buy" else -trade.vol
        quote_delta = -trade.cost if o.side == "buy" else trade.cost
        base_fee = trade.fee if trade.fee_in_base else ZERO
        quote_fee = ZERO if trade.fee_in_base else trade.fee
        self.balances[p.base] = self.balances.get(p.base, ZERO) + base_delta - base_fee
        self.balances[p.quote] = self.balances.get(p.quote, ZERO) + quote_delta - quote_fee
        self.trades[trade.txid] = trade
        for lid, asset, amount, fee in ((ledger_ids[0], p.quote, quote_delta, quote_fee),
                                        (ledger_ids[1], p.base, base_delta, base_fee)):
            self.ledger[lid] = LedgerEntry(lid, trade.txid, trade.time, "trade", asset, amount, fee,
                                           self.balances[asset])
        trade.ledger_ids = list(ledger_ids)
        self.volume += trade.cost
        o.vol_exec += trade.vol
        o.cost += trade.cost
        o.fee += trade.fee
        o.trade_ids.append(trade.txid)
        self._holds = None
        if 0 < o.vol_exec < o.volume and "partial" not in o.misc:
            o.misc.append("partial")

    def mark_closed(self, o: Order) -> None:
        self.open.pop(o.txid, None)
        self.closed.append(o)
        self._holds = None


def fee_amount(cost: Decimal, vol: Decimal, rate_percent: Decimal, in_base: bool, base: str, quote: str) -> Decimal:
    """Kraken's fee for one fill, rounded half-up to the fee asset's decimals."""
    if in_base:
        return q(vol * rate_percent / 100, ASSETS[base].decimals, ROUND_HALF_UP)
    return q(cost * rate_percent / 100, ASSETS[quote].decimals, ROUND_HALF_UP)
