"""Reads through the safety wrapper: exchange status, balances, pair rules, market data
and how fresh it is.

Why in the wrapper at all: reads go through the same guarded client as orders (so they
are audited and stop when the breaker opens), and the wrapper must remember when each
pair's price last came from the exchange: when the exchange stops answering, that age
is what stops trading (``STALE_DATA_SECONDS``). A mixin of ``SafetyWrapper``: it uses
the wrapper's ``client``, ``market_data``, ``positions``, ``settings`` and ``clock``.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Mapping

from krakenbot.errors import KrakenError
from krakenbot.models import PairInfo, PublicTrade, Ticker
from krakenbot.safety.outcomes import ConnectionReport, OrderOutcome
from krakenbot.store import OrderRecord

log = logging.getLogger("krakenbot.safety")

BALANCE_TTL_S = 10.0  # for the risk pre-check only: Kraken is the final judge of funds
# SystemStatus is cached this long (on the injected clock): reading it before every order
# would double the requests per placement. An order sent within the TTL of a status change is
# refused by Kraken itself (cancel_only/post_only: EService:Market in ... mode, not placed;
# maintenance: EService:Unavailable, settled by the ambiguous-outcome lookup), and the wrapper
# re-reads the status after any refusal (``_status_after_refusal``), so only that one order is
# exposed. Kraken announces maintenance well ahead of it.
STATUS_TTL_S = 5.0


class ExchangeReads:
    client: Any
    market_data: Any
    positions: Any
    settings: Any
    clock: Any
    store: Any
    status_ttl: float

    def _init_reads(self) -> None:
        self._tickers: dict[str, Ticker] = {}
        self._balances: tuple[dict[str, Decimal], float, dict[str, Decimal]] | None = None  # totals, at, free
        self._status: tuple[str, float] | None = None
        self._local_holds: dict[str, tuple[str, Decimal]] = {}  # cl_ord_id -> (asset, hold) taken off the cache
        self._stale_pairs: set[str] = set()  # said once when a pair's price goes stale, once when it is fresh again
        self.status_ttl = STATUS_TTL_S

    def _scrub(self, text: str) -> str:  # replaced by the wrapper's scrubber
        return text

    def _explain(self, exc: BaseException) -> str:
        return self._scrub(f"{type(exc).__name__}: {exc}")

    # -- connection and account --------------------------------------------------------------
    def check_connection(self) -> ConnectionReport:
        """Connectivity (SystemStatus), then authentication (Balance); one clear error."""
        try:
            status = self.system_status(max_age=0)
        except KrakenError as exc:
            return ConnectionReport(False, None, False, {}, self._scrub(f"exchange unreachable: {exc}"))
        self.client.server_clock.sync()  # measure the exchange's clock at connect (orders need it)
        try:
            balances = self.balances()
        except KrakenError as exc:
            return ConnectionReport(status == "online", status, False, {}, self._explain(exc))
        return ConnectionReport(status == "online", status, True, balances, None)

    def system_status(self, max_age: float | None = None) -> str:
        max_age = self.status_ttl if max_age is None else max_age
        now = self.clock.time()
        # Only "online" is reused: a stale "online" is covered by the exchange's own refusal,
        # while any other status is re-read so trading resumes as soon as the exchange does.
        if self._status is not None and self._status[0] == "online" and max_age > 0 \
                and now - self._status[1] < max_age:
            return self._status[0]
        status = self.client.market.system_status().status
        self._status = (status, now)
        return status

    def balances(self) -> dict[str, Decimal]:
        """Total balances by Kraken asset id, read now."""
        return dict(self.client.account.balance())

    def _balances_and_free(self) -> tuple[Mapping[str, Decimal], Mapping[str, Decimal]]:
        """Totals and what is free to use, from BalanceEx: Kraken's own holds cover every open
        order on the account, not only the bot's. Cached briefly; any order or cancel forgets it.
        Read-only views: the cache's dicts are replaced, never changed in place, so none is copied."""
        now = self.clock.time()
        if self._balances is not None and now - self._balances[1] <= BALANCE_TTL_S:
            return MappingProxyType(self._balances[0]), MappingProxyType(self._balances[2])
        lines = self.client.account.balance_ex()
        totals = {asset: line.balance for asset, line in lines.items()}
        free = {asset: line.free for asset, line in lines.items()}
        self._balances = (totals, now, free)
        self._local_holds = {}
        return MappingProxyType(totals), MappingProxyType(free)

    def _forget_balances(self) -> None:
        self._balances = None
        self._local_holds = {}

    def _hold_locally(self, outcome: OrderOutcome, info: PairInfo, order: OrderRecord | None = None) -> None:
        """After an order: take its hold off the cached free balance instead of re-reading
        BalanceEx (one request per order). Only a resting limit order's hold is known exactly
        (buy: volume x price + the higher fee rate; sell: volume), so only then is the cache kept;
        a fill, an UNKNOWN outcome or any other type forgets it, and a refusal (nothing placed)
        leaves it as it was. Local holds only ever lower ``free``: the risk check never sees more
        than the exchange has (a fill meanwhile only lowers Kraken's hold, never raises it)."""
        cached = self._balances
        status = outcome.status or ""
        if not outcome.placed:
            if status not in ("REJECTED", "VALIDATED"):  # UNKNOWN & co: it may have landed
                self._forget_balances()
            return
        if order is None or order.cl_ord_id != outcome.cl_ord_id:  # else: the executor's record
            order = self.store.get_order(outcome.cl_ord_id) if outcome.cl_ord_id else None  # type: ignore[attr-defined]
        if cached is None or order is None or status != "OPEN" or order.ordertype != "limit" \
                or order.price is None or order.volume_executed != 0:
            self._forget_balances()
            return
        totals, at, free = cached
        free = dict(free)
        if order.side == "buy":
            fee = max(info.fee_maker, info.fee_taker)
            asset, hold = info.quote, order.volume * order.price * (1 + fee / 100)
        else:
            asset, hold = info.base, order.volume
        free[asset] = free.get(asset, Decimal(0)) - hold
        self._balances = (totals, at, free)
        self._local_holds[order.cl_ord_id] = (asset, hold)

    def _release_locally(self, cl_ord_id: str, order: OrderRecord) -> None:
        """After a cancel: give back the hold this cache took for the order, when it ended
        CANCELED with nothing executed; otherwise (a hold read from BalanceEx, a fill) forget."""
        taken = self._local_holds.pop(cl_ord_id, None)
        if taken is None or self._balances is None or order.status != "CANCELED" or order.volume_executed != 0:
            self._forget_balances()
            return
        totals, at, free = self._balances
        free = dict(free)
        free[taken[0]] = free.get(taken[0], Decimal(0)) + taken[1]
        self._balances = (totals, at, free)

    def position(self, pair: str) -> tuple[Decimal, Decimal | None]:
        """(base volume the bot holds from its own fills, average entry incl. fees)."""
        pos = self.positions.position(self._pair_id(pair))
        return pos.volume, pos.average_entry

    # -- market data ------------------------------------------------------------------------------
    def pair_info(self, pair: str) -> PairInfo:
        return self.market_data.pair_info(pair)

    def _pair_id(self, pair: str) -> str:
        try:
            return self.pair_info(pair).name
        except KrakenError:
            return pair

    def ticker(self, pair: str) -> Ticker:
        """The current ticker (through the market data cache); the last good one is remembered."""
        ticker = self.market_data.ticker(pair)
        self._tickers[pair.upper()] = ticker
        return ticker

    def last_ticker(self, pair: str) -> Ticker | None:
        return self._tickers.get(pair.upper())

    def market_data_age(self, pair: str) -> float | None:
        """Seconds since the pair's market data last came from the exchange (None: never)."""
        last = self.market_data.last_update(pair)
        return None if last is None else max(0.0, self.clock.time() - last)

    def market_data_problem(self, pair: str, refresh: bool = True) -> str | None:
        """None when the pair's price is fresh enough to trade on, else why not (STALE_DATA)."""
        if refresh:
            try:
                self.ticker(pair)
            except KrakenError as exc:
                log.info("ticker refresh for %s failed: %s", pair, exc)
        age = self.market_data_age(pair)
        limit = float(self.settings.stale_data_seconds)
        problem = None
        if age is None or self.last_ticker(pair) is None:
            problem = f"STALE_DATA: no market data for {pair}"
        elif age > limit:
            problem = f"STALE_DATA: last price for {pair} is {age:.0f} s old (limit {limit:.0f} s)"
        if problem and pair not in self._stale_pairs:
            self._stale_pairs.add(pair)
            log.warning("%s: no new orders on %s until it is fresh", problem, pair, extra={"fields": {"pair": pair}})
        elif not problem and pair in self._stale_pairs:
            self._stale_pairs.discard(pair)
            log.info("market data for %s is fresh again", pair, extra={"fields": {"pair": pair}})
        return problem

    def order_book(self, pair: str, count: int = 100) -> Any:
        return self.market_data.order_book(pair, count)

    def _book_for_fill(self, pair: str, side: Any, volume: Decimal) -> Any:
        """The book a market order's fill is estimated on: the live book when its levels hold the
        volume (they are the exchange's best levels, so the walk is the same as on a deeper book),
        else 500 levels, Kraken's most, so the walk sees as deep as the exchange shows."""
        from krakenbot.risk.checks import estimate_fill

        book = self.market_data.live_book(pair)
        if book is not None and estimate_fill(book, side, volume) is not None:
            return book
        return self.order_book(pair, 500)

    def candles(self, pair: str, interval: int = 1, since: int | None = None) -> Any:
        return self.market_data.candles(pair, interval, since=since)

    def history(self, pair: str, interval: int, start: int, end: int) -> Any:
        return self.market_data.history(pair, interval, start, end)

    def trade_history(self, pair: str, start: float, end: float) -> list[PublicTrade]:
        """Every public trade with start <= time < end, oldest first, each once (paged)."""
        return self.market_data.trades_between(pair, start, end)
