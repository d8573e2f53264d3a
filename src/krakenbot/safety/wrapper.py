"""SafetyWrapper: the one door between the bot (steps, CLI, orchestrator) and the exchange.

Why one door: every order passes the same gates in the same order, so a rule cannot be
skipped by a new caller. ``submit_order`` runs: mode -> kill switch -> circuit breaker
-> exchange status -> market data freshness -> canary rules -> risk limits -> executor
-> audit, and returns an ``OrderOutcome`` that names every reason it stopped. The
client underneath carries the ``EndpointGuard`` as well, so even a direct client call
is checked against the mode's allowlist and audited.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from decimal import ROUND_UP, Decimal
from enum import Enum
from typing import Any, Mapping

from krakenbot.errors import CircuitOpenError, EndpointNotAllowed, KrakenError, LocalRefusal
from krakenbot.models import OrderRequest, OrderType, PairInfo, Side, Ticker
from krakenbot.risk import Denial, DenialCode, RiskSnapshot, TradingState
from krakenbot.safety import allowlist
from krakenbot.safety.audit import AuditLog
from krakenbot.safety.dead_mans_switch import DeadMansSwitch
from krakenbot.safety.guard import EndpointGuard
from krakenbot.safety.kill_switch import KillSwitch
from krakenbot.safety.modes import LiveTradingRefused, TradingMode, live_refusal_reason

log = logging.getLogger(__name__)

BALANCE_TTL_S = 10.0  # a pre-check only: Kraken is the final judge of funds
STATUS_TTL_S = 0.0  # read before every order/cancel: a stale "online" would send orders into maintenance
PAIRS_TTL_S = 3600.0


class SafetyCode(str, Enum):
    """Denials decided by the wrapper itself (the risk package has its own ``DenialCode``)."""

    MODE = "MODE"
    HALTED = "HALTED"
    MARKET_STATUS = "MARKET_STATUS"
    CIRCUIT_OPEN = "CIRCUIT_OPEN"
    CANARY_RULES = "CANARY_RULES"
    EXCHANGE_ERROR = "EXCHANGE_ERROR"
    INVALID_ORDER = "INVALID_ORDER"


@dataclass(frozen=True)
class OrderOutcome:
    """What became of one order request. ``accepted``: passed every gate and the exchange
    took it (or, in paper mode, validated it); ``placed``: a real order exists on the exchange."""

    accepted: bool
    placed: bool
    cl_ord_id: str | None = None
    txid: str | None = None
    status: str | None = None
    denials: list[Denial] = field(default_factory=list)
    reason: str = ""
    validated_only: bool = False

    @property
    def codes(self) -> list[str]:
        return [getattr(d.code, "value", str(d.code)) for d in self.denials]

    @property
    def refused(self) -> bool:
        return not self.accepted


@dataclass(frozen=True)
class ConnectionReport:
    online: bool
    system_status: str | None
    authenticated: bool
    balances: dict[str, Decimal]
    error: str | None = None


@dataclass(frozen=True)
class KillReport:
    halted: bool
    cancelled: int
    reason: str
    problems: tuple[str, ...] = ()


class SafetyWrapper:
    def __init__(self, *, settings: Any, client: Any, store: Any, clock: Any, guard: EndpointGuard,
                 audit: AuditLog, risk: Any, executor: Any, positions: Any, reconciler: Any = None,
                 market_data: Any = None, breaker: Any = None, protective: Any = None,
                 kill_switch: KillSwitch | None = None, scrub: Any = None) -> None:
        self.settings = settings
        self.client = client
        self.store = store
        self.clock = clock
        self.guard = guard
        self.audit = audit
        self.risk = risk
        self.executor = executor
        self.positions = positions
        self.reconciler = reconciler
        self.market_data = market_data
        self.breaker = breaker
        self.protective = protective
        self.kill_switch = kill_switch or KillSwitch(getattr(settings, "kill_switch_file", None), clock)
        self.dead_mans_switch = DeadMansSwitch(self._cancel_all_orders_after, clock)
        self._scrub = scrub or (lambda text: text)
        self._tickers: dict[str, tuple[Ticker, float]] = {}
        self._balances: tuple[Any, ...] | None = None  # (totals, read at, free)
        self._status: tuple[str, float] | None = None
        self._pairs: tuple[dict[str, PairInfo], float] | None = None
        self.status_ttl = STATUS_TTL_S
        self.guard.order_blocker = self._order_blocker

    # -- mode ----------------------------------------------------------------------------------
    @property
    def mode(self) -> TradingMode:
        return self.guard.mode

    def set_mode(self, mode: TradingMode | str, live_flag: bool = False, env: Mapping[str, str] | None = None) -> TradingMode:
        """Switch mode. LIVE needs KRAKEN_LIVE_TRADING=yes (``env`` if given, else the settings)
        and ``live_flag``; otherwise ``LiveTradingRefused`` and the mode stays as it was."""
        wanted = TradingMode.parse(mode)
        if wanted is TradingMode.LIVE:
            if env is not None:
                env_ok = str(env.get("KRAKEN_LIVE_TRADING", "")).strip().lower() == "yes"
            else:
                env_ok = bool(getattr(self.settings, "live_trading_enabled", False))
            refusal = live_refusal_reason(env_ok, bool(live_flag))
            if refusal:
                self.audit.record("mode", allowed=False, outcome="refused", reason=refusal, requested=wanted.value)
                raise LiveTradingRefused(refusal)
        old = self.guard.mode
        self.guard.mode = wanted
        self.audit.record("mode", allowed=True, outcome=wanted.value, reason=f"{old.value} -> {wanted.value}",
                          requested=wanted.value)
        return wanted

    def allowed_endpoints(self) -> list[str]:
        return sorted(e for e in allowlist.KNOWN_ENDPOINTS if allowlist.check(self.mode, e).allowed)

    def refused_endpoints(self) -> list[str]:
        return sorted(e for e in allowlist.KNOWN_ENDPOINTS if not allowlist.check(self.mode, e).allowed)

    # -- reads ----------------------------------------------------------------------------------
    def check_connection(self) -> ConnectionReport:
        """Connectivity (SystemStatus), then authentication (Balance); one clear error."""
        try:
            status = self.system_status(max_age=0)
        except KrakenError as exc:
            return ConnectionReport(False, None, False, {}, self._scrub(f"exchange unreachable: {exc}"))
        try:
            balances = self.balances(max_age=0)
        except KrakenError as exc:
            return ConnectionReport(status == "online", status, False, {}, self._scrub(self._explain(exc)))
        return ConnectionReport(status == "online", status, True, balances, None)

    def system_status(self, max_age: float | None = None) -> str:
        max_age = self.status_ttl if max_age is None else max_age
        now = self.clock.time()
        if self._status is not None and max_age > 0 and now - self._status[1] <= max_age:
            return self._status[0]
        status = self.client.market.system_status().status
        self._status = (status, now)
        return status

    def balances(self, max_age: float = 0.0) -> dict[str, Decimal]:
        now = self.clock.time()
        if self._balances is not None and max_age > 0 and now - self._balances[1] <= max_age:
            return dict(self._balances[0])
        balances = dict(self.client.account.balance())
        self._balances = None  # the free amounts must be re-read with BalanceEx
        return dict(balances)

    def pair_info(self, pair: str) -> PairInfo:
        if self.market_data is not None and hasattr(self.market_data, "pair_info"):
            return self.market_data.pair_info(pair)
        now = self.clock.time()
        if self._pairs is None or now - self._pairs[1] > PAIRS_TTL_S:
            pairs = self._fetch_pairs()
            index: dict[str, PairInfo] = {}
            for info in pairs.values():
                for name in (info.name, info.altname, info.wsname, info.wsname.replace("/", "")):
                    index[name.upper()] = info
            self._pairs = (index, now)
        key = pair.upper()
        info = self._pairs[0].get(key) or self._pairs[0].get(key.replace("/", ""))
        if info is None:
            from krakenbot.errors import UnknownPairError

            raise UnknownPairError(f"unknown pair {pair}", ("EQuery:Unknown asset pair",), "AssetPairs")
        return info

    def _fetch_pairs(self) -> dict[str, PairInfo]:
        if self.market_data is not None and hasattr(self.market_data, "asset_pairs"):
            return self.market_data.asset_pairs()
        return self.client.market.asset_pairs()

    def ticker(self, pair: str) -> Ticker:
        """The current ticker (through the market data cache when there is one); remembered
        with its time so staleness can be judged when the exchange stops answering."""
        source = self.market_data if self.market_data is not None and hasattr(self.market_data, "ticker") else self.client.market
        ticker = source.ticker(pair)
        fetched = ticker.fetched_at or self.clock.time()
        self._tickers[pair.upper()] = (ticker, fetched)
        return ticker

    def last_ticker(self, pair: str) -> Ticker | None:
        entry = self._tickers.get(pair.upper())
        return entry[0] if entry else None

    def market_data_age(self, pair: str) -> float | None:
        """Seconds since the pair's market data last came from the exchange (None: never)."""
        if self.market_data is not None and hasattr(self.market_data, "last_update"):
            last = self.market_data.last_update(pair)
            return None if last is None else max(0.0, self.clock.time() - last)
        entry = self._tickers.get(pair.upper())
        return None if entry is None else max(0.0, self.clock.time() - entry[1])

    def market_data_problem(self, pair: str, refresh: bool = True) -> str | None:
        """None when the pair's price is fresh enough to trade on, else why not (STALE_DATA)."""
        if refresh:
            try:
                self.ticker(pair)
            except KrakenError as exc:
                log.info("ticker refresh for %s failed: %s", pair, exc)
        age = self.market_data_age(pair)
        limit = float(getattr(self.settings, "stale_data_seconds", 30))
        if age is None:
            return f"STALE_DATA: no market data for {pair}"
        if age > limit:
            return f"STALE_DATA: last price for {pair} is {age:.0f} s old (limit {limit:.0f} s)"
        return None

    def order_book(self, pair: str, count: int = 100):
        source = self.market_data if self.market_data is not None and hasattr(self.market_data, "order_book") else None
        if source is not None:
            return source.order_book(pair, count)
        return self.client.market.depth(pair, count=count)

    def candles(self, pair: str, interval: int = 1, since: int | None = None):
        if self.market_data is not None and hasattr(self.market_data, "candles"):
            return self.market_data.candles(pair, interval, since=since)
        return list(self.client.market.ohlc(pair, interval=interval, since=since).candles)

    def history(self, pair: str, interval: int, start: int, end: int):
        if self.market_data is None or not hasattr(self.market_data, "history"):
            raise NotImplementedError("history needs the market data service")
        return self.market_data.history(pair, interval, start, end)

    def position(self, pair: str) -> tuple[Decimal, Decimal | None]:
        """(base volume the bot holds from its own fills, average entry incl. fees)."""
        pos = self.positions.position(self._pair_id(pair))
        return pos.volume, pos.average_entry

    # -- orders ---------------------------------------------------------------------------------
    def submit_order(self, pair: str, side: Side | str, ordertype: OrderType | str, volume: Decimal | str,
                     price: Decimal | str | None = None, *, price2: Decimal | str | None = None,
                     post_only: bool = False, leverage: Any = None, origin: str = "operator") -> OrderOutcome:
        try:
            side = Side(getattr(side, "value", side))
            ordertype = OrderType(getattr(ordertype, "value", ordertype))
            volume = Decimal(str(volume))
            price = None if price is None else Decimal(str(price))
            price2 = None if price2 is None else Decimal(str(price2))
        except (ValueError, ArithmeticError) as exc:
            return self._refuse(pair, SafetyCode.INVALID_ORDER, f"malformed order: {exc}", origin, {})
        summary = {"pair": pair, "type": side.value, "ordertype": ordertype.value, "volume": volume,
                   "price": price, "oflags": "post" if post_only else ""}

        # 1. mode
        if self.mode is TradingMode.READ_ONLY:
            return self._refuse(pair, SafetyCode.MODE, "read-only mode places no orders", origin, summary)
        # 2. kill switch (command or file), then the risk trading state
        blocked = self._order_blocker()
        if blocked:
            return self._refuse(pair, SafetyCode.HALTED, blocked, origin, summary)
        # 3. circuit breaker: nothing is sent while it is open
        if self._breaker_open():
            return self._refuse(pair, SafetyCode.CIRCUIT_OPEN, "circuit breaker is open: the exchange is failing",
                                origin, summary)
        # 4. exchange status
        try:
            status = self.system_status()
        except CircuitOpenError as exc:
            return self._refuse(pair, SafetyCode.CIRCUIT_OPEN, str(exc), origin, summary)
        except KrakenError as exc:
            return self._refuse(pair, SafetyCode.MARKET_STATUS, f"exchange status unknown: {exc}", origin, summary)
        if status in ("maintenance", "cancel_only") or status not in ("online", "post_only"):
            return self._refuse(pair, SafetyCode.MARKET_STATUS, f"exchange is in {status} mode: no new orders",
                                origin, summary)
        if status == "post_only" and not (post_only and ordertype is OrderType.LIMIT):
            return self._refuse(pair, SafetyCode.MARKET_STATUS,
                                "exchange is in post_only mode: only post-only limit orders", origin, summary)
        # 5. market data and pair rules
        try:
            info = self.pair_info(pair)
        except KrakenError as exc:
            code = SafetyCode.CIRCUIT_OPEN if isinstance(exc, CircuitOpenError) else SafetyCode.EXCHANGE_ERROR
            return self._refuse(pair, code, f"pair rules unavailable: {exc}", origin, summary)
        stale = self.market_data_problem(pair, refresh=True)
        if stale:
            return self._refuse(pair, DenialCode.STALE_MARKET_DATA, stale, origin, summary)
        ticker = self.last_ticker(pair)
        mid = ticker.mid if ticker is not None else None
        # 6. canary rules
        if self.mode is TradingMode.CANARY:
            problem = self._canary_problem(info, side, ordertype, volume, price, post_only, mid)
            if problem:
                return self._refuse(pair, SafetyCode.CANARY_RULES, problem, origin, summary)
            post_only = True
        request = OrderRequest(pair=info.name, side=side, ordertype=ordertype, volume=volume, price=price,
                               price2=price2, post_only=post_only, validate=self.mode is TradingMode.PAPER)
        if leverage not in (None, "", "none"):
            object.__setattr__(request, "leverage", str(leverage))  # the risk check reads it; never sent
        # 7. risk limits
        risk_info = info
        if (info.status == "post_only" and post_only and ordertype is OrderType.LIMIT) or \
                (info.status == "limit_only" and ordertype is OrderType.LIMIT):
            # The pair's restricted state admits exactly this kind of order (checked above for
            # post_only); the risk check only knows "online", so show it the state that applies.
            risk_info = replace(info, status="online")
        try:
            snapshot = self._snapshot(risk_info, mid, pair)
        except KrakenError as exc:
            code = SafetyCode.CIRCUIT_OPEN if isinstance(exc, CircuitOpenError) else SafetyCode.EXCHANGE_ERROR
            return self._refuse(pair, code, f"cannot read the account for the risk check: {exc}", origin, summary)
        decision = self.risk.check(request, snapshot)
        denials = list(decision.denials)
        if self.mode is TradingMode.CANARY:
            # The collar guards against trading at a bad price; a canary is post-only on the
            # passive side, far from the market by design, so it cannot trade through it.
            denials = [d for d in denials if d.code is not DenialCode.PRICE_COLLAR]
        if denials:
            reason = "; ".join(f"{d.code.value}: {d.detail}" for d in denials)
            self.audit.record("order", endpoint="AddOrder", allowed=False, outcome="denied", reason=reason,
                              params=summary, origin=origin, codes=[d.code.value for d in denials])
            return OrderOutcome(False, False, denials=denials, reason=reason)
        # 8. execute
        outcome = self._execute(request, origin, summary)
        # 9. canary: cancel at once after acknowledgement
        if self.mode is TradingMode.CANARY and outcome.placed and outcome.cl_ord_id:
            self._cancel_canary(outcome)
        self._balances = None
        return outcome

    def canary_order(self, pair: str, side: Side | str = Side.BUY) -> OrderOutcome:
        """Build and submit the one order canary mode allows: post-only, far, minimal."""
        side = Side(getattr(side, "value", side))
        info = self.pair_info(pair)
        ticker = self.ticker(pair)
        offset = Decimal(getattr(self.settings, "canary_offset_pct", Decimal(10))) / 100
        raw = ticker.mid * (1 - offset) if side is Side.BUY else ticker.mid * (1 + offset)
        price = info.round_price(raw)
        # stay on the passive side of the offset after rounding
        while side is Side.BUY and price > ticker.mid * (1 - offset):
            price -= info.tick_size
        while side is Side.SELL and price < ticker.mid * (1 + offset):
            price += info.tick_size
        volume = self._canary_volume(info, price)
        return self.submit_order(pair, side, OrderType.LIMIT, volume, price, post_only=True, origin="canary")

    def _canary_volume(self, info: PairInfo, price: Decimal) -> Decimal:
        """The smallest volume the pair and our own minimums allow at ``price``."""
        step = Decimal(1).scaleb(-info.lot_decimals)
        floor_notional = max(info.costmin, Decimal(getattr(self.settings, "min_eur_for_trade", 0)))
        by_cost = (floor_notional / price).quantize(step, rounding=ROUND_UP) if price > 0 else info.ordermin
        return max(info.ordermin, Decimal(getattr(self.settings, "min_trade_volume", 0)), by_cost)

    def _canary_problem(self, info: PairInfo, side: Side, ordertype: OrderType, volume: Decimal,
                        price: Decimal | None, post_only: bool, mid: Decimal | None) -> str | None:
        if ordertype is not OrderType.LIMIT or price is None:
            return "canary mode places only limit orders"
        if not post_only:
            return "canary mode places only post-only orders"
        if mid is None:
            return "canary mode needs a market price"
        offset = Decimal(getattr(self.settings, "canary_offset_pct", Decimal(10)))
        distance = (mid - price) / mid * 100 if side is Side.BUY else (price - mid) / mid * 100
        if distance < offset:
            return (f"canary {side.value} at {price} is {distance:.2f}% from mid {mid} on the passive side; "
                    f"needs at least {offset}%")
        minimal = self._canary_volume(info, price)
        if volume > minimal:
            return f"canary volume {volume} is above the minimal volume {minimal}"
        cap = Decimal(getattr(self.settings, "canary_max_eur", Decimal(10)))
        if volume * price > cap:
            return f"canary notional {volume * price} is above the cap {cap}"
        return None

    def _ensure_baseline(self) -> None:
        """Before the bot's first real order, remember the exchange balances: every later
        balance check is this baseline plus the bot's own fills."""
        if self.positions.baseline() is not None or self.store.fills():
            return
        if self.reconciler is not None and hasattr(self.reconciler, "set_baseline"):
            self.reconciler.set_baseline()
        else:
            self.positions.set_baseline(self.client.account.balance(), as_of=self.clock.time())
        self.audit.record("baseline", outcome="taken", reason="balances before the bot's first order")

    def _execute(self, request: OrderRequest, origin: str, summary: dict) -> OrderOutcome:
        try:
            if not request.validate:
                self._ensure_baseline()
            if request.validate:
                with self.guard.validate_only():
                    result = self.executor.place(request, reason=origin)
            else:
                result = self.executor.place(request, reason=origin)
        except EndpointNotAllowed as exc:
            return self._refuse(request.pair, SafetyCode.MODE, str(exc), origin, summary)
        except CircuitOpenError as exc:
            return self._refuse(request.pair, SafetyCode.CIRCUIT_OPEN, str(exc), origin, summary)
        except LocalRefusal as exc:  # e.g. an earlier order on the pair has an unknown outcome
            return self._refuse(request.pair, DenialCode.UNKNOWN_ORDER_OUTSTANDING, str(exc), origin, summary)
        except KrakenError as exc:
            return self._refuse(request.pair, SafetyCode.EXCHANGE_ERROR, self._explain(exc), origin, summary)
        status = str(getattr(result.status, "value", result.status))
        accepted = bool(result.accepted)
        reason = "" if accepted else self._scrub(str(result.reason or "rejected"))
        outcome_text = "validated" if result.validated_only else status.lower()
        self.audit.record("order", endpoint="AddOrder", allowed=True, outcome=outcome_text, reason=reason,
                          params=summary, origin=origin, cl_ord_id=result.cl_ord_id, txid=result.txid)
        denials = [] if accepted else [Denial(SafetyCode.EXCHANGE_ERROR, reason)]  # type: ignore[arg-type]
        return OrderOutcome(accepted, bool(result.placed), result.cl_ord_id, result.txid, status, denials, reason,
                            bool(result.validated_only))

    def _cancel_canary(self, outcome: OrderOutcome) -> None:
        result = self.cancel_order(outcome.cl_ord_id, origin="canary")
        if not result.accepted:
            log.warning("canary order %s could not be cancelled at once: %s", outcome.cl_ord_id, result.reason)

    def cancel_order(self, cl_ord_id: str, origin: str = "operator") -> OrderOutcome:
        """Cancels pass risk always, but not the mode's allowlist, and never in maintenance."""
        problem = self._cancel_problem()
        if problem is not None:
            code, reason = problem
            self.audit.record("cancel", endpoint="CancelOrder", allowed=False, outcome="refused", reason=reason,
                              origin=origin, cl_ord_id=cl_ord_id)
            return OrderOutcome(False, False, cl_ord_id, denials=[Denial(code, reason)], reason=reason)  # type: ignore[arg-type]
        try:
            result = self.executor.cancel(cl_ord_id)
        except KrakenError as exc:
            reason = self._explain(exc)
            code = SafetyCode.MODE if isinstance(exc, EndpointNotAllowed) else SafetyCode.EXCHANGE_ERROR
            self.audit.record("cancel", endpoint="CancelOrder", allowed=not isinstance(exc, EndpointNotAllowed),
                              outcome="error", reason=reason, origin=origin, cl_ord_id=cl_ord_id)
            return OrderOutcome(False, False, cl_ord_id, denials=[Denial(code, reason)], reason=reason)  # type: ignore[arg-type]
        except KeyError:
            reason = f"unknown order {cl_ord_id}"
            self.audit.record("cancel", endpoint="CancelOrder", allowed=False, outcome="unknown", reason=reason,
                              origin=origin, cl_ord_id=cl_ord_id)
            return OrderOutcome(False, False, cl_ord_id, denials=[Denial(SafetyCode.INVALID_ORDER, reason)],  # type: ignore[arg-type]
                                reason=reason)
        status = str(result.status)
        cancelled = status in ("CANCELED", "PENDING_CANCEL")
        reason = "" if cancelled else self._scrub(f"order is {status}" + (f": {result.reason}" if result.reason else ""))
        self.audit.record("cancel", endpoint="CancelOrder", allowed=True, outcome=status.lower(), reason=reason,
                          origin=origin, cl_ord_id=cl_ord_id)
        self._balances = None
        return OrderOutcome(cancelled, False, cl_ord_id, result.txid, status, reason=reason)

    def cancel_all(self, origin: str = "operator") -> int:
        problem = self._cancel_problem()
        if problem is not None:
            self.audit.record("cancel_all", endpoint="CancelAll", allowed=False, outcome="refused",
                              reason=problem[1], origin=origin)
            raise EndpointNotAllowed(problem[1], (), "CancelAll")
        count = int(self.client.trading.cancel_all())
        self.audit.record("cancel_all", endpoint="CancelAll", allowed=True, outcome=f"cancelled {count}",
                          origin=origin)
        self._balances = None
        self._refresh_quietly()
        return count

    def _cancel_problem(self) -> tuple[Any, str] | None:
        verdict = allowlist.check(self.mode, "CancelOrder")
        if not verdict.allowed:
            return SafetyCode.MODE, verdict.reason
        if self._breaker_open():
            return SafetyCode.CIRCUIT_OPEN, "circuit breaker is open: the exchange is failing"
        try:
            status = self.system_status()
        except KrakenError:
            return None  # an unknown status must not stop a cancel: try it
        if status == "maintenance":
            return SafetyCode.MARKET_STATUS, "exchange is in maintenance: no cancels are attempted"
        return None

    def open_orders(self) -> list[Any]:
        """The bot's own orders that are (or may be) on the book, from the store."""
        from krakenbot.execution.order_state import ACTIVE_STATUSES

        return self.store.orders(statuses=[s.value for s in ACTIVE_STATUSES])

    def order(self, cl_ord_id: str) -> Any:
        return self.store.get_order(cl_ord_id)

    def refresh_orders(self) -> Any:
        """Bring the store's orders up to date with the exchange (and resolve UNKNOWN ones)."""
        if self.reconciler is not None and hasattr(self.reconciler, "refresh"):
            return self.reconciler.refresh()
        return self.executor.refresh()

    def reconcile(self) -> Any:
        """Compare the bot's fills, open orders and balances with the exchange's."""
        if self.reconciler is not None:
            result = self.reconciler.reconcile()
        else:
            self.refresh_orders()
            result = self.positions.reconcile(self.client.account.balance(), self.client.account.open_orders(),
                                              self.client.account.trades_history(), now=self.clock.time())
        if result is not None:
            kinds = sorted({d.kind for d in result.discrepancies})
            self.audit.record("reconcile", outcome="clean" if result.clean else "discrepancies",
                              reason=", ".join(kinds), discrepancies=len(result.discrepancies))
        return result

    def recover(self) -> Any:
        """At start-up: settle orders whose outcome was never learnt (by ``cl_ord_id``, never
        by re-sending), catch up active orders and fills. Reads only, so safe in every mode."""
        if self.reconciler is None or not hasattr(self.reconciler, "recover"):
            return None
        report = self.reconciler.recover()
        self.audit.record("recover", outcome="unknown left" if report.still_unknown else "ok",
                          resolved=list(report.resolved), still_unknown=list(report.still_unknown),
                          adopted=list(report.adopted), imported_fills=report.imported_fills)
        return report

    def _refresh_quietly(self) -> None:
        try:
            self.refresh_orders()
        except Exception as exc:  # the cancel succeeded; a stale local view is fixed next cycle
            log.warning("refresh after cancel failed: %s", exc)

    # -- protective exits --------------------------------------------------------------------------
    def check_protective_exits(self) -> list[OrderOutcome]:
        """Bot-side stop-loss / take-profit: a market sell when a level is crossed."""
        if self.protective is None:
            return []
        outcomes = []
        for pair in getattr(self.settings, "pairs", ()):
            ticker = self.last_ticker(pair)
            if ticker is None:
                continue
            try:
                info = self.pair_info(pair)
            except KrakenError:
                continue
            signal = self.protective.check(self.positions.position(info.name), ticker.bid, info)
            if signal is None:
                continue
            self.audit.record("protective_exit", outcome=signal.kind, reason=f"price {signal.price} crossed {signal.level}")
            intent = signal.intent
            outcomes.append(self.submit_order(pair, intent.side, intent.ordertype, intent.volume, origin=signal.kind))
        return outcomes

    # -- kill switch ------------------------------------------------------------------------------
    def kill(self, reason: str = "kill switch", actor: str = "operator") -> KillReport:
        """Halt at once (no new orders), then cancel every open order. Cancels are still
        subject to the mode (read-only/paper place nothing, so they cancel nothing)."""
        self.kill_switch.engage(reason)
        self.risk.halt(f"kill switch: {reason}", actor=actor)
        self.audit.record("kill", outcome="halted", reason=reason, actor=actor)
        problems: list[str] = []
        cancelled = 0
        try:
            cancelled = self.cancel_all(origin="kill")
        except KrakenError as exc:
            problems.append(self._explain(exc))
            self.audit.record("kill", outcome="cancel_failed", reason=self._explain(exc), actor=actor)
        return KillReport(True, cancelled, reason, tuple(problems))

    def resume(self, reason: str = "operator resumed", actor: str = "operator") -> None:
        """Refused while the kill file exists (``KillSwitchEngaged``)."""
        try:
            self.kill_switch.release()
        except Exception as exc:
            self.audit.record("resume", allowed=False, outcome="refused", reason=str(exc), actor=actor)
            raise
        self.risk.resume(reason, actor=actor)
        self.audit.record("resume", allowed=True, outcome="active", reason=reason, actor=actor)

    def _order_blocker(self) -> str | None:
        reason = self.kill_switch.reason
        if reason:
            return f"kill switch engaged: {reason}"
        if self.risk is not None and self.risk.trading_state is not TradingState.ACTIVE:
            return f"trading is {self.risk.trading_state.value}"
        return None

    # -- dead man's switch --------------------------------------------------------------------------
    def _cancel_all_orders_after(self, timeout: int) -> Any:
        result = self.client.trading.cancel_all_orders_after(int(timeout))
        self.audit.record("dead_mans_switch", endpoint="CancelAllOrdersAfter", allowed=True,
                          outcome="armed" if timeout else "disarmed", timeout=int(timeout))
        return result

    def arm_dead_mans_switch(self, timeout: int | None = None) -> Any:
        timeout = int(timeout if timeout is not None else getattr(self.settings, "dead_mans_switch_seconds", 60))
        return self.dead_mans_switch.arm(timeout)

    def keep_alive(self) -> bool:
        """Re-arm the dead man's switch when due (a third of its timeout)."""
        return self.dead_mans_switch.keep_alive()

    def disarm_dead_mans_switch(self) -> Any:
        return self.dead_mans_switch.disarm()

    # -- raw calls, audit, status ----------------------------------------------------------------------
    def call(self, endpoint: str, **params: Any) -> dict:
        """A raw exchange call through the allowlist; refused ones raise ``EndpointNotAllowed``
        before anything is sent. Paper mode forces ``validate=true`` on AddOrder."""
        name = allowlist.normalise(endpoint)
        if name == "AddOrder" and self.mode is TradingMode.PAPER:
            params["validate"] = "true"
        if name in allowlist.PUBLIC:
            return self.client.public(name, **params)
        if name == "AddOrder" and self.mode is TradingMode.PAPER:
            with self.guard.validate_only():
                return self.client.private(name, **params)
        return self.client.private(name, **params)

    def audit_log(self) -> list[dict]:
        return self.audit.rows()

    def record_cycle(self, report: Any) -> None:
        skipped = getattr(report, "skipped", {}) or {}
        self.audit.record("cycle", outcome="skipped" if skipped else ("error" if getattr(report, "errors", None) else "ok"),
                          reason="; ".join(f"{p}: {why}" for p, why in skipped.items()),
                          intents=getattr(report, "intents", 0), placed=getattr(report, "placed", 0),
                          refused=getattr(report, "refused", 0), errors=list(getattr(report, "errors", []) or []))

    def status(self) -> dict[str, Any]:
        breaker_state = getattr(getattr(self.breaker, "state", None), "value", None)
        day = self.risk.today() if self.risk is not None else None
        return {
            "mode": self.mode.value,
            "trading_state": self.risk.trading_state.value if self.risk is not None else None,
            "kill_switch": {"engaged": self.kill_switch.engaged, "reason": self.kill_switch.reason,
                            "file": str(self.kill_switch.file_path) if self.kill_switch.file_path else None},
            "breaker": breaker_state,
            "day": day,
            "daily_trades": self.risk.daily_trades() if self.risk is not None else None,
            "daily_realised_pnl": str(self.risk.daily_realised_pnl()) if self.risk is not None else None,
            "open_orders": len(self.open_orders()),
            "dead_mans_switch": {"armed": self.dead_mans_switch.armed, "timeout": self.dead_mans_switch.timeout,
                                 "next_due": self.dead_mans_switch.next_due},
        }

    # -- internals ----------------------------------------------------------------------------------
    def _breaker_open(self) -> bool:
        state = getattr(self.breaker, "state", None)
        return getattr(state, "value", state) == "open"

    def _pair_id(self, pair: str) -> str:
        try:
            return self.pair_info(pair).name
        except KrakenError:
            return pair

    def _snapshot(self, info: PairInfo, mid: Decimal | None, pair: str) -> RiskSnapshot:
        balances, free = self._balances_and_free()
        portfolio = None
        if mid is not None:
            portfolio = balances.get(info.quote, Decimal(0)) + balances.get(info.base, Decimal(0)) * mid
        active = self.open_orders()
        unknown = frozenset(o.pair for o in active if o.status == "UNKNOWN")
        age = self.market_data_age(pair)
        return RiskSnapshot(
            pair_info=info, mid_price=mid, market_data_age_s=None if age is None else Decimal(str(round(age, 3))),
            position_base=self.positions.position(info.name).volume, portfolio_value=portfolio,
            free_balances=free, open_orders=len(active), unknown_order_pairs=unknown,
        )

    def _balances_and_free(self) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        """Totals and what is free to use. BalanceEx gives Kraken's own holds (every open
        order, not only ours); without it, our open orders' holds are subtracted."""
        now = self.clock.time()
        if self._balances is not None and len(self._balances) == 3 and now - self._balances[1] <= BALANCE_TTL_S:
            return dict(self._balances[0]), dict(self._balances[2])  # type: ignore[misc]
        balance_ex = getattr(self.client.account, "balance_ex", None)
        if callable(balance_ex):
            lines = balance_ex()
            totals = {asset: line.balance for asset, line in lines.items()}
            free = {asset: line.free for asset, line in lines.items()}
        else:
            totals = dict(self.client.account.balance())
            holds = self._holds()
            free = {asset: amount - holds.get(asset, Decimal(0)) for asset, amount in totals.items()}
        self._balances = (totals, now, free)  # type: ignore[assignment]
        return dict(totals), dict(free)

    def _holds(self) -> dict[str, Decimal]:
        """Funds the bot's own open orders hold (Kraken holds size plus fee on buys)."""
        holds: dict[str, Decimal] = {}
        for order in self.open_orders():
            try:
                info = self.pair_info(order.pair)
            except KrakenError:
                continue
            remaining = order.volume - order.volume_executed
            if order.side == "buy" and order.price is not None:
                amount = remaining * order.price * (1 + info.fee_taker / 100)
                holds[info.quote] = holds.get(info.quote, Decimal(0)) + amount
            elif order.side == "sell":
                holds[info.base] = holds.get(info.base, Decimal(0)) + remaining
        return holds

    def _refuse(self, pair: str, code: Any, reason: str, origin: str, summary: Mapping[str, Any]) -> OrderOutcome:
        reason = self._scrub(reason)
        self.audit.record("order", endpoint="AddOrder", allowed=False, outcome="refused", reason=reason,
                          params=summary, origin=origin, codes=[getattr(code, "value", str(code))])
        return OrderOutcome(False, False, denials=[Denial(code, reason)], reason=reason)

    def _explain(self, exc: BaseException) -> str:
        return self._scrub(f"{type(exc).__name__}: {exc}")
