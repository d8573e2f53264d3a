"""A real WebSocket server on loopback that speaks as much of Kraken's v2 as the bot's stream
tests need, with the faults they provoke (a corrupted or skipped update, a drop, silence, a
refused subscription, a sequence gap). Not a mock of the bot: the bot's own client connects to
it over TCP on 127.0.0.1 and reads what it sends.

A test gives a script per connection (``async def script(session)``); ``book_feed`` and
``answer`` are the common parts. Messages are written with ``json.dumps`` of the recorded
feed read as floats: every number's text is the recorded token (checked in the replay test).
"""
from __future__ import annotations

import asyncio
import copy
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

FEED_PATH = Path(__file__).resolve().parents[1] / "sim" / "kraken-ws-book-feed-v2.json"
FEED = json.loads(FEED_PATH.read_text())  # floats: json.dumps writes each recorded token back as it was
SYMBOL = "BTC/USD"
STATUS = {"channel": "status", "type": "update",
          "data": [{"system": "online", "api_version": "v2", "connection_id": 6447481662169813000,
                    "version": "2.0.10"}]}


def snapshot() -> dict:
    return copy.deepcopy(FEED["init"])


def updates() -> list[dict]:
    return copy.deepcopy(FEED["updates"])


def corrupt(update: dict) -> dict:
    """The same update with one quantity changed and the exchange's checksum left as it was."""
    bad = copy.deepcopy(update)
    level = (bad["data"][0]["asks"] or bad["data"][0]["bids"])[0]
    level["qty"] = round(level["qty"] + 0.00000001, 8)
    return bad


class Gone(Exception):
    """The client closed the connection while the script waited for its next message."""


@dataclass
class Session:
    """One client connection, as the script sees it."""

    number: int  # 1 for the first connection, 2 after the first reconnect...
    ws: ServerConnection
    server: "ScriptedServer"
    inbox: asyncio.Queue = field(default_factory=asyncio.Queue)

    async def send(self, message: dict | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout: float = 10.0) -> dict:
        message = await asyncio.wait_for(self.inbox.get(), timeout)
        if message is None:
            self.inbox.put_nowait(None)
            raise Gone()
        return message

    async def request(self, method: str, channel: str | None = None, timeout: float = 10.0) -> dict:
        """The next request the client sends with this method (and channel); others are kept."""
        while True:
            message = await self.recv(timeout)
            params = message.get("params") or {}
            if message.get("method") == method and (channel is None or params.get("channel") == channel):
                return message

    async def answer(self, request: dict, success: bool = True, error: str | None = None) -> None:
        """Kraken's acknowledgement: one per symbol."""
        params = request.get("params") or {}
        for symbol in params.get("symbol") or [None]:
            reply: dict[str, Any] = {"method": request["method"], "req_id": request.get("req_id"),
                                     "success": success, "time_in": "2026-01-01T00:00:00.000000Z",
                                     "time_out": "2026-01-01T00:00:00.000010Z"}
            if success:
                reply["result"] = {k: v for k, v in params.items() if k != "token"} | (
                    {"symbol": symbol} if symbol else {})
            else:
                reply["error"] = error or "refused"
                if symbol:
                    reply["symbol"] = symbol
            await self.send(reply)

    async def heartbeats(self, until: asyncio.Event | None = None) -> None:
        """A heartbeat whenever the client asks nothing, until the connection closes (or ``until``)."""
        while until is None or not until.is_set():
            await self.send({"channel": "heartbeat"})
            await asyncio.sleep(0.02)

    async def closed(self) -> None:
        await self.ws.wait_closed()


Script = Callable[[Session], Awaitable[None]]


class ScriptedServer:
    """``with ScriptedServer(script) as server: server.url``; ``scripts`` may differ per connection."""

    def __init__(self, *scripts: Script) -> None:
        self.scripts = scripts
        self.received: list[tuple[int, dict]] = []  # (connection number, message), in arrival order
        self.connections = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ws-test-server", daemon=True)
        self._server: Any = None
        self.events: dict[str, asyncio.Event] = {}
        self._arrived = threading.Condition()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Until ``predicate()`` holds, looked at again whenever a client message arrives."""
        with self._arrived:
            return self._arrived.wait_for(predicate, timeout)

    def event(self, name: str) -> asyncio.Event:
        """An event a script awaits and a test sets (``release``)."""
        if name not in self.events:
            self.events[name] = asyncio.Event()
        return self.events[name]

    def release(self, name: str) -> None:
        self._loop.call_soon_threadsafe(self.event(name).set)

    def requests(self, method: str | None = None, channel: str | None = None) -> list[tuple[int, dict]]:
        return [(n, m) for n, m in list(self.received)
                if (method is None or m.get("method") == method)
                and (channel is None or (m.get("params") or {}).get("channel") == channel)]

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        number = self.connections
        session = Session(number, ws, self)
        script = self.scripts[min(number, len(self.scripts)) - 1]

        async def pump() -> None:
            try:
                async for text in ws:
                    message = json.loads(text)
                    with self._arrived:
                        self.received.append((number, message))
                        self._arrived.notify_all()
                    await session.inbox.put(message)
            finally:
                session.inbox.put_nowait(None)

        reader = asyncio.ensure_future(pump())
        try:
            await session.send(STATUS)
            await script(session)
        except (ConnectionClosed, Gone, asyncio.TimeoutError):
            pass
        finally:
            reader.cancel()

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()

        async def start() -> Any:
            return await serve(self._handler, "127.0.0.1", 0, compression=None)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/v2"
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for event in self.events.values():  # a script waiting for the test goes on, and ends
                event.set()
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


async def book_feed(session: Session, *, count: int | None = None, change: Callable[[int, dict], dict | None]
                    | None = None, then: str = "heartbeats", gate: str | None = None,
                    first: dict | None = None) -> None:
    """Answer the ticker and book subscriptions, then send the recorded snapshot and ``count``
    updates (all by default), each passed through ``change(index, update)`` (None: skip it).
    A later book subscription (a resubscribe) restarts the feed from the snapshot. Afterwards:
    ``heartbeats`` (until the client goes), ``silence`` (nothing more) or ``close``. ``gate``: an
    event the test releases before the snapshot goes; ``first``: another snapshot to send instead."""
    ticker = await session.request("subscribe", "ticker")
    await session.answer(ticker)
    await session.send({"channel": "ticker", "type": "snapshot", "data": [
        {"symbol": SYMBOL, "bid": 29430.2, "bid_qty": 0.1, "ask": 29430.3, "ask_qty": 8.25, "last": 29430.3,
         "volume": 1.0, "vwap": 29430.0, "low": 29000.0, "high": 29500.0, "change": 1.0, "change_pct": 0.01}]})
    request = await session.request("subscribe", "book")
    while True:
        await session.answer(request)
        if gate is not None:
            await session.server.event(gate).wait()
        await session.send(first or snapshot())
        for index, update in enumerate(updates()[:count]):
            sent = change(index, update) if change else update
            if sent is not None:
                await session.send(sent)
        if then == "close":
            await session.ws.close()
            return
        if then == "silence":
            await session.closed()
            return
        # heartbeats until the client resubscribes (then the feed starts over) or goes
        stop = asyncio.Event()
        beats = asyncio.ensure_future(session.heartbeats(stop))
        try:
            await session.request("unsubscribe", "book", timeout=60)
            request = await session.request("subscribe", "book", timeout=60)
        finally:
            stop.set()
            await asyncio.gather(beats, return_exceptions=True)
        resubscribed = session.server.events.get("resubscribed")
        if resubscribed is not None:  # the test looks at the stream between the resubscription and the snapshot
            await resubscribed.wait()
