"""A Kraken-compatible spot exchange on loopback, for tests, the specification and benches.

``KrakenSimulator`` wires the pure exchange core (``exchange.py``) to Kraken's
HTTP face (``server.py``): signatures, nonces, permissions, the per-key API
counter, faults, the access log and the ``/_sim/`` control API; and to its
WebSocket v2 face (``ws_server.py``) on the same engine, keys and access log.
"""
from __future__ import annotations

import random
import threading
from decimal import Decimal
from typing import Any

from krakensim.access_log import AccessLog, AccessRecord
from krakensim.auth import DEMO_PERMISSIONS, KeyRing
from krakensim.clock import ManualClock, SystemClock
from krakensim.control import ControlAPI
from krakensim.exchange import Exchange
from krakensim.faults import Fault, FaultInjector
from krakensim.limits import ApiCounter
from krakensim.server import Gateway, SimHTTPServer
from krakensim.ws_server import WsServer

__all__ = ["KrakenSimulator", "AccessRecord", "Fault", "ManualClock", "SystemClock"]

DEMO_ACCOUNT = "demo"
MAX_ADVANCE_SECONDS = 366 * 86400  # one call moves at most a year: Kraken's dates must stay printable


class KrakenSimulator:
    """Serves REST on ``url`` and WebSocket v2 on ``ws_url`` (public) and ``ws_auth_url`` (private) from
    background threads as soon as it is built; ``close()`` (or ``with``) stops them."""

    def __init__(self, seed: int = 42, clock: Any = None, tier: str = "starter", api_key: str | None = None,
                 api_secret: str | None = None, balances: dict[str, Any] | None = None, rate_limits: bool = True,
                 host: str = "127.0.0.1", port: int = 0, volatility: Any = None,
                 trading_limits: bool = True, flow_rate: float = 0) -> None:
        """``rate_limits`` switches the per-key API counter, ``trading_limits`` the per-pair trading counter;
        ``flow_rate`` is the other traders' orders a second on each pair (0: a quiet book, only the accounts)."""
        self.seed = seed
        self.clock = clock if clock is not None else SystemClock()
        self.tier = self._tier_built = tier
        self._lock = threading.RLock()  # one exchange, many connection threads: calls are serialised
        self._stop = threading.Event()
        exchange_kwargs: dict[str, Any] = {"seed": seed, "clock": self.clock, "tier": tier, "balances": balances,
                                           "trading_limits": trading_limits, "flow_rate": flow_rate}
        if volatility is not None:
            exchange_kwargs["volatility"] = volatility
        self.exchange = Exchange(**exchange_kwargs)
        self._balances = balances if balances is not None else self.exchange.balances(DEMO_ACCOUNT)
        self._keys = KeyRing()
        self.api_key, self.api_secret = self._keys.create(DEMO_PERMISSIONS, DEMO_ACCOUNT, api_key, api_secret)
        self._counter = ApiCounter(self.clock, tier, enabled=rate_limits)
        self.faults = FaultInjector(random.Random(seed))
        self._log = AccessLog()
        self.gateway = Gateway(exchange=self.exchange, exchange_lock=self._lock, keys=self._keys,
                               counter=self._counter, faults=self.faults, access_log=self._log, clock=self.clock,
                               stop=self._stop, control=ControlAPI(self))
        self._server = SimHTTPServer((host, port), self.gateway)
        bound_host, bound_port = self._server.server_address[:2]
        self.host, self.port = bound_host, bound_port
        self.url = f"http://{bound_host}:{bound_port}"
        try:
            self.ws = WsServer(self.exchange, self._lock, self._keys, self.gateway.ws_tokens, self.faults, self._log,
                               self.clock, host=bound_host)
        except BaseException:
            self._server.server_close()
            raise
        self.ws_url, self.ws_auth_url = self.ws.url, self.ws.auth_url
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="krakensim-accept", daemon=True)
        self._thread.start()
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> "KrakenSimulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, end open connections (and any hanging fault), join threads, close the socket."""
        if self._closed:
            return
        self._closed = True
        self.exchange.detach_clock()
        self._stop.set()
        self.ws.close()
        self._server.close_all()
        self._thread.join(2.0)

    # -- keys -----------------------------------------------------------------------------------
    def create_key(self, permissions: set[str] | frozenset[str] = DEMO_PERMISSIONS, account: str = DEMO_ACCOUNT,
                   nonce_window: int = 0, balances: dict[str, Any] | None = None) -> tuple[str, str]:
        """A new key (and base64 secret) on ``account`` with exactly ``permissions``.

        An account not seen before is opened with ``balances`` (default: the demo funding).
        """
        key, secret = self._keys.create(permissions, account, nonce_window=nonce_window)
        with self._lock:
            if account not in self.exchange.accounts:
                self.exchange.create_account(account, balances if balances is not None else self._balances)
        return key, secret

    def redeem_ws_token(self, token: str) -> str | None:
        """The API key a ``GetWebSocketsToken`` token speaks for, once used (within its 15 minutes),
        or None: what a WebSocket endpoint asks when a private request brings a token."""
        return self.gateway.ws_tokens.redeem(token)

    # -- controls -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Default balances, no orders, no faults (their RNG reseeded), empty access log, zero counters,
        no lockouts, status online; ids continue in a new generation.

        Keys and their nonce marks survive: Kraken never lowers a key's nonce mark.
        """
        with self._lock:
            self.exchange.reset()
            self.faults.reset()
            self._log.clear()
            self._counter.reset()
            self.gateway.lockouts.reset()
            if self.tier != self._tier_built:
                self.set_tier(self._tier_built)

    def set_tier(self, tier: str) -> None:
        """The account tier until ``reset()``: the size and decay of every key's API counter and the
        trading counter's (emptied)."""
        with self._lock:
            self._counter.set_tier(tier)
            self.exchange.set_tier(tier)
            self.tier = tier

    def advance(self, seconds: float) -> float:
        """Move a manual clock forward and let the exchange catch up; returns the new time."""
        advance = getattr(self.clock, "advance", None)
        if not callable(advance):
            raise TypeError("advance() needs a ManualClock; the system clock moves by itself")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or \
                not 0 <= seconds <= MAX_ADVANCE_SECONDS:  # NaN fails the comparison too
            raise ValueError(f"seconds must be a number from 0 to {MAX_ADVANCE_SECONDS}")
        advance(seconds)
        self._catch_up()
        return self.clock.time()

    def set_price(self, pair: str, price: Decimal | str) -> None:
        with self._lock:
            self.exchange.set_price(pair, Decimal(str(price)))

    def shock(self, pair: str, pct: Decimal | str) -> None:
        with self._lock:
            self.exchange.shock(pair, Decimal(str(pct)))

    def set_flow(self, rate: Any = None, volatility: Any = None) -> None:
        """Other traders' arrivals a second on each pair, and the random walk's volatility, from now on."""
        with self._lock:
            self.exchange.set_flow(rate, volatility)

    def set_system_status(self, status: str) -> None:
        with self._lock:
            self.exchange.set_system_status(status)

    def set_pair_status(self, pair: str, status: str) -> None:
        """One pair's own status (``cancel_only``, ``post_only``, ``limit_only``, ``online``) until ``reset()``."""
        with self._lock:
            self.exchange.set_pair_status(pair, status)

    def set_trade_volume(self, volume: Decimal | str, account: str = DEMO_ACCOUNT) -> None:
        """The account's 30-day trading volume (its fee tier) from now on, until ``reset()``."""
        with self._lock:
            self.exchange.set_trade_volume(Decimal(str(volume)), account)

    def set_liquidity(self, pair: str, volume: Decimal | str) -> None:
        with self._lock:
            self.exchange.set_liquidity(pair, Decimal(str(volume)))

    def _catch_up(self) -> None:
        with self._lock:
            self.exchange.catch_up()

    # -- views ----------------------------------------------------------------------------------
    def orders(self, account: str = DEMO_ACCOUNT) -> list[dict]:
        with self._lock:
            return self.exchange.orders(account)

    def trades(self, account: str = DEMO_ACCOUNT) -> list[dict]:
        with self._lock:
            return self.exchange.trades(account)

    def public_trades(self, pair: str, start: float, end: float) -> list[dict]:
        """The pair's public trades with start <= time < end, as Trades serves them, oldest first:
        dicts of price, volume (Decimal), time, side, ordertype, trade_id."""
        with self._lock:
            return self.exchange.public_trades(pair, start, end)

    def book(self, pair: str, depth: int = 10) -> dict[str, list[tuple[Decimal, Decimal]]]:
        """The pair's best ``depth`` levels a side as the book stream shows them: (price, qty), best first."""
        from krakensim.pairs import resolve_pair
        from krakensim.ws_feeds import book_rows

        with self._lock:
            asks, bids = book_rows(self.exchange, resolve_pair(pair), depth)
        return {"asks": [(Decimal(p), Decimal(q)) for _, p, q in asks],
                "bids": [(Decimal(p), Decimal(q)) for _, p, q in bids]}

    def balances(self, account: str = DEMO_ACCOUNT) -> dict[str, Decimal]:
        with self._lock:
            return self.exchange.balances(account)

    def holds(self, account: str = DEMO_ACCOUNT) -> dict[str, Decimal]:
        with self._lock:
            return self.exchange.holds(account)

    def dead_mans_switch(self, account: str = DEMO_ACCOUNT) -> dict[str, Any]:
        with self._lock:
            return self.exchange.dead_mans_switch(account)

    @property
    def access_log(self) -> list[AccessRecord]:
        return self._log.records()

    def access_log_since(self, index: int) -> list[AccessRecord]:
        return self._log.since(index)

    def counters(self, key: str | None = None) -> dict[str, Any]:
        """The key's API counter (demo key by default) and its account's per-pair trading counters."""
        key = key or self.api_key
        api_key = self._keys.get(key)
        if api_key is None:
            raise KeyError("unknown key")
        out: dict[str, Any] = dict(self._counter.snapshot(key))
        with self._lock:
            out.update(self.exchange.counters(api_key.account))
        return out

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot for ``GET /_sim/state``."""
        with self._lock:
            accounts = sorted(self._keys.accounts())
            return {
                "url": self.url,
                "ws_url": self.ws_url,
                "ws_auth_url": self.ws_auth_url,
                "time": self.clock.time(),
                "tier": self.tier,
                "system_status": self.exchange.system_status,
                "flow": {"rate": self.exchange.flow_rate, "volatility": str(self.exchange.volatility)},
                "accounts": {
                    name: {
                        "balances": {k: str(v) for k, v in self.exchange.balances(name).items()},
                        "holds": {k: str(v) for k, v in self.exchange.holds(name).items()},
                        "orders": self.exchange.orders(name),
                        "trades": self.exchange.trades(name),
                    }
                    for name in accounts
                },
                "counters": self.counters(),
                "faults": [f.to_json() for f in self.faults.all()],
                "access_log_size": len(self._log),
            }
