"""The Bot facade: builds every part from ``Settings`` and hands out the safety wrapper.

Why one builder: the order of wiring is itself a safety property. The guard exists
before the client (so the client is never without it), the store before the client
(nonces survive restarts), the breaker reports to the audit trail, and the executor
and risk manager share the store the wrapper reads. Steps, CLI and tests all build the
bot here, so they test the wiring that runs in production.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from krakenbot.clock import Clock, Interrupted, SystemClock
from krakenbot.config import Settings, is_dry_run_store
from krakenbot.errors import KrakenError
from krakenbot.safety.modes import CurrentMode, TradingMode
from krakenbot.store import STARTUP_CHECK_KEY

if TYPE_CHECKING:
    from krakenbot.client import BreakerState
    from krakenbot.safety.audit import AuditLog

log = logging.getLogger(__name__)


class BreakerAuditListener:
    """Writes every circuit breaker state change to the audit trail."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    def state_change(self, old: BreakerState, new: BreakerState, reason: str) -> None:
        self.audit.record("breaker", outcome=new.value, reason=reason, previous=old.value)


def make_scrubber(settings: Settings):
    """Replace the secret and the full key in any text with their redacted forms."""
    secrets = [(s, "***") for s in (settings.api_secret,) if s]
    if settings.api_key:
        secrets.append((settings.api_key, settings.redacted_key))
    if settings.notify_webhook_url:  # its path and query often hold a token
        from krakenbot.notify import shown_webhook

        secrets.append((settings.notify_webhook_url, shown_webhook(settings.notify_webhook_url)))

    def scrub(text: str) -> str:
        for value, replacement in secrets:
            if value in text:
                text = text.replace(value, replacement)
        return text

    return scrub


def risk_limits_from(settings: Settings):
    """Settings names -> RiskLimits names (they differ: ``TOTAL_BTC`` is the position cap)."""
    from krakenbot.risk import RiskLimits

    return RiskLimits(
        max_position_btc=settings.total_btc,
        max_position_pct=settings.max_position_pct,
        max_order_notional=settings.max_order_eur,
        min_trade_volume=settings.min_trade_volume,
        min_eur_for_trade=settings.min_eur_for_trade,
        max_daily_trades=settings.max_daily_trades,
        max_daily_loss=settings.max_daily_loss_eur,
        max_open_orders=settings.max_open_orders,
        price_collar_pct=settings.price_collar_pct,
        max_data_age_s=__import__("decimal").Decimal(settings.stale_data_seconds),
        stop_loss_pct=settings.stop_loss_pct,
        take_profit_pct=settings.take_profit_pct,
    )


def strategy_from(settings: Settings):
    from krakenbot.strategy import DipBuyStrategy

    return DipBuyStrategy(buy_eur=settings.strategy_buy_eur, dip_pct=settings.strategy_dip_pct,
                          rise_pct=settings.strategy_rise_pct,
                          interval_seconds=settings.strategy_interval_seconds or None)


@dataclass(frozen=True)
class StartReport:
    """What ``Bot.start`` found: the recovery, today's trade count, open orders, and why it halted."""

    recovery: Any
    daily_trades: int
    open_orders: int
    halted: str | None = None
    dead_mans_switch_armed: bool = False

    @property
    def still_unknown(self) -> list[str]:
        return list(getattr(self.recovery, "still_unknown", None) or [])


BOOKS_KEY = "books"  # store meta: "dry-run" in a dry run's store


def _dry_run_venue(client: Any, market_data: Any, clock: Clock, store: Any, settings: Settings) -> Any:
    """The dry run's local venue, its state saved in the dry run's store (``DryRunVenue``). A store
    that holds a saved state continues it: the wallet, resting orders and fills of the last process
    (DRY_RUN_WALLET only starts a rehearsal). Else the wallet comes from DRY_RUN_WALLET or a
    snapshot of the real balances (read once, here: a read the mode allows). The store is marked as
    a dry run's books; a store marked as the exchange's books or holding another mode's orders is
    refused, so a rehearsal never writes into real books, and so is a dry run's store whose venue
    state was never saved."""
    from decimal import Decimal

    from krakenbot.dry_run import SNAPSHOT, DryRunVenue, Wallet

    if store.get_meta(BOOKS_KEY) != TradingMode.DRY_RUN.value:
        if store.get_meta(BOOKS_KEY) is not None or store.orders():
            raise ValueError(f"the store {settings.store_path} holds the exchange's books, not a dry run's: a dry "
                             "run keeps its own books (STORE_PATH)")
        store.set_meta(BOOKS_KEY, TradingMode.DRY_RUN.value)
    venue = DryRunVenue(client, market_data, clock, Wallet({}), journal=store)
    if venue.restored:
        log.info("dry run: continuing the rehearsal saved in %s (wallet, orders and fills restored; "
                 "DRY_RUN_WALLET is not applied again)", settings.store_path)
        return venue
    if store.orders():
        raise ValueError(f"the store {settings.store_path} holds a dry run's orders but not its wallet and resting "
                         "orders: start the rehearsal on a fresh store (move that file away or set STORE_PATH)")
    wanted = settings.dry_run_wallet
    if wanted == SNAPSHOT:
        balances = client.account.balance()
    else:
        balances = {asset: Decimal(amount) for asset, amount in dict(wanted or {}).items()}
    venue.wallet = Wallet(balances)
    return venue


def _exchange_books(store: Any, mode: TradingMode) -> None:
    """A bot that may order at the exchange keeps the exchange's books: it refuses a store whose mark
    or name says dry run (a fresh one too), and marks its own, so a dry run refuses it in turn. A
    read-only bot orders nothing: it may open either (``check`` beside a dry run)."""
    if mode is TradingMode.READ_ONLY:
        return
    if store.get_meta(BOOKS_KEY) == TradingMode.DRY_RUN.value or is_dry_run_store(str(store.path)):
        raise ValueError(f"the store {store.path} holds a dry run's books: run the dry run with "
                         "TRADING_MODE=dry-run, or point STORE_PATH at the live store")
    if store.get_meta(BOOKS_KEY) is None:
        store.set_meta(BOOKS_KEY, TradingMode.LIVE.value)


class Bot:
    """Everything wired together; ``bot.safety`` is the only door to the exchange."""

    def __init__(self, settings: Settings, clock: Clock, store: Any, client: Any, safety: Any,
                 orchestrator: Any, market_data: Any = None) -> None:
        self.settings = settings
        self.clock = clock
        self.store = store
        self.client = client
        self.safety = safety
        self.orchestrator = orchestrator
        self.market_data = market_data
        self._closed = False

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None, store_path: str | None = None, *,
              live_flag: bool = False, strategy: Any = None, client_options: dict[str, Any] | None = None,
              store: Any = None) -> "Bot":
        """Wire the bot. It starts in ``settings.trading_mode``; LIVE needs ``live_flag`` too. ``store``:
        an open store to use (and close) instead of opening ``store_path``."""
        from krakenbot.client import CircuitBreaker, KrakenClient, Timeouts
        from krakenbot.execution.executor import Executor
        from krakenbot.orchestrator import Orchestrator
        from krakenbot.positions import PositionManager
        from krakenbot.risk import ProtectiveMonitor, RiskManager
        from krakenbot.safety.audit import AuditLog
        from krakenbot.safety.guard import EndpointGuard
        from krakenbot.safety.kill_switch import KillSwitch
        from krakenbot.safety.wrapper import SafetyWrapper
        from krakenbot.store import Store

        clock = clock or SystemClock()
        if store is None:
            path = store_path if store_path is not None else settings.store_path
            if settings.trading_mode is TradingMode.DRY_RUN:  # its own books, whoever names the path
                from krakenbot.config import dry_run_store_path

                path = dry_run_store_path(path)
            store = Store(path)
        try:
            scrub = make_scrubber(settings)
            mode = CurrentMode(TradingMode.READ_ONLY)  # read by the audit trail and the guard
            audit = AuditLog(store, clock, mode, scrub=scrub)
            guard = EndpointGuard(audit, mode)
            breaker = CircuitBreaker(clock, listeners=[BreakerAuditListener(audit)])
            timeouts = Timeouts(settings.connect_timeout, settings.read_timeout, settings.total_timeout)
            client = KrakenClient(settings.api_domain, settings.api_key, settings.api_secret, clock=clock,
                                  tier=settings.tier, nonce_store=store, breaker=breaker, guard=guard,
                                  **{"timeouts": timeouts, **(client_options or {})})
            market_data = _market_data(client, clock, store, settings)
            if settings.trading_mode is TradingMode.DRY_RUN:
                client.venue = _dry_run_venue(client, market_data, clock, store, settings)
            else:
                _exchange_books(store, settings.trading_mode)
            positions = PositionManager(store)
            risk = RiskManager(risk_limits_from(settings), store, clock, positions)
            executor = Executor(client, store, clock, market_data, bot_id=settings.bot_id)
            reconciler = _reconciler(client, store, clock, executor, positions)
            safety = SafetyWrapper(
                settings=settings, client=client, store=store, clock=clock, guard=guard, audit=audit, risk=risk,
                executor=executor, positions=positions, reconciler=reconciler, market_data=market_data,
                breaker=breaker, protective=ProtectiveMonitor(settings.stop_loss_pct, settings.take_profit_pct),
                kill_switch=KillSwitch(settings.kill_switch_file, clock), scrub=scrub,
            )
            if settings.trading_mode is not TradingMode.READ_ONLY:
                safety.set_mode(settings.trading_mode, live_flag=live_flag)
            orchestrator = Orchestrator(safety, clock, settings.pairs,
                                        strategy if strategy is not None else strategy_from(settings))
        except BaseException:
            store.close()
            raise
        return cls(settings, clock, store, client, safety, orchestrator, market_data)

    def start(self, first_in_home: bool = False) -> StartReport:
        """Start-up, before the first order: pace from the call counter the last process may have
        left full, settle what it left (``recover``), count today's trades from the exchange, halt
        if the store was lost while the exchange shows any order of this bot (open, today's, or among
        its latest closed: positions come from the store's fills), then arm the dead man's
        switch in canary and live (retried; the loop places no order there until it is armed).
        ``first_in_home``: no bot ever ran in this home (``Presence``), so no earlier process of this
        bot left the counter full: pacing starts from empty."""
        safety = self.safety
        pacer = getattr(self.client, "pacer", None)
        if pacer is not None:  # the last process may have left the key's call counter full
            pacer.assume_used(self._idle_since_last_call(first_in_home))
        # A store created empty (new, or lost) until a start-up has asked the exchange, however many tries
        lost = self.store.get_meta(STARTUP_CHECK_KEY) is not None
        refs = self._references(lost)
        recovery = safety.recover()  # adopts only this bot's id head: never another bot's orders
        reconciler = safety.reconciler
        open_now, today = reconciler.orders_of(refs) if reconciler is not None else ({}, {})
        trades = safety.risk.rebuild_daily_trades(len(today), source=f"the exchange's orders {refs}* opened today")
        earlier = reconciler.latest_closed_of(refs) if lost and reconciler is not None else {}
        halted = None
        if lost and (open_now or today or earlier):
            halted = self._lost_store_reason(refs, len(open_now), trades, len(earlier))
            safety.risk.halt(halted, actor="startup")
        if lost:  # asked, and halted when needed: a later start trusts the store
            self.store.clear_meta(STARTUP_CHECK_KEY)
        if self.settings.dead_mans_switch_seconds and safety.mode.value in ("canary", "dry-run", "live"):
            try:  # retried inside; if it still fails, the loop arms it before any order (Orchestrator)
                safety.arm_dead_mans_switch(self.settings.dead_mans_switch_seconds)
            except KrakenError as exc:
                log.warning("dead man's switch not armed at start-up (%s): no order until it is", exc)
        if self.settings.market_stream:
            self.start_streams()
        return StartReport(recovery, trades, len(open_now), halted, safety.dead_mans_switch.armed)

    def start_streams(self, **options: Any) -> Any:
        """MARKET_STREAM=on: connect the market and executions streams (``stream.streams``); from then
        on prices, books and order events come from them while they are trusted, REST otherwise.
        ``options``: the streams' own (tests: silence thresholds, poll interval)."""
        from krakenbot.stream.streams import BotStreams

        if self.safety.streams is not None:
            return self.safety.streams
        streams = BotStreams.build(self.settings, self.clock, self.client, self.market_data, self.safety.executor,
                                   own_orders=self.safety.mode is not TradingMode.DRY_RUN, **options)
        self.safety.streams = streams
        self.orchestrator.moves = streams.wait_for_move
        streams.start()
        return streams

    def _idle_since_last_call(self, first_in_home: bool) -> float | None:
        """Seconds since the last process's last private call, at least (None: unknown). The store's
        nonce mark is wall-clock microseconds set ahead of every nonce that process sent, so the
        time since it is a lower bound. A store without a mark (new, or lost) tells nothing: full,
        unless the home is new too (a first install: waiting out a counter nobody filled would only
        delay it; a home wiped right after a busy run costs one refusal and a back-off at worst)."""
        import time

        mark = int(self.store.load_nonce() or 0)
        if mark <= 0:
            return math.inf if first_in_home else None
        return time.time() - mark / 1e6

    def _references(self, lost: bool) -> str:
        """The client-id prefix whose orders at the exchange start-up counts and halts on. With BOT_ID,
        or a store that remembers its drawn id: ``kb`` + that id. A lost or new store without BOT_ID
        drew a new id, so its old orders (if any) carry an id nobody remembers: every ``kb`` order
        counts (today's trades: the cap errs low) and halts, though none is adopted (``recover``
        adopts only the new id): it may be any bot's on the account, also one with a BOT_ID."""
        head = self.safety.executor.id_head
        if lost and not self.settings.bot_id:
            return head[:len(head) - len(self.safety.executor.bot_id)]
        return head

    def _lost_store_reason(self, refs: str, open_orders: int, trades: int, closed: int) -> str:
        """Why a bot on a lost (or new) store starts halted, and what the operator checks first."""
        if self.settings.bot_id:
            whose = f"orders with client ids {refs}* (this bot's)"
            adopted = "adopted"
        else:
            whose = (f"orders with client ids {refs}* (without BOT_ID they may be any bot's on this account, "
                     f"including bots with a BOT_ID: none adopted, all counted; set BOT_ID to tell them apart)")
            adopted = "not adopted"
        return (f"the store {self.store.path} was missing or empty at start-up, but the exchange shows "
                f"{whose}: {open_orders} open ({adopted}), {trades} placed today (today's trade count), "
                f"{closed} among the latest closed orders. Positions bought by them are no longer in the "
                f"store, so the position limits count from 0: check the balances and orders on the "
                f"exchange, then run `krakenbot resume` to trade")

    def run_once(self) -> Any:
        return self.orchestrator.run_once()

    def close(self) -> None:
        """Disarm the dead man's switch (a clean stop keeps the orders), close client and store."""
        if self._closed:
            return
        self._closed = True
        if self.safety.streams is not None:
            self.safety.streams.stop()
        try:
            self.safety.disarm_dead_mans_switch()  # sends 0 while the switch is wanted, lapsed or not
        except (Exception, Interrupted) as exc:  # stopping: the close goes on (client, store)
            log.warning("could not disarm the dead man's switch: %s", exc)
        try:
            self.client.close()
        finally:
            self.store.close()

    def __enter__(self) -> "Bot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _market_data(client: Any, clock: Any, store: Any, settings: Settings) -> Any:
    """The market data service: TTL cache in front of the client, candles kept in the store."""
    from krakenbot.market_data import MarketDataService

    return MarketDataService(client, clock, candle_store=store)


def _reconciler(client: Any, store: Any, clock: Any, executor: Any, positions: Any) -> Any:
    from krakenbot.execution.reconcile import Reconciler

    return Reconciler(client, store, positions, executor=executor, clock=clock)
