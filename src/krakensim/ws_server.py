"""Kraken's WebSocket v2 face, beside the REST server: public market data, private feeds, trading.

``websockets``' asyncio server runs in one background thread with its own event loop: one loop
serves every connection and its timers without a thread each, while the engine stays synchronous
behind the simulator's lock (REST threads and this loop take turns on it).

Streams are pushed, never polled by a client: the exchange calls ``_on_change`` after anything
that may have changed it, the loop then diffs each subscription against the engine
(``ws_feeds.py``) and queues what changed; one writer task per connection sends its queue, so a
slow reader never holds up the others. A book is diffed once per pair and depth, not once per
subscriber: every subscriber of it holds the same book, so they all get the same message. Every
inbound message is an access-log record (method, parameters without the token). Stream faults (``faults.py``) fire as a message is about to go out.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from decimal import Decimal
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from krakensim import errors
from krakensim.access_log import AccessLog
from krakensim.auth import KeyRing, redact
from krakensim.faults import FaultInjector
from krakensim.market import INTERVALS
from krakensim.pairs import PairSpec
from krakensim.ws_book import CHECKSUM_LEVELS, DEPTHS, Book, checksum
from krakensim.ws_feeds import (SYMBOL_OF, BalancesFeed, ExecutionsFeed, book_rows, candles, instrument,
                                last_trade_id, rfc3339_us, ticker, trades_after)
from krakensim.ws_tokens import WsTokens
from krakensim.ws_trading import REST_METHOD, WsRequestError, call, symbol_pair

PUBLIC_PATH = "/v2"
AUTH_PATH = "/auth/v2"
HEARTBEAT_SECONDS = 1.0
VERSION = "2.0.10"
_FIRST_CONNECTION_ID = 6447481662169813000  # Kraken's ids exceed 2**53
_PRIVATE_CHANNELS = {"executions": "OpenOrders", "balances": "Balance"}
_PUBLIC_CHANNELS = frozenset({"book", "ticker", "trade", "ohlc", "instrument", "heartbeat", "status"})
_RAW = re.compile(r'"\\u0000([^"\\]*)\\u0000"')
_HEARTBEAT = '{"channel":"heartbeat"}'


def _number(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"\x00{value:f}\x00"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode(message: Any) -> str:
    """JSON text with every Decimal written as a number exactly as quantized (``0.10000000``)."""
    text = json.dumps(message, separators=(",", ":"), default=_number)
    return _RAW.sub(r"\1", text) if "\\u0000" in text else text


def _levels_json(levels: list[tuple[str, str]]) -> str:
    return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels)


def book_message(kind: str, symbol: str, asks: list[tuple[str, str]], bids: list[tuple[str, str]], crc: int,
                 timestamp: str) -> str:
    return (f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{symbol}","bids":[{_levels_json(bids)}],'
            f'"asks":[{_levels_json(asks)}],"checksum":{crc},"timestamp":"{timestamp}"}}]}}')


def _corrupt(levels: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The first level with its last quantity digit changed: the book the subscriber builds is wrong."""
    price, qty = levels[0]
    digit = "1" if qty[-1] != "1" else "2"
    return [(price, qty[:-1] + digit), *levels[1:]]


class _BookFeed:
    """One pair's book at one depth as each of its subscribers holds it (a new subscriber's snapshot
    is taken once the others are up to date, so they never differ) and who they are."""

    def __init__(self, pair: PairSpec, depth: int) -> None:
        self.pair = pair
        self.symbol = SYMBOL_OF[pair.id]
        self.book = Book(depth)
        self.subscribers: dict[_Conn, None] = {}  # in subscription order


class _Conn:
    """One client connection and what it is subscribed to."""

    def __init__(self, ws: ServerConnection, private: bool, connection_id: int) -> None:
        self.ws = ws
        self.private = private
        self.path = AUTH_PATH if private else PUBLIC_PATH
        self.id = connection_id
        self.out: asyncio.Queue[tuple[float, str]] = asyncio.Queue()
        self.books: dict[str, _BookFeed] = {}
        self.tickers: dict[str, tuple[PairSpec, dict]] = {}
        self.trades: dict[str, tuple[PairSpec, int]] = {}
        self.ohlc: dict[tuple[str, int], tuple[PairSpec, int, dict | None]] = {}
        self.instrument = False
        self.heartbeat = False
        self.executions: dict[str, Any] | None = None  # feed, account, sequence
        self.balances: dict[str, Any] | None = None
        self.status = ""
        self.silent_until = 0.0
        self.last_sent = time.monotonic()
        self.tokens: set[str] = set()
        self.staged: list[tuple[str, Any]] = []  # snapshots of this request, sent after its acks
        self.closed = False

    @property
    def subscribed(self) -> bool:
        return bool(self.books or self.tickers or self.trades or self.ohlc or self.instrument or self.heartbeat
                    or self.executions or self.balances)


class WsServer:
    """Serves ``ws://host:port/v2`` (public) and ``ws://host:port/auth/v2`` (private) from its own thread."""

    def __init__(self, exchange: Any, exchange_lock: Any, keys: KeyRing, tokens: WsTokens, faults: FaultInjector,
                 access_log: AccessLog, clock: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._exchange = exchange
        self._lock = exchange_lock
        self._keys = keys
        self._tokens = tokens
        self._faults = faults
        self._log = access_log
        self._clock = clock
        self._conns: set[_Conn] = set()
        self._books: dict[tuple[str, int], _BookFeed] = {}
        self._next_id = _FIRST_CONNECTION_ID
        self._wake = False
        self._closed = False
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stopping: asyncio.Event | None = None
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(host, port, started), name="krakensim-ws",
                                        daemon=True)
        self._thread.start()
        started.wait(10)
        if self._error is not None:
            raise self._error
        url = f"ws://{host}:{self.port}"
        self.url, self.auth_url = url + PUBLIC_PATH, url + AUTH_PATH
        exchange.on_change(self._on_change)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop every connection is served on: a change made there (as the clock's ticks and WS
        orders are) is pushed without waking the loop from another thread."""
        return self._loop

    # -- lifecycle ------------------------------------------------------------------------------
    def _run(self, host: str, port: int, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main(host, port, started))
        finally:
            started.set()
            self._loop.close()

    async def _main(self, host: str, port: int, started: threading.Event) -> None:
        self._stopping = asyncio.Event()
        try:
            server = await serve(self._handle, host, port, compression=None, max_size=1 << 20,
                                 ping_interval=None)
        except OSError as exc:
            self._error = exc
            return
        self.port = server.sockets[0].getsockname()[1] if hasattr(server, "sockets") else port
        started.set()
        ticking = asyncio.create_task(self._tick())
        await self._stopping.wait()
        ticking.cancel()
        server.close()
        await server.wait_closed()

    def close(self) -> None:
        """Close every connection (1001 going away), stop the loop and join its thread."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.call_soon_threadsafe(self._stopping.set)  # type: ignore[union-attr]
        except RuntimeError:  # the loop has already ended
            pass
        self._thread.join(5.0)

    # -- connections ----------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        if path not in (PUBLIC_PATH, AUTH_PATH):
            await ws.close(1008, "unknown path")
            return
        self._next_id += 1
        conn = _Conn(ws, path == AUTH_PATH, self._next_id)
        self._conns.add(conn)
        writer = asyncio.create_task(self._write(conn))
        with self._lock:
            self._push_status(conn)
        try:
            async for raw in ws:
                self._on_message(conn, raw)
        except ConnectionClosed:
            pass
        finally:
            conn.closed = True
            self._conns.discard(conn)
            for feed in conn.books.values():
                self._leave(feed, conn)
            writer.cancel()
            for token in conn.tokens:
                self._tokens.release(token)

    async def _write(self, conn: _Conn) -> None:
        try:
            while True:
                delay, text = await conn.out.get()
                if delay:
                    await asyncio.sleep(delay)
                await conn.ws.send(text)
        except ConnectionClosed:
            pass

    async def _tick(self) -> None:
        """Once a second: let the engine catch up with the clock (its moves are pushed), and a heartbeat
        to every subscribed connection that has sent nothing for a second."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            if self._conns:
                with self._lock:
                    self._exchange.catch_up()
            now = time.monotonic()
            for conn in list(self._conns):
                if conn.subscribed and now - conn.last_sent >= HEARTBEAT_SECONDS and self._fire(conn, "heartbeat") \
                        is not False:
                    self._queue(conn, _HEARTBEAT)

    # -- sending --------------------------------------------------------------------------------
    def _fire(self, conn: _Conn, channel: str) -> Any:
        """The stream fault for this message: None (send), a fault to apply, or False (send nothing)."""
        if conn.closed or conn.silent_until > time.monotonic():
            return False
        fault = self._faults.fire(channel, stream=True)
        if fault is None:
            return None
        if fault.kind == "ws_drop":
            conn.closed = True
            conn.ws.transport.abort()
            return False
        if fault.kind == "ws_silence":
            conn.silent_until = time.monotonic() + fault.seconds
            return False
        if fault.kind == "ws_skip":
            return False
        return fault

    def _queue(self, conn: _Conn, text: str, fault: Any = None) -> None:
        delay = fault.seconds if fault is not None and fault.kind == "ws_delay" else 0.0
        conn.out.put_nowait((delay, text))
        conn.last_sent = time.monotonic()

    def _send(self, conn: _Conn, channel: str, message: Any) -> None:
        fault = self._fire(conn, channel)
        if fault is not False:
            self._queue(conn, message if isinstance(message, str) else encode(message), fault)

    def _on_change(self) -> None:
        """From any thread, under the exchange lock: schedule one diff pass (changes coalesce)."""
        if self._wake or self._closed or not self._conns:
            return
        self._wake = True
        try:
            if threading.get_ident() == self._thread.ident:  # a change made on the loop (a WS order, the clock)
                self._loop.call_soon(self._publish)
            else:
                self._loop.call_soon_threadsafe(self._publish)
        except RuntimeError:
            pass

    def _publish(self) -> None:
        self._wake = False
        with self._lock:
            now = self._clock.time()
            stamp = rfc3339_us(now)
            conns = [conn for conn in self._conns if not conn.closed]
            for conn in conns:
                if conn.status != self._exchange.system_status:
                    self._push_status(conn)
            for feed in list(self._books.values()):
                self._push_book(feed, stamp)
            cache: dict[Any, Any] = {}
            for conn in conns:
                self._refresh(conn, now, stamp, cache)

    def _push_book(self, feed: _BookFeed, stamp: str) -> None:
        """What changed in ``feed``'s book since its subscribers' last message, to each of them."""
        now_asks, now_bids = book_rows(self._exchange, feed.pair, feed.book.depth)
        asks, bids = feed.book.diff(now_asks, now_bids)
        if not asks and not bids:
            return
        crc = checksum([(p, q) for _, p, q in now_asks[:CHECKSUM_LEVELS]],
                       [(p, q) for _, p, q in now_bids[:CHECKSUM_LEVELS]])
        text = book_message("update", feed.symbol, asks, bids, crc, stamp)
        for conn in feed.subscribers:
            fault = self._fire(conn, "book")
            if fault is False:
                continue
            if fault is not None and fault.kind == "ws_corrupt":
                wrong = (_corrupt(asks), bids) if asks else (asks, _corrupt(bids))
                self._queue(conn, book_message("update", feed.symbol, *wrong, crc, stamp), fault)
            else:
                self._queue(conn, text, fault)

    def _leave(self, feed: _BookFeed, conn: _Conn) -> None:
        feed.subscribers.pop(conn, None)
        if not feed.subscribers:
            self._books.pop((feed.pair.id, feed.book.depth), None)

    def _refresh(self, conn: _Conn, now: float, stamp: str, cache: dict[Any, Any]) -> None:
        """The connection's other channels (its books are pushed by ``_push_book``)."""
        ex = self._exchange
        for pid, (pair, last) in conn.tickers.items():
            current = cache.get(("ticker", pid))
            if current is None:
                current = cache[("ticker", pid)] = ticker(ex, pair)
            if current != last:
                conn.tickers[pid] = (pair, current)
                self._send(conn, "ticker", {"channel": "ticker", "type": "update",
                                            "data": [{**current, "timestamp": stamp}]})
        for pid, (pair, last_id) in conn.trades.items():
            if last_trade_id(ex, pair) != last_id:
                rows = trades_after(ex, pair, last_id)
                conn.trades[pid] = (pair, last_trade_id(ex, pair))
                self._send(conn, "trade", {"channel": "trade", "type": "update", "data": rows})
        for key, (pair, last_id, last) in conn.ohlc.items():
            current_id = last_trade_id(ex, pair)
            if current_id == last_id:
                continue
            rows = candles(ex, pair, key[1], 1)
            conn.ohlc[key] = (pair, current_id, rows[-1] if rows else None)
            if rows and rows[-1] != last:
                self._send(conn, "ohlc", {"channel": "ohlc", "type": "update", "data": rows, "timestamp": stamp})
        for name, feed_name in (("executions", "events"), ("balances", "updates")):
            sub = getattr(conn, name)
            if sub is None:
                continue
            account = ex.accounts.get(sub["account"])
            data = getattr(sub["feed"], feed_name)(account, now) if name == "executions" else \
                sub["feed"].updates(account) if account is not None else []
            # Kraken sends each execution event as its own message (clients route on its exec_type);
            # the ledger entries of one change go together
            for batch in ([e] for e in data) if name == "executions" else [data] if data else ():
                sub["sequence"] += 1
                self._send(conn, name, {"channel": name, "type": "update", "data": batch,
                                        "sequence": sub["sequence"]})

    def _push_status(self, conn: _Conn) -> None:
        conn.status = self._exchange.system_status
        self._send(conn, "status", {"channel": "status", "type": "update", "data": [
            {"system": conn.status, "api_version": "v2", "connection_id": conn.id, "version": VERSION}]})

    # -- requests -------------------------------------------------------------------------------
    def _on_message(self, conn: _Conn, raw: str | bytes) -> None:
        time_in = rfc3339_us(self._clock.time())
        try:
            msg = json.loads(raw, parse_float=Decimal)
            if not isinstance(msg, dict) or not isinstance(msg.get("method"), str):
                raise ValueError
        except ValueError:
            self._log_request(conn, "", {}, None, "Malformed request")
            self._send(conn, "reply", {"error": "Malformed request", "success": False, "time_in": time_in,
                                       "time_out": rfc3339_us(self._clock.time())})
            return
        method, req_id = msg["method"], msg.get("req_id")
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        key_id: str | None = None
        replies: list[tuple[Any, str | None, dict]] = []  # (result, error, extra fields)
        try:
            if method == "ping":
                self._send(conn, "pong", {"method": "pong", **({"req_id": req_id} if req_id is not None else {}),
                                          "time_in": time_in, "time_out": rfc3339_us(self._clock.time())})
                self._log_request(conn, method, params, None, None)
                return
            if method in ("subscribe", "unsubscribe"):
                channel = params.get("channel")
                if channel in _PRIVATE_CHANNELS:
                    key_id = self._authorize(conn, params, _PRIVATE_CHANNELS[channel])[1]
                replies = self._subscription(conn, method, params)
            elif method in REST_METHOD:
                account, key_id = self._authorize(conn, params, REST_METHOD[method])
                replies = self._trade(account, method, params)
            else:
                raise WsRequestError("Method not found")
        except WsRequestError as exc:
            replies = [(None, str(exc), {})]
        except errors.KrakenAPIError as exc:
            replies = [(None, exc.code, {})]
        self._log_request(conn, method, params, key_id, next((e for _, e, _ in replies if e), None))
        for result, error, extra in replies:
            reply: dict[str, Any] = {"method": method}
            if result is not None:
                reply["result"] = result
            reply["success"] = error is None
            if error is not None:
                reply["error"] = error
            reply.update(extra)
            reply["time_in"], reply["time_out"] = time_in, rfc3339_us(self._clock.time())
            if req_id is not None:
                reply["req_id"] = req_id
            self._send(conn, method, reply)
        self._flush_snapshots(conn)

    def _authorize(self, conn: _Conn, params: dict[str, Any], rest_method: str) -> tuple[str, str | None]:
        """(account, redacted key) of the request's token; refused off the private endpoint, for an unknown
        or late token, or a key without the REST method's permission."""
        if not conn.private:
            raise WsRequestError(errors.PERMISSION_DENIED)
        token = params.get("token")
        key = self._tokens.redeem(token) if isinstance(token, str) else None
        api_key = self._keys.get(key) if key is not None else None
        if api_key is None:
            raise WsRequestError("EAPI:Invalid token")
        conn.tokens.add(token)  # type: ignore[arg-type]
        if not api_key.allows(rest_method):
            raise WsRequestError(errors.PERMISSION_DENIED)
        params["_account"] = api_key.account
        return api_key.account, redact(api_key.key)

    def _trade(self, account: str, method: str, params: dict[str, Any]) -> list[tuple[Any, str | None, dict]]:
        params = {k: v for k, v in params.items() if k != "_account"}
        with self._lock:
            results = call(self._exchange, account, method, params)
        out: list[tuple[Any, str | None, dict]] = []
        for result in results:
            if isinstance(result, dict) and "error" in result and method == "cancel_order":
                error = result.pop("error")
                out.append((None, error, result))
            else:
                out.append((result, None, {}))
        return out

    def _subscription(self, conn: _Conn, method: str, params: dict[str, Any]) -> list[tuple[Any, str | None, dict]]:
        channel = params.get("channel")
        if channel not in _PUBLIC_CHANNELS and channel not in _PRIVATE_CHANNELS:
            raise WsRequestError("Subscription name invalid")
        subscribe = method == "subscribe"
        if channel in ("instrument", "heartbeat", "status", "executions", "balances"):
            return [self._unsymbolled(conn, channel, subscribe, params)]
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            raise WsRequestError("EGeneral:Invalid arguments")
        depth = params.get("depth", 10)
        interval = params.get("interval", 1)
        if channel == "book" and depth not in DEPTHS:
            raise WsRequestError(f"Invalid depth: must be one of {', '.join(map(str, DEPTHS))}")
        if channel == "ohlc" and interval not in INTERVALS:
            raise WsRequestError("Invalid interval")
        snapshot = params.get("snapshot", channel != "trade") is not False
        out: list[tuple[Any, str | None, dict]] = []
        for symbol in symbols:
            try:
                pair = symbol_pair(symbol)
            except WsRequestError as exc:
                out.append((None, str(exc), {"symbol": symbol}))
                continue
            result: dict[str, Any] = {"channel": channel, "symbol": symbol}
            if channel == "book":
                result.update(depth=depth, snapshot=True)
            elif channel == "ohlc":
                result.update(interval=interval, snapshot=snapshot)
            elif channel == "ticker":
                result.update(event_trigger="trades", snapshot=snapshot)
            else:
                result["snapshot"] = snapshot
            table: dict = {"book": conn.books, "ticker": conn.tickers, "trade": conn.trades}.get(channel, conn.ohlc)
            key: Any = (pair.id, interval) if channel == "ohlc" else pair.id
            if not subscribe:
                gone = table.pop(key, None)
                if gone is None:
                    out.append((None, "Subscription Not Found", {"symbol": symbol}))
                else:
                    if channel == "book":
                        self._leave(gone, conn)
                    out.append((result, None, {}))
                continue
            with self._lock:
                self._exchange.catch_up()
                self._start(conn, channel, pair, key, depth, interval, snapshot)
            out.append((result, None, {}))
        return out

    def _start(self, conn: _Conn, channel: str, pair: PairSpec, key: Any, depth: int, interval: int,
               snapshot: bool) -> None:
        """Record the subscription and stage its snapshot (sent after the acks)."""
        ex = self._exchange
        stamp = rfc3339_us(self._clock.time())
        symbol = SYMBOL_OF[pair.id]
        staged = conn.staged
        if channel == "book":
            if key in conn.books:  # subscribed again: the new depth's snapshot replaces the book
                self._leave(conn.books[key], conn)
            feed = self._books.get((pair.id, depth))
            if feed is None:
                feed = self._books[(pair.id, depth)] = _BookFeed(pair, depth)
                feed.book.diff(*book_rows(ex, pair, depth))
            else:
                self._push_book(feed, stamp)  # its subscribers catch up first: then they all hold the snapshot
            feed.subscribers[conn] = None
            conn.books[key] = feed
            book = feed.book
            staged.append(("book", book_message("snapshot", symbol, book.rows("asks"), book.rows("bids"),
                                                book.checksum(), stamp)))
        elif channel == "ticker":
            current = ticker(ex, pair)
            conn.tickers[key] = (pair, current)
            if snapshot:
                staged.append(("ticker", {"channel": "ticker", "type": "snapshot",
                                          "data": [{**current, "timestamp": stamp}]}))
        elif channel == "trade":
            conn.trades[key] = (pair, last_trade_id(ex, pair))
            if snapshot:
                staged.append(("trade", {"channel": "trade", "type": "snapshot",
                                         "data": trades_after(ex, pair, None)}))
        else:
            rows = candles(ex, pair, interval, 100)
            conn.ohlc[key] = (pair, last_trade_id(ex, pair), rows[-1] if rows else None)
            if snapshot:
                staged.append(("ohlc", {"channel": "ohlc", "type": "snapshot", "data": rows, "timestamp": stamp}))

    def _unsymbolled(self, conn: _Conn, channel: str, subscribe: bool, params: dict[str, Any]) \
            -> tuple[Any, str | None, dict]:
        result: dict[str, Any] = {"channel": channel}
        staged = conn.staged
        if not subscribe:
            attr = {"instrument": "instrument", "heartbeat": "heartbeat"}.get(channel, channel)
            if channel == "status" or not getattr(conn, attr):
                return None, "Subscription Not Found", {}
            setattr(conn, attr, None if channel in ("executions", "balances") else False)
            return result, None, {}
        with self._lock:
            ex = self._exchange
            ex.catch_up()
            if channel == "instrument":
                conn.instrument = True
                result["snapshot"] = True
                staged.append(("instrument", {"channel": "instrument", "type": "snapshot", "data": instrument(ex)}))
            elif channel == "heartbeat":
                conn.heartbeat = True
            elif channel == "executions":
                account_name = params["_account"]
                snap_orders = params.get("snap_orders", True) is not False
                snap_trades = params.get("snap_trades", False) is True
                feed = ExecutionsFeed(account_name)
                data = feed.snapshot(ex.accounts[account_name], snap_orders, snap_trades, ex._now)
                conn.executions = {"feed": feed, "account": account_name, "sequence": 1}
                result.update(snap_orders=snap_orders, snap_trades=snap_trades)
                staged.append(("executions", {"channel": "executions", "type": "snapshot", "data": data,
                                              "sequence": 1}))
            elif channel == "balances":
                account_name = params["_account"]
                feed = BalancesFeed()
                data = feed.snapshot(ex.accounts[account_name])
                conn.balances = {"feed": feed, "account": account_name, "sequence": 1}
                result["snapshot"] = True
                staged.append(("balances", {"channel": "balances", "type": "snapshot", "data": data,
                                            "sequence": 1}))
        return result, None, {}

    def _flush_snapshots(self, conn: _Conn) -> None:
        staged, conn.staged = conn.staged, []
        for channel, message in staged:
            self._send(conn, channel, message)

    def _log_request(self, conn: _Conn, method: str, params: dict[str, Any], key_id: str | None,
                     error: str | None) -> None:
        self._log.append(time=self._clock.time(), http_method="WS", path=conn.path, endpoint=method,
                         kind="private" if "token" in params else "public", key_id=key_id,
                         params={k: v for k, v in params.items() if k not in ("token", "_account")},
                         outcome="error" if error else "ok", error=error)
