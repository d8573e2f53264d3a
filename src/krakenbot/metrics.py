"""Live metrics for ``krakenbot run --metrics-port N``: what the bot does, in Prometheus' format.

Why one module that observes rather than counters spread through the bot: the order path keeps its
own shape and pays only the library's ``observe()``/``inc()`` (no lock, no I/O of ours). Each piece
reports through a small hook it already had or got for this: the transport's ``observer`` (every
request's response time and error), the client's local refusals, the executor's ``order_listeners`` (order
latencies), the audit trail's listeners (orders refused by code), the breaker's listener, and the
orchestrator's ``observers`` (gauges read between cycles, on the trading thread, so a scrape never
touches the store or a lock the order path takes). Each bot has its own ``CollectorRegistry``: two
bots (or tests) in one process never share a metric. Money stays ``Decimal`` in the bot; it becomes
a float here, at the boundary, because Prometheus samples are floats.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
_ACKED = frozenset({"OPEN", "PARTIALLY_FILLED", "FILLED", "VALIDATED", "CANCELED", "EXPIRED", "PENDING_CANCEL"})
_WAITING = frozenset({"PENDING_SUBMIT", "UNKNOWN"})
_RESPONSE_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
_FILL_BUCKETS = (.01, .05, .1, .5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400)


class _MarketDataAge(Collector):
    """Seconds since each pair's price last came from the exchange, as of the scrape; the update times
    are sampled between cycles (``BotMetrics.after_cycle``), so the scrape reads a plain dict."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.updated: dict[str, float] = {}

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("krakenbot_market_data_age_seconds",
                                   "Seconds since the pair's price last came from the exchange", labels=["pair"])
        now = self.clock.time()
        for pair, at in list(self.updated.items()):
            family.add_metric([pair], max(0.0, now - at))
        yield family


class BotMetrics:
    """The bot's metrics in a private registry; ``attach(bot)`` installs the hooks, ``serve`` the page."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # memory and CPU; absent where there is no /proc
        r = self.registry
        self.response_seconds = Histogram("krakenbot_exchange_response_seconds",
                                  "Time from sending a request to the exchange's answer (or failure), by endpoint",
                                  ["endpoint"], buckets=_RESPONSE_BUCKETS, registry=r)
        self.exchange_errors = Counter("krakenbot_exchange_errors_total",
                              "Requests that failed (the exchange's error or the transport's), by endpoint and kind",
                              ["endpoint", "kind"], registry=r)
        self.requests_refused = Counter("krakenbot_requests_refused_total",
                               "Calls the bot refused itself before sending anything (breaker, guard, ...)",
                               ["endpoint", "reason"], registry=r)
        self.orders_refused = Counter("krakenbot_orders_refused_total",
                                      "Orders refused before the exchange saw them, by the refusal's code",
                                      ["code"], registry=r)
        self.ack = Histogram("krakenbot_order_ack_seconds",
                             "Time from recording an order's intent to the exchange's acknowledgement",
                             buckets=_RESPONSE_BUCKETS, registry=r)
        self.fill = Histogram("krakenbot_order_fill_seconds",
                              "Time from recording an order's intent to the bot seeing it filled",
                              buckets=_FILL_BUCKETS, registry=r)
        self.order_events = Counter("krakenbot_order_events_total", "Order status changes, by the new status",
                                    ["status"], registry=r)
        self.breaker = Gauge("krakenbot_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open",
                             registry=r)
        self.breaker_transitions = Counter("krakenbot_breaker_transitions_total", "Breaker state changes",
                                           ["state"], registry=r)
        self.rest_counter = Gauge("krakenbot_rest_counter", "The bot's model of Kraken's per-key REST call counter",
                                  registry=r)
        self.rest_counter_max = Gauge("krakenbot_rest_counter_max", "The tier's maximum of that counter",
                                      registry=r)
        self.trades_today = Gauge("krakenbot_trades_today", "Orders placed today (UTC), as the risk limit counts",
                                  registry=r)
        self.trades_limit = Gauge("krakenbot_trades_limit", "MAX_DAILY_TRADES", registry=r)
        self.pnl_today = Gauge("krakenbot_realised_pnl_today", "Realised PnL today (UTC), net of fees, in quote "
                               "currency", registry=r)
        self.open_orders = Gauge("krakenbot_open_orders", "Orders open or of unknown outcome, from the store",
                                 registry=r)
        self.cycles = Counter("krakenbot_cycles_total", "Trading cycles run", registry=r)
        self.last_cycle = Gauge("krakenbot_last_cycle_timestamp_seconds", "When the last cycle started", registry=r)
        self.notifications = Counter("krakenbot_notifications_total", "Webhook notifications, by event and outcome "
                                     "(sent, failed, dropped: the queue was full)", ["event", "outcome"], registry=r)
        self.market_data = _MarketDataAge(clock)
        r.register(self.market_data)
        self._sent: dict[str, float] = {}  # cl_ord_id -> time.monotonic() at its intent (this process's orders)
        self._bot: Any = None
        self._server: Any = None

    # -- hooks (the order path: the library's observe()/inc() and a dict, nothing else) ----------------
    def response(self, endpoint: str, seconds: float | None, error: BaseException | None) -> None:
        if seconds is not None:  # the request left: the exchange saw it (or its connection failed under it)
            self.response_seconds.labels(endpoint).observe(seconds)
        if error is not None:
            self.exchange_errors.labels(endpoint, type(error).__name__).inc()

    def refused(self, endpoint: str, error: BaseException) -> None:
        self.requests_refused.labels(endpoint, type(error).__name__).inc()

    def order_event(self, order: Any, was: str) -> None:
        """Placement (the intent recorded) -> acknowledgement on this process's monotonic clock; -> fill
        on the bot's clock from the recorded intent time (a fill may be seen hours or a restart later)."""
        status = order.status
        self.order_events.labels(status).inc()
        if status == "PENDING_SUBMIT":
            self._sent[order.cl_ord_id] = time.monotonic()
            return
        if was in _WAITING and status in _ACKED:
            sent = self._sent.pop(order.cl_ord_id, None)
            self.ack.observe(time.monotonic() - sent if sent is not None
                             else max(0.0, self.clock.time() - order.created_at))
        elif status not in _WAITING:
            self._sent.pop(order.cl_ord_id, None)
        if status == "FILLED":
            self.fill.observe(max(0.0, self.clock.time() - order.created_at))

    def audit_row(self, row: dict) -> None:
        if row.get("action") == "order" and row.get("allowed") is False:
            for code in row.get("codes") or [row.get("outcome") or "refused"]:
                self.orders_refused.labels(code).inc()

    def state_change(self, old: Any, new: Any, reason: str) -> None:
        """The breaker's listener."""
        value = getattr(new, "value", str(new))
        self.breaker.set(BREAKER_STATES.get(value, -1))
        self.breaker_transitions.labels(value).inc()

    def notification(self, event: str, outcome: str) -> None:
        self.notifications.labels(event, outcome).inc()

    # -- between cycles ------------------------------------------------------------------------------------
    def after_cycle(self, report: Any) -> None:
        """The gauges that read the store, the pacer or the market data: on the trading thread."""
        bot = self._bot
        self.cycles.inc()
        self.last_cycle.set(report.started_at)
        self.sample(bot)

    def sample(self, bot: Any) -> None:
        safety = bot.safety
        risk = safety.risk
        self.trades_today.set(risk.daily_trades())
        self.pnl_today.set(float(risk.daily_realised_pnl()))  # Decimal -> float at the metrics boundary only
        self.open_orders.set(len(safety.open_orders()))
        pacer = getattr(bot.client, "pacer", None)
        if pacer is not None:
            self.rest_counter.set(pacer.level)
            self.rest_counter_max.set(pacer.max_counter)
        for pair in bot.settings.pairs:
            at = bot.market_data.last_update(pair) if bot.market_data is not None else None
            if at is not None:
                self.market_data.updated[pair] = at

    # -- wiring -------------------------------------------------------------------------------------------
    def attach(self, bot: Any) -> "BotMetrics":
        """Install every hook on ``bot`` (one bot per ``BotMetrics``)."""
        self._bot = bot
        bot.client.observe(self)
        bot.safety.executor.order_listeners.append(self.order_event)
        bot.safety.audit.listeners.append(self.audit_row)
        breaker = bot.client.breaker
        breaker.add_listener(self)
        self.breaker.set(BREAKER_STATES.get(breaker.state.value, -1))
        self.trades_limit.set(bot.settings.max_daily_trades)
        bot.orchestrator.observers.append(self.after_cycle)
        return self

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``host:port`` (a daemon thread); the port it bound (0: any free one)."""
        server, _ = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return int(server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
