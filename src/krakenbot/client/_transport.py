"""HTTP to Kraken: a few kept-alive ``http.client`` connections, opened on demand, closed on close().

The standard library's ``http.client`` directly: the per-call floor in ``bench/`` *is* an
``http.client`` keep-alive request, and a client library on top of it adds its own cost per call.
What those libraries would add is written here in a few lines: a small LIFO of idle connections
(one request per connection at a time), a stale-connection check before reuse, connect and read
timeouts, and TLS with the system's trust store and hostname checks (``ssl.create_default_context``).

Two bounds no stock client has:

- **One deadline per exchange** (``Timeouts.total``): connect, TLS handshake, sending, status line,
  headers and body. ``http.client`` reads the answer through ``_Wire``, which, before every wait
  for bytes, sets the socket's timeout to the read timeout or to what is left of the deadline,
  whichever is less; so a server that dribbles a byte now and then (inside the read timeout) is
  cut off at the deadline wherever it dribbles. No thread, no signal, no ``poll``: plain socket
  timeouts, the same on Linux and macOS. Cost per call: one ``time.monotonic()`` per wait (a
  whole answer on a kept-alive connection is usually one wait); the socket's timeout is changed
  only within ``read`` seconds of the deadline. DNS resolution is not bounded (``getaddrinfo``
  takes no timeout).
- **A size limit on answers** (``max_answer_bytes``, 16 MiB): Kraken's largest answers the bot
  can ask for are a few MB at most (by estimate, not measured here: ``AssetPairs`` for every pair,
  about a thousand pairs of under 1 KB, is the largest; ``Depth`` stops at 500 levels a side,
  ``Trades``/``OHLC`` at 1000/720 rows, the history endpoints at pages of 50), so 16 MiB leaves
  several times that and still bounds what one call can hold (an endless chunked answer ends
  there instead of in ``MemoryError``). Announced lengths over it are refused before reading.

A call with retries passes a ``Budget`` so that its attempts share one deadline (see ``retry``).

Every failure becomes a typed ``krakenbot.errors`` exception (``decode_response`` is
the whole mapping): HTTP 200 with an ``E...`` string -> ``from_codes``; any other
status (often an HTML page from the edge) -> ``HttpStatusError``; a body that is not
Kraken's JSON envelope -> ``MalformedResponse``; over the size limit -> ``AnswerTooLarge``;
socket timeouts and the deadline -> ``RequestTimeout``;
refused/reset/dropped connections and broken HTTP framing -> ``ConnectionFailed``. Messages carry
the endpoint and Kraken's codes only: never headers, bodies or the key.
"""
from __future__ import annotations

import http.client
import io
import ipaddress
import json
import logging
import math
import select
import selectors
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from krakenbot.errors import (
    AnswerTooLarge,
    ConnectionFailed,
    HttpStatusError,
    KrakenError,
    MalformedResponse,
    RequestTimeout,
    from_codes,
)

log = logging.getLogger("krakenbot.client")


@dataclass(frozen=True)
class Timeouts:
    """Connect and read budgets in seconds, and an optional total per call.

    ``connect`` bounds opening the connection, and again the TLS handshake; ``read`` bounds each
    wait for bytes, not the whole answer; ``total`` bounds the whole call: connect, handshake,
    request, status line, headers and body, and for a read that is retried every attempt and
    back-off wait together (DNS resolution and the bot's own rate pacing are not counted).
    """

    connect: float = 3.05
    read: float = 10.0
    total: float | None = 30.0  # None: no bound on the whole answer (a trickling answer can hold a call)

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is None and name == "total":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"Timeouts.{name} must be a positive finite number of seconds, got {value!r}")


_CHUNK = 65536
_FD_SETSIZE = 1024  # select()'s descriptor limit on Linux and macOS; past it, a selector
MAX_ANSWER_BYTES = 16 * 2**20  # why 16 MiB: the module docstring


class Budget:
    """What is left of one call's ``Timeouts.total``, shared by its attempts and back-off waits: each
    exchange spends the time it took, the retrier the back-off it waited."""

    __slots__ = ("left", "total")

    def __init__(self, seconds: float) -> None:
        self.left = self.total = seconds


class _Overdue(TimeoutError):
    """The exchange's deadline passed while waiting for bytes."""


class _Wire(io.RawIOBase):
    """The answer's bytes as ``http.client`` reads them (status line, headers, chunk lines, body):
    before each wait the socket's timeout becomes the read timeout or what is left of the
    deadline, whichever is less. Wraps the socket's own unbuffered reader, so closing keeps the
    standard library's bookkeeping (a socket closed by ``http.client`` stays open until its answer
    has been read)."""

    def __init__(self, sock: Any, deadline: float, read: float) -> None:
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self._read = read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _Overdue()
        if left < self._read:
            self._sock.settimeout(left)
            try:
                return self._raw.readinto(buffer)
            except TimeoutError:
                raise _Overdue() from None  # what timed out was the deadline
        sock = self._sock
        if sock.gettimeout() != self._read:
            sock.settimeout(self._read)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _Deadlined:
    """Mixed into ``http.client``'s connections: answers are read through ``_Wire`` with the
    deadline and read timeout the transport set for the current request."""

    deadline = math.inf
    read_timeout = 10.0
    sock: Any

    def response_class(self, sock: Any, debuglevel: int = 0, method: str | None = None,
                       url: str | None = None) -> http.client.HTTPResponse:
        # ``getresponse()`` calls this; the response asks its "socket" (this connection) for
        # ``makefile("rb")`` once, in its constructor, and reads only from that.
        return http.client.HTTPResponse(self, debuglevel, method, url)  # type: ignore[arg-type]

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_Wire(self.sock, self.deadline, self.read_timeout))


class _OneWrite:
    """A request's head and body in one write. ``http.client`` sends them apart: two system calls, and
    the server wakes for a head whose body is still on its way (on TLS: two records)."""

    def _send_output(self, message_body=None, encode_chunked=False):  # overrides http.client's (3.11+)
        if not isinstance(message_body, bytes) or encode_chunked:
            return super()._send_output(message_body, encode_chunked)  # type: ignore[misc]
        self._buffer.extend((b"", b""))  # type: ignore[attr-defined]
        head = b"\r\n".join(self._buffer)  # type: ignore[attr-defined]
        del self._buffer[:]  # type: ignore[attr-defined]
        self.send(head + message_body)  # type: ignore[attr-defined]


class _HTTP(_OneWrite, _Deadlined, http.client.HTTPConnection):
    pass


class _HTTPS(_OneWrite, _Deadlined, http.client.HTTPSConnection):
    def connect(self) -> None:
        """``HTTPSConnection.connect`` (TCP, then TLS with the context's certificate and hostname
        checks), with the handshake bounded by what is left of the deadline as well."""
        http.client.HTTPConnection.connect(self)
        self.sock.settimeout(_left(self.deadline, self.timeout))
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _left(deadline: float, bound: float) -> float:
    """``bound`` or the time left before ``deadline``, whichever is less (a socket timeout: > 0)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Overdue()
    return left if left < bound else bound


def is_loopback_host(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or ``localhost``: the machine itself (the simulator), never the network.
    Decided from the text alone: no name is resolved (a resolver could answer anything)."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":  # only the name itself: *.localhost is left to a resolver, so not trusted
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown_url(url: str | None) -> str:
    """A URL as shown to the operator: a password in its userinfo (``user:pw@``) becomes ``***``."""
    if not url:
        return "<unset>"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


def cleartext_refusal(base_url: str) -> str | None:
    """Why signed calls must not go to ``base_url`` (plain http off this machine), or None.
    The API key and every signature travel in the request: only TLS may carry them off the host."""
    parts = urlsplit(base_url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return None
    if parts.scheme == "http":
        return (f"plain http is allowed only to this machine (127.0.0.1, ::1, localhost: the simulator); "
                f"use https:// for {parts.hostname}")
    return f"must be an https:// URL, got scheme {parts.scheme or 'none'!r}"


def decode_response(endpoint: str, status: int, data: bytes) -> dict[str, Any]:
    """Kraken's ``result`` from one HTTP answer, or the typed error it stands for."""
    if status != 200:
        kind = "HTML page" if data[:200].lstrip().lower().startswith((b"<!doctype", b"<html")) else "body"
        raise HttpStatusError(f"{endpoint}: HTTP {status} ({kind}, {len(data)} bytes)", status, endpoint)
    try:
        envelope = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly nested JSON
        stripped = data[:200].lstrip().lower()
        what = "HTML" if stripped.startswith((b"<!doctype", b"<html")) else "invalid or truncated JSON"
        raise MalformedResponse(f"{endpoint}: {what} in a {len(data)}-byte body", (), endpoint) from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("error", None), list):
        raise MalformedResponse(f"{endpoint}: not Kraken's envelope (no error list)", (), endpoint)
    errors = envelope["error"]
    if errors:
        if not all(isinstance(e, str) for e in errors):
            raise MalformedResponse(f"{endpoint}: error list holds non-strings", (), endpoint)
        if any(not e.startswith("W") for e in errors):
            raise from_codes(errors, endpoint)
        log.warning("%s: warnings %s", endpoint, errors)
    result = envelope.get("result")
    if not isinstance(result, dict):
        raise MalformedResponse(f"{endpoint}: result missing or not an object", (), endpoint)
    return result


def _gone(conn: http.client.HTTPConnection) -> bool:
    """Is an idle kept-alive connection unusable? Readable while idle means the server closed it (or
    sent bytes no request asked for): either way it must not carry a request."""
    sock = conn.sock
    if sock is None:
        return False  # not open (yet, or any more): the request opens it
    if sock.fileno() < _FD_SETSIZE:  # one select() call, cheaper than building a selector each time
        return bool(select.select((sock,), (), (), 0)[0])
    with selectors.DefaultSelector() as selector:  # the platform's own (epoll, kqueue): any descriptor
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(0))


class Transport:
    """Owns the connections; sends one request and decodes it. No retries here.

    ``request`` is ``send`` then ``receive``: the client holds its nonce lock across ``send``
    only, so that a cancel can be sent while another private call waits for its answer."""

    def __init__(self, base_url: str, timeouts: Timeouts, user_agent: str, maxsize: int = 4,
                 ssl_context: ssl.SSLContext | None = None, max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port], got {shown_url(base_url)!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"base_url has an invalid port: {shown_url(base_url)!r}") from None
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize!r}")
        if max_answer_bytes < 1:
            raise ValueError(f"max_answer_bytes must be at least 1, got {max_answer_bytes!r}")
        self.base_url = base_url.rstrip("/")
        self.prefix = parts.path.rstrip("/")
        self.timeouts = timeouts
        self.max_answer_bytes = max_answer_bytes
        self._host, self._port = parts.hostname, port
        self._https = parts.scheme == "https"
        self._tls = (ssl_context or ssl.create_default_context()) if self._https else None
        self._maxsize = maxsize
        self._idle: list[_HTTP | _HTTPS] = []  # LIFO: the warmest connection first
        self._lock = threading.Lock()
        self._get_headers = {"User-Agent": user_agent}
        self.connections_opened = 0
        self.closed = False
        # ``observer.response(endpoint, seconds, error)`` once per request that left (answered or
        # failed) and once per one that failed before it left (``seconds`` None): the metrics' view.
        self.observer: Any = None

    # -- connections -------------------------------------------------------------------------
    def _checkout(self) -> _HTTP | _HTTPS:
        """An idle connection that is still open, else a new (not yet opened) one."""
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _gone(conn):
                    return conn
                conn.close()
        if self._https:
            return _HTTPS(self._host, self._port, timeout=self.timeouts.connect, context=self._tls)
        return _HTTP(self._host, self._port, timeout=self.timeouts.connect)

    def _checkin(self, conn: _HTTP | _HTTPS) -> None:
        with self._lock:
            if not self.closed and len(self._idle) < self._maxsize:
                self._idle.append(conn)
                return
        conn.close()

    def _open(self, conn: _HTTP | _HTTPS, endpoint: str) -> None:
        """Open a new connection (and its TLS) within the connect timeout and the deadline; nothing
        of the request has left yet, so a failure here is plainly a failed connection."""
        try:
            conn.timeout = _left(conn.deadline, self.timeouts.connect)
            conn.connect()
        except OSError as exc:  # TimeoutError and ssl.SSLError among them
            conn.close()
            # A socket timeout set to what was left of the deadline (the TCP connect or the TLS
            # handshake) ends at the deadline: that is the total timeout, not the connect timeout.
            if isinstance(exc, _Overdue) or (isinstance(exc, TimeoutError) and time.monotonic() >= conn.deadline):
                raise RequestTimeout(f"{endpoint}: not connected within the total timeout", (), endpoint) from None
            if isinstance(exc, TimeoutError):
                raise RequestTimeout(f"{endpoint}: connect timed out", (), endpoint) from None
            raise ConnectionFailed(f"{endpoint}: connection failed ({type(exc).__name__})", (), endpoint) from None
        self.connections_opened += 1

    # -- one request ---------------------------------------------------------------------------
    def request(self, method: str, path: str, endpoint: str, body: str | None = None,
                headers: dict[str, str] | None = None, budget: Budget | None = None) -> dict[str, Any]:
        """Send and decode; ``path`` is the full request path (with any query string)."""
        return self.receive(self.send(method, path, endpoint, body, headers, budget))

    def send(self, method: str, path: str, endpoint: str, body: str | None = None,
             headers: dict[str, str] | None = None, budget: Budget | None = None) -> tuple[Any, ...]:
        """Open (or reuse) a connection and send the whole request; the exchange for ``receive``.
        Its deadline: ``Timeouts.total`` from now, or what is left of ``budget``."""
        started = time.monotonic()
        timeouts = self.timeouts
        total = timeouts.total if budget is None else budget.left
        conn = self._checkout()
        conn.deadline = math.inf if total is None else started + total
        conn.read_timeout = timeouts.read
        try:
            if conn.sock is None:
                self._open(conn, endpoint)
            sock = conn.sock
            timeout = _left(conn.deadline, timeouts.read)
            if sock.gettimeout() != timeout:
                sock.settimeout(timeout)
            conn.request(method, path, body.encode() if body is not None else None,
                         headers if headers is not None else self._get_headers)
        except BaseException as exc:
            _spend(budget, started)
            conn.close()  # half-sent: it must not carry another request
            if isinstance(exc, (http.client.HTTPException, OSError, KrakenError)):
                # _open's refused or timed-out connection is already typed: counted here, once, like the rest
                error = exc if isinstance(exc, KrakenError) else _typed(exc, endpoint)
                if self.observer is not None:
                    self.observer.response(endpoint, None, error)
                raise error from None
            raise
        return conn, endpoint, started, budget

    def receive(self, exchange: tuple[Any, ...]) -> dict[str, Any]:
        """Read and decode the answer to ``send``'s request, by the same deadline."""
        conn, endpoint, started, budget = exchange
        observer = self.observer
        try:
            response = conn.getresponse()
            data = self._read_body(response, endpoint)
        # ``from None``: the error names the endpoint and the failure's type, nothing of the request.
        except (http.client.HTTPException, OSError, KrakenError) as exc:
            conn.close()
            error = exc if isinstance(exc, KrakenError) else _typed(exc, endpoint)
            if observer is not None:
                observer.response(endpoint, time.monotonic() - started, error)
            raise error from None
        except BaseException:
            conn.close()  # half-read: it must not carry another request
            raise
        finally:
            _spend(budget, started)
        self._checkin(conn)
        if observer is None:
            return decode_response(endpoint, response.status, data)
        seconds = time.monotonic() - started
        try:
            result = decode_response(endpoint, response.status, data)
        except KrakenError as error:
            observer.response(endpoint, seconds, error)
            raise
        observer.response(endpoint, seconds, None)
        return result

    def _read_body(self, response: http.client.HTTPResponse, endpoint: str) -> bytes:
        """The whole body, refused once past ``max_answer_bytes`` (or announced over it); every
        wait for its bytes is bounded by the deadline (``_Wire``)."""
        limit = self.max_answer_bytes
        if response.length is not None and response.length > limit:
            raise AnswerTooLarge(f"{endpoint}: answer of {response.length} bytes announced, over the "
                                 f"{_size(limit)} limit; connection closed", response.length, limit, endpoint)
        chunks = []
        size = 0
        while True:
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise AnswerTooLarge(f"{endpoint}: answer over the {_size(limit)} limit ({size} bytes read); "
                                     f"connection closed", size, limit, endpoint)
            chunks.append(chunk)
            if response.length == 0:
                break  # all of Content-Length is in: no read for the end
        if response.length:  # read1 answers b"" at an early end of file: the answer was cut short
            raise ConnectionFailed(f"{endpoint}: connection dropped (answer shorter than its Content-Length)",
                                   (), endpoint)
        response.close()  # done with this answer: the connection may carry the next request
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _spend(budget: Budget | None, started: float) -> None:
    if budget is not None:
        budget.left -= time.monotonic() - started


def _typed(exc: BaseException, endpoint: str) -> KrakenError:
    if isinstance(exc, _Overdue):
        return RequestTimeout(f"{endpoint}: answer not complete within the total timeout", (), endpoint)
    if isinstance(exc, TimeoutError):
        return RequestTimeout(f"{endpoint}: read timed out", (), endpoint)
    return ConnectionFailed(f"{endpoint}: connection dropped ({type(exc).__name__})", (), endpoint)


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n % 2**20 == 0 else f"{n} bytes"
