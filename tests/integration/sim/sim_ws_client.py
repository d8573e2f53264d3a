"""A plain WebSocket v2 client for the simulator's tests: the ``websockets`` library, JSON read as
Decimal, every wait bounded by a timeout (no sleeps), and an independent book checksum written from
../shared/kraken/websocket-v2.md §4 (not the simulator's code, so one cannot hide a bug in the other)."""
from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import zlib
from decimal import Decimal
from typing import Any, Callable

from websockets.sync.client import connect

from krakensim.auth import sign


def book_checksum(asks: dict, bids: dict, pp: int, qp: int) -> int:
    def f(v: Decimal, n: int) -> str:
        return f"{v:.{n}f}".replace(".", "").lstrip("0")
    a = sorted(asks.items())[:10]
    b = sorted(bids.items(), reverse=True)[:10]
    s = "".join(f(p, pp) + f(q, qp) for p, q in a) + "".join(f(p, pp) + f(q, qp) for p, q in b)
    return zlib.crc32(s.encode()) & 0xFFFFFFFF


class WsClient:
    def __init__(self, url: str) -> None:
        self._context = connect(url, open_timeout=5, compression=None)
        self.ws = self._context.__enter__()
        self.seen: list[dict] = []
        self.skipped: list[dict] = []
        self.req_id = 0

    def send(self, method: str, **params: Any) -> int:
        self.req_id += 1
        message: dict[str, Any] = {"method": method, "req_id": self.req_id}
        if params:
            message["params"] = params
        self.ws.send(json.dumps(message, default=str))
        return self.req_id

    def recv(self, timeout: float = 5.0) -> dict:
        message = json.loads(self.ws.recv(timeout=timeout), parse_float=Decimal)
        self.seen.append(message)
        return message

    def wait(self, match: Callable[[dict], bool], timeout: float = 5.0) -> dict:
        """The first message not yet taken that ``match`` accepts (earlier ones skipped by another wait
        first, in arrival order); TimeoutError after ``timeout``. Every message stays in ``seen``."""
        for i, message in enumerate(self.skipped):
            if match(message):
                del self.skipped[i]
                return message
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching message")
            message = self.recv(left)
            if match(message):
                return message
            self.skipped.append(message)

    def reply(self, req_id: int, timeout: float = 5.0) -> dict:
        return self.wait(lambda m: m.get("req_id") == req_id and "method" in m, timeout)

    def channel(self, name: str, timeout: float = 5.0, kind: str | None = None) -> dict:
        return self.wait(lambda m: m.get("channel") == name and (kind is None or m.get("type") == kind), timeout)

    def close(self) -> None:
        self._context.__exit__(None, None, None)

    def __enter__(self) -> "WsClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Book:
    """A subscriber's book: snapshot then deltas, truncated to the depth, checked on every message."""

    def __init__(self, depth: int, pp: int, qp: int) -> None:
        self.depth, self.pp, self.qp = depth, pp, qp
        self.asks: dict[Decimal, Decimal] = {}
        self.bids: dict[Decimal, Decimal] = {}
        self.checked = 0

    def apply(self, message: dict) -> bool:
        """Apply one book message; True when its checksum matches the book it leaves."""
        data = message["data"][0]
        if message["type"] == "snapshot":
            self.asks.clear()
            self.bids.clear()
        for side, book in (("asks", self.asks), ("bids", self.bids)):
            for level in data[side]:
                if level["qty"] == 0:
                    book.pop(level["price"], None)
                else:
                    book[level["price"]] = level["qty"]
            keep = sorted(book, reverse=side == "bids")[: self.depth]
            for price in list(book):
                if price not in keep:
                    del book[price]
        self.checked += 1
        return book_checksum(self.asks, self.bids, self.pp, self.qp) == data["checksum"]


def rest_private(sim: Any, method: str, key: str | None = None, secret: str | None = None, **params: Any) -> dict:
    """One signed REST call to the simulator (urllib, loopback)."""
    key, secret = key or sim.api_key, secret or sim.api_secret
    nonce = str(time.time_ns())
    body = urllib.parse.urlencode({"nonce": nonce, **params}).encode()
    path = f"/0/private/{method}"
    request = urllib.request.Request(sim.url + path, data=body, headers={
        "API-Key": key, "API-Sign": sign(secret, path, nonce, body),
        "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read(), parse_float=Decimal)


def rest_public(sim: Any, method: str, **params: Any) -> dict:
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    with urllib.request.urlopen(f"{sim.url}/0/public/{method}{query}", timeout=5) as response:
        return json.loads(response.read())
