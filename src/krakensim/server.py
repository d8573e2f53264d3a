"""Kraken's HTTP face: paths, body encodings, auth order, faults and the envelope.

Stdlib ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive: one thread per
connection, each response written in a single ``sendall`` with TCP_NODELAY
(headers and body in separate writes would stall on Nagle + delayed ACK).
``Gateway`` is the request pipeline and knows nothing about sockets; the
handler turns its ``Reply`` into bytes on the wire, or into a dropped or reset
connection when a fault says so. Nothing is logged per request except the
access record; no stack trace ever reaches a client or stderr.
"""
from __future__ import annotations

import json
import socket
import struct
import threading
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl

from krakensim import errors
from krakensim.access_log import AccessLog
from krakensim.auth import (EXPORT_ENDPOINTS, FUNDING_ENDPOINTS, PRIVATE_ENDPOINTS, KeyRing, Lockouts, parse_nonce,
                            redact)
from krakensim.faults import PROCESSING_KINDS, Fault, FaultInjector
from krakensim.ids import base32_number
from krakensim.limits import ApiCounter
from krakensim.ws_tokens import WsTokens

MAX_BODY = 1 << 20  # 1 MiB: anything larger is refused unread and the connection closed
PUBLIC_PREFIX = "/0/public/"
PRIVATE_PREFIX = "/0/private/"
CONTROL_PREFIX = "/_sim/"
_HTML_STATUS = {
    502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out",
    520: "Web server is returning an unknown error", 429: "Too Many Requests", 500: "Internal Server Error",
}
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 500: "Internal Server Error"}


@dataclass(slots=True)
class Reply:
    """What to do with the connection: send a body, drop it silently, or reset it."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"  # Kraken's, byte for byte
    action: str = "send"  # send | drop | reset
    close: bool = False


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=_json_default).encode()


def error_body(code: str) -> bytes:
    return dumps({"error": [code]})


MAX_INDEX = 1000  # form array indexes above this are refused (a huge index would allocate a huge list)


def _unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Form bracket keys (``close[price]``, ``orders[0][type]``) as the nested values a JSON body carries."""
    out: dict[str, Any] = {}
    try:
        for name, value in pairs:
            if "[" not in name or not name.endswith("]") or name.startswith("["):
                out[name] = value
                continue
            head, _, rest = name.partition("[")
            keys = [head] + rest[:-1].split("][")
            node: Any = out
            for key, nxt in zip(keys, keys[1:]):
                node = _child(node, key, [] if (nxt.isdigit() or nxt == "") else {})
            _child(node, keys[-1], value, overwrite=True)
    except (TypeError, ValueError, IndexError, AttributeError):
        raise errors.KrakenAPIError(errors.INVALID_ARGUMENTS) from None
    return out


def _child(node: Any, key: str, default: Any, overwrite: bool = False) -> Any:
    if isinstance(node, list):
        if key and not key.isdigit():
            raise ValueError("a list takes numeric indexes")
        index = int(key) if key else len(node)
        if index > MAX_INDEX:
            raise ValueError("index too large")
        while len(node) <= index:
            node.append(None)
        if overwrite or not isinstance(node[index], (dict, list)):
            node[index] = default
        return node[index]
    if overwrite or not isinstance(node.get(key), (dict, list)):
        node[key] = default
    return node[key]


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """Form or JSON body -> params; ``EGeneral:Invalid arguments`` for anything else."""
    if not body:
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.KrakenAPIError(errors.INVALID_ARGUMENTS) from None
    if "json" in content_type.lower() or text.lstrip()[:1] == "{":
        try:
            parsed = json.loads(text)
        except ValueError:
            raise errors.KrakenAPIError(errors.INVALID_ARGUMENTS) from None
        if not isinstance(parsed, dict):
            raise errors.KrakenAPIError(errors.INVALID_ARGUMENTS)
        return parsed
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise errors.KrakenAPIError(errors.INVALID_ARGUMENTS) from None
    return _unflatten(pairs)


def parse_query(query: str) -> dict[str, Any]:
    if not query:
        return {}
    try:
        return _unflatten(parse_qsl(query, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        raise errors.KrakenAPIError(errors.INVALID_ARGUMENTS) from None


class Gateway:
    """One request in, one ``Reply`` out: routing, auth, permissions, counter, faults, exchange."""

    def __init__(self, *, exchange: Any, exchange_lock: threading.RLock, keys: KeyRing, counter: ApiCounter,
                 faults: FaultInjector, access_log: AccessLog, clock: Any, stop: threading.Event,
                 control: Callable[[str, str, dict[str, Any], str], tuple[int, Any]] | None = None,
                 lockouts: Lockouts | None = None, ws_tokens: WsTokens | None = None) -> None:
        self.exchange = exchange
        self.ws_tokens = ws_tokens if ws_tokens is not None else WsTokens(clock)
        self.exchange_lock = exchange_lock
        self.keys = keys
        self.counter = counter
        self.faults = faults
        self._last_ok: dict[str, Any] = {}  # endpoint -> its last successful result (replayed_answer)
        self._phantoms = 0  # phantom txids handed out (phantom_txid)
        self.access_log = access_log
        self.clock = clock
        self.stop = stop
        self.control = control
        self.lockouts = lockouts if lockouts is not None else Lockouts(clock)
        self.internal_errors: list[str] = []  # repr of unexpected exceptions, for debugging tests

    # -- entry point ---------------------------------------------------------------------------
    def handle(self, http_method: str, target: str, headers: Any, body: bytes, client_ip: str) -> Reply:
        path, _, query = target.partition("?")
        now = self.clock.time()
        if path.startswith(PRIVATE_PREFIX):
            return self._private(http_method, path, path[len(PRIVATE_PREFIX):], headers, body, now)
        if path.startswith(PUBLIC_PREFIX):
            return self._public(http_method, path, path[len(PUBLIC_PREFIX):], query, headers, body, now)
        if path.startswith(CONTROL_PREFIX) and self.control is not None:
            return self._control(http_method, path, query, headers, body, client_ip, now)
        self.access_log.append(time=now, http_method=http_method, path=path, endpoint="", kind="other",
                               key_id=None, params=None, outcome="error", error=errors.UNKNOWN_METHOD,
                               http_status=404)
        return Reply(404, error_body(errors.UNKNOWN_METHOD))

    def refuse(self, http_method: str, target: str, code: str, status: int = 200) -> Reply:
        """A request refused before it could be read (oversized, malformed framing); the connection closes."""
        path = target.partition("?")[0]
        kind, endpoint = _classify(path)
        self.access_log.append(time=self.clock.time(), http_method=http_method, path=path, endpoint=endpoint,
                               kind=kind, key_id=None, params=None, outcome="error", error=code,
                               http_status=status)
        return Reply(status, error_body(code), close=True)

    # -- public ---------------------------------------------------------------------------------
    def _public(self, http_method: str, path: str, method: str, query: str, headers: Any, body: bytes,
                now: float) -> Reply:
        params: dict[str, Any] = {}
        try:
            if http_method not in ("GET", "POST"):
                raise errors.KrakenAPIError(errors.UNKNOWN_METHOD)
            params = parse_query(query)
            if body:
                params.update(parse_body(body, headers.get("Content-Type", "")))
        except errors.KrakenAPIError as exc:
            return self._finish(http_method, path, method, "public", None, params, exc.code, None, now)
        self.faults.arrived(method)
        fault = self.faults.fire(method)
        return self._run(http_method, path, method, "public", None, params, fault, now,
                         lambda: self.exchange.handle_public(method, {k: _as_text(v) for k, v in params.items()}))

    # -- private --------------------------------------------------------------------------------
    def _private(self, http_method: str, path: str, method: str, headers: Any, body: bytes, now: float) -> Reply:
        params: dict[str, Any] = {}
        key_id = None
        presented = headers.get("API-Key") or ""
        try:
            if method not in PRIVATE_ENDPOINTS:
                raise errors.KrakenAPIError(errors.UNKNOWN_METHOD)
            api_key = self.keys.get(presented)
            key_id = redact(api_key.key) if api_key is not None else None  # a locked-out call is still attributed
            self.lockouts.check(presented)
            if api_key is None:
                raise errors.KrakenAPIError(errors.INVALID_KEY)
            if http_method != "POST":
                raise errors.KrakenAPIError(errors.INVALID_ARGUMENTS)
            params = parse_body(body, headers.get("Content-Type", ""))
            if "nonce" not in params:
                raise errors.KrakenAPIError(errors.INVALID_NONCE)
            nonce, nonce_digits = parse_nonce(params["nonce"])
            api_sign = headers.get("API-Sign")
            if not api_sign or not api_key.verify(path.encode(), nonce_digits, body, api_sign):
                raise errors.KrakenAPIError(errors.INVALID_SIGNATURE)
            self.lockouts.passed(presented)
            self.keys.accept_nonce(api_key, nonce)
            if method in FUNDING_ENDPOINTS or method in EXPORT_ENDPOINTS or not api_key.allows(method):
                raise errors.KrakenAPIError(errors.PERMISSION_DENIED)
        except errors.KrakenAPIError as exc:
            if exc.code in (errors.INVALID_KEY, errors.INVALID_SIGNATURE) and presented:
                self.lockouts.failed(presented)
            return self._finish(http_method, path, method, "private", key_id, params, exc.code, None, now)
        self.faults.arrived(method)
        fault = self.faults.fire(method)
        call_params = {k: v for k, v in params.items() if k not in ("nonce", "otp")}
        account = api_key.account

        def call() -> Any:
            self.counter.charge(api_key.key, method)
            if method == "GetWebSocketsToken":  # bound to the key, not the account: the gateway's to give
                return self.ws_tokens.issue(api_key.key)
            return self.exchange.handle_private(account, method, call_params)

        return self._run(http_method, path, method, "private", key_id, params, fault, now, call)

    # -- shared tail ----------------------------------------------------------------------------
    def _run(self, http_method: str, path: str, method: str, kind: str, key_id: str | None,
             params: dict[str, Any], fault: Fault | None, now: float, call: Callable[[], Any]) -> Reply:
        if fault is not None and fault.kind not in PROCESSING_KINDS:
            return self._fault_only(http_method, path, method, kind, key_id, params, fault, now)
        if fault is not None and fault.kind == "latency":
            # a manual clock moves on (without recording a "sleep" a shared bot clock would see); on a real
            # clock the thread waits, interruptibly, so close() never waits out a long latency
            advance = getattr(self.clock, "advance", None)
            if callable(advance):
                advance(fault.seconds)
            else:
                self.stop.wait(fault.seconds)
        code = None
        result = None
        try:
            with self.exchange_lock, self.exchange.misbehaving(None if fault is None else fault.kind):
                result = call()
        except errors.KrakenAPIError as exc:
            code = exc.code
        except Exception as exc:  # never a stack trace on the wire; keep a short note for tests
            code = errors.INTERNAL_ERROR
            if len(self.internal_errors) < 100:
                self.internal_errors.append(f"{method}: {exc!r}")
        body = error_body(code) if code else _ok_body(result)
        previous = self._last_ok.get(method)
        if code is None:
            self._last_ok[method] = result
        if fault is None or fault.kind in ("latency", "wrong_fee", "filter_ignored", "filter_missed"):
            return self._finish(http_method, path, method, kind, key_id, params, code, fault, now, body)
        if fault.kind in ("replayed_answer", "phantom_txid", "error_but_processed") and code is None:
            return self._finish(http_method, path, method, kind, key_id, params, code, fault, now,
                                self._lie(fault, result, previous))
        if fault.kind == "accept_then_drop":
            self._log(now, http_method, path, method, kind, key_id, params, "dropped", code, fault.kind, 0)
            return Reply(action="drop", close=True)
        if fault.kind == "truncated_json":
            body = body[: max(1, len(body) // 2)]
        else:  # invalid_json
            body = b'{"error":[],"result":{"' + body[:16].replace(b'"', b"'") + b"',}} <!-- garbled -->"
        self._log(now, http_method, path, method, kind, key_id, params, "fault", code, fault.kind, 200)
        return Reply(200, body)

    def _lie(self, fault: Fault, result: Any, previous: Any) -> bytes:
        """The answer of a lying exchange: the request took effect, the answer says otherwise."""
        if fault.kind == "error_but_processed":
            return error_body(fault.error or errors.SERVICE_UNAVAILABLE)
        if fault.kind == "replayed_answer":
            return _ok_body(previous if previous is not None else result)
        # phantom_txid: a well-formed id no order of this exchange carries
        self._phantoms += 1
        phantom = f"OPHANT-{base32_number(self._phantoms, 5)}-NEVERX"
        if isinstance(result, dict) and "txid" in result:
            result = dict(result, txid=[phantom] if isinstance(result["txid"], list) else phantom)
        return _ok_body(result)

    def _fault_only(self, http_method: str, path: str, method: str, kind: str, key_id: str | None,
                    params: dict[str, Any], fault: Fault, now: float) -> Reply:
        if fault.kind == "error":
            self._log(now, http_method, path, method, kind, key_id, params, "fault", fault.error, "error", 200)
            return Reply(200, error_body(fault.error or errors.SERVICE_UNAVAILABLE))
        if fault.kind == "http_status":
            status = fault.status or 503
            text = f"{status} {_HTML_STATUS.get(status, 'Error')}"
            html = (f"<html>\r\n<head><title>{text}</title></head>\r\n<body>\r\n<center><h1>{text}</h1></center>"
                    f"\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n").encode()
            self._log(now, http_method, path, method, kind, key_id, params, "fault", None, "http_status", status)
            return Reply(status, html, content_type="text/html")
        if fault.kind == "hang":
            self._log(now, http_method, path, method, kind, key_id, params, "fault", None, "hang", 0)
            self.stop.wait(fault.seconds)
            return Reply(action="drop", close=True)
        # reset
        self._log(now, http_method, path, method, kind, key_id, params, "fault", None, "reset", 0)
        return Reply(action="reset", close=True)

    def _finish(self, http_method: str, path: str, method: str, kind: str, key_id: str | None,
                params: dict[str, Any], code: str | None, fault: Fault | None, now: float,
                body: bytes | None = None) -> Reply:
        self._log(now, http_method, path, method, kind, key_id, params, "error" if code else "ok", code,
                  fault.kind if fault else None, 200)
        return Reply(200, body if body is not None else error_body(code or errors.INTERNAL_ERROR))

    def _log(self, now: float, http_method: str, path: str, method: str, kind: str, key_id: str | None,
             params: dict[str, Any], outcome: str, error: str | None, fault: str | None, status: int) -> None:
        self.access_log.append(time=now, http_method=http_method, path=path, endpoint=method, kind=kind,
                               key_id=key_id, params=params, outcome=outcome, error=error, fault=fault,
                               http_status=status)

    # -- control --------------------------------------------------------------------------------
    def _control(self, http_method: str, path: str, query: str, headers: Any, body: bytes, client_ip: str,
                 now: float) -> Reply:
        endpoint = path[len(CONTROL_PREFIX):]
        params: dict[str, Any] = {}
        try:
            if body:
                params = json.loads(body.decode("utf-8"))
                if not isinstance(params, dict):
                    raise ValueError("body must be a JSON object")
            params.update(parse_query(query))
        except (ValueError, UnicodeDecodeError, errors.KrakenAPIError):
            self._log(now, http_method, path, endpoint, "control", None, {}, "error", "invalid JSON body", None, 400)
            return Reply(400, dumps({"error": ["invalid JSON body"]}))
        assert self.control is not None
        status, payload = self.control(http_method, endpoint, params, client_ip)
        error = None if status < 400 else "; ".join(payload.get("error", [])) if isinstance(payload, dict) else None
        self._log(now, http_method, path, endpoint, "control", None, params, "ok" if status < 400 else "error",
                  error, None, status)
        return Reply(status, dumps(payload))


def _as_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _ok_body(result: Any) -> bytes:
    return dumps({"error": [], "result": result})


def _classify(path: str) -> tuple[str, str]:
    for prefix, kind in ((PRIVATE_PREFIX, "private"), (PUBLIC_PREFIX, "public"), (CONTROL_PREFIX, "control")):
        if path.startswith(prefix):
            return kind, path[len(prefix):]
    return "other", ""


class _Headers(dict):
    """Request headers keyed by lower-cased name; ``get`` is case-insensitive like ``email.message``'s."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, name.lower(), default)


MAX_HEADERS = 100
MAX_LINE = 65536


class _Handler(BaseHTTPRequestHandler):
    """Reads one request at a time off a keep-alive connection and writes the gateway's reply.

    ``parse_request`` is replaced by a plain header reader: the stdlib one builds an
    ``email.message`` per request, the largest Python cost of a call.
    """

    protocol_version = "HTTP/1.1"
    server_version = "krakensim"
    sys_version = ""
    server: "SimHTTPServer"

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def parse_request(self) -> bool:
        self.command = ""
        self.request_version = "HTTP/0.9"
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            self.send_error(400)
            return False
        self.command, self.path, self.request_version = words
        headers = _Headers()
        for _ in range(MAX_HEADERS + 1):
            line = self.rfile.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = line.decode("iso-8859-1").partition(":")
            if len(line) > MAX_LINE or not sep or not name.strip():
                self.send_error(400)
                return False
            headers[name.strip().lower()] = value.strip()
        else:
            self.send_error(431)
            return False
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("connection", "").lower()
        if self.request_version == "HTTP/1.1":
            self.close_connection = connection == "close"
        else:
            self.close_connection = connection != "keep-alive"
        if headers.get("expect", "").lower() == "100-continue" and self.request_version == "HTTP/1.1":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silent: the access log is the record, and stderr must never carry request data."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed request lines get a Kraken-shaped error instead of the stdlib HTML page."""
        self.close_connection = True
        try:
            self._write(Reply(code if code >= 400 else 400, error_body(errors.INVALID_ARGUMENTS), close=True))
        except OSError:
            pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, http_method: str) -> None:
        gateway = self.server.gateway
        try:
            if self.headers.get("Transfer-Encoding"):
                reply = gateway.refuse(http_method, self.path, errors.INVALID_ARGUMENTS)
            else:
                length_text = self.headers.get("Content-Length") or "0"
                length = int(length_text) if length_text.isdigit() else -1
                if length < 0:
                    reply = gateway.refuse(http_method, self.path, errors.INVALID_ARGUMENTS)
                elif length > MAX_BODY:
                    reply = gateway.refuse(http_method, self.path, errors.INVALID_ARGUMENTS, 413)
                else:
                    body = self.rfile.read(length) if length else b""
                    if len(body) < length:  # client went away mid-body
                        self.close_connection = True
                        return
                    reply = gateway.handle(http_method, self.path, self.headers, body, self.client_address[0])
        except Exception as exc:  # the server keeps serving whatever a request contains
            if len(gateway.internal_errors) < 100:
                gateway.internal_errors.append(f"{self.path.partition('?')[0]}: {exc!r}")
            reply = Reply(200, error_body(errors.INTERNAL_ERROR), close=True)
        if reply.action == "drop":
            self.close_connection = True
            return
        if reply.action == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            return
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        if reply.close:
            self.close_connection = True
        reason = _REASONS.get(reply.status) or _HTML_STATUS.get(reply.status, "Error")
        head = (f"HTTP/1.1 {reply.status} {reason}\r\nContent-Type: {reply.content_type}\r\n"
                f"Content-Length: {len(reply.body)}\r\n"
                f"{'Connection: close' if self.close_connection else 'Connection: keep-alive'}\r\n\r\n")
        self.wfile.write(head.encode("latin-1") + reply.body)


class SimHTTPServer(ThreadingHTTPServer):
    """Tracks its connections and their threads so ``close()`` can end and join them all."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        self.gateway = gateway
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(target=self._work, args=(request, client_address), daemon=True,
                                  name="krakensim-conn")
        with self._conn_lock:
            self._connections.add(request)
            self._workers.add(worker)
        worker.start()

    def _work(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.discard(request)
                self._workers.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: a client that vanishes mid-request is normal here, and stderr stays clean."""

    def close_all(self, timeout: float = 2.0) -> None:
        """Stop accepting, end every open connection and join its thread."""
        self.shutdown()
        with self._conn_lock:
            connections = list(self._connections)
            workers = list(self._workers)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for worker in workers:
            worker.join(timeout)
        self.server_close()
