"""One WebSocket connection kept open in its own thread: connect, read, notice silence, reconnect.

Why websockets' sync client in a thread: the bot is synchronous; a blocking ``recv`` with a
timeout is exactly the silence check, and there is no event loop to own or to stop.

What every stream shares lives here: Kraken allows about 150 connection attempts per rolling
10 minutes per IP (more is a 10-minute ban), so the bot's streams share one ``ConnectLimiter``;
retries back off exponentially with jitter (Kraken's guide: 1 s doubling to 60 s), never
faster than once per 5 s after the exchange said ``maintenance``; no message (data or
heartbeat) for ``silence_s`` on the bot's clock means the connection is dead, whatever TCP
says. Every real wait ends at once on ``stop()``. Frames are never logged (a private
subscription carries the session token): websockets gets a logger of its own that drops them.
"""
from __future__ import annotations

import json
import logging
import random
import socket
import threading
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import urlsplit

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from krakenbot.clock import Clock, SystemClock

log = logging.getLogger("krakenbot.stream")
# websockets logs every frame at DEBUG; this logger is outside the bot's tree and says only warnings
_FRAMES = logging.Logger("krakenbot.stream.frames", logging.WARNING)

KRAKEN_CONNECTS_PER_WINDOW = 150
KRAKEN_CONNECT_WINDOW_S = 600.0
MAINTENANCE_RETRY_S = 5.0
MAX_FRAME = 2 ** 22  # a depth-1000 book snapshot is about 100 KB; anything near this is not Kraken


class Silence(Exception):
    """Nothing came for longer than the stream's silence threshold."""


class StreamProtocolError(Exception):
    """A frame the stream cannot read (not JSON, not an object): the connection is not trusted."""


class ConnectLimiter:
    """Connection attempts per rolling window, shared by every stream of one bot (one IP). The
    default leaves a margin under Kraken's 150 for restarts and other processes on the machine."""

    def __init__(self, clock: Clock, limit: int = 100, window_s: float = KRAKEN_CONNECT_WINDOW_S) -> None:
        if not 0 < limit <= KRAKEN_CONNECTS_PER_WINDOW:
            raise ValueError(f"connect limit must be 1..{KRAKEN_CONNECTS_PER_WINDOW} per {window_s:.0f} s")
        self.clock = clock
        self.limit = limit
        self.window_s = window_s
        self._attempts: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Record an attempt now and return 0, or return how long to wait before one is allowed."""
        now = self.clock.monotonic()
        with self._lock:
            while self._attempts and now - self._attempts[0] >= self.window_s:
                self._attempts.popleft()
            if len(self._attempts) >= self.limit:
                return self._attempts[0] + self.window_s - now
            self._attempts.append(now)
            return 0.0


@dataclass(frozen=True)
class Backoff:
    """Delay before the n-th consecutive failed attempt's retry: exponential, capped, with jitter
    (each delay drawn from half to all of its step), so many bots do not reconnect in lockstep."""

    first_s: float = 1.0
    cap_s: float = 60.0
    factor: float = 2.0

    def delay(self, failures: int, rng: random.Random) -> float:
        if failures <= 0:
            return 0.0
        step = min(self.cap_s, self.first_s * self.factor ** (failures - 1))
        return step * (0.5 + rng.random() / 2)


def decode(text: str | bytes) -> dict[str, Any]:
    """A frame as Kraken's numbers demand: every number with a point a Decimal, never a float."""
    try:
        message = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise StreamProtocolError(f"a frame that is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise StreamProtocolError(f"a frame that is not a JSON object: {type(message).__name__}")
    return message


class StreamConnection:
    """The loop; subclasses say what to send on open (``_on_open``) and what a message means
    (``_on_message``), and forget what the connection told them when it goes (``_on_down``)."""

    name = "stream"

    def __init__(self, url: str, *, clock: Clock | None = None, silence_s: float = 10.0, poll_s: float = 0.25,
                 backoff: Backoff = Backoff(), limiter: ConnectLimiter | None = None,
                 rng: random.Random | None = None, pause: Callable[[float], object] | None = None,
                 open_timeout_s: float = 10.0) -> None:
        if silence_s <= 0 or poll_s <= 0:
            raise ValueError("silence_s and poll_s must be > 0")
        self.url = url
        self.clock = clock or SystemClock()
        self.silence_s = silence_s
        self.poll_s = poll_s
        self.backoff = backoff
        self.limiter = limiter or ConnectLimiter(self.clock)
        self.rng = rng or random.Random()
        self.open_timeout_s = open_timeout_s
        self._stop = threading.Event()
        self._pause = pause or self._stop.wait  # tests pass a recorder: no real waiting
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._ws: ClientConnection | None = None
        self._sock: socket.socket | None = None  # during the opening handshake: stop() closes it
        self._send_lock = threading.Lock()
        self._req_id = 0
        self._last_seen = 0.0  # clock.monotonic() of the last frame received
        self.connected = False
        self.connects = 0  # connections opened
        self.frames = 0  # frames received, on every connection
        self.failures = 0  # consecutive failed attempts or connections lost before they worked
        self.exchange_status: str | None = None  # the last ``status`` channel's ``system``
        self.last_problem: str | None = None  # why the last connection ended or failed

    # -- life ---------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        self._thread = threading.Thread(target=self._run, name=f"krakenbot-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:  # a handshake in progress ends at once; an open connection within poll_s
            try:  # shutdown, not close: it wakes the reader waiting on the socket; the stream's thread closes it
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)
        self._notify()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Until ``predicate()`` holds (True) or ``timeout`` real seconds pass or the stream
        stops (False); looked at again after every message the stream handles."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate() or self._stop.is_set(), timeout) and predicate()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- the loop ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.limiter.take()
            if wait > 0:
                log.warning("%s: connection attempts at the limit (%d per %.0f s); next in %.0f s", self.name,
                            self.limiter.limit, self.limiter.window_s, wait)
                self._pause(wait)
                continue
            try:
                self._session()
            except Exception as exc:  # any failure ends this connection only; the loop reconnects
                self._down(exc)
            if self._stop.is_set():
                break
            self.failures += 1
            delay = self.backoff.delay(self.failures, self.rng)
            if self.exchange_status == "maintenance":
                delay = max(delay, MAINTENANCE_RETRY_S)
            self._pause(delay)
        self.connected = False
        self._notify()

    def _session(self) -> None:
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        self._sock = sock = socket.create_connection((parts.hostname, port), timeout=self.open_timeout_s)
        try:
            if self._stop.is_set():
                raise ConnectionError("stopping")
            ws = connect(self.url, sock=sock, open_timeout=self.open_timeout_s, close_timeout=1.0,
                         ping_interval=None, max_size=MAX_FRAME, logger=_FRAMES)
        except BaseException:
            sock.close()
            raise
        finally:
            self._sock = None
        with ws:  # closes it, whatever ends the session
            self._ws = ws
            try:
                self._serve(ws)
            finally:
                self._ws = None
        if not self._stop.is_set():
            raise ConnectionError("closed")

    def _serve(self, ws: ClientConnection) -> None:
        if self._stop.is_set():
            return
        self.connects += 1
        self.connected = True
        self._last_seen = self.clock.monotonic()
        self._on_open()
        self._notify()
        while not self._stop.is_set():
            try:
                frame = ws.recv(timeout=self.poll_s)
            except TimeoutError:
                quiet = self.clock.monotonic() - self._last_seen
                if quiet > self.silence_s:
                    raise Silence(f"nothing received for {quiet:.1f} s (limit {self.silence_s:g} s)") from None
                continue
            self._last_seen = self.clock.monotonic()
            self.frames += 1
            self._on_message(decode(frame))
            self._notify()

    def _down(self, exc: BaseException) -> None:
        if isinstance(exc, (OSError, WebSocketException, Silence, StreamProtocolError, TimeoutError)):
            problem = f"{type(exc).__name__}: {exc}"
        else:  # a bug in a handler: said loudly, then handled as a lost connection (fail closed)
            log.exception("%s: unexpected error", self.name)
            problem = f"unexpected {type(exc).__name__}: {exc}"
        self.last_problem = self._scrub(problem)
        was = self.connected
        self.connected = False
        if not self._stop.is_set():
            log.warning("%s: %s %s", self.name, "connection lost:" if was else "cannot connect:", self.last_problem)
        self._on_down(self.last_problem)
        self._notify()

    # -- sending ---------------------------------------------------------------------------------------
    def _send(self, method: str, params: dict[str, Any] | None = None) -> int:
        """Send one request; returns its ``req_id`` (a positive int32, as Kraken wants)."""
        ws = self._ws
        if ws is None:
            raise ConnectionError(f"{self.name}: not connected")
        with self._send_lock:
            self._req_id = self._req_id % 2_000_000_000 + 1
            req_id = self._req_id
            request: dict[str, Any] = {"method": method, "req_id": req_id}
            if params is not None:
                request["params"] = params
            ws.send(json.dumps(request))
        return req_id

    def _worked(self) -> None:
        """The connection delivered what was asked: the next loss starts the backoff afresh."""
        self.failures = 0

    def _status(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict) and isinstance(data[0].get("system"), str):
            system = data[0]["system"]
            if system != self.exchange_status:
                log.info("%s: the exchange says %s", self.name, system)
            self.exchange_status = system

    # -- hooks ------------------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        return text

    def _on_open(self) -> None:
        """Subscribe (the connection is new: Kraken keeps no subscription across connections)."""

    def _on_message(self, message: dict[str, Any]) -> None:
        """One decoded frame."""

    def _on_down(self, problem: str) -> None:
        """The connection ended or could not open: forget what only it could vouch for."""
