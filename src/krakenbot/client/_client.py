"""``KrakenClient``: the one object that talks to Kraken.

Before anything leaves, every call goes through, in this order: the safety wrapper's
``guard(endpoint)`` (once per call), then per attempt a first breaker check, the rate
pacer, the breaker's admission (right before the send, so a breaker that opened while
the call waited stops it), and the send. A call's attempts share one deadline
(``Timeouts.total``, see ``retry``). Cancels (the ``CANCEL`` rows) pass the breaker: it holds
back new exposure and reads from a failing exchange, never less exposure (the kill switch's
CancelAll, a keep-alive of the dead man's switch); their outcomes do not move it either.

Private calls and nonces. Kraken rejects a nonce lower than one it already saw, and two requests
racing on the connection pool can arrive out of order (auth-and-errors.md §2.3). Two locks:

- ``_send_lock``: taken by every private call from taking its nonce until its request bytes are
  all sent, so nonces leave in the order they were taken; a cancel holds it until its answer.
- ``_answer_lock``: taken by every private call except cancels (the ``CANCEL`` rows of
  ``endpoints``: CancelOrder, CancelOrderBatch, CancelAll, CancelAllOrdersAfter) from before
  its nonce until its answer, so ordinary calls stay strictly one at a time.

So a cancel (the kill switch's CancelAll) overtakes an ordinary call stuck waiting for its
answer instead of waiting for that call's deadline: it takes the next nonce
once the stuck request is fully sent, and goes out on another connection. Nothing can overtake
the cancel: every later private call needs ``_send_lock``, which the cancel holds until its
answer. Cancels among themselves take turns (``_send_lock``), like ordinary calls among themselves.

What the overtaken call can do depends on the key's nonce window (auth-and-errors.md §2.2):

- the overtaken request (nonce N) was already handled by Kraken, only its answer is slow: the
  cancel (N+1) arrives after it and covers it, window or not;
- it had not reached Kraken yet (one connection's bytes can be overtaken by another's) and the
  key has **no nonce window**: Kraken refuses it ``EAPI:Invalid nonce`` (not executed), so an
  AddOrder refused so was not placed, a read is retried once with a fresh nonce;
- the same, but the key **has a nonce window** (Kraken suggests 10-15 s): N is inside the
  window, so Kraken *accepts* it after the cancel. A read is harmless; an AddOrder, EditOrder or
  AmendOrder (the ``PLACE`` rows) lands after the CancelAll that was meant to cover it.

Hence the cover: a call that can add exposure is registered as a ``Placement`` from before its
guard check until it ends, and a cancel sent through ``cancel()`` learns (under ``_send_lock``,
with its nonce) which placements it may have overtaken. ``TradingApi`` then waits for them to
end, each at most until its own deadline, and sends the cancel again (CancelAll; a per-order
cancel is re-sent as a re-check). No placement can slip past both: one registered after the
snapshot ran its guard after it, and the kill switch is engaged before its CancelAll, so the
guard refuses it. The first cancel still leaves at once; the second comes when the overtaken
call's answer (or its deadline) does, which is what the whole CancelAll waited for before. A call
that ended without an answer (a timeout, a dropped connection, an edge's error page) may still be on
its way, and Kraken takes it until the order's own ``deadline`` parameter: it stays registered until
then (a cancel sent meanwhile covers it too), and the second cancel waits for that deadline.
"""
from __future__ import annotations

import logging
import random
import re
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import quote_plus

from krakenbot.client import endpoints
from krakenbot.client._transport import Budget, Timeouts, Transport, cleartext_refusal, shown_url
from krakenbot.client.account import AccountApi
from krakenbot.client.breaker import CircuitBreaker
from krakenbot.client.market import MarketApi
from krakenbot.client.nonce import NonceGenerator, NonceStore
from krakenbot.client.pacing import CallCounterPacer, PublicPacer
from krakenbot.client.retry import Retrier, RetryPolicy
from krakenbot.client.server_clock import ServerClock
from krakenbot.client.signing import ApiSecret, Signer, redact_key
from krakenbot.client.trading import TradingApi
from krakenbot.clock import Clock, SystemClock
from krakenbot.errors import (AuthenticationError, ClientClosed, InvalidNonceError, KrakenError, LocalRefusal,
                             RateLimitError, TransportError)

log = logging.getLogger("krakenbot.client")

Guard = Callable[[str], None]
_FORM = "application/x-www-form-urlencoded"
_OVERTAKING = endpoints.names(private=True, effect=endpoints.Effect.CANCEL)  # see the module docstring
_PLACING = endpoints.names(private=True, effect=endpoints.Effect.PLACE)  # what a cancel must cover again


class Placement:
    """A call that can add exposure (AddOrder, EditOrder, AmendOrder...), from before its guard
    check until it ends; a cancel that may have overtaken it waits for it (``wait``)."""

    __slots__ = ("endpoint", "deadline", "lands_until", "answered", "_ended")

    def __init__(self, endpoint: str, deadline: float, lands_until: float) -> None:
        self.endpoint = endpoint
        self.deadline = deadline  # time.monotonic(); the exchange's own deadline once it is sent
        self.lands_until = lands_until  # exchange time: until when Kraken may still take the request
        self.answered = False  # the call ended with Kraken's answer (or never left): nothing more can land
        self._ended = threading.Event()

    def end(self, answered: bool) -> None:
        self.answered = answered
        self._ended.set()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def wait(self) -> bool:
        """Until the call ended (True) or its deadline passed (False). A call still waiting for its
        turn has a provisional deadline, replaced by its exchange's when it is sent. What may still
        land afterwards (``answered`` False) is the caller's to wait out (``TradingApi``)."""
        while True:
            deadline = self.deadline
            if self._ended.wait(max(0.0, deadline - time.monotonic())):
                return True
            if self.deadline == deadline:
                return False


def _wire(value: Any) -> str:
    """One parameter as Kraken expects it on the wire."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, tuple)):
        return ",".join(_wire(v) for v in value)
    if isinstance(value, float):
        raise TypeError("floats are not sent to Kraken: pass a Decimal or a string")
    return str(value)


# Kraken method names (``Balance``, ``Earn/Allocate``): anything else could walk out of /0/.
_ENDPOINT = re.compile(r"[A-Za-z]{1,40}(/[A-Za-z]{1,40})?").fullmatch
_SAFE = re.compile(r"[A-Za-z0-9_.\-]*").fullmatch
_HEADER_TOKEN = re.compile(r"[\x21-\x7e]{1,512}").fullmatch  # what an API-Key header can carry


def encode_params(params: dict[str, Any]) -> str:
    """Form-encode like ``urlencode`` (same bytes), but skip quoting values that need none:
    ``urlencode`` is kept off the hot path because Kraken's parameters are almost always plain tokens."""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        text = _wire(value)
        if not _SAFE(text):
            text = quote_plus(text)
        if not _SAFE(key):
            key = quote_plus(key)
        parts.append(f"{key}={text}")
    return "&".join(parts)


def _throttled_until(code: str | None) -> float | None:
    """The Unix time in ``EService: Throttled: <ts>`` (Kraken's spacing varies), else None."""
    if not code or "Throttled" not in code:
        return None
    tail = code.rsplit(":", 1)[-1].strip()
    return float(tail) if tail.isdigit() else None


class KrakenClient:
    """Kraken Spot REST client: signing, nonce, pacing, retries, breaker and guard in one place."""

    def __init__(
        self,
        base_url: str = "https://api.kraken.com",
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        clock: Clock | None = None,
        timeouts: Timeouts = Timeouts(),
        tier: str = "starter",
        nonce_store: NonceStore | None = None,
        breaker: CircuitBreaker | None = None,
        guard: Guard | None = None,
        retry: RetryPolicy | None = None,
        user_agent: str = "krakenbot/0.1",
        pacing: bool = True,
        public_burst: int | None = 10,
        public_rate: float = 1.0,
        order_deadline: float | None = 15.0,
        rng: random.Random | None = None,
        nonce: NonceGenerator | None = None,
        max_connections: int = 4,
    ) -> None:
        if not isinstance(timeouts, Timeouts):
            raise TypeError("timeouts must be a Timeouts")
        api_key, api_secret = api_key or None, api_secret or None  # "" from an unset env var means none
        if (api_key is None) != (api_secret is None):
            raise ValueError("give both api_key and api_secret, or neither")
        if api_key is not None and not _HEADER_TOKEN(api_key):
            # Never echo it: http.client's own error would print the whole key.
            raise ValueError("API key must be printable ASCII without spaces or line breaks (check for a stray CR/LF)")
        if api_key is not None:
            refusal = cleartext_refusal(base_url)
            if refusal:  # before any connection: the key and signatures never cross the network in clear
                raise ValueError(f"API_DOMAIN: {refusal}")
        self.clock: Clock = clock or SystemClock()
        self.order_deadline = order_deadline
        self._api_key = api_key
        self._signer = Signer(ApiSecret(api_secret)) if api_secret is not None else None
        self.breaker = breaker if breaker is not None else CircuitBreaker(self.clock)
        self.guard = guard
        # A local venue (a dry run, ``krakenbot.dry_run``) that answers the private calls it lists in
        # ``venue.endpoints`` instead of the exchange; those calls still pass the guard (``local``).
        self.venue: Any = None
        self.retry_policy = retry if retry is not None else RetryPolicy()
        self._retrier = Retrier(self.retry_policy, self.clock, rng)
        self.pacer = CallCounterPacer(self.clock, tier) if pacing else None
        self.public_pacer = PublicPacer(self.clock, public_burst, public_rate) if public_burst else None
        self.nonces = nonce if nonce is not None else NonceGenerator(nonce_store)
        self._transport = Transport(base_url, timeouts, user_agent, maxsize=max_connections)
        self._observer: Any = None  # observe()
        prefix = self._transport.prefix
        self._public_prefix = f"{prefix}/0/public/"
        self._private_prefix = f"{prefix}/0/private/"
        self._private_paths: dict[str, tuple[str, bytes]] = {}
        self._private_headers = {"API-Key": api_key or "", "Content-Type": _FORM, "User-Agent": user_agent}
        self._send_lock = threading.Lock()  # nonce to bytes sent (a cancel: to its answer); module docstring
        self._answer_lock = threading.Lock()  # nonce to answer, every private call but cancels
        self._placing: set[Placement] = set()  # calls that can add exposure, guard to end (module docstring)
        self._placing_lock = threading.Lock()
        self._total = timeouts.total
        # How long a placement not yet sent may take: its call's whole budget, else the order's own deadline.
        self._placement_bound = timeouts.total or order_deadline or 30.0
        self.market = MarketApi(self)
        self.account = AccountApi(self)
        self.trading = TradingApi(self)
        # Kraken's clock as seen from ours: deadlines and "not placed" verdicts use exchange time.
        self.server_clock = ServerClock(self.market.server_time, self.clock)

    def exchange_time(self) -> float:
        """The exchange's time by our estimate (local clock + measured offset)."""
        return self.server_clock.now()

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> KrakenClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KrakenClient({shown_url(self._transport.base_url)!r}, key={redact_key(self._api_key)})"

    @property
    def has_credentials(self) -> bool:
        return self._signer is not None

    @property
    def key_id(self) -> str:
        return redact_key(self._api_key)

    def set_guard(self, guard: Guard | None) -> None:
        """Install the safety wrapper's allowlist check."""
        self.guard = guard

    # -- calls -----------------------------------------------------------------------------------
    def _check_call(self, endpoint: str, local: bool = False) -> None:
        """Once per call, before anything else: a Kraken method name, an open client, the guard."""
        if not _ENDPOINT(endpoint):
            raise ValueError(f"not a Kraken method name: {endpoint[:40]!r}")
        if self._transport.closed:
            raise ClientClosed(f"{endpoint}: client is closed; nothing was sent", (), endpoint)
        if self.guard is not None:
            if local:
                self.guard(endpoint, local=True)
            else:
                self.guard(endpoint)

    def _served_locally(self, endpoint: str) -> bool:
        venue = self.venue
        return venue is not None and endpoint in venue.endpoints

    def _local(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        """A call the local venue answers: the guard (told it stays local), the pacer as if it were sent
        (a rehearsal keeps live's pace and timing), then the venue."""
        self._check_call(endpoint, local=True)
        if self.pacer is not None:
            self.pacer.acquire(endpoint)
        return self.venue.call(endpoint, params)

    def public(self, endpoint: str, **params: Any) -> dict[str, Any]:
        """GET ``/0/public/<endpoint>``; returns Kraken's ``result`` object."""
        try:
            self._check_call(endpoint)
            query = encode_params(params)
            path = self._public_prefix + endpoint + ("?" + query if query else "")
            budget = Budget(self._total) if self._total is not None else None
            return self._retrier.run(endpoint, True, lambda: self._public_once(endpoint, path, budget), budget)
        except LocalRefusal as exc:
            self._refused(endpoint, exc)
            raise

    def private(self, endpoint: str, **params: Any) -> dict[str, Any]:
        """Signed POST to ``/0/private/<endpoint>``; reads are retried, writes never."""
        if self._served_locally(endpoint):
            return self._local(endpoint, params)
        if endpoint not in _PLACING:
            return self._private(endpoint, params, None, None)
        placement = Placement(endpoint, time.monotonic() + self._placement_bound, self._lands_until(params))
        with self._placing_lock:  # before the guard: see the module docstring
            self._placing.add(placement)
        answered = False
        try:
            result = self._private(endpoint, params, placement, None)
            answered = True
            return result
        except KrakenError as exc:
            answered = not isinstance(exc, TransportError)  # Kraken's own error, or nothing sent
            raise
        finally:
            placement.end(answered)
            if answered:  # else it stays registered until Kraken can no longer take it (``_may_land``)
                with self._placing_lock:
                    self._placing.discard(placement)

    def _may_land(self) -> list[Placement]:
        """The calls that can still add exposure: on their way, or ended without Kraken's answer and
        within their order's deadline (the expired ones are forgotten here)."""
        now = self.exchange_time()
        with self._placing_lock:
            self._placing = {p for p in self._placing if not (p.ended and p.lands_until <= now)}
            return list(self._placing)

    def _lands_until(self, params: dict[str, Any]) -> float:
        """Until when (exchange time) Kraken may take this request: its ``deadline`` parameter (whole
        seconds) plus one for our estimate of that clock; without one, the call's whole budget from now."""
        text = str(params.get("deadline"))
        try:
            if len(text) == 20 and text[10] == "T" and text[19] == "Z":  # the shape the bot sends: the fast parser
                when = datetime.fromisoformat(text[:19])
            else:
                when = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
            return when.replace(tzinfo=timezone.utc).timestamp() + 1.0
        except ValueError:
            return self.exchange_time() + self._placement_bound

    def cancel(self, endpoint: str, overtaken: list[Placement], /, **params: Any) -> dict[str, Any]:
        """A cancel (a ``CANCEL`` row) like ``private``; ``overtaken`` receives the calls that can add
        exposure and may land after it (registered when it took its nonce), even when it then fails."""
        if endpoint not in _OVERTAKING:
            raise ValueError(f"{endpoint} is not a cancel")
        if self._served_locally(endpoint):  # nothing on its way to overtake
            return self._local(endpoint, params)
        return self._private(endpoint, params, None, overtaken)

    def _private(self, endpoint: str, params: dict[str, Any], placement: Placement | None,
                 overtaken: list[Placement] | None) -> dict[str, Any]:
        try:
            self._check_call(endpoint)
            if self._signer is None:
                raise AuthenticationError(f"{endpoint}: no API key configured; nothing was sent", (), endpoint)
            body = encode_params(params)
            budget = Budget(self._total) if self._total is not None else None
            return self._retrier.run(endpoint, False,
                                     lambda: self._private_once(endpoint, body, budget, placement, overtaken), budget)
        except LocalRefusal as exc:
            self._refused(endpoint, exc)
            raise

    def observe(self, observer: Any) -> None:
        """Install the metrics' observer: ``response(endpoint, seconds, error)`` for every request that
        left or failed on its way (the transport), ``refused(endpoint, error)`` for every call the bot
        refused itself (guard, breaker, closed client): nothing was sent."""
        self._observer = observer
        self._transport.observer = observer

    def _refused(self, endpoint: str, exc: LocalRefusal) -> None:
        if self._observer is not None:
            self._observer.refused(endpoint, exc)

    def _public_once(self, endpoint: str, path: str, budget: Budget | None) -> dict[str, Any]:
        self.breaker.ensure_not_open(endpoint)  # refuse before the pacer spends budget or waits
        if self.public_pacer is not None:
            self.public_pacer.acquire(endpoint)
        return self._admitted(endpoint, True, lambda: self._transport.request("GET", path, endpoint, None, None,
                                                                              budget))

    def _private_once(self, endpoint: str, params_body: str, budget: Budget | None,
                      placement: Placement | None = None, overtaken: list[Placement] | None = None
                      ) -> dict[str, Any]:
        transport, cancel = self._transport, endpoint in _OVERTAKING
        if not cancel:
            self.breaker.ensure_not_open(endpoint)  # refuse before the pacer spends budget or waits
        if self.pacer is not None:
            self.pacer.acquire(endpoint)
        paths = self._private_paths.get(endpoint)
        if paths is None:
            path = self._private_prefix + endpoint
            paths = self._private_paths[endpoint] = (path, path.encode())

        def send() -> dict[str, Any]:
            with self._send_lock:
                nonce = str(self.nonces.next())
                body = f"nonce={nonce}&{params_body}" if params_body else f"nonce={nonce}"
                headers = self._private_headers.copy()
                headers["API-Sign"] = self._signer.sign(paths[1], nonce, body)  # type: ignore[union-attr]
                if overtaken is not None:
                    overtaken.extend(self._may_land())
                exchange = transport.send("POST", paths[0], endpoint, body, headers, budget)
                if cancel:  # nothing is sent after a cancel until it is answered
                    return transport.receive(exchange)
                if placement is not None and exchange[0].deadline != float("inf"):
                    placement.deadline = exchange[0].deadline  # the exchange's own, set by the transport
            return transport.receive(exchange)

        if cancel:  # past the breaker (module docstring)
            try:
                return send()
            except KrakenError as exc:
                self._after_error(exc, public=False, breaker=False)
                raise
        with self._answer_lock:
            return self._admitted(endpoint, False, send)

    def _admitted(self, endpoint: str, public: bool, send: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The breaker's admission right before the send (while a call waited for the pacer or
        the private locks, failures elsewhere may have opened it), then the outcome recorded."""
        breaker = self.breaker
        breaker.before_call(endpoint)
        try:
            result = send()
        except KrakenError as exc:
            self._after_error(exc, public=public)
            raise
        except BaseException:
            breaker.release()
            raise
        breaker.record_success()
        return result

    def _after_error(self, exc: KrakenError, *, public: bool, breaker: bool = True) -> None:
        if isinstance(exc, LocalRefusal):
            if breaker:
                self.breaker.release()
            return
        if breaker:
            self.breaker.record_failure(exc)
        if isinstance(exc, InvalidNonceError) and not public:
            self.nonces.rejected()  # a stored mark set aside as too far ahead was real (NonceGenerator)
        throttled_until = _throttled_until(exc.code) if isinstance(exc, RateLimitError) else None
        if throttled_until is not None and not public and self.pacer is not None:
            self.pacer.block_for(min(throttled_until - self.clock.time(), 300.0))
        elif isinstance(exc, RateLimitError) and not public and exc.code == "EAPI:Rate limit exceeded":
            if self.pacer is not None:
                self.pacer.on_rate_limited()
        elif isinstance(exc, RateLimitError) and public and self.public_pacer is not None:
            self.public_pacer.on_rate_limited()
        # A failure of the exchange at INFO; a business answer (an unknown order looked up, insufficient funds)
        # at DEBUG: where it matters it is reported with its reason (a refusal, a lookup's outcome).
        level = logging.INFO if exc.counts_for_breaker else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(level, "%s failed: %s %s", exc.endpoint, type(exc).__name__, exc.codes or "")
