"""The pure exchange: Kraken's public and private methods over an in-memory engine.

No HTTP here. ``handle_public`` / ``handle_private`` take the parsed parameters and
return Kraken's ``result`` object or raise ``KrakenAPIError`` with Kraken's exact
string; anything unexpected becomes ``EGeneral:Internal error`` so garbage input can
never escape as another exception. Time is the injected clock's: every call first
catches the engine up to ``clock.time()`` (dead man's switch, expiries, the seeded
random walk, the other traders' orders (flow.py), fills of resting orders), so a clock shared with the bot moves both; a
manual clock's advance alone also fires a due dead man's switch, so an idle exchange
cancels at the trigger time.
One lock guards everything: the HTTP server calling in is threaded.
"""
from __future__ import annotations

import math
import threading
import weakref
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Callable, Iterator

from krakensim import errors as E
from krakensim.account_api import AccountMethods
from krakensim.accounts import DEFAULT_BALANCES, Account
from krakensim.clock import SystemClock
from krakensim.errors import KrakenAPIError, invalid_arguments
from krakensim.flow import BackgroundFlow, parse_rate
from krakensim.ids import IdGenerator
from krakensim.market import PairMarket
from krakensim.market_data_api import MarketDataMethods
from krakensim.matching import Matcher
from krakensim.orders import order_view, trade_view
from krakensim.pairs import PAIRS, resolve_asset, resolve_pair
from krakensim.trading_api import TradingMethods
from krakensim.trading_counter import TIERS, TradingCounter

SYSTEM_STATUSES = ("online", "maintenance", "cancel_only", "post_only")
# A pair's own trading status (AssetPairs ``status``), set apart from the system's: Kraken restricts one market
# (a listing, a delisting, an incident) while the others trade.
PAIR_STATUSES = ("online", "cancel_only", "post_only", "limit_only")
FUNDING_METHODS = frozenset({
    "Withdraw", "WithdrawInfo", "WithdrawMethods", "WithdrawAddresses", "WithdrawStatus", "WithdrawCancel",
    "WalletTransfer", "DepositMethods", "DepositAddresses", "DepositStatus", "AccountTransfer",
    "CreateSubaccount",
})
_MAX_CATCH_UP_STEPS = 3600  # a long idle (serve mode) skips ahead instead of replaying every second
FLOW_REPLAY_SECONDS = 60  # of a longer idle stretch, the other traders' arrivals of the last this many seconds only


def _weak_listener(exchange: "Exchange") -> Callable[[float], None]:
    """A clock listener that does not keep the exchange alive (clocks outlive simulators in tests)."""
    ref = weakref.ref(exchange)

    def listener(now: float) -> None:
        target = ref()
        if target is not None:
            target._on_clock_advance(now)
    return listener


def _volatility(value: Any) -> Decimal:
    volatility = Decimal(str(value))
    if not volatility.is_finite() or volatility < 0:
        raise ValueError(f"volatility must be a non-negative decimal, got {value!r}")
    return volatility


def _balances(raw: dict[str, Any]) -> dict[str, Decimal]:
    return {resolve_asset(a).id: Decimal(str(v)) for a, v in raw.items()}


class Exchange(MarketDataMethods, AccountMethods, TradingMethods):
    """Kraken's spot REST semantics for a set of accounts, deterministic from ``seed``.

    ``volatility`` is the per-second relative standard deviation of each pair's seeded
    random walk (``Decimal("0.0005")`` is lively); 0 means prices move only when told.
    ``flow_rate`` is the other traders' orders arriving each second on each pair (flow.py);
    0, the default, leaves the book to the accounts.
    ``trading_limits=False`` switches the per-pair trading counter off (not the open-order cap).
    """

    def __init__(self, seed: int = 42, clock: Any = None, tier: str = "starter",
                 balances: dict[str, Any] | None = None, volatility: Decimal | int | str = 0,
                 trading_limits: bool = True, flow_rate: float | int | str = 0) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}")
        self.seed = seed
        self.clock = clock if clock is not None else SystemClock()
        self.tier = tier
        self.volatility = _volatility(volatility)
        self.flow_rate = parse_rate(flow_rate)
        self.trading_limits = trading_limits
        self._lock = threading.RLock()
        self._account_seeds: dict[str, dict[str, Decimal]] = {
            "demo": _balances(balances) if balances is not None else dict(DEFAULT_BALANCES)}
        self._public: dict[str, Callable[[dict], dict]] = {
            "Time": self._time, "SystemStatus": self._system_status, "Assets": self._assets,
            "AssetPairs": self._asset_pairs, "Ticker": self._ticker, "OHLC": self._ohlc,
            "Depth": self._depth, "Trades": self._trades, "Spread": self._spread,
        }
        self._private: dict[str, Callable[[Account, dict], Any]] = {
            "Balance": self._balance, "BalanceEx": self._balance_ex, "TradeBalance": self._trade_balance,
            "OpenOrders": self._open_orders, "ClosedOrders": self._closed_orders,
            "QueryOrders": self._query_orders, "TradesHistory": self._trades_history,
            "QueryTrades": self._query_trades, "Ledgers": self._ledgers, "QueryLedgers": self._query_ledgers,
            "TradeVolume": self._trade_volume, "AddOrder": self._add_order, "AddOrderBatch": self._add_order_batch,
            "AmendOrder": self._amend_order, "EditOrder": self._edit_order, "CancelOrder": self._cancel_order,
            "CancelAll": self._cancel_all, "CancelAllOrdersAfter": self._cancel_all_after,
            "CancelOrderBatch": self._cancel_order_batch, "OpenPositions": self._open_positions,
            "OrderAmends": self._order_amends,
        }
        self._listeners: list[Callable[[], None]] = []
        self._init_state()
        self._attached = True
        on_advance = getattr(self.clock, "on_advance", None)
        if callable(on_advance):
            on_advance(_weak_listener(self))

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after anything that may have changed the market or an account (a request,
        a control, the clock): streams diff what they last sent against the engine, so one hook serves
        every channel. Called under the exchange lock; it must only take note, never call back in."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def detach_clock(self) -> None:
        """Stop reacting to the clock's advances (a closed simulator on a shared clock)."""
        self._attached = False

    def _on_clock_advance(self, now: float) -> None:
        """A manual clock moved: fire a due dead man's switch now, not at the next request.

        An idle exchange must still cancel at the trigger time (an operator reading the
        book after ``clock.advance`` sees the orders gone). Cheap when nothing is due.
        """
        if not self._attached:
            return
        with self._lock:
            if any(a.dms_trigger is not None and a.dms_trigger <= now for a in self.accounts.values()):
                self._catch_up()
                self._changed()

    def _init_state(self) -> None:
        now = self.clock.time()
        self._now = now
        self._step_time = math.floor(now)
        self.system_status = "online"
        self.pair_status: dict[str, str] = {}  # pair id -> its own status; absent: the system's
        previous = getattr(self, "ids", None)
        self.ids = previous.next_generation() if previous is not None else IdGenerator(self.seed)
        self.markets: dict[str, PairMarket] = {pid: PairMarket(spec, self.seed, now) for pid, spec in PAIRS.items()}
        self.accounts: dict[str, Account] = {n: Account(n, b) for n, b in self._account_seeds.items()}
        self.counter = TradingCounter(self.tier)
        self.matcher = Matcher(self.markets, self.accounts, self.ids)
        self.lookup_fault = None
        self.flow = BackgroundFlow(self.seed, self.markets, self.flow_rate, now)

    # ================================================================ entry points
    def handle_public(self, method: str, params: dict[str, Any] | None = None) -> dict:
        handler = self._public.get(method)
        if handler is None:
            raise KrakenAPIError(E.UNKNOWN_METHOD)
        return self._run(handler, params or {})

    def handle_private(self, account: str, method: str, params: dict[str, Any] | None = None) -> dict:
        if method in FUNDING_METHODS:
            raise KrakenAPIError(E.PERMISSION_DENIED)
        handler = self._private.get(method)
        if handler is None:
            raise KrakenAPIError(E.UNKNOWN_METHOD)
        with self._lock:
            acct = self.accounts.get(account)
            if acct is None:
                raise KrakenAPIError(E.INVALID_KEY)
            return self._run(lambda p: handler(acct, p), params or {})

    def _run(self, fn: Callable[[dict], dict], params: dict[str, Any]) -> dict:
        with self._lock:
            try:
                if not isinstance(params, dict):
                    raise invalid_arguments()
                self._catch_up()
                return fn(params)
            except KrakenAPIError:
                raise
            except Exception as exc:  # garbage in must come out as a Kraken error, never a traceback
                raise KrakenAPIError(E.INTERNAL_ERROR) from exc
            finally:
                self._changed()

    # ================================================================ time
    def _catch_up(self) -> None:
        """Bring the engine to the clock's now, one step a second, under the one lock before the next
        request: its work is bounded. Each second's random walk, maker fills and triggers are replayed
        (cheap; the price path is the same however often the exchange is touched), up to
        ``_MAX_CATCH_UP_STEPS``, after which the rest is skipped. The other traders' arrivals, the costly
        part, are replayed for the last ``FLOW_REPLAY_SECONDS`` of a longer idle stretch only: before
        them none arrive (their next arrivals are drawn from there on). Dead man's switches, expiries
        and scheduled starts happen at their own times."""
        now = self.clock.time()
        if now <= self._now:
            return
        target = math.floor(now)
        if self.flow_rate and now - self._now > FLOW_REPLAY_SECONDS:
            self.flow.reschedule(now - FLOW_REPLAY_SECONDS)
        steps = 0
        while self._step_time < target:
            if self.volatility == 0 and not self.flow_rate and \
                    not (self.system_status == "online" and self.matcher.has_crossing()):
                for market in self.markets.values():  # nothing moves: only the taken liquidity comes back
                    market.new_step()
                self._fire_events(now)
                self._step_time = target
                break
            t = self._step_time + 1
            self._run_flow(t)
            self._fire_events(t)
            self._step_time = t
            self._step_all(float(t))
            steps += 1
            if steps >= _MAX_CATCH_UP_STEPS:
                self._step_time = target
                self.flow.reschedule(target)
                break
        self._run_flow(now)
        self._fire_events(now)
        self._now = now

    def _step_all(self, t: float) -> None:
        online = self.system_status == "online"
        for market in self.markets.values():
            market.new_step()
            if self.volatility > 0:
                market.random_walk(self.volatility, t)
            if online:
                self.matcher.step(market, t)

    def _run_flow(self, until: float) -> None:
        """The other traders' arrivals due by ``until``, in time order; a pair trades them while it is online."""
        while (due := self.flow.pop_due(until)) is not None:
            t, pid = due
            trading = self.system_status == "online" and self.pair_status.get(pid, "online") == "online"
            self.flow.run(pid, t, self.markets[pid], self.matcher, trading)

    def _fire_events(self, until: float) -> None:
        """Dead man's switches, GTD expiries and scheduled starts due by ``until``."""
        for acct in self.accounts.values():
            if acct.dms_trigger is not None and acct.dms_trigger <= until:
                when = acct.dms_trigger
                acct.dms_trigger = None
                for o in list(acct.open.values()):
                    self._cancel(acct, o, when, "Dead man's switch", penalty=False)
            for o in list(acct.open.values()):
                if o.expiretm and o.expiretm <= until:
                    o.close("expired", o.expiretm, "Order expired")
                    acct.mark_closed(o)
                elif o.status == "pending" and o.starttm <= until and self.system_status == "online":
                    o.status = "open"
                    acct.changed()
                    self.matcher.arrive(o, max(o.starttm, self._now))

    # ================================================================ controls
    def catch_up(self) -> None:
        with self._lock:
            self._catch_up()
            self._changed()

    def advance(self, seconds: float) -> None:
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError("advance() needs a clock with advance(), e.g. ManualClock")
        advance(seconds)
        self.catch_up()

    def set_price(self, pair: str, price: Decimal | str) -> None:
        with self._lock:
            self._catch_up()
            market = self.markets[resolve_pair(pair).id]
            value = Decimal(str(price))
            if not value.is_finite() or value <= 0:
                raise ValueError("price must be positive")
            market.set_mid(value, self._now)
            if self.system_status == "online":
                self.matcher.step(market, self._now)
            self._changed()

    def shock(self, pair: str, pct: Decimal | str) -> None:
        with self._lock:
            market = self.markets[resolve_pair(pair).id]
            self.set_price(pair, market.mid * (1 + Decimal(str(pct)) / 100))

    def set_flow(self, rate: Any = None, volatility: Any = None) -> None:
        """The other traders' arrival rate (per second, each pair) and the random walk's volatility from now on
        (kept by ``reset``); None leaves a setting as it is."""
        with self._lock:
            self._catch_up()
            if volatility is not None:
                self.volatility = _volatility(volatility)
            if rate is not None:
                self.flow_rate = parse_rate(rate)
                self.flow.reschedule(self._now, self.flow_rate)

    def set_system_status(self, status: str) -> None:
        if status not in SYSTEM_STATUSES:
            raise ValueError(f"unknown system status {status!r}")
        with self._lock:
            self._catch_up()
            self.system_status = status
            self._changed()

    def set_pair_status(self, pair: str, status: str) -> None:
        if status not in PAIR_STATUSES:
            raise ValueError(f"unknown pair status {status!r}")
        with self._lock:
            self._catch_up()
            self.pair_status[resolve_pair(pair).id] = status
            self._changed()

    def set_liquidity(self, pair: str, volume: Decimal | str | None) -> None:
        with self._lock:
            self._catch_up()
            value = None if volume is None else Decimal(str(volume))
            if value is not None and value <= 0:
                raise ValueError("liquidity must be positive")
            self.markets[resolve_pair(pair).id].liquidity = value
            self._changed()

    def reset(self) -> None:
        """Back to the seeded initial state (same prices and books), at the clock's now.

        Ids come from the next generation: never one issued before the reset, yet the
        same for the same sequence of calls.
        """
        with self._lock:
            self._init_state()
            self._changed()

    @contextmanager
    def misbehaving(self, kind: str | None) -> Iterator[None]:
        """The exchange's own misbehaviour while it processes a request under fault ``kind``:
        ``wrong_fee`` charges every fill booked meanwhile twice the account's fee, ``filter_ignored``
        makes order lookups ignore the client order id they were given, ``filter_missed`` makes them
        find no order by it."""
        with self._lock:
            self.matcher.fee_factor = Decimal(2 if kind == "wrong_fee" else 1)
            self.lookup_fault = kind if kind in ("filter_ignored", "filter_missed") else None
            try:
                yield
            finally:
                self.matcher.fee_factor = Decimal(1)
                self.lookup_fault = None

    def set_trade_volume(self, volume: Decimal, account: str = "demo") -> None:
        """The account's 30-day volume (USD, quote currencies counted 1:1), as if it had traded that much
        before: its fee tier from now on. It grows with every fill, as Kraken's does within the month."""
        with self._lock:
            if not volume >= 0:
                raise ValueError("volume must be a non-negative amount")
            self.accounts[account].volume = Decimal(volume)

    def set_tier(self, tier: str) -> None:
        """The account tier from now on: the trading counter's thresholds and decay (emptied)."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}")
        with self._lock:
            self.tier = tier
            self.counter = TradingCounter(tier)

    def create_account(self, name: str, balances: dict[str, Any] | None = None) -> None:
        with self._lock:
            seeds = _balances(balances or {})
            self._account_seeds[name] = seeds
            self.accounts[name] = Account(name, seeds)

    # ---------------------------------------------------------------- views
    def orders(self, account: str = "demo") -> list[dict]:
        with self._lock:
            self._catch_up()
            return [{**order_view(o, with_trades=True), "txid": o.txid} for o in self.accounts[account].orders.values()]

    def trades(self, account: str = "demo") -> list[dict]:
        with self._lock:
            self._catch_up()
            return [{**trade_view(t, with_ledgers=True), "txid": t.txid} for t in self.accounts[account].trades.values()]

    def balances(self, account: str = "demo") -> dict[str, Decimal]:
        with self._lock:
            self._catch_up()
            return dict(self.accounts[account].balances)

    def holds(self, account: str = "demo") -> dict[str, Decimal]:
        with self._lock:
            self._catch_up()
            return {a: v for a, v in self.accounts[account].holds().items() if v}

    def counters(self, account: str = "demo") -> dict[str, dict[str, float]]:
        with self._lock:
            self._catch_up()
            return self.counter.snapshot(account, self._now)

    def dead_mans_switch(self, account: str = "demo") -> dict:
        with self._lock:
            self._catch_up()
            trigger = self.accounts[account].dms_trigger
            return {"armed": trigger is not None, "trigger_time": trigger}

    def public_trades(self, pair: str, start: float, end: float) -> list[dict]:
        with self._lock:
            self._catch_up()
            return self.markets[resolve_pair(pair).id].public_trades(start, end)

    def mid(self, pair: str) -> Decimal:
        with self._lock:
            self._catch_up()
            return self.markets[resolve_pair(pair).id].mid
