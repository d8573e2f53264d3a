"""The clients measured side by side, each reduced to three zero-argument calls.

Every adapter exposes ``calls = {"Ticker": f, "Balance": f, "AddOrder": f}`` (AddOrder with
``validate=true``, so nothing rests on the book) and raises on a Kraken error, so the
harness can count errors instead of timing them as successes. The order is the same for
everyone: buy 0.0001 XBT/EUR limit 50000 (above ordermin and costmin, on the tick).
"""
from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any, Callable

from bench.signing import MillisecondNonce, NonceCounter, kraken_signature

CALLS = ("Ticker", "Balance", "AddOrder")
ORDER = {"pair": "XBTEUR", "type": "buy", "ordertype": "limit", "price": "50000", "volume": "0.0001"}


class KrakenReplyError(Exception):
    """A non-empty ``error`` list in a Kraken envelope."""


def _check(envelope: dict) -> dict:
    if envelope.get("error"):
        raise KrakenReplyError(",".join(envelope["error"]))
    return envelope["result"]


def signed_form(method: str, params: dict, nonce: int, key: str, secret: str) -> tuple[str, str, dict]:
    """Path, form body and headers of one hand-signed private call (the floor and bare requests)."""
    path = "/0/private/" + method
    body = urllib.parse.urlencode({"nonce": str(nonce), **params})
    headers = {
        "API-Key": key,
        "API-Sign": kraken_signature(path, str(nonce), body, secret),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return path, body, headers


class Adapter:
    """One client under test. ``calls`` maps call name to a zero-argument callable."""

    name = "?"
    label = "?"
    calls: dict[str, Callable[[], Any]]
    notes = ""

    def close(self) -> None:
        """Release connections."""


class FloorClient(Adapter):
    """The floor: one keep-alive ``http.client`` connection, manual signing, ``json.loads``."""

    name = "floor"
    label = "floor: http.client keep-alive"

    def __init__(self, url: str, key: str, secret: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self._key, self._secret = key, secret
        self._nonce = NonceCounter()
        self._ticker_path = "/0/public/Ticker?pair=XBTEUR"
        self.calls = {"Ticker": self.ticker, "Balance": self.balance, "AddOrder": self.add_order}

    def _roundtrip(self, method: str, path: str, body: str | None, headers: dict) -> dict:
        self._conn.request(method, path, body, headers)
        return _check(json.loads(self._conn.getresponse().read()))

    def ticker(self) -> dict:
        return self._roundtrip("GET", self._ticker_path, None, {})

    def _private(self, method: str, params: dict) -> dict:
        path, body, headers = signed_form(method, params, self._nonce(), self._key, self._secret)
        return self._roundtrip("POST", path, body, headers)

    def balance(self) -> dict:
        return self._private("Balance", {})

    def add_order(self) -> dict:
        return self._private("AddOrder", {**ORDER, "validate": "true"})

    def close(self) -> None:
        self._conn.close()


class RequestsClient(Adapter):
    """A bare ``requests.Session`` (defaults, as most scripts use it) with manual signing."""

    name = "requests"
    label = "requests.Session, manual signing"

    def __init__(self, url: str, key: str, secret: str) -> None:
        import requests

        self._session = requests.Session()
        self._url, self._key, self._secret = url, key, secret
        self._nonce = NonceCounter()
        self.calls = {"Ticker": self.ticker, "Balance": self.balance, "AddOrder": self.add_order}

    def ticker(self) -> dict:
        return _check(self._session.get(self._url + "/0/public/Ticker", params={"pair": "XBTEUR"}, timeout=10).json())

    def _private(self, method: str, params: dict) -> dict:
        path, body, headers = signed_form(method, params, self._nonce(), self._key, self._secret)
        return _check(self._session.post(self._url + path, data=body, headers=headers, timeout=10).json())

    def balance(self) -> dict:
        return self._private("Balance", {})

    def add_order(self) -> dict:
        return self._private("AddOrder", {**ORDER, "validate": "true"})

    def close(self) -> None:
        self._session.close()


class KrakenexClient(Adapter):
    """krakenex 2.2.2 pointed at the simulator (``api.uri``).

    Its stock nonce, ``int(1000 * time.time())``, repeats under back-to-back calls; that is
    counted separately (``krakenex_nonce_collisions``). For the timed rounds its ``_nonce`` is
    replaced by a strictly increasing millisecond counter so every timed call succeeds.
    """

    name = "krakenex"
    label = "krakenex 2.2.2"
    notes = "timed with a wait-free ms nonce (max(now_ms, last+1)); stock nonce collisions counted separately"

    def __init__(self, url: str, key: str, secret: str, *, stock_nonce: bool = False) -> None:
        import krakenex

        self._api = krakenex.API(key, secret)
        self._api.uri = url
        if not stock_nonce:
            self._api._nonce = MillisecondNonce()
        self.calls = {"Ticker": self.ticker, "Balance": self.balance, "AddOrder": self.add_order}

    def ticker(self) -> dict:
        return _check(self._api.query_public("Ticker", {"pair": "XBTEUR"}))

    def balance(self) -> dict:
        return _check(self._api.query_private("Balance"))

    def add_order(self) -> dict:
        return _check(self._api.query_private("AddOrder", {**ORDER, "validate": "true"}))

    def close(self) -> None:
        self._api.close()


class CcxtClient(Adapter):
    """ccxt 4.5.90 ``kraken`` with its rate limiter off (``enableRateLimit: False``).

    ``fetch_balance`` is ccxt's own choice of endpoint (``BalanceEx``); markets are loaded
    once before timing, as any ccxt user would.
    """

    name = "ccxt"
    label = "ccxt 4.5.90"
    notes = "fetch_ticker / fetch_balance (BalanceEx) / create_order(validate=True); enableRateLimit=False"

    def __init__(self, url: str, key: str, secret: str) -> None:
        import ccxt

        self._ex = ccxt.kraken({"apiKey": key, "secret": secret, "enableRateLimit": False, "timeout": 10_000})
        self._ex.urls["api"] = {"public": url, "private": url}
        self._ex.load_markets()
        self.calls = {"Ticker": self.ticker, "Balance": self.balance, "AddOrder": self.add_order}

    def ticker(self) -> Any:
        return self._ex.fetch_ticker("BTC/EUR")

    def balance(self) -> Any:
        return self._ex.fetch_balance()

    def add_order(self) -> Any:
        return self._ex.create_order("BTC/EUR", "limit", "buy", 0.0001, 50000, {"validate": True})

    def close(self) -> None:
        session = getattr(self._ex, "session", None)
        if session is not None:
            session.close()


class OurClient(Adapter):
    """``krakenbot.client.KrakenClient`` through its typed area APIs (what the bot calls)."""

    name = "krakenbot"
    label = "krakenbot KrakenClient"

    def __init__(self, url: str, key: str, secret: str) -> None:
        from bench.ours import NOTES, build_client, order_request

        self._client = build_client(url, key, secret)
        self._order = order_request(validate=True)
        self.notes = NOTES
        self.calls = {"Ticker": self.ticker, "Balance": self.balance, "AddOrder": self.add_order}

    def ticker(self) -> Any:
        return self._client.market.ticker("XBTEUR")

    def balance(self) -> Any:
        return self._client.account.balance()

    def add_order(self) -> Any:
        return self._client.trading.add_order(self._order)

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()


ADAPTERS: dict[str, type[Adapter]] = {
    "floor": FloorClient,
    "krakenbot": OurClient,
    "krakenex": KrakenexClient,
    "ccxt": CcxtClient,
    "requests": RequestsClient,
}


def krakenex_nonce_collisions(url: str, key: str, secret: str, calls: int = 500) -> dict:
    """Back-to-back private calls with krakenex's stock ms nonce: how many are refused."""
    client = KrakenexClient(url, key, secret, stock_nonce=True)
    errors: dict[str, int] = {}
    try:
        for _ in range(calls):
            try:
                client.balance()
            except Exception as exc:  # counted, not raised: this is the measurement
                text = str(exc) or type(exc).__name__
                errors[text] = errors.get(text, 0) + 1
    finally:
        client.close()
    return {"calls": calls, "errors": errors, "invalid_nonce": errors.get("EAPI:Invalid nonce", 0)}

