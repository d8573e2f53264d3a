"""The bot's two streams (MARKET_STREAM=on) and what the rest of the bot asks of them.

The market stream feeds the market data service (``MarketDataService.follow``): the strategy,
the staleness halt, the price collar and the slippage check read its book while it is trusted
and fresh, REST otherwise. The executions stream hands each of the exchange's order events to
the executor (``Executor.apply_execution``), so orders are not polled while it follows them;
whenever it cannot vouch for what it delivered (a new subscription, a ``sequence`` gap, a drop)
the bot reconciles its orders over REST first (``catch_up``) and only then trusts them again.
A silent stream cannot show a lost last notice (a gap shows only when a later message comes), so
REST is still asked while the stream follows: whenever an order's outcome is unknown (only REST
settles it, by client id), and while the bot holds open orders at least every
``ORDER_CHECK_SECONDS`` (60 s by default) of the bot's clock (checked at each cycle's order refresh
and before each order), and at each periodic reconciliation.
Both share one connect limiter: Kraken counts connection attempts per IP.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from krakenbot.clock import Clock
from krakenbot.stream.connection import ConnectLimiter
from krakenbot.stream.executions import ExecutionsStream
from krakenbot.stream.market import MarketStream, StreamPair

log = logging.getLogger("krakenbot.stream")

STREAM_WAIT_S = 10.0  # at start: how long the bot waits for the first books before it trades on REST
ORDER_CHECK_S = 60.0  # while the stream follows open orders: REST is asked about them at least this often


class BotStreams:
    def __init__(self, market: MarketStream, executions: ExecutionsStream | None,
                 names: dict[str, str] | None = None, *, clock: Clock | None = None,
                 order_check_s: float = ORDER_CHECK_S) -> None:
        self.market = market
        self.executions = executions
        self.clock = clock
        self.order_check_s = order_check_s
        self.asked_rest_at: float | None = None  # the bot's clock when REST last told the orders
        self.names = names or {s: p.pair for s, p in market.pairs.items()}  # symbol -> the pair as the bot names it
        self._seen: dict[str, int | None] = {}  # symbol -> the checksum of the book last reported moved

    def wait_for_move(self, timeout: float) -> list[str]:
        """The pairs (the bot's names) whose trusted book's best levels changed since the last call,
        waiting up to ``timeout`` real seconds for one (the trading loop reacts to them at once)."""
        market = self.market

        def moved() -> list[str]:
            return [s for s in market.pairs if market.checksum(s) not in (None, self._seen.get(s))]

        market.wait_for(lambda: bool(moved()), timeout)
        changed = moved()
        for symbol in changed:
            self._seen[symbol] = market.checksum(symbol)
        return [self.names[s] for s in changed]

    @classmethod
    def build(cls, settings: Any, clock: Clock, client: Any, market_data: Any, executor: Any, *,
              own_orders: bool = True, **options: Any) -> BotStreams:
        """Both streams for the bot's pairs (their rules read from AssetPairs, through the guarded
        client); the market data service reads the market stream from here on. ``own_orders=False``
        (a dry run: its orders live in its local venue, which only REST reads ask): no executions stream."""
        limiter = ConnectLimiter(clock)
        pairs = {pair: StreamPair.from_info(market_data.pair_info(pair)) for pair in settings.pairs}
        market = MarketStream(settings.ws_url, pairs.values(), clock=clock, limiter=limiter, **options)
        executions = ExecutionsStream(settings.ws_auth_url, client.account.websockets_token, executor.apply_execution,
                                      clock=clock, limiter=limiter, **options) if own_orders else None
        market_data.follow(market, float(settings.stale_data_seconds))
        return cls(market, executions, {p.symbol: pair for pair, p in pairs.items()}, clock=clock,
                   order_check_s=float(settings.order_check_seconds))

    def start(self, wait_s: float = STREAM_WAIT_S) -> bool:
        """Connect both; True once every book is trusted and the executions are subscribed within
        ``wait_s`` (else the bot trades on REST until they are: nothing waits for them later)."""
        executions = self.executions
        self.market.start()
        if executions is not None:
            executions.start()
        ready = self.market.wait_for(lambda: all(self.market.book(s) is not None for s in self.market.pairs), wait_s) \
            and (executions is None or executions.wait_for(lambda: executions.subscribed, wait_s))
        if not ready:
            log.warning("streams not ready after %.0f s (%s; %s): REST serves until they are", wait_s,
                        self.market.last_problem or "books not yet trusted",
                        executions.last_problem if executions is not None else "")
        return ready

    def stop(self) -> None:
        self.market.stop()
        if self.executions is not None:
            self.executions.stop()

    @property
    def follows_orders(self) -> bool:
        """The executions stream is subscribed and nothing since the last reconciliation needs REST:
        the bot's orders change only by its events, so polling them would tell nothing new."""
        executions = self.executions
        return executions is not None and executions.connected and executions.subscribed \
            and not executions.needs_reconciliation

    @property
    def needs_reconciliation(self) -> bool:
        """The executions stream cannot vouch for the orders now (new, gap, drop): REST must say first."""
        return self.executions is not None and not self.follows_orders

    def rest_due(self, open_orders: bool) -> bool:
        """While the stream follows open orders: REST has not told them for ``order_check_s`` (or ever)."""
        if not open_orders or self.clock is None:
            return False
        return self.asked_rest_at is None or self.clock.time() - self.asked_rest_at >= self.order_check_s

    def catch_up(self, refresh: Callable[[], Any], *, due: bool = False) -> Any:
        """Reconcile the orders over REST (``refresh``) when the executions stream asks for it, or the
        caller says REST is ``due`` (an order of unknown outcome, the periodic check), then tell the
        stream so; a reason that came during the refresh keeps it asking (its epoch moved)."""
        executions = self.executions
        if executions is None:
            return refresh()
        following = self.follows_orders
        if following and not due:
            return None
        epoch = executions.epoch
        asked_at = self.clock.time() if self.clock is not None else None
        result = refresh()
        self.asked_rest_at = asked_at
        if not following and executions.reconciled(epoch):
            log.info("orders reconciled over REST: the executions stream is trusted again")
        return result
