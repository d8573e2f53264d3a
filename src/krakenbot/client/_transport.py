"""HTTP to Kraken: one urllib3 connection pool, opened once, kept alive, closed on close().

urllib3 directly, not requests: perf-baseline.md measures requests at ~4x a raw
http.client floor and urllib3 at ~1.7x, and urllib3 is already requests' transport.
Per-call work is kept minimal: timeouts, retries and static headers live on the pool.

A request can carry a send gate (``before_send``): a callable run right before the request's first
byte is written (over plain HTTP even before the connection is opened; over HTTPS after the TLS
handshake, which carries none of it), which may refuse the request by raising. Whatever it raises
reaches the caller as it is, never as a transport failure. The executor waits there for its order's
intent to reach the disk, so that flush overlaps with everything the request needs before it
leaves (``krakenbot.fsync``). A request that went out without passing its gate (a urllib3 that no
longer writes through ``send``) raises ``GateSkipped``, which the executor treats as an ambiguous
outcome (looked up by cl_ord_id, never re-sent).

Every failure becomes a typed ``krakenbot.errors`` exception (``decode_response`` is
the whole mapping): HTTP 200 with an ``E...`` string -> ``from_codes``; any other
status (often an HTML page from the edge) -> ``HttpStatusError``; a body that is not
Kraken's JSON envelope -> ``MalformedResponse``; socket timeouts -> ``RequestTimeout``;
refused/reset/dropped connections -> ``ConnectionFailed``. Messages carry the endpoint
and Kraken's codes only: never headers, bodies or the key.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util.retry import Retry
from urllib3.exceptions import (
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    TimeoutError as Urllib3Timeout,
)

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

    ``read`` bounds the gap between bytes, not the whole response; ``total`` bounds the
    whole request, body included (checked between chunks, so it may overrun by one read
    gap; DNS resolution is not bounded).
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

    def to_urllib3(self) -> urllib3.Timeout:
        return urllib3.Timeout(connect=self.connect, read=self.read, total=self.total)


_JSON_START = (b"{", b"[")
# urllib3 turns ``retries=False`` into a new Retry object on every request (~9 µs measured): the
# same "never retry, raise the error itself" policy, built once.
_NO_RETRIES = Retry(total=False, redirect=False)


class GateSkipped(RuntimeError):
    """A request with a send gate left without the gate having run (see the module docstring)."""


class _Gate:
    """One request's send gate, and whether it has run."""

    __slots__ = ("run", "ran")

    def __init__(self, run: Callable[[], None]) -> None:
        self.run, self.ran = run, False


class _GateRefused(Exception):
    """Carries what the gate raised through urllib3, which would take an OSError for a socket failure."""

    def __init__(self, error: Exception) -> None:
        super().__init__(type(error).__name__)
        self.error = error


# The gate of the request this thread is sending now: set by Transport.request around urlopen (and
# put back as it was after, should another request run on this thread meanwhile), run by the first
# write. Per thread: a connection is used by one thread at a time.
_current = threading.local()


class _GatedSend:
    """urllib3's connection, running the current request's send gate before its first write."""

    def send(self, data: Any) -> None:
        gate = getattr(_current, "gate", None)
        if gate is not None and not gate.ran:
            gate.ran = True  # once per request, whatever it raises
            try:
                gate.run()
            except Exception as error:
                raise _GateRefused(error) from None
        super().send(data)  # type: ignore[misc]


class _GatedHTTPConnection(_GatedSend, HTTPConnection):
    pass


class _GatedHTTPSConnection(_GatedSend, HTTPSConnection):
    pass


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


class Transport:
    """Owns the connection pool; sends one request and decodes it. No retries here."""

    def __init__(self, base_url: str, timeouts: Timeouts, user_agent: str, maxsize: int = 4) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.prefix = parts.path.rstrip("/")
        self.timeouts = timeouts
        self._pool = urllib3.connection_from_url(
            self.base_url,
            maxsize=maxsize,
            block=False,
            timeout=timeouts.to_urllib3(),
            retries=False,
            headers={"User-Agent": user_agent},
        )
        self._pool.ConnectionCls = _GatedHTTPSConnection if parts.scheme == "https" else _GatedHTTPConnection
        self._get_headers = {"User-Agent": user_agent}
        self.closed = False

    def request(self, method: str, path: str, endpoint: str, body: str | None = None,
                headers: dict[str, str] | None = None,
                before_send: Callable[[], None] | None = None) -> dict[str, Any]:
        """Send and decode; ``path`` is the full request path (with any query string).
        ``before_send``: the send gate (module docstring); what it raises is raised as it is."""
        total = self.timeouts.total
        started = time.monotonic()
        gate = _Gate(before_send) if before_send is not None else None
        outer, _current.gate = getattr(_current, "gate", None), gate
        try:
            response = self._pool.urlopen(
                method,
                path,
                body=body,
                headers=headers if headers is not None else self._get_headers,
                retries=_NO_RETRIES,
                redirect=False,
                preload_content=total is None,
                assert_same_host=False,
            )
            if gate is not None and not gate.ran:
                response.close()
                raise GateSkipped(f"{endpoint}: the request left before its send gate ran")
            data = response.data if total is None else self._read_within(response, started + total, endpoint)
        except _GateRefused as refused:
            raise refused.error from None
        # ``from None``: the error names the endpoint and the failure's type, nothing of the request.
        except (ReadTimeoutError, TimeoutError) as exc:
            raise RequestTimeout(f"{endpoint}: read timed out", (), endpoint) from None
        except NewConnectionError as exc:
            raise ConnectionFailed(f"{endpoint}: connection failed ({type(exc).__name__})", (), endpoint) from None
        except Urllib3Timeout as exc:
            raise RequestTimeout(f"{endpoint}: timed out ({type(exc).__name__})", (), endpoint) from None
        except (ProtocolError, HTTPError, OSError) as exc:
            raise ConnectionFailed(f"{endpoint}: connection dropped ({type(exc).__name__})", (), endpoint) from None
        finally:
            _current.gate = outer
        return decode_response(endpoint, response.status, data)

    @staticmethod
    def _read_within(response: Any, deadline: float, endpoint: str) -> bytes:
        """The body, chunk by chunk, refused once ``deadline`` (monotonic) has passed: the read
        timeout bounds each gap between bytes, so only this bounds a body that trickles in."""
        chunks = []
        try:
            while True:
                chunk = response.read1(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    response.close()  # half-read: the connection must not go back to the pool
                    raise RequestTimeout(f"{endpoint}: answer not complete within the total timeout", (), endpoint)
                if response.length_remaining == 0 and len(chunk) < 65536:
                    break  # all of Content-Length is in and nothing is left decoded: no read for the end
        finally:
            response.release_conn()
        return b"".join(chunks)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._pool.close()

