"""The simulator's HTTP face over real loopback HTTP: public, signed private, envelope."""
from __future__ import annotations

import base64
import http.client
import json
import urllib.parse
from decimal import Decimal

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


# -- signing and nonces ------------------------------------------------------------------------------

def signed_headers(sim, path: str, nonce: str, body: bytes, ctype="application/x-www-form-urlencoded", key=None,
                   secret=None) -> dict:
    return {"API-Key": key or sim.api_key, "API-Sign": sign(secret or sim.api_secret, path, nonce, body),
            "Content-Type": ctype}


def test_json_body_with_string_or_number_nonce_is_accepted(sim, wire):
    for nonce_json, nonce in (('"5001"', "5001"), ("5002", "5002")):
        body = ('{"nonce":%s}' % nonce_json).encode()
        status, raw, _ = wire.raw("POST", "/0/private/Balance", body,
                                  signed_headers(sim, "/0/private/Balance", nonce, body, "application/json"))
        assert json.loads(raw)["error"] == []


def test_replayed_or_lower_nonce_is_refused_and_does_not_move_the_mark(sim, wire):
    assert wire.private("Balance", nonce=500)[1]["error"] == []
    assert wire.private("Balance", nonce=500)[1] == {"error": ["EAPI:Invalid nonce"]}
    assert wire.private("Balance", nonce=499)[1] == {"error": ["EAPI:Invalid nonce"]}
    assert wire.private("Balance", nonce=501)[1]["error"] == []


def test_bad_signature_is_refused_and_does_not_consume_the_nonce(sim, wire):
    body = b"nonce=900"
    headers = signed_headers(sim, "/0/private/Balance", "900", body)
    headers["API-Sign"] = sign(sim.api_secret, "/0/private/Balance", "900", b"nonce=901")
    assert json.loads(wire.raw("POST", "/0/private/Balance", body, headers)[1]) == {"error": ["EAPI:Invalid signature"]}
    assert wire.private("Balance", nonce=900)[1]["error"] == []


@pytest.mark.parametrize("headers, expected", [
    ({}, "EAPI:Invalid key"),
    ({"API-Key": "nobody"}, "EAPI:Invalid key"),
    ({"API-Key": "<demo>"}, "EAPI:Invalid signature"),                       # no API-Sign
    ({"API-Key": "<demo>", "API-Sign": "%%%"}, "EAPI:Invalid signature"),
])
def test_missing_or_unknown_credentials(sim, wire, headers, expected):
    headers = {k: (sim.api_key if v == "<demo>" else v) for k, v in headers.items()}
    status, raw, _ = wire.raw("POST", "/0/private/Balance", b"nonce=77", headers)
    assert (status, json.loads(raw)) == (200, {"error": [expected]})


WRONG_SECRET = base64.b64encode(b"not the secret" * 4).decode()


def test_ten_bad_signatures_in_a_row_lock_the_key_out_for_five_minutes(sim, wire):
    impostor = Wire(sim, secret=WRONG_SECRET)
    other_key, other_secret = sim.create_key()
    other = Wire(sim, other_key, other_secret)
    try:
        answers = [impostor.private("Balance", nonce=5000 + i)[1]["error"] for i in range(11)]
        assert answers == [["EAPI:Invalid signature"]] * 10 + [["EGeneral:Temporary lockout"]]
        assert wire.private("Balance")[1] == {"error": ["EGeneral:Temporary lockout"]}  # even signed right
        assert other.private("Balance")[1]["error"] == []  # another key is not locked
        sim.advance(299)
        assert wire.private("Balance")[1] == {"error": ["EGeneral:Temporary lockout"]}
        sim.advance(1)
        assert wire.private("Balance")[1]["error"] == []
    finally:
        impostor.close()
        other.close()
    locked_out = [r for r in sim.access_log if r.error == "EGeneral:Temporary lockout"]
    assert len(locked_out) == 3 and {r.key_id for r in locked_out} == {sim.api_key[:4] + "\u2026"}
    assert all(r.key_id in (None, sim.api_key[:4] + "\u2026", other_key[:4] + "\u2026") for r in sim.access_log)


def test_a_good_request_ends_the_run_of_failures(sim, wire):
    impostor = Wire(sim, secret=WRONG_SECRET)
    try:
        for _ in range(2):
            assert all(impostor.private("Balance", nonce=6000)[1]["error"] == ["EAPI:Invalid signature"]
                       for _ in range(9))
            assert wire.private("Balance")[1]["error"] == []
    finally:
        impostor.close()


def test_an_unknown_key_tried_again_and_again_is_locked_out_and_reset_clears_it(sim, wire):
    headers = {"API-Key": "guessed-key", "API-Sign": "AAAA"}
    codes = [json.loads(wire.raw("POST", "/0/private/Balance", b"nonce=1", headers)[1])["error"] for _ in range(11)]
    assert codes == [["EAPI:Invalid key"]] * 10 + [["EGeneral:Temporary lockout"]]
    assert wire.private("Balance")[1]["error"] == []  # the demo key is someone else
    sim.reset()
    assert json.loads(wire.raw("POST", "/0/private/Balance", b"nonce=1", headers)[1])["error"] == ["EAPI:Invalid key"]


def test_missing_nonce_is_invalid_nonce(sim, wire):
    body = b"asset=XBT"
    headers = signed_headers(sim, "/0/private/Balance", "", body)
    assert json.loads(wire.raw("POST", "/0/private/Balance", body, headers)[1]) == {"error": ["EAPI:Invalid nonce"]}


# -- permissions -------------------------------------------------------------------------------------

def test_key_without_permission_is_denied(sim):
    key, secret = sim.create_key(permissions={"query_orders"})
    w = Wire(sim, key, secret)
    try:
        assert w.private("Balance")[1] == {"error": ["EGeneral:Permission denied"]}
        assert w.private("AddOrder", pair="XBTEUR", type="buy", ordertype="market", volume="0.01")[1] == {
            "error": ["EGeneral:Permission denied"]}
    finally:
        w.close()
    assert sim.orders() == []


@pytest.mark.parametrize("endpoint", ["Withdraw", "WithdrawCancel", "WalletTransfer", "DepositAddresses"])
def test_funding_is_refused_for_every_key_and_recorded(sim, wire, endpoint):
    before = sim.balances()
    withdraw_key, withdraw_secret = sim.create_key(permissions={"withdraw", "query_funds"})
    w = Wire(sim, withdraw_key, withdraw_secret)
    try:
        for client in (wire, w):
            _, payload = client.private(endpoint, asset="XBT", key="cold-wallet", amount="1")
            assert payload == {"error": ["EGeneral:Permission denied"]}
    finally:
        w.close()
    records = [r for r in sim.access_log if r.endpoint == endpoint]
    assert len(records) == 2
    assert {r.error for r in records} == {"EGeneral:Permission denied"}
    assert records[0].params["amount"] == "1" and records[0].key_id == sim.api_key[:4] + "\u2026"
    assert sim.balances() == before


@pytest.mark.parametrize("endpoint", ["AddExport", "ExportStatus", "RetrieveExport", "RemoveExport"])
def test_export_reports_are_refused_with_krakens_own_answer(sim, wire, endpoint):
    """Not simulated (a known gap in the README): Kraken's answer to a key without "Export data"."""
    _, payload = wire.private(endpoint, report="trades", description="all", id="TCJA")
    assert payload == {"error": ["EGeneral:Permission denied"]}


# -- WebSocket tokens --------------------------------------------------------------------------------

def test_a_websocket_token_is_bound_to_the_key_that_asked_and_used_within_15_minutes(sim, wire):
    _, first = wire.private("GetWebSocketsToken")
    assert first["error"] == [] and first["result"]["expires"] == 900
    token = first["result"]["token"]
    assert len(token) == 43 and token not in {r.params.get("token") for r in sim.access_log}
    other_key, other_secret = sim.create_key(permissions={"query_funds"})
    other = Wire(sim, other_key, other_secret)
    try:
        other_token = other.private("GetWebSocketsToken")[1]["result"]["token"]
    finally:
        other.close()
    assert other_token != token
    sim.advance(899)
    assert sim.redeem_ws_token(token) == sim.api_key  # first used within its window
    sim.advance(3600)
    assert sim.redeem_ws_token(token) == sim.api_key  # used: valid while its connection lives
    assert sim.redeem_ws_token(other_token) is None  # first use came too late
    assert sim.redeem_ws_token("not-a-token") is None


def test_a_websocket_token_needs_a_key_with_a_websocket_permission(sim):
    key, secret = sim.create_key(permissions={"query_ledger"})
    w = Wire(sim, key, secret)
    try:
        assert w.private("GetWebSocketsToken")[1] == {"error": ["EGeneral:Permission denied"]}
    finally:
        w.close()


def test_unknown_private_and_public_methods(sim, wire):
    assert wire.private("Teleport")[1] == {"error": ["EGeneral:Unknown method"]}
    assert wire.public("Teleport")[1] == {"error": ["EGeneral:Unknown method"]}


# -- API counter ---------------------------------------------------------------------------------------

def test_api_counter_refuses_above_the_tier_maximum_and_recovers_as_the_clock_moves(sim, wire):
    for _ in range(15):
        assert wire.private("Balance")[1]["error"] == []
    assert wire.private("Balance")[1] == {"error": ["EAPI:Rate limit exceeded"]}
    counters = sim.counters()
    assert (counters["api"], counters["api_max"], counters["api_peak"]) == (16.0, 15, 16.0)  # refusal extends
    sim.advance(3.1)
    assert wire.private("Balance")[1] == {"error": ["EAPI:Rate limit exceeded"]}  # waited too little: longer
    sim.advance(6.1)
    assert wire.private("Balance")[1]["error"] == []
    assert wire.private("Balance")[1] == {"error": ["EAPI:Rate limit exceeded"]}


def test_rate_limits_can_be_switched_off():
    with KrakenSimulator(clock=ManualClock(), rate_limits=False) as sim:
        w = Wire(sim)
        try:
            assert all(w.private("Balance")[1]["error"] == [] for _ in range(40))
        finally:
            w.close()
        assert sim.counters()["api_peak"] == 40.0


def _place_and_cancel(w: Wire) -> list:
    errors = []
    for _ in range(8):  # add (+1) and cancel at once (+8): 72 points, past starter's 60
        placed = w.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit", volume="0.01", price="1000")[1]
        errors += placed["error"]
        if not placed["error"]:
            errors += w.private("CancelOrder", txid=placed["result"]["txid"][0])[1]["error"]
    return errors


@pytest.mark.parametrize("trading_limits, expected", [(True, ["EOrder:Rate limit exceeded"]), (False, [])])
def test_the_per_pair_trading_counter_can_be_switched_off(trading_limits, expected):
    with KrakenSimulator(clock=ManualClock(), rate_limits=False, trading_limits=trading_limits) as sim:
        w = Wire(sim)
        try:
            assert _place_and_cancel(w) == expected
        finally:
            w.close()
        assert sim.exchange.trading_limits is trading_limits


def test_dead_mans_switch_fires_when_a_shared_clock_moves_and_stops_after_close():
    clock = ManualClock()
    with KrakenSimulator(clock=clock) as sim:
        w = Wire(sim)
        try:
            w.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit", volume="0.01", price="1000")
            assert w.private("CancelAllOrdersAfter", timeout="60")[1]["error"] == []
            clock.advance(90)  # the bot's clock moves; nobody calls the exchange
            assert sim.exchange.accounts["demo"].open == {}
            w.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit", volume="0.01", price="1000")
            w.private("CancelAllOrdersAfter", timeout="60")
        finally:
            w.close()
    clock.advance(90)  # a closed simulator no longer reacts to the clock it shared
    assert len(sim.exchange.accounts["demo"].open) == 1


# -- faults ---------------------------------------------------------------------------------------------

def test_error_fault_answers_the_kraken_error_then_stops(sim, wire):
    fault = sim.faults.inject(endpoint="Balance", kind="error", error="EService:Unavailable", times=2)
    assert wire.private("Balance")[1] == {"error": ["EService:Unavailable"]}
    assert wire.private("Balance")[1] == {"error": ["EService:Unavailable"]}
    assert wire.private("Balance")[1]["error"] == []
    assert fault.fired == 2
    assert [r.outcome for r in sim.access_log[-3:]] == ["fault", "fault", "ok"]


def test_http_status_fault_sends_an_html_page(sim, wire):
    sim.faults.inject(endpoint="Time", kind="http_status", status=520)
    status, body, resp = wire.raw("GET", "/0/public/Time")
    assert status == 520 and resp.getheader("Content-Type") == "text/html" and b"<html>" in body
    assert wire.public("Time")[1]["error"] == []   # same connection still usable


def test_latency_fault_moves_a_manual_clock_instead_of_sleeping(sim, wire):
    start = sim.clock.time()
    sim.faults.inject(endpoint="Balance", kind="latency", seconds=2.5)
    assert wire.private("Balance")[1]["error"] == []
    assert sim.clock.time() == start + 2.5
    assert sim.clock.slept == []


def test_hang_fault_outlasts_the_client_read_timeout(sim):
    sim.faults.inject(endpoint="Time", kind="hang", seconds=1.0)
    conn = http.client.HTTPConnection(sim.host, sim.port, timeout=0.2)
    try:
        conn.request("GET", "/0/public/Time")
        with pytest.raises(TimeoutError):
            conn.getresponse()
    finally:
        conn.close()
    assert sim.access_log[-1].fault == "hang"


def test_accept_then_drop_processes_the_call_then_closes_without_answer(sim, wire):
    sim.faults.inject(endpoint="Balance", kind="accept_then_drop")
    with pytest.raises(http.client.RemoteDisconnected):
        wire.private("Balance", nonce=10_000)
    record = sim.access_log[-1]
    assert (record.outcome, record.fault, record.error) == ("dropped", "accept_then_drop", None)
    # the nonce was consumed: the request really went through
    fresh = Wire(sim)
    try:
        assert fresh.private("Balance", nonce=10_000)[1] == {"error": ["EAPI:Invalid nonce"]}
    finally:
        fresh.close()


def test_reset_fault_resets_the_connection_before_processing(sim, wire):
    sim.faults.inject(endpoint="Time", kind="reset")
    with pytest.raises(ConnectionResetError):
        wire.public("Time")
    assert sim.access_log[-1].fault == "reset"


@pytest.mark.parametrize("kind", ["truncated_json", "invalid_json"])
def test_corrupt_json_faults(sim, wire, kind):
    sim.faults.inject(endpoint="Time", kind=kind)
    status, body, _ = wire.raw("GET", "/0/public/Time")
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(body)
    if kind == "truncated_json":
        assert b'{"error":[],"result":{"unixtime":'.startswith(body[:20])
    assert wire.public("Time")[1]["error"] == []


def test_faults_fire_only_after_authentication(sim, wire):
    fault = sim.faults.inject(endpoint="Balance", kind="reset")
    _, other_secret = sim.create_key()
    bad = Wire(sim, key=sim.api_key, secret=other_secret)  # the demo key signed with a wrong secret
    try:
        assert bad.private("Balance")[1] == {"error": ["EAPI:Invalid signature"]}
    finally:
        bad.close()
    assert fault.fired == 0


def test_star_fault_with_probability_replays_with_the_seed():
    def run() -> list[str]:
        with KrakenSimulator(seed=3, clock=ManualClock()) as sim:
            sim.faults.inject(endpoint="*", kind="error", error="EService:Busy", probability=0.5)
            w = Wire(sim)
            try:
                return [",".join(w.public("Time")[1]["error"]) for _ in range(30)]
            finally:
                w.close()

    first = run()
    assert first == run()
    assert "EService:Busy" in first and "" in first


def test_after_reset_probability_faults_replay_as_in_a_fresh_simulator():
    """A scenario's random faults must not depend on the scenarios run before it."""
    with KrakenSimulator(seed=3, clock=ManualClock()) as sim:
        w = Wire(sim)
        try:
            runs = []
            for _ in range(2):
                sim.faults.inject(endpoint="*", kind="error", error="EService:Busy", probability=0.5)
                runs.append([",".join(w.public("Time")[1]["error"]) for _ in range(30)])
                sim.reset()
        finally:
            w.close()
    assert runs[0] == runs[1]


# -- access log and secrets ------------------------------------------------------------------------------

def test_access_log_records_every_request_without_secrets(capfd):
    secret_otp = "otp-424242"
    with KrakenSimulator(clock=ManualClock()) as sim:
        w = Wire(sim)
        signatures = []
        try:
            w.public("Time")
            w.private("Balance", otp=secret_otp)
            w.private("Withdraw", asset="XBT", amount="1")
            w.private("Balance", nonce=1)                       # stale nonce
            sim.faults.inject(endpoint="Balance", kind="accept_then_drop")
            with pytest.raises(http.client.RemoteDisconnected):
                w.private("Balance")
            w.conn.close()
            body = b"nonce=999999&garbage=%ZZ"
            headers = signed_headers(sim, "/0/private/Balance", "999999", body)
            signatures.append(headers["API-Sign"])
            w.raw("POST", "/0/private/Balance", body, headers)
            w.raw("POST", "/0/private/Balance", b"\xff\xfe", {"API-Key": sim.api_key, "API-Sign": "x"})
        finally:
            w.close()
        records = sim.access_log
        assert [r.endpoint for r in records] == ["Time", "Balance", "Withdraw", "Balance", "Balance", "Balance",
                                                 "Balance"]
        assert [r.outcome for r in records] == ["ok", "ok", "error", "error", "dropped", "ok", "error"]
        assert records[1].params == {"nonce": "1001"} and records[1].kind == "private"
        assert records[0].kind == "public" and records[0].key_id is None
        assert all(r.key_id == sim.api_key[:4] + "\u2026" for r in records[1:])
        assert sim.access_log_since(5) == records[5:]
        text = repr(records) + json.dumps([r.to_json() for r in records])
        for secret in (sim.api_secret, sim.api_key, secret_otp, *signatures):
            assert secret not in text
        out, err = capfd.readouterr()
        for secret in (sim.api_secret, sim.api_key, secret_otp, *signatures):
            assert secret not in out and secret not in err
        assert err == ""


# -- bad requests -----------------------------------------------------------------------------------------

def _socket_exchange(sim, payload: bytes) -> bytes:
    import socket
    with socket.create_connection((sim.host, sim.port), timeout=2) as s:
        s.sendall(payload)
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


@pytest.mark.parametrize("payload, expected", [
    (b"GARBAGE\r\n\r\n", b"EGeneral:Invalid arguments"),
    (b"POST /0/private/Balance HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", b"EGeneral:Invalid arguments"),
    (b"POST /0/private/Balance HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\nnonce=1",
     b"EGeneral:Invalid arguments"),
    (b"POST /0/private/Balance HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     b"EGeneral:Invalid arguments"),
    (b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"EGeneral:Unknown method"),
    (b"GET /0/public/Time HTTP/1.1\r\nHeaderWithoutColon\r\n\r\n", b"EGeneral:Invalid arguments"),
    (b"GET /0/public/Time HTTP/2.0\r\n\r\n", b"EGeneral:Invalid arguments"),
    (b"GET /0/public/Time HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", b"EGeneral:Invalid arguments"),
    (b"PATCH /0/public/Time HTTP/1.1\r\nConnection: close\r\n\r\n", b"EGeneral:Invalid arguments"),
    (b"GET /0/public/Time HTTP/1.0\r\n\r\n", b'"error":[],"result":{"unixtime"'),
    (b"POST /0/public/Time HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
     b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK'),
])
def test_malformed_http_gets_a_kraken_error_and_the_server_keeps_serving(sim, wire, payload, expected):
    answer = _socket_exchange(sim, payload)
    assert expected in answer and b"Traceback" not in answer
    assert wire.public("Time")[1]["error"] == []


@pytest.mark.parametrize("body, ctype", [
    (b"\xff\xfe\xfa", "application/x-www-form-urlencoded"),
    (b"{broken", "application/json"),
    (b"[1,2,3]", "application/json"),
    (b"nonce=1&&&=", "application/x-www-form-urlencoded"),
])
def test_garbage_private_bodies_are_invalid_arguments(sim, wire, body, ctype):
    nonce = "12345"
    status, raw, _ = wire.raw("POST", "/0/private/Balance", body, signed_headers(sim, "/0/private/Balance", nonce,
                                                                                 body, ctype))
    assert (status, json.loads(raw)) == (200, {"error": ["EGeneral:Invalid arguments"]})
    assert wire.private("Balance")[1]["error"] == []


def test_public_calls_accept_query_string_and_form_post(sim, wire):
    status, raw, _ = wire.raw("POST", "/0/public/Time", b"", {"Content-Type": "application/x-www-form-urlencoded"})
    assert json.loads(raw)["error"] == []
    status, raw, _ = wire.raw("GET", "/0/public/Time?x=1")
    assert json.loads(raw)["error"] == []


def test_private_call_by_get_is_refused(sim, wire):
    status, raw, _ = wire.raw("GET", "/0/private/Balance", None, {"API-Key": sim.api_key})
    assert json.loads(raw) == {"error": ["EGeneral:Invalid arguments"]}


# -- control API and reset --------------------------------------------------------------------------------

def control(wire, method: str, path: str, payload=None):
    body = json.dumps(payload).encode() if payload is not None else None
    status, raw, _ = wire.raw(method, "/_sim/" + path, body, {"Content-Type": "application/json"} if body else {})
    return status, json.loads(raw)


def test_control_api_faults_status_advance_and_access_log(sim, wire):
    status, answer = control(wire, "POST", "faults", {"endpoint": "Time", "kind": "error", "error": "EService:Busy"})
    assert status == 200 and answer["fault"]["kind"] == "error"
    assert wire.public("Time")[1] == {"error": ["EService:Busy"]}
    control(wire, "POST", "faults", {"endpoint": "Time", "kind": "error", "times": 5})
    assert control(wire, "DELETE", "faults") == (200, {"faults": []})
    assert wire.public("Time")[1]["error"] == []
    assert control(wire, "POST", "status", {"status": "maintenance"})[0] == 200
    assert wire.public("SystemStatus")[1]["result"]["status"] == "maintenance"
    before = sim.clock.time()
    assert control(wire, "POST", "advance", {"seconds": 30})[1] == {"time": before + 30}
    status, answer = control(wire, "GET", "access-log?since=0")
    assert [r["endpoint"] for r in answer["records"]][:3] == ["faults", "Time", "faults"]
    status, state = control(wire, "GET", "state")
    assert Decimal(state["accounts"]["demo"]["balances"]["ZEUR"]) == sim.balances()["ZEUR"]
    assert state["counters"]["api_max"] == 15


def test_control_api_rejects_bad_input_with_400(sim, wire):
    assert control(wire, "POST", "faults", {"kind": "explode"})[0] == 400
    assert control(wire, "POST", "faults", {"kind": "error", "colour": "red"})[0] == 400
    assert control(wire, "POST", "advance", {})[0] == 400
    assert control(wire, "GET", "nothing")[0] == 404
    assert control(wire, "GET", "reset")[0] == 405
    status, raw, _ = wire.raw("POST", "/_sim/faults", b"{nope", {"Content-Type": "application/json"})
    assert status == 400


@pytest.mark.parametrize("path, payload", [
    ("advance", {"seconds": "nan"}), ("advance", {"seconds": "inf"}), ("advance", {"seconds": 1e300}),
    ("advance", {"seconds": True}), ("faults", {"endpoint": "Time", "kind": "latency", "seconds": "nan"}),
    ("faults", {"endpoint": "Time", "kind": "hang", "seconds": "inf"}),
    ("faults", {"endpoint": "Time", "kind": "error", "times": 1e400}), ("access-log?since=-5", None),
])
def test_control_api_refuses_values_that_would_break_the_clock_or_the_log(sim, wire, path, payload):
    before = sim.clock.time()
    status, answer = control(wire, "GET" if payload is None else "POST", path, payload)
    assert status == 400 and answer["error"]
    assert sim.clock.time() == before
    assert sim.faults.all() == []
    assert wire.public("Time")[1]["result"]["unixtime"] == int(before)  # the exchange still answers


def test_control_api_answers_loopback_only(sim):
    from krakensim.control import ControlAPI
    assert ControlAPI(sim)("GET", "state", {}, "10.1.2.3")[0] == 403
    assert ControlAPI(sim)("GET", "state", {}, "127.0.0.1")[0] == 200


def test_reset_restores_a_clean_exchange(sim, wire):
    for _ in range(15):
        wire.private("Balance")
    sim.faults.inject(endpoint="*", kind="error", times=100)
    sim.set_system_status("cancel_only")
    assert control(wire, "POST", "reset")[0] == 200
    assert [r.endpoint for r in sim.access_log] == ["reset"]   # the log restarts with the reset itself
    assert sim.faults.all() == []
    assert sim.counters()["api"] == 0.0 and sim.counters()["api_peak"] == 0.0
    assert wire.public("SystemStatus")[1]["result"]["status"] == "online"
    assert wire.private("Balance")[1]["error"] == []


def test_close_joins_threads_and_frees_the_port():
    import socket
    import threading
    before = threading.active_count()
    sim = KrakenSimulator(clock=ManualClock())
    idle = Wire(sim)
    idle.public("Time")                 # leaves a keep-alive connection open
    sim.faults.inject(endpoint="Balance", kind="hang", seconds=60)
    hanging = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
    hanging.request("POST", "/0/private/Balance", b"nonce=5",
                    signed_headers(sim, "/0/private/Balance", "5", b"nonce=5"))
    for _ in range(200):                # wait until the server has received the hanging request
        if sim.access_log and sim.access_log[-1].fault == "hang":
            break
        threading.Event().wait(0.005)
    sim.close()
    assert threading.active_count() == before
    with pytest.raises(OSError):
        socket.create_connection((sim.host, sim.port), timeout=0.5)
    idle.close()
    hanging.close()


# -- the CLI ---------------------------------------------------------------------------------------------

def test_krakensim_serve_prints_url_and_key_serves_and_stops_on_sigterm():
    import base64
    import re
    import signal
    import subprocess
    import sys
    secret = base64.b64encode(b"s" * 64).decode()
    proc = subprocess.Popen([sys.executable, "-m", "krakensim.cli", "serve", "--port", "0", "--seed", "5",
                             "--api-key", "operator-key-1", "--api-secret", secret, "--balance", "ZEUR=500,XXBT=2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:(\d+)) api_key=(\S+) api_secret=(\S+)", line)
        assert match, line
        assert (match.group(3), match.group(4)) == ("operator-key-1", secret)
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(2)), timeout=5)
        body = b"nonce=1"
        conn.request("POST", "/0/private/Balance", body, {"API-Key": "operator-key-1",
                                                          "API-Sign": sign(secret, "/0/private/Balance", "1", body)})
        payload = json.loads(conn.getresponse().read())
        conn.close()
        assert payload["error"] == [] and payload["result"]["ZEUR"].startswith("500")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert secret not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


# -- with the exchange behind it --------------------------------------------------------------------------

def _far_bid(wire) -> str:
    bid = Decimal(wire.public("Ticker", pair="XBTEUR")[1]["result"]["XXBTZEUR"]["b"][0])
    return str((bid * Decimal("0.8")).quantize(Decimal("0.1")))


def test_accept_then_drop_on_addorder_leaves_the_order_placed(sim, wire):
    price = _far_bid(wire)
    fault = sim.faults.inject(endpoint="AddOrder", kind="accept_then_drop")
    with pytest.raises(http.client.RemoteDisconnected):
        wire.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit", volume="0.01", price=price,
                     cl_ord_id="drop-1")
    assert fault.fired == 1
    placed = [o for o in sim.orders() if o.get("cl_ord_id") == "drop-1"]
    assert len(placed) == 1 and placed[0]["status"] == "open"
    record = sim.access_log[-1]
    assert (record.endpoint, record.outcome, record.params["cl_ord_id"]) == ("AddOrder", "dropped", "drop-1")
    assert sim.counters()["trading"]["XXBTZEUR"] >= 1


def test_reset_fault_on_addorder_places_nothing(sim, wire):
    sim.faults.inject(endpoint="AddOrder", kind="reset")
    with pytest.raises(ConnectionResetError):
        wire.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit", volume="0.01",
                     price=_far_bid(Wire(sim)), cl_ord_id="reset-1")
    assert sim.orders() == []


def test_control_api_moves_the_market(sim, wire):
    assert control(wire, "POST", "market", {"pair": "XBTEUR", "price": "61000"})[0] == 200
    ticker = wire.public("Ticker", pair="XBTEUR")[1]["result"]["XXBTZEUR"]
    mid = (Decimal(ticker["a"][0]) + Decimal(ticker["b"][0])) / 2
    assert abs(mid - Decimal("61000")) < Decimal("61")
    assert control(wire, "POST", "market", {"pair": "XBTEUR", "shock_pct": "-10"})[0] == 200
    ticker = wire.public("Ticker", pair="XBTEUR")[1]["result"]["XXBTZEUR"]
    mid = (Decimal(ticker["a"][0]) + Decimal(ticker["b"][0])) / 2
    assert abs(mid - Decimal("54900")) < Decimal("55")
    assert control(wire, "POST", "market", {"pair": "NOPE", "price": "1"})[0] == 400
    assert control(wire, "POST", "market", {"pair": "XBTEUR"})[0] == 400


def test_key_on_another_account_sees_its_own_funds(sim):
    key, secret = sim.create_key(permissions={"query_funds"}, account="alice", balances={"ZEUR": "5"})
    w = Wire(sim, key, secret)
    try:
        result = w.private("Balance")[1]["result"]
    finally:
        w.close()
    assert Decimal(result["ZEUR"]) == Decimal("5") == sim.balances("alice")["ZEUR"]
    assert sim.balances()["ZEUR"] == Decimal("10000")


def test_concurrent_clients_on_separate_keys_all_succeed():
    import threading
    with KrakenSimulator(clock=ManualClock(), rate_limits=False) as sim:
        results: list[list[str]] = []
        lock = threading.Lock()

        def client() -> None:
            key, secret = sim.create_key()
            w = Wire(sim, key, secret)
            errors_seen = []
            try:
                for _ in range(40):
                    errors_seen += w.private("Balance")[1]["error"]
                    errors_seen += w.public("Time")[1]["error"]
            finally:
                w.close()
            with lock:
                results.append(errors_seen)

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert results == [[]] * 8
        assert len(sim.access_log) == 8 * 80
        assert sorted(r.seq for r in sim.access_log) == list(range(640))


def test_latency_fault_on_the_system_clock_really_waits():
    import time
    with KrakenSimulator() as sim:
        sim.faults.inject(endpoint="Time", kind="latency", seconds=0.05)
        w = Wire(sim)
        try:
            start = time.monotonic()
            assert w.public("Time")[1]["error"] == []
            assert time.monotonic() - start >= 0.05
        finally:
            w.close()
        assert sim.access_log[-1].fault == "latency" and sim.access_log[-1].outcome == "ok"
