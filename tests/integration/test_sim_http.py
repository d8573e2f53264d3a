"""The simulator's HTTP face over real loopback HTTP: public, signed private, envelope."""
from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest

from krakensim import KrakenSimulator
from krakensim.auth import sign
from krakensim.clock import ManualClock


@pytest.fixture
def sim():
    with KrakenSimulator(seed=7, clock=ManualClock()) as s:
        yield s


class Wire:
    """A raw keep-alive client that signs like Kraken's docs say, so every byte is ours to control."""

    def __init__(self, sim: KrakenSimulator, key: str | None = None, secret: str | None = None) -> None:
        self.sim = sim
        self.key = key or sim.api_key
        self.secret = secret or sim.api_secret
        self.conn = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
        self.nonce = 1000

    def raw(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        self.conn.request(method, path, body, headers or {})
        resp = self.conn.getresponse()
        return resp.status, resp.read(), resp

    def public(self, name: str, **params):
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        status, body, _ = self.raw("GET", f"/0/public/{name}{query}")
        return status, json.loads(body)

    def private(self, name: str, nonce: int | None = None, **params):
        if nonce is None:
            self.nonce += 1
            nonce = self.nonce
        body = urllib.parse.urlencode({"nonce": nonce, **params}).encode()
        path = f"/0/private/{name}"
        headers = {"API-Key": self.key, "API-Sign": sign(self.secret, path, str(nonce), body),
                   "Content-Type": "application/x-www-form-urlencoded"}
        status, raw, _ = self.raw("POST", path, body, headers)
        return status, json.loads(raw)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def wire(sim):
    w = Wire(sim)
    yield w
    w.close()


def test_public_time_and_status_answer_in_kraken_envelope(sim, wire):
    status, payload = wire.public("Time")
    assert status == 200 and payload["error"] == []
    assert payload["result"]["unixtime"] == int(sim.clock.time())
    status, payload = wire.public("SystemStatus")
    assert payload == {"error": [], "result": {"status": "online", "timestamp": "2026-01-01T00:00:00Z"}}


def test_signed_balance_returns_the_demo_accounts_balances(sim, wire):
    status, payload = wire.private("Balance")
    assert status == 200 and payload["error"] == []
    from decimal import Decimal
    assert {k: Decimal(v) for k, v in payload["result"].items()} == sim.balances()
