"""SafetyWrapper: the one door between the bot (steps, CLI, orchestrator) and the exchange.

Why one door: every order passes the same gates in the same order, so a rule cannot be
skipped by a new caller. ``submit_order`` runs: mode -> kill switch -> circuit breaker
-> exchange status -> market data freshness -> canary rules -> risk limits -> executor
-> audit, and returns an ``OrderOutcome`` that names every reason it stopped. The
client underneath carries the ``EndpointGuard`` as well, so even a direct client call
is checked against the mode's allowlist and audited.
"""
from __future__ import annotations

import functools
import inspect
import logging
import sqlite3
import threading
import types
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Mapping

from krakenbot.client import BreakerState
from krakenbot.clock import Clock
from krakenbot.errors import (CircuitOpenError, EndpointNotAllowed, IntentNotDurable, InvalidNonceError, KrakenError,
                              LocalRefusal, StoreFailure)
from krakenbot.execution.executor import CancelNotRecorded, OutcomeNotRecorded
from krakenbot.models import OrderRequest, OrderType, PairInfo, Side, exact_amount
from krakenbot.risk import Denial, DenialCode, RiskSnapshot, TradingState
from krakenbot.risk.checks import BTC_ASSETS
from krakenbot.safety import allowlist
from krakenbot.safety.audit import AuditLog
from krakenbot.safety.canary import CanaryRules
from krakenbot.safety.dead_mans_switch import DeadMansSwitch
from krakenbot.safety.guard import ORDER_PLACING, EndpointGuard
from krakenbot.safety.kill_switch import KillSwitch
from krakenbot.safety.modes import LiveTradingRefused, TradingMode, live_refusal_reason
from krakenbot.safety.outcomes import KillReport, OrderOutcome, SafetyCode
from krakenbot.safety.reads import ExchangeReads
from krakenbot.safety.collaborators import (Breaker, ExchangeClient, MarketData, OrderExecutor, OrderReconciler,
                                            Positions, ProtectiveExits, Risk)
from krakenbot.store import Store, StoreError

if TYPE_CHECKING:
    from krakenbot.config import Settings
    from krakenbot.orchestrator import CycleReport

log = logging.getLogger(__name__)
_STORE_ERRORS = (sqlite3.Error, StoreError)


def _code_for(exc: KrakenError) -> SafetyCode:
    """The refusal code of an error met before an order was sent."""
    if isinstance(exc, CircuitOpenError):
        return SafetyCode.CIRCUIT_OPEN
    return SafetyCode.STORE_FAILURE if isinstance(exc, StoreFailure) else SafetyCode.EXCHANGE_ERROR


def _store_failures_typed(cls: type) -> type:
    """One rule for every public method, the wrapper's own and the reads' it inherits, present and
    future: a raw ``sqlite3``/``StoreError`` never reaches a caller (the trading loop, the CLI, a
    step). It becomes ``StoreFailure``, logged at ERROR and audited when the audit can be written.
    Orders are refused STORE_FAILURE inside ``submit_order``; cancels leave before any write."""
    for name in dir(cls):
        method = inspect.getattr_static(cls, name)
        if not name.startswith("_") and isinstance(method, types.FunctionType):
            setattr(cls, name, _guarded(name, method))
    return cls


def _guarded(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _STORE_ERRORS as exc:
            failure = self._store_failure(name, exc)
            if failure is exc:  # already a StoreFailure: as it is, not as its own cause
                raise
            raise failure from exc

    return guarded


def _status_problem(status: str, post_only: bool, ordertype: Any) -> str | None:
    """Why the exchange's status admits no such order now (None: it does); the one rule for the
    gate before an order and for naming a refusal after one."""
    if status not in ("online", "post_only"):  # maintenance, cancel_only, anything unknown
        return f"exchange is in {status} mode: no new orders"
    if status == "post_only" and not (post_only and OrderType(ordertype) is OrderType.LIMIT):
        return "exchange is in post_only mode: only post-only limit orders"
    return None


@_store_failures_typed
class SafetyWrapper(ExchangeReads):
    def __init__(self, *, settings: Settings, client: ExchangeClient, store: Store, clock: Clock,
                 guard: EndpointGuard, audit: AuditLog, risk: Risk, executor: OrderExecutor, positions: Positions,
                 market_data: MarketData, reconciler: OrderReconciler | None = None, breaker: Breaker | None = None,
                 protective: ProtectiveExits | None = None, kill_switch: KillSwitch | None = None,
                 scrub: Callable[[str], str] | None = None) -> None:
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
        self.kill_switch = kill_switch or KillSwitch(settings.kill_switch_file, clock)
        self.dead_mans_switch = DeadMansSwitch(self._cancel_all_orders_after, clock)
        if scrub is not None:
            self._scrub = scrub  # type: ignore[method-assign]
        self._init_reads()
        self.guard.order_blocker = self._order_blocker
        self._order_gate = threading.RLock()  # risk check + placement, one order at a time
        self._placed_record: Any = None  # the executor's record of the order just placed (under the gate)
        self.streams: Any = None  # stream.streams.BotStreams with MARKET_STREAM=on (Bot.start_streams)

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
                env_ok = self.settings.live_trading_enabled
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

    # -- orders ---------------------------------------------------------------------------------
    def submit_order(self, pair: str, side: Side | str, ordertype: OrderType | str, volume: Decimal | str,
                     price: Decimal | str | None = None, *, price2: Decimal | str | None = None,
                     post_only: bool = False, leverage: Any = None, origin: str = "operator") -> OrderOutcome:
        """Every gate, then the executor; never raises for a failing store: an order the store fails
        before is refused STORE_FAILURE (nothing sent), one it fails after says what left."""
        try:
            return self._submit_order(pair, side, ordertype, volume, price, price2, post_only, leverage, origin)
        except _STORE_ERRORS as exc:  # a read or write before the send (the executor types those after it)
            failure = self._store_failure("submit_order", exc)
            return self._refuse(pair, SafetyCode.STORE_FAILURE, f"{failure}: the order was not sent", origin,
                                {"pair": pair})

    def _submit_order(self, pair: str, side: Side | str, ordertype: OrderType | str, volume: Decimal | str,
                      price: Decimal | str | None, price2: Decimal | str | None, post_only: bool, leverage: Any,
                      origin: str) -> OrderOutcome:
        try:
            side = Side(side)
            ordertype = OrderType(ordertype)
            volume = exact_amount(volume, "volume")  # a float is refused here too, not rounded through str()
            price = None if price is None else exact_amount(price, "price")
            price2 = None if price2 is None else exact_amount(price2, "price2")
        except (ValueError, TypeError, ArithmeticError) as exc:
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
        problem = _status_problem(status, post_only, ordertype)
        if problem:
            return self._refuse(pair, SafetyCode.MARKET_STATUS, problem, origin, summary)
        # 4b. the exchange's clock: AddOrder deadlines and "not placed" verdicts are in its time,
        # so trading stops while the offset is unknown or beyond the bound (fail closed)
        skew = self.client.server_clock.problem()
        if skew:
            return self._refuse(pair, SafetyCode.CLOCK_SKEW, skew, origin, summary)
        # 5. market data and pair rules
        try:
            info = self.pair_info(pair)
        except KrakenError as exc:
            return self._refuse(pair, _code_for(exc), f"pair rules unavailable: {exc}", origin, summary)
        halted = self._pair_halted(info, pair, origin, summary)
        if halted is not None:
            return halted
        stale = self.market_data_problem(pair, refresh=True)
        if stale:
            return self._refuse(pair, DenialCode.STALE_MARKET_DATA, stale, origin, summary)
        ticker = self.last_ticker(pair)
        mid = ticker.mid if ticker is not None else None
        # 5b. with the executions stream: its gap or drop may hide a fill, and so may a silent stream
        # (its order check is due), so the orders are reconciled over REST before the risk check
        # counts them (fail closed if that fails)
        streams = self.streams
        if streams is not None and (streams.needs_reconciliation
                                    or streams.rest_due(bool(self.executor.open_orders()))):
            try:
                streams.catch_up(self.executor.refresh, due=True)
            except KrakenError as exc:
                return self._refuse(pair, _code_for(exc), f"orders not reconciled after the stream's gap: {exc}",
                                    origin, summary)
        # 6. canary rules
        if self.mode is TradingMode.CANARY:
            problem = CanaryRules.from_settings(self.settings).problem(info, side, ordertype, volume, price,
                                                                       post_only, mid)
            if problem:
                return self._refuse(pair, SafetyCode.CANARY_RULES, problem, origin, summary)
            post_only = True
        request = OrderRequest(pair=info.name, side=side, ordertype=ordertype, volume=volume, price=price,
                               price2=price2, post_only=post_only, validate=self.mode is TradingMode.PAPER,
                               leverage=None if leverage in (None, "", "none") else str(leverage))
        # 7. risk limits
        risk_info = info
        if (info.status == "post_only" and post_only and ordertype is OrderType.LIMIT) or \
                (info.status == "limit_only" and ordertype is OrderType.LIMIT):
            # The pair's restricted state admits exactly this kind of order (checked above for
            # post_only); the risk check only knows "online", so show it the state that applies.
            risk_info = replace(info, status="online")
        # 7-8. risk check and placement as one step: a concurrent submit must see this order.
        with self._order_gate:
            outcome, executed = self._risk_then_execute(request, risk_info, mid, pair, origin, summary)
            if executed:  # the record the executor returned (set under this gate): no re-read
                self._hold_locally(outcome, info, self._placed_record)
        if not executed:
            return outcome
        # 9. canary: cancel at once after acknowledgement (the cancel forgets the balances)
        if self.mode is TradingMode.CANARY and outcome.placed and outcome.cl_ord_id:
            self._cancel_canary(outcome)
        return outcome

    def _risk_then_execute(self, request: OrderRequest, risk_info: PairInfo, mid: Decimal | None, pair: str,
                           origin: str, summary: dict) -> tuple[OrderOutcome, bool]:
        """Snapshot, risk check and placement; the caller holds ``_order_gate``."""
        # Again under the gate: a contradiction found by a concurrent placement or refresh while this
        # order waited for the gate halts its pair (one store read).
        halted = self._pair_halted(risk_info, pair, origin, summary)
        if halted is not None:
            return halted, False
        try:
            snapshot = self._snapshot(risk_info, mid, pair)
            if request.ordertype is OrderType.MARKET:
                # A market order's fill is estimated on the book and collared (risk.checks.check_market_slippage)
                snapshot = replace(snapshot, order_book=self._book_for_fill(pair, request.side, request.volume))
        except KrakenError as exc:
            return self._refuse(pair, _code_for(exc), f"cannot read the account for the risk check: {exc}", origin,
                                summary), False
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
            return OrderOutcome(False, False, denials=denials, reason=reason), False
        return self._execute(request, origin, summary), True

    def _pair_halted(self, info: PairInfo, pair: str, origin: str, summary: dict) -> OrderOutcome | None:
        """The refusal of an order on a pair halted on its own (a false exchange answer), else None."""
        halted = self.risk.halted_pairs().get(info.name) if self.risk is not None else None
        if not halted:
            return None
        return self._refuse(pair, SafetyCode.PAIR_HALTED, f"trading on {pair} is halted: {halted}; "
                            "the operator clears it (resume_pair) once the orders are checked", origin, summary)

    def canary_order(self, pair: str, side: Side | str = Side.BUY) -> OrderOutcome:
        """Build and submit the one order canary mode allows: post-only, far, minimal."""
        side = Side(side)
        info = self.pair_info(pair)
        mid = self.ticker(pair).mid
        rules = CanaryRules.from_settings(self.settings)
        price = rules.price(info, side, mid)
        return self.submit_order(pair, side, OrderType.LIMIT, rules.volume(info, price), price, post_only=True,
                                 origin="canary")

    def _ensure_baseline(self) -> None:
        """Before the bot's first real order, remember the exchange balances: every later
        balance check is this baseline plus the bot's own fills."""
        if self.positions.has_baseline() or self.store.last_fill_seq():
            return
        if self.reconciler is not None:
            self.reconciler.set_baseline()
        else:
            self.positions.set_baseline(self.client.account.balance(), as_of=self.client.exchange_time())
        self.audit.record("baseline", outcome="taken", reason="balances before the bot's first order")

    def _execute(self, request: OrderRequest, origin: str, summary: dict) -> OrderOutcome:
        recorded: list[Any] = []

        def record_ack(order: Any) -> None:  # the executor's commit of the acknowledgement takes this row too
            recorded.append(order)
            self._record_placement(origin, summary, order.status.lower(), "", order.cl_ord_id, order.txid)

        try:
            if not request.validate:
                try:
                    self._ensure_baseline()
                except (sqlite3.Error, StoreError) as exc:  # before the intent: nothing was sent
                    return self._refuse(request.pair, SafetyCode.STORE_FAILURE,
                                        f"the balances before the first order could not be recorded: {exc}",
                                        origin, summary)
            if request.validate:
                with self.guard.validate_only():
                    result = self.executor.place(request, reason=origin, on_ack=record_ack)
            else:
                result = self.executor.place(request, reason=origin, on_ack=record_ack)
        except EndpointNotAllowed as exc:
            return self._refuse(request.pair, SafetyCode.MODE, str(exc), origin, summary)
        except CircuitOpenError as exc:
            return self._refuse(request.pair, SafetyCode.CIRCUIT_OPEN, str(exc), origin, summary)
        except IntentNotDurable as exc:  # the store refused the intent: the order did not leave
            self._store_failure("submit_order", exc)
            return self._refuse(request.pair, SafetyCode.STORE_FAILURE, str(exc), origin, summary)
        except OutcomeNotRecorded as exc:  # what followed the intent is not on disk (PENDING_SUBMIT blocks the pair)
            reason = self._scrub(str(self._store_failure("submit_order", exc)))  # says whether it was sent
            self.audit.record("order", endpoint="AddOrder", allowed=exc.sent, outcome="not_recorded", reason=reason,
                              params=summary, origin=origin, cl_ord_id=exc.cl_ord_id, txid=exc.txid)
            return OrderOutcome(exc.txid is not None, exc.txid is not None, exc.cl_ord_id, exc.txid, "PENDING_SUBMIT",
                                [Denial(SafetyCode.STORE_FAILURE, reason)], reason)  # type: ignore[arg-type]
        except LocalRefusal as exc:  # e.g. an earlier order on the pair has an unknown outcome
            return self._refuse(request.pair, DenialCode.UNKNOWN_ORDER_OUTSTANDING, str(exc), origin, summary)
        except KrakenError as exc:
            return self._refuse(request.pair, SafetyCode.EXCHANGE_ERROR, self._explain(exc), origin, summary)
        self._placed_record = result.order
        status = result.status.value
        accepted = bool(result.accepted)
        reason = "" if accepted else self._scrub(str(result.reason or "rejected"))
        outcome_text = "validated" if result.validated_only else status.lower()
        if not recorded:
            self._record_placement(origin, summary, outcome_text, reason, result.cl_ord_id, result.txid)
        code: Any = SafetyCode.EXCHANGE_ERROR
        if not accepted and not result.placed:
            code = self._refusal_code(result.refusal) or self._status_after_refusal(request, code)
        denials = [] if accepted else [Denial(code, reason)]
        return OrderOutcome(accepted, bool(result.placed), result.cl_ord_id, result.txid, status, denials, reason,
                            bool(result.validated_only))

    def _record_placement(self, origin: str, summary: dict, outcome: str, reason: str, cl_ord_id: str | None,
                          txid: str | None) -> None:
        self.audit.record("order", endpoint="AddOrder", allowed=True, outcome=outcome, reason=reason,
                          params=summary, origin=origin, cl_ord_id=cl_ord_id, txid=txid)

    def _refusal_code(self, refusal: LocalRefusal | None) -> Any:
        """The rule behind the bot's own refusal at the send, named as the gates name it: the
        kill switch or a halt (the guard looks again right before the send, since a decision can
        wait on slow reads while the operator pulls it) is HALTED, an open breaker CIRCUIT_OPEN."""
        if isinstance(refusal, CircuitOpenError):
            return SafetyCode.CIRCUIT_OPEN
        if isinstance(refusal, StoreFailure):  # e.g. the nonce mark could not be saved: not sent
            return SafetyCode.STORE_FAILURE
        if isinstance(refusal, EndpointNotAllowed):
            return SafetyCode.HALTED if self._order_blocker() else SafetyCode.MODE
        return None

    def _status_after_refusal(self, request: OrderRequest, code: Any) -> Any:
        """The status is cached for ``status_ttl``: an order sent just after the exchange left
        "online" is refused by Kraken (``EService:...``; maintenance ends UNKNOWN -> REJECTED by
        lookup). Learn the status from that refusal at once, so the next order is stopped at the
        gate, and name the refusal MARKET_STATUS when the new status explains it."""
        try:
            fresh = self.system_status(max_age=0)
        except KrakenError:
            return code
        if _status_problem(fresh, request.post_only, request.ordertype):
            return SafetyCode.MARKET_STATUS
        return code

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
        except _STORE_ERRORS as exc:  # the store failed around the cancel: say whether the request left
            if isinstance(exc, CancelNotRecorded) and exc.sent:
                reason = f"the cancel was sent; the store could not record it ({exc.__cause__ or exc}); " \
                         f"the next refresh reads its outcome"
            else:
                reason = f"the cancel was NOT sent: the store failed ({exc})"
            reason = self._scrub(reason)
            self._store_failure("cancel_order", exc)
            self.audit.record("cancel", endpoint="CancelOrder", allowed=True, outcome="not_recorded", reason=reason,
                              origin=origin, cl_ord_id=cl_ord_id, sent=isinstance(exc, CancelNotRecorded) and exc.sent)
            return OrderOutcome(False, False, cl_ord_id, denials=[Denial(SafetyCode.STORE_FAILURE, reason)],  # type: ignore[arg-type]
                                reason=reason)
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
        self._release_locally(cl_ord_id, result)
        return OrderOutcome(cancelled, False, cl_ord_id, result.txid, status, reason=reason)

    def cancel_all(self, origin: str = "operator") -> int:
        """How many orders were cancelled; a second CancelAll that was needed and failed raises
        (``kill`` reports it as a problem instead)."""
        outcome = self._cancel_all(origin)
        if outcome.error is not None:
            raise outcome.error
        return outcome.total

    def _cancel_all(self, origin: str) -> Any:
        """CancelAll, and again once the calls it overtook that can add exposure have ended
        (``TradingApi.cancel_all_outcome``, reasoning in ``client/_client.py``)."""
        problem = self._cancel_problem()
        if problem is not None:
            self.audit.record("cancel_all", endpoint="CancelAll", allowed=False, outcome="refused",
                              reason=problem[1], origin=origin)
            raise EndpointNotAllowed(problem[1], (), "CancelAll")
        outcome = self.client.trading.cancel_all_outcome()
        said = f"cancelled {outcome.cancelled}"
        if outcome.overtaken:
            again = "failed" if outcome.again is None else f"cancelled {outcome.again}"
            said += f"; again after {', '.join(outcome.overtaken)} ended: {again}"
        reason = self._scrub(outcome.problem)
        if reason:
            log.warning("CancelAll: %s", reason)
        self.audit.record("cancel_all", endpoint="CancelAll", allowed=True, outcome=said, reason=reason,
                          origin=origin)
        self._forget_balances()
        self._refresh_quietly()
        return outcome

    def _cancel_problem(self) -> tuple[Any, str] | None:
        # A dry run's cancels are its local venue's to answer (and the guard checks them as such).
        venue = self.client.venue
        verdict = allowlist.check(self.mode, "CancelOrder", venue is not None and "CancelOrder" in venue.endpoints)
        if not verdict.allowed:
            return SafetyCode.MODE, verdict.reason
        try:  # an open circuit breaker does not stop a cancel: less exposure is always tried
            status = self.system_status(max_age=0)  # cancels are rare and protective: read it now
        except KrakenError:
            return None  # an unknown status must not stop a cancel: try it
        if status == "maintenance":
            return SafetyCode.MARKET_STATUS, "exchange is in maintenance: no cancels are attempted"
        return None

    def open_orders(self) -> list[Any]:
        """The bot's own orders that are (or may be) on the book, from the store."""
        return self.executor.open_orders()

    def order(self, cl_ord_id: str) -> Any:
        return self.store.get_order(cl_ord_id)

    def refresh_orders(self, due: bool = False) -> Any:
        """Bring the store's orders up to date with the exchange (and resolve UNKNOWN ones). While
        the executions stream follows them, the exchange's events already did, so REST is asked only
        when it alone can say (``BotStreams``): an order of unknown outcome (UNKNOWN, or PENDING_SUBMIT
        not in flight), an order whose fills an earlier read could not record, open orders not checked
        over REST for ``ORDER_CHECK_SECONDS``, or ``due``."""
        streams = self.streams
        if streams is None:
            return self.executor.refresh()
        executor = self.executor
        due = due or bool(executor.unknown_pairs()) or bool(executor.unrecorded_fills()) \
            or streams.rest_due(bool(executor.open_orders()))
        return streams.catch_up(executor.refresh, due=due) or []

    def reconcile(self) -> Any:
        """Compare the bot's fills, open orders and balances with the exchange's."""
        if self.reconciler is not None:
            if self.streams is not None:  # REST is the truth: the orders as it tells them, not as streamed
                self.refresh_orders(due=True)
            else:  # fills an earlier read could not record: recorded first, reported only if still unreadable
                try:
                    self.executor.import_owed_fills()
                except KrakenError as exc:
                    log.warning("missing fills still unreadable before reconciling: %s", self._explain(exc))
            result = self.reconciler.reconcile()
        else:
            self.refresh_orders()
            result = self.positions.reconcile(self.client.account.balance(), self.client.account.open_orders(),
                                              self.client.account.trades_history(), now=self.clock.time())
        if result is not None:
            kinds = sorted({d.kind for d in result.discrepancies})
            if not result.clean:
                log.warning("reconciliation found %d discrepancies: %s", len(result.discrepancies), ", ".join(kinds),
                            extra={"fields": {"discrepancies": [str(d) for d in result.discrepancies][:20]}})
            self.audit.record("reconcile", outcome="clean" if result.clean else "discrepancies",
                              reason=", ".join(kinds), discrepancies=len(result.discrepancies))
        return result

    def recover(self, adopt_prefix: str | None = None) -> Any:
        """At start-up: settle orders whose outcome was never learnt (by ``cl_ord_id``, never
        by re-sending), catch up active orders and fills. Reads only, so safe in every mode.
        ``adopt_prefix``: whose open orders to adopt (default: this bot's id head)."""
        if self.reconciler is None:
            return None
        report = self.reconciler.recover(adopt_prefix=adopt_prefix)
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
        for pair in self.settings.pairs:
            ticker = self.last_ticker(pair)
            if ticker is None:
                continue
            try:
                info = self.pair_info(pair)
            except KrakenError:
                continue
            # the sells executed whose fills are not recorded yet: the account no longer holds them
            owed = sum((gap for o, gap in self.executor.unrecorded_fills() if o.pair == info.name and o.side == "sell"),
                       Decimal(0))
            signal = self.protective.check(self.positions.position(info.name), ticker.bid, info, committed_sells=owed)
            if signal is None:
                continue
            self.audit.record("protective_exit", outcome=signal.kind, reason=f"price {signal.price} crossed {signal.level}")
            volume = self._exit_volume(info, signal)
            if volume is None:
                self.protective.rearm(info.name)
                continue
            outcome = self.submit_order(pair, signal.intent.side, signal.intent.ordertype, volume, origin=signal.kind)
            if not outcome.placed and not outcome.validated_only:
                # Refused or not placed (exchange unavailable, breaker open, ...): fire again at the
                # next check. One submit per pair per call, so the orchestrator's cycle paces retries.
                self.protective.rearm(info.name)
            outcomes.append(outcome)
        return outcomes

    def _exit_volume(self, info: PairInfo, signal: Any) -> Decimal | None:
        """An exit sells the whole position, as freqtrade's does: the bot's sells resting on the book (a
        take-profit left there) are cancelled first. What it sells is what is then held once the sells
        still resting (a cancel that failed) and those with unrecorded fills have left, never coins the
        bot does not own; None when that is below the pair's minimum."""
        for order in self.open_orders():
            if order.pair == info.name and order.side == "sell":
                self.cancel_order(order.cl_ord_id, origin=signal.kind)
        committed = sum((volume for o, volume in self._unseen() if o.pair == info.name and o.side == "sell"),
                        Decimal(0))
        volume = info.round_volume(min(signal.intent.volume, self.positions.position(info.name).volume - committed))
        return volume if volume >= info.ordermin and volume > 0 else None

    # -- kill switch ------------------------------------------------------------------------------
    def kill(self, reason: str = "kill switch", actor: str = "operator") -> KillReport:
        """Halt at once in memory (the guard refuses every order from here), cancel every open
        order, then record the halt: reducing exposure never waits on the store, whose failure is
        a problem in the report. Cancels are still subject to the mode (read-only/paper place
        nothing, so they cancel nothing). When the CancelAll overtook an order on its way (a key
        with a nonce window could accept it after the CancelAll), a second CancelAll follows once
        that order's call has ended: ``cancelled`` counts both, ``cancelled_again`` the second."""
        self.kill_switch.engage(reason)
        problems: list[str] = []
        cancelled, again = 0, None
        try:
            try:
                outcome = self._cancel_all(origin="kill")
            except InvalidNonceError:  # Kraken refused the nonce, so nothing was done: once more, with a
                # fresh one (the generator has learnt the mark it was below: NonceGenerator.rejected)
                outcome = self._cancel_all(origin="kill")
            cancelled, again = outcome.total, outcome.again
            if outcome.problem:
                problems.append(self._scrub(outcome.problem))
        except KrakenError as exc:
            problems.append(self._explain(exc))
            self.audit.record("kill", outcome="cancel_failed", reason=self._explain(exc), actor=actor)
        try:
            self.risk.halt(f"kill switch: {reason}", actor=actor)
        except (sqlite3.Error, StoreError, OSError) as exc:
            problems.append(f"the halt could not be recorded in the store ({exc}): held in memory only")
        self.audit.record("kill", outcome="halted", reason=reason, actor=actor)
        return KillReport(True, cancelled, reason, tuple(problems), cancelled_again=again)

    def honour_kill_file(self) -> KillReport | None:
        """A kill file that appeared while the bot runs gets the full kill (halt and cancel),
        once; before that it already blocks every order at the gate."""
        if not self.kill_switch.file_present() or self.kill_switch.engaged_by_command:
            return None
        return self.kill(self.kill_switch.file_reason() or "kill file", actor="kill_file")

    def resume(self, reason: str = "operator resumed", actor: str = "operator") -> None:
        """Refused while the kill file exists (``KillSwitchEngaged``). The store first: a resume it
        cannot record does not happen, so the kill switch stays engaged (fail closed)."""
        if self.kill_switch.file_present():
            try:
                self.kill_switch.release()  # raises, naming the file
            except Exception as exc:
                self.audit.record("resume", allowed=False, outcome="refused", reason=str(exc), actor=actor)
                raise
        self.risk.resume(reason, actor=actor)
        self.kill_switch.release()
        self.audit.record("resume", allowed=True, outcome="active", reason=reason, actor=actor)

    def resume_pair(self, pair: str, reason: str = "operator resumed the pair", actor: str = "operator") -> None:
        """Clear one pair's halt (the operator checked its orders against the exchange)."""
        self.risk.resume_pair(self.pair_info(pair).name, reason, actor=actor)
        self.audit.record("resume_pair", allowed=True, outcome="active", reason=reason, actor=actor, pair=pair)

    def _order_blocker(self) -> str | None:
        """Why no order may be placed now (kill command or file, then the trading state), or None.
        Asked at the decision's start and again by the guard right before the order is sent: a
        decision can wait (the order gate, reads that retry) while the operator creates the file."""
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
        timeout = int(timeout if timeout is not None else self.settings.dead_mans_switch_seconds)
        return self.dead_mans_switch.arm(timeout)

    def keep_alive(self) -> bool:
        """Re-arm the dead man's switch when due (a third of its timeout)."""
        return self.dead_mans_switch.keep_alive()

    def disarm_dead_mans_switch(self) -> Any:
        return self.dead_mans_switch.disarm()

    # -- raw calls, audit, status ----------------------------------------------------------------------
    def call(self, endpoint: str, **params: Any) -> dict:
        """A raw exchange call through the allowlist; refused ones raise ``EndpointNotAllowed``
        before anything is sent. Paper mode forces ``validate=true`` on AddOrder; in canary and
        live, raw order placement is refused: real orders must pass ``submit_order``'s checks."""
        name = allowlist.normalise(endpoint)
        if name in ORDER_PLACING and self.mode in (TradingMode.CANARY, TradingMode.DRY_RUN, TradingMode.LIVE) \
                and (allowlist.check(self.mode, name).allowed or allowlist.check(self.mode, name, True).allowed):
            reason = f"{name} as a raw call is refused in {self.mode.value} mode: use submit_order (risk checks)"
            self.audit.record("endpoint", endpoint=name, allowed=False, outcome="refused", reason=reason,
                              params=params)
            raise EndpointNotAllowed(reason, (), name)
        if name in allowlist.PUBLIC:
            return self.client.public(name, **params)
        if name == "AddOrder" and self.mode is TradingMode.PAPER:
            params["validate"] = "true"
            with self.guard.validate_only():
                return self.client.private(name, **params)
        return self.client.private(name, **params)

    def audit_log(self) -> list[dict]:
        return self.audit.rows()

    def record_cycle(self, report: CycleReport) -> None:
        skipped = report.skipped
        self.audit.record("cycle", outcome="skipped" if skipped else ("error" if report.errors else "ok"),
                          reason="; ".join(f"{p}: {why}" for p, why in skipped.items()),
                          intents=report.intents, placed=report.placed, refused=report.refused,
                          errors=list(report.errors))

    def status(self) -> dict[str, Any]:
        breaker_state = self.breaker.state.value if self.breaker is not None else None
        day = self.risk.today() if self.risk is not None else None
        return {
            "mode": self.mode.value,
            "trading_state": self.risk.trading_state.value if self.risk is not None else None,
            "halted_pairs": self.risk.halted_pairs() if self.risk is not None else {},
            "halt_reason": self.risk.halt_reason() if self.risk is not None else None,
            "kill_switch": {"engaged": self.kill_switch.engaged, "reason": self.kill_switch.reason,
                            "file": str(self.kill_switch.file_path) if self.kill_switch.file_path else None},
            "breaker": breaker_state,
            "day": day,
            "daily_trades": self.risk.daily_trades() if self.risk is not None else None,
            "daily_realised_pnl": str(self.risk.daily_realised_pnl()) if self.risk is not None else None,
            "open_orders": len(self.open_orders()),
            # armed: the countdown the exchange last confirmed still runs (False once keep-alives failed past it)
            "dead_mans_switch": {"armed": self.dead_mans_switch.armed, "timeout": self.dead_mans_switch.timeout,
                                 "expires_at": self.dead_mans_switch.expires_at,
                                 "next_due": self.dead_mans_switch.next_due},
            # > 0: the saved nonce mark was that far ahead of the clock at start (NonceGenerator)
            "nonce_mark_ahead_s": self.client.nonces.mark_ahead_s,
        }

    # -- internals ----------------------------------------------------------------------------------
    def _breaker_open(self) -> bool:
        return self.breaker is not None and self.breaker.state is BreakerState.OPEN

    def _snapshot(self, info: PairInfo, mid: Decimal | None, pair: str) -> RiskSnapshot:
        balances, free = self._balances_and_free()
        portfolio = None
        if mid is not None:
            portfolio = balances.get(info.quote, Decimal(0)) + balances.get(info.base, Decimal(0)) * mid
        active = self.open_orders()
        unknown = frozenset(o.pair for o in active if o.status == "UNKNOWN")
        owed = self.executor.unrecorded_fills()
        unseen = self._unseen(active, owed)
        pending = {"buy": Decimal(0), "sell": Decimal(0)}
        for o, volume in unseen:
            if o.pair == info.name and o.side in pending:
                pending[o.side] += volume
        age = self.market_data_age(pair)
        held = self.positions.positions()  # one replay of the fills for this pair and the others
        own = held.get(info.name)
        return RiskSnapshot(
            pair_info=info, mid_price=mid, market_data_age_s=None if age is None else Decimal(str(round(age, 3))),
            position_base=own.volume if own is not None else Decimal(0), portfolio_value=portfolio,
            free_balances=free, open_orders=len(active), unknown_order_pairs=unknown,
            pending_buy_base=pending["buy"], pending_sell_base=pending["sell"],
            base_in_btc=self._btc_price(info, mid), other_pairs_btc=self._other_pairs_btc(info.name, unseen, held),
            fills_owed=tuple(o.cl_ord_id for o, _ in owed),
        )

    def _unseen(self, active: list | None = None, owed: list | None = None) -> list[tuple[Any, Decimal]]:
        """Volume the positions do not hold yet, per order: what the open orders may still fill, and what
        orders executed whose fills are not recorded yet (traded all the same: fail closed)."""
        active = self.open_orders() if active is None else active
        owed = self.executor.unrecorded_fills() if owed is None else owed
        return [(o, o.volume - o.volume_executed) for o in active] + owed

    def _btc_price(self, info: PairInfo, mid: Decimal | None) -> Decimal | None:
        """What one unit of the pair's base is worth in BTC at the exchange's mid prices (None:
        unknown): 1 for BTC itself, the mid on a BTC-quoted pair, else the mid over XBT's on the quote."""
        if info.base in BTC_ASSETS:
            return Decimal(1)
        if mid is None:
            return None
        if info.quote in BTC_ASSETS:
            return mid
        btc = self.ticker("XBT" + info.wsname.split("/")[-1]).mid
        return mid / btc if btc else None

    def _other_pairs_btc(self, pair_id: str, unseen: list[tuple[Any, Decimal]],
                         held: Mapping[str, Any]) -> Decimal | None:
        """The BTC value of what the bot holds (``held``: the positions by pair), and buys not in them
        (``unseen``: on the book, or executed with fills not recorded yet), on pairs other than this one:
        TOTAL_BTC is the whole allocation. None when one of them has no price in BTC."""
        amounts = {p: max(pos.volume, Decimal(0)) for p, pos in held.items() if p != pair_id}
        for o, volume in unseen:
            if o.pair != pair_id and o.side == "buy":
                amounts[o.pair] = amounts.get(o.pair, Decimal(0)) + volume
        total = Decimal(0)
        for other, volume in amounts.items():
            if volume <= 0:
                continue
            info = self.pair_info(other)
            rate = self._btc_price(info, None if info.base in BTC_ASSETS else self.ticker(other).mid)
            if rate is None:
                return None
            total += volume * rate
        return total

    def _store_failure(self, action: str, exc: BaseException) -> StoreFailure:
        """Say it loudly (ERROR log, and an audit row when the audit can still be written) and type it.
        No latch: the next write that needs the disk is its test, so the bot works again once the disk
        has room, without a restart (README)."""
        text = self._scrub(f"{action}: the bot's store failed ({exc})")
        log.error("%s", text)
        self.audit.record("store_failure", outcome="error", reason=text, failed=action)
        return exc if isinstance(exc, StoreFailure) else StoreFailure(text)

    def _refuse(self, pair: str, code: Any, reason: str, origin: str, summary: Mapping[str, Any]) -> OrderOutcome:
        reason = self._scrub(reason)
        self.audit.record("order", endpoint="AddOrder", allowed=False, outcome="refused", reason=reason,
                          params=summary, origin=origin, codes=[code.value])
        return OrderOutcome(False, False, denials=[Denial(code, reason)], reason=reason)
