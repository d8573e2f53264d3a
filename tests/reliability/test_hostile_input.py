"""Hostile input: garbage from the exchange, garbage in the config, garbage at the simulator.

- Response parsers (hypothesis): real answers recorded from the simulator, then mutated
  (fields removed, wrong types, "NaN", "Infinity", huge or negative numbers, empty or
  crossed books, candles out of order, non-object results). Each call through the client's
  typed API must return a typed value or raise a ``KrakenError`` subclass, nothing else.
- Garbage on the wire for the order path (simulator ``invalid_json``/``truncated_json``):
  the executor ends UNKNOWN -> resolved, never a duplicate; garbage market data means no order.
- Config fuzzing: every setting with bad values gives a one-line ``ConfigError`` naming it.
- Simulator fuzzing over HTTP: only Kraken-style JSON errors, never a 500, still serving.
"""
from __future__ import annotations

import copy
import http.client
import json
import logging
import random
from decimal import Decimal
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krakenbot.bot import Bot
from krakenbot.client import KrakenClient
from krakenbot.client._transport import decode_response
from krakenbot.client.nonce import NonceGenerator
from krakenbot.client.account import AccountApi
from krakenbot.client.market import MarketApi
from krakenbot.client.trading import TradingApi
from krakenbot.clock import ManualClock
from krakenbot.config import _SPEC, SETTING_NAMES, ConfigError, Settings
from krakenbot.errors import KrakenError
from krakenbot.models import OrderRequest, OrderType, Side
from krakensim import KrakenSimulator

HYPO = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])

# -- recorded answers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded() -> dict[str, dict]:
    """Real ``result`` objects for every endpoint the bot parses, from the simulator."""
    clock = ManualClock()
    with KrakenSimulator(seed=11, clock=clock) as sim, \
            KrakenClient(sim.url, sim.api_key, sim.api_secret, clock=clock) as client:
        sim.set_price("XBTEUR", "60000")
        out: dict[str, dict] = {}
        for ep, params in (("Time", {}), ("SystemStatus", {}), ("AssetPairs", {"pair": "XBTEUR"}),
                           ("Ticker", {"pair": "XBTEUR"}), ("Depth", {"pair": "XBTEUR", "count": 5}),
                           ("Trades", {"pair": "XBTEUR"}), ("Spread", {"pair": "XBTEUR"})):
            out[ep] = client.public(ep, **params)
        sim.advance(600)
        out["OHLC"] = client.public("OHLC", pair="XBTEUR", interval=1)
        out["AddOrder"] = client.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit",
                                         volume="0.001", price="59000", cl_ord_id="hostile-1")
        client.private("AddOrder", pair="XBTEUR", type="buy", ordertype="market", volume="0.001")
        for ep in ("Balance", "BalanceEx", "TradeBalance", "OpenOrders", "ClosedOrders", "TradesHistory",
                   "Ledgers", "TradeVolume"):
            out[ep] = client.private(ep)
        txid = next(iter(out["OpenOrders"]["open"]))
        out["QueryOrders"] = client.private("QueryOrders", txid=txid)
        out["QueryTrades"] = client.private("QueryTrades", txid=next(iter(out["TradesHistory"]["trades"])))
        out["CancelOrder"] = client.private("CancelOrder", txid=txid)
    assert all(out.values())
    return {ep: _trim(doc) for ep, doc in out.items()}


def _trim(node: Any) -> Any:
    """Keep lists short (a few candles, levels, trades): mutations stay meaningful and fast."""
    if isinstance(node, dict):
        return {k: _trim(v) for k, v in node.items()}
    if isinstance(node, list) and node and all(isinstance(v, list) for v in node):
        return node[:4]  # rows (candles, levels, trades) stay whole
    return node


class CannedClient:
    """Answers every call with a prepared ``result``: the typed APIs parse exactly what we feed."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.clock = ManualClock()
        self.order_deadline = 15.0
        self.nonces = NonceGenerator()  # the cancels ask it to go out even when the mark cannot be saved
        self.sent: list[str] = []

    def exchange_time(self) -> float:
        return self.clock.time()

    def public(self, endpoint: str, **params: Any) -> Any:
        return self.result

    def private(self, endpoint: str, **params: Any) -> Any:
        self.sent.append(endpoint)
        return self.result

    def cancel(self, endpoint: str, overtaken: list, /, **params: Any) -> Any:
        return self.private(endpoint, **params)  # overtakes nothing: no other call is on its way


def _calls(client: CannedClient) -> dict[str, Callable[[], Any]]:
    market, account, trading = MarketApi(client), AccountApi(client), TradingApi(client)  # type: ignore[arg-type]
    order = OrderRequest(pair="XXBTZEUR", side=Side.BUY, ordertype=OrderType.LIMIT, volume=Decimal("0.001"),
                         price=Decimal("59000"))
    return {
        "Time": market.server_time, "SystemStatus": market.system_status, "AssetPairs": market.asset_pairs,
        "Ticker": lambda: market.ticker("XBTEUR"), "Depth": lambda: market.depth("XBTEUR", 5),
        "Trades": lambda: market.recent_trades("XBTEUR"), "Spread": lambda: market.spread("XBTEUR"),
        "OHLC": lambda: market.ohlc("XBTEUR", 1),
        "Balance": account.balance, "BalanceEx": account.balance_ex, "TradeBalance": account.trade_balance,
        "OpenOrders": account.open_orders, "ClosedOrders": account.closed_orders,
        "TradesHistory": account.trades_history, "Ledgers": account.ledgers, "TradeVolume": account.trade_volume,
        "QueryOrders": lambda: account.query_orders(["OX"]), "QueryTrades": lambda: account.query_trades(["TX"]),
        "AddOrder": lambda: trading.add_order(order), "CancelOrder": lambda: trading.cancel_order(txid="OX"),
    }


def test_recorded_answers_parse_cleanly(recorded):
    for endpoint, call in _calls(CannedClient(None)).items():
        client = CannedClient(copy.deepcopy(recorded[endpoint]))
        assert _calls(client)[endpoint]() is not None, endpoint


GARBAGE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "inf", "1e400", "-1", "-0.00000001", "0", "",
                     "1e15", "99999999999999999999", "0x10", "1,000.5", " 1 ", "abc", "None", "true", "[]",
                     "1e-400", "snan", "60000.1.2", "\u0661\u0662", "\x00"]),
    st.text(max_size=12), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.none(), max_size=2),
)


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, path + (i,))
    return out


def _mutate(doc: Any, data: st.DataObject) -> Any:
    """Change one to three places of ``doc``: delete, replace by garbage, empty, reverse or swap."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["garbage", "delete", "empty", "reverse", "swap", "negate"]))
        if not path:
            continue  # the transport refuses a non-object result (tested below), parsers get objects
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        value = parent[key]
        if action == "delete":
            del parent[key]
        elif action == "empty" and isinstance(value, (list, dict, str)):
            parent[key] = type(value)()
        elif action == "reverse" and isinstance(value, list):
            parent[key] = list(reversed(value))  # candles out of order, books inverted
        elif action == "swap" and isinstance(value, dict) and {"asks", "bids"} <= value.keys():
            value["asks"], value["bids"] = value["bids"], value["asks"]  # crossed book
        elif action == "negate" and isinstance(value, str) and value[:1].isdigit():
            parent[key] = "-" + value
        else:
            parent[key] = data.draw(GARBAGE)
    return doc


@pytest.mark.parametrize("endpoint", sorted(_calls(CannedClient(None))))
@settings(HYPO, max_examples=80)
@given(data=st.data())
def test_mutated_answers_give_a_typed_value_or_a_kraken_error(recorded, endpoint, data):
    client = CannedClient(_mutate(recorded[endpoint], data))
    try:
        value = _calls(client)[endpoint]()
    except KrakenError:
        return
    assert value is not None


@HYPO
@given(body=st.one_of(st.binary(max_size=200), st.builds(lambda v: json.dumps(v).encode(), GARBAGE)),
       status=st.sampled_from([200, 200, 200, 400, 500, 502, 503, 520]))
def test_any_http_body_decodes_to_a_result_object_or_a_kraken_error(body, status):
    try:
        result = decode_response("Balance", status, body)
    except KrakenError:
        return
    assert isinstance(result, dict)


@HYPO
@given(junk=st.one_of(st.none(), st.lists(GARBAGE, max_size=3), st.text(max_size=5), st.integers(), st.booleans()),
       errors=st.sampled_from([[], ["WGeneral:Something"], "nope", None, [1]]))
def test_result_that_is_not_an_object_is_refused_before_any_parser(junk, errors):
    body = json.dumps({"error": errors, "result": junk}).encode()
    with pytest.raises(KrakenError):
        decode_response("Balance", 200, body)


def test_crossed_book_and_unordered_candles_are_refused(recorded):
    book = copy.deepcopy(recorded["Depth"])
    levels = next(iter(book.values()))
    levels["asks"], levels["bids"] = levels["bids"], levels["asks"]
    ohlc = copy.deepcopy(recorded["OHLC"])
    rows = next(v for k, v in ohlc.items() if k != "last")
    rows.reverse()
    for endpoint, doc in (("Depth", book), ("OHLC", ohlc)):
        with pytest.raises(KrakenError):
            _calls(CannedClient(doc))[endpoint]()


# -- the order path under garbage ---------------------------------------------------------------


@pytest.fixture
def sim():
    with KrakenSimulator(seed=21, clock=ManualClock()) as simulator:
        simulator.set_price("XBTEUR", "60000")
        yield simulator


def _live_bot(sim, tmp_path) -> Bot:
    env = {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
           "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KILL_SWITCH_FILE": str(tmp_path / "KILL"),
           "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1"}
    return Bot.build(Settings.from_env(env), clock=sim.clock, store_path=":memory:", live_flag=True)


@pytest.mark.parametrize("kind", ["invalid_json", "truncated_json"])
@pytest.mark.parametrize("ordertype", ["limit", "market"])
def test_garbage_addorder_answer_ends_resolved_never_duplicated(sim, tmp_path, kind, ordertype):
    bot = _live_bot(sim, tmp_path)
    try:
        sim.faults.inject(endpoint="AddOrder", kind=kind, times=1)
        price = Decimal("59000") if ordertype == "limit" else None
        outcome = bot.safety.submit_order("XBTEUR", "buy", ordertype, Decimal("0.001"), price)
        record = bot.safety.order(outcome.cl_ord_id)
        statuses = [r.params.get("cl_ord_id") for r in sim.access_log if r.endpoint == "AddOrder"]
        went_through = [r.get("outcome") for r in bot.store.audit_rows("order_status")]
    finally:
        bot.close()
    on_exchange = [o for o in sim.orders() if o.get("cl_ord_id") == outcome.cl_ord_id]
    assert statuses == [outcome.cl_ord_id]            # sent once, never again
    assert len(on_exchange) == 1                        # the garbage answer hid a real order...
    assert record.txid == on_exchange[0]["txid"]        # ...that the bot found by cl_ord_id
    assert record.status in ("OPEN", "FILLED"), record
    assert "UNKNOWN" in went_through                    # it was ambiguous, and resolved by lookup


@pytest.mark.parametrize("endpoint", ["Ticker", "SystemStatus", "AssetPairs"])
def test_garbage_market_data_places_no_order(sim, tmp_path, endpoint):
    bot = _live_bot(sim, tmp_path)
    try:
        sim.faults.inject(endpoint=endpoint, kind="invalid_json", times=10)
        outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.001"))
    finally:
        bot.close()
    assert not outcome.placed and not outcome.accepted, outcome
    assert [r for r in sim.access_log if r.endpoint == "AddOrder"] == []
    assert sim.orders() == []


# -- config fuzzing -----------------------------------------------------------------------------

_BASE_ENV = {"KRAKEN_API_KEY": "AbCdEfGh1234", "KRAKEN_API_SECRET": "c2VjcmV0LXNlY3JldC1zZWNyZXQ="}
_BAD_VALUES = st.one_of(
    st.sampled_from(["-1", "0", "-0.5", "NaN", "Infinity", "-Infinity", "1e999999", "abc", "1,5", "0x10", "1 2",
                     "yes please", "101", "100000000", "99999999999999999999999", "\x00", "-", ".", "1e", "☃",
                     "http//nope", "ftp://x", "XBT EUR", "live!", "maybe", "1.5.2", "https://"]),
    st.text(min_size=1, max_size=20).filter(lambda s: s.strip() != ""),
)


@pytest.mark.parametrize("name", SETTING_NAMES)
@settings(max_examples=40, deadline=None)
@given(value=_BAD_VALUES)
def test_every_setting_rejects_bad_values_with_a_one_line_error_naming_it(name, value):
    env = {**_BASE_ENV, name: value}
    try:
        parsed = Settings.from_env(env)
    except ConfigError as exc:
        text = str(exc)
        assert exc.setting == name and text.startswith(f"{name}:"), text
        assert "\n" not in text and "\r" not in text
        if name == "KRAKEN_API_SECRET":
            assert value.strip() not in text or len(value.strip()) < 4  # never echo a secret
        return
    except Exception as exc:  # noqa: BLE001 - anything else is the defect we look for
        raise AssertionError(f"{name}={value!r} raised {type(exc).__name__}: {exc}") from exc
    # accepted: then it is a value the setting can live with (numbers finite and not negative)
    got = getattr(parsed, _SPEC[name][0])
    if isinstance(got, (Decimal, int)) and not isinstance(got, bool):
        assert Decimal(got).is_finite() and got >= 0, (name, value, got)


@pytest.mark.parametrize("name,value", [
    ("MAX_ORDER_EUR", "-1"), ("MAX_ORDER_EUR", "NaN"), ("TOTAL_BTC", "Infinity"), ("MAX_DAILY_TRADES", "1.5"),
    ("MAX_OPEN_ORDERS", "0"), ("PRICE_COLLAR_PCT", "101"), ("STOP_LOSS_PCT", "-5"), ("KRAKEN_TIER", "gold"),
    ("TRADING_MODE", "yolo"), ("KRAKEN_LIVE_TRADING", "sure"), ("API_DOMAIN", "not a url"),
    ("KRAKEN_API_SECRET", "not base64!"), ("KRAKEN_API_KEY", "has space"), ("PAIRS", ",,"),
    ("DEAD_MANS_SWITCH_SECONDS", "86400"), ("STALE_DATA_SECONDS", "-3"), ("STORE_PATH", "a\x00b"),
])
def test_known_bad_values_are_refused(name, value):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**_BASE_ENV, name: value})
    assert info.value.setting == name and "\n" not in str(info.value)


def test_every_setting_is_covered_by_the_known_bad_list_or_fuzzing():
    assert len(SETTING_NAMES) >= 20 and "MAX_ORDER_EUR" in SETTING_NAMES


# -- simulator fuzzing --------------------------------------------------------------------------

_PATHS = st.one_of(
    st.sampled_from(["/0/public/Time", "/0/public/Ticker", "/0/public/Depth", "/0/public/OHLC",
                     "/0/public/AssetPairs", "/0/public/Nope", "/0/private/Balance", "/0/private/AddOrder",
                     "/0/private/CancelOrder", "/0/private/QueryOrders", "/0/private/Nope", "/0/public/",
                     "/0/private/", "/0/public/Ticker/../../_sim/state", "/0/public/%00", "/0/public/Ticker?pair=",
                     "/0/public/Depth?count=-1&pair=XBTEUR", "/0/public/OHLC?interval=NaN&pair=XBTEUR"]),
    st.builds(lambda a, b: f"/0/{a}/{b}", st.sampled_from(["public", "private"]),
              st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%"),
                      max_size=12)),
)
_HEADERS = st.dictionaries(
    st.sampled_from(["API-Key", "API-Sign", "Content-Type", "X-Junk", "Accept", "Content-Encoding"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    max_size=4,
)
_BODIES = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode(),
              st.dictionaries(st.sampled_from(["nonce", "pair", "type", "ordertype", "volume", "price", "txid",
                                               "orders[0][type]", "close[price]", "cl_ord_id", "a[b][c]", "[]",
                                               "deadline", "count"]),
                              st.one_of(GARBAGE.map(str), st.just("1")), max_size=6)),
    st.builds(lambda v: json.dumps(v).encode(), st.one_of(GARBAGE, st.dictionaries(st.text(max_size=5), GARBAGE))),
)


@pytest.fixture(scope="module")
def fuzz_sim():
    with KrakenSimulator(seed=31, clock=ManualClock(), rate_limits=False) as simulator:
        yield simulator


def _raw(sim, method: str, path: str, headers: dict, body: bytes | None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "POST", "PUT", "DELETE"]), path=_PATHS, headers=_HEADERS, body=_BODIES)
def test_simulator_answers_fuzzed_requests_with_kraken_errors_only(fuzz_sim, method, path, headers, body):
    if method == "GET":
        body = None
    if "API-Key" in headers and headers["API-Key"] == "":
        headers["API-Key"] = fuzz_sim.api_key  # sometimes a real key with a wrong signature
    try:
        status, data = _raw(fuzz_sim, method, path, headers, body)
    except http.client.InvalidURL:
        return  # the client library refused to send it
    assert status != 500 and status < 500, (status, data[:200])
    assert b"Traceback" not in data
    if status == 200:
        envelope = json.loads(data)
        assert isinstance(envelope.get("error"), list)
        assert all(isinstance(e, str) and e[:1] in "EW" and ":" in e for e in envelope["error"])
    else:  # 4xx: documented for bad HTTP (unknown method, bad request line); still JSON errors
        assert status in (400, 404, 405, 411, 413, 414, 415, 431), (status, data[:200])


def test_simulator_keeps_serving_after_the_fuzzing(fuzz_sim):
    rng = random.Random(5)
    for _ in range(50):  # raw socket garbage, not even HTTP
        import socket

        with socket.create_connection((fuzz_sim.host, fuzz_sim.port), timeout=5) as s:
            s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) + b"\r\n\r\n")
            try:
                s.recv(1024)
            except OSError:
                continue  # the server may drop a connection that is not HTTP; it must keep serving (below)
    status, data = _raw(fuzz_sim, "GET", "/0/public/Time", {}, None)
    assert status == 200 and json.loads(data)["error"] == [] and "unixtime" in json.loads(data)["result"]
    # the server catches its own bugs as EGeneral:Internal error; the fuzzing must have found none
    assert fuzz_sim.gateway.internal_errors == []
