"""HTTP to Kraken: a few kept-alive ``http.client`` connections, opened on demand, closed on close().

The standard library's ``http.client`` directly: the per-call floor in ``bench/`` *is* an
``http.client`` keep-alive request, and a client library on top of it adds its own cost per call.
What those libraries would add is written here in a few lines: a small LIFO of idle connections
(one request per connection at a time), a stale-connection check before reuse, separate connect
and read timeouts plus a total bound on the answer, and TLS with the system's trust store and
hostname checks (``ssl.create_default_context``).

Every failure becomes a typed ``krakenbot.errors`` exception (``decode_response`` is
the whole mapping): HTTP 200 with an ``E...`` string -> ``from_codes``; any other
status (often an HTML page from the edge) -> ``HttpStatusError``; a body that is not
Kraken's JSON envelope -> ``MalformedResponse``; socket timeouts -> ``RequestTimeout``;
refused/reset/dropped connections and broken HTTP framing -> ``ConnectionFailed``. Messages carry
the endpoint and Kraken's codes only: never headers, bodies or the key.
"""
from __future__ import annotations

import http.client
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
    ConnectionFailed,
    HttpStatusError,
    MalformedResponse,
    RequestTimeout,
    from_codes,
)

log = logging.getLogger("krakenbot.client")


@dataclass(frozen=True)
class Timeouts:
    """Connect and read budgets in seconds, and an optional total per request.

    ``connect`` bounds opening the connection (and the TLS handshake); ``read`` bounds each wait
    for bytes, not the whole response; ``total`` bounds the whole request, body included (checked
    between chunks, so it may overrun by one read gap; DNS resolution is not bounded).
    """

    connect: float = 3.05
    read: float = 10.0
    total: float | None = 30.0  # None: no bound on the whole answer (a trickling body can hold a call)

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is None and name == "total":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"Timeouts.{name} must be a positive finite number of seconds, got {value!r}")


_CHUNK = 65536


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
    try:
        # select() exists on every platform and, for one socket, costs a fraction of building a selector
        return bool(select.select((sock,), (), (), 0)[0])
    except ValueError:  # a descriptor beyond select()'s range (FD_SETSIZE): the platform's own selector
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            return bool(selector.select(0))


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


class _Connection(_OneWrite, http.client.HTTPConnection):
    pass


class _TLSConnection(_OneWrite, http.client.HTTPSConnection):
    pass


class Transport:
    """Owns the connections; sends one request and decodes it. No retries here."""

    def __init__(self, base_url: str, timeouts: Timeouts, user_agent: str, maxsize: int = 4,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port], got {shown_url(base_url)!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"base_url has an invalid port: {shown_url(base_url)!r}") from None
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize!r}")
        self.base_url = base_url.rstrip("/")
        self.prefix = parts.path.rstrip("/")
        self.timeouts = timeouts
        self._host, self._port = parts.hostname, port
        self._https = parts.scheme == "https"
        self._tls = (ssl_context or ssl.create_default_context()) if self._https else None
        self._maxsize = maxsize
        self._idle: list[http.client.HTTPConnection] = []  # LIFO: the warmest connection first
        self._lock = threading.Lock()
        self._get_headers = {"User-Agent": user_agent}
        self.connections_opened = 0
        self.closed = False

    # -- connections -------------------------------------------------------------------------
    def _checkout(self) -> http.client.HTTPConnection:
        """An idle connection that is still open, else a new (not yet opened) one."""
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _gone(conn):
                    return conn
                conn.close()
        if self._https:
            return _TLSConnection(self._host, self._port, timeout=self.timeouts.connect, context=self._tls)
        return _Connection(self._host, self._port, timeout=self.timeouts.connect)

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self.closed and len(self._idle) < self._maxsize:
                self._idle.append(conn)
                return
        conn.close()

    def _open(self, conn: http.client.HTTPConnection, endpoint: str) -> None:
        """Open a new connection (and its TLS) within the connect timeout; nothing of the request
        has left yet, so a failure here is plainly a failed connection."""
        try:
            conn.connect()
        except OSError as exc:  # TimeoutError and ssl.SSLError among them
            conn.close()
            if isinstance(exc, TimeoutError):
                raise RequestTimeout(f"{endpoint}: connect timed out", (), endpoint) from None
            raise ConnectionFailed(f"{endpoint}: connection failed ({type(exc).__name__})", (), endpoint) from None
        self.connections_opened += 1

    # -- one request ---------------------------------------------------------------------------
    def request(self, method: str, path: str, endpoint: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> dict[str, Any]:
        """Send and decode; ``path`` is the full request path (with any query string)."""
        timeouts = self.timeouts
        started = time.monotonic()
        deadline = None if timeouts.total is None else started + timeouts.total
        conn = self._checkout()
        if conn.sock is None:
            self._open(conn, endpoint)
        try:
            read = timeouts.read if deadline is None else max(min(timeouts.read, deadline - time.monotonic()), 0.001)
            sock = conn.sock
            if sock.gettimeout() != read:  # type: ignore[union-attr]
                sock.settimeout(read)  # type: ignore[union-attr]
            conn.request(method, path, body.encode() if body is not None else None,
                         headers if headers is not None else self._get_headers)
            response = conn.getresponse()
            data = self._read_body(response, deadline, endpoint)
        # ``from None``: the error names the endpoint and the failure's type, nothing of the request.
        except TimeoutError:
            conn.close()
            raise RequestTimeout(f"{endpoint}: read timed out", (), endpoint) from None
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise ConnectionFailed(f"{endpoint}: connection dropped ({type(exc).__name__})", (), endpoint) from None
        except BaseException:
            conn.close()  # half-sent or half-read: it must not carry another request
            raise
        self._checkin(conn)
        return decode_response(endpoint, response.status, data)

    @staticmethod
    def _read_body(response: http.client.HTTPResponse, deadline: float | None, endpoint: str) -> bytes:
        """The whole body, chunk by chunk, refused once ``deadline`` (monotonic) has passed: the read
        timeout bounds each gap between bytes, so only this bounds a body that trickles in."""
        if deadline is None:
            return response.read()
        chunks = []
        while True:
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            if response.length == 0:
                break  # all of Content-Length is in: no read for the end
            if time.monotonic() > deadline:
                raise RequestTimeout(f"{endpoint}: answer not complete within the total timeout", (), endpoint)
        if response.length:  # read1 answers b"" at an early end of file: the answer was cut short
            raise ConnectionFailed(f"{endpoint}: connection dropped (answer shorter than its Content-Length)",
                                   (), endpoint)
        response.close()  # done with this answer: the connection may carry the next request
        return b"".join(chunks)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
