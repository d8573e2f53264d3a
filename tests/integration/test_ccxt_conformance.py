"""Unmodified ccxt 4.5.90 and krakenex against the simulator: Kraken's face must fool them.

ccxt is pointed at the simulator only through ``urls["api"]`` (its ``sign()`` builds
``urls["api"][public|private] + "/0/<api>/<Method>"``). Its own throttle is off
and so are the simulator's counters: this test is about shapes and values, the
counters have their own tests.

Each client signs with its own key on the demo account: both take the nonce from the wall
clock in milliseconds, so on one key a ccxt call in the same (or a later) millisecond made
krakenex's next nonce too small (``EAPI:Invalid nonce``, about one run in three).
"""
from __future__ import annotations

from decimal import Decimal

import ccxt
import krakenex
import pytest

from krakensim import KrakenSimulator
from krakensim.clock import ManualClock

SYMBOL = "BTC/EUR"


def dec(value) -> Decimal:
    return Decimal(str(value))


@pytest.fixture(scope="module")
def sim():
    with KrakenSimulator(seed=11, clock=ManualClock(), rate_limits=False) as s:
        yield s


@pytest.fixture(scope="module")
def ex(sim):
    key, secret = sim.create_key()  # ccxt's own key (see the module docstring)
    exchange = ccxt.kraken({"apiKey": key, "secret": secret, "enableRateLimit": False, "timeout": 5000})
    exchange.urls["api"] = {"public": sim.url, "private": sim.url}
    exchange.load_markets()
    return exchange


def sim_public(sim, method: str, **params) -> dict:
    return sim.exchange.handle_public(method, {k: str(v) for k, v in params.items()})


def test_load_markets_sees_krakens_pairs_with_their_rules(ex):
    market = ex.market(SYMBOL)
    assert market["id"] == "XXBTZEUR" and market["active"] is True
    assert market["base"] == "BTC" and market["quote"] == "EUR"
    assert dec(market["limits"]["amount"]["min"]) == Decimal("0.00005")
    assert dec(market["precision"]["price"]) == Decimal("0.1")
    assert "BTC" in ex.currencies and "EUR" in ex.currencies


def test_market_data_agrees_with_the_simulator(sim, ex):
    ticker = ex.fetch_ticker(SYMBOL)
    raw = sim_public(sim, "Ticker", pair="XXBTZEUR")["XXBTZEUR"]
    assert dec(ticker["bid"]) == Decimal(raw["b"][0]) and dec(ticker["ask"]) == Decimal(raw["a"][0])
    assert dec(ticker["last"]) == Decimal(raw["c"][0])
    book = ex.fetch_order_book(SYMBOL)
    assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
    assert dec(book["bids"][0][0]) == Decimal(raw["b"][0])
    candles = ex.fetch_ohlcv(SYMBOL, "1m")
    assert candles and all(len(row) == 6 for row in candles)
    assert all(row[2] >= row[3] for row in candles)  # high >= low
    trades = ex.fetch_trades(SYMBOL)
    assert trades and all(t["symbol"] == SYMBOL and t["side"] in ("buy", "sell") for t in trades)


def test_balance_equals_the_simulators(sim, ex):
    balance = ex.fetch_balance()
    expected = sim.balances()
    assert dec(balance["total"]["EUR"]) == expected["ZEUR"]
    assert dec(balance["total"]["BTC"]) == expected["XXBT"]


def test_order_lifecycle_through_ccxt_matches_the_simulator(sim, ex):
    ticker = ex.fetch_ticker(SYMBOL)
    resting_price = float(ex.price_to_precision(SYMBOL, ticker["bid"] * 0.8))
    resting = ex.create_order(SYMBOL, "limit", "buy", 0.001, resting_price)
    orders = {o["txid"]: o for o in sim.orders()}
    assert resting["id"] in orders and orders[resting["id"]]["status"] == "open"

    open_ids = [o["id"] for o in ex.fetch_open_orders(SYMBOL)]
    assert resting["id"] in open_ids

    ex.cancel_order(resting["id"], SYMBOL)
    orders = {o["txid"]: o for o in sim.orders()}
    assert orders[resting["id"]]["status"] == "canceled"

    bought = ex.create_order(SYMBOL, "market", "buy", 0.001)
    orders = {o["txid"]: o for o in sim.orders()}
    assert orders[bought["id"]]["status"] == "closed"

    closed = {o["id"]: o for o in ex.fetch_closed_orders(SYMBOL)}
    assert closed[resting["id"]]["status"] == "canceled"
    assert closed[bought["id"]]["status"] == "closed"
    assert dec(closed[bought["id"]]["filled"]) == Decimal("0.001")

    sim_trades = [t for t in sim.trades() if t["ordertxid"] == bought["id"]]
    assert sim_trades
    mine = {t["id"]: t for t in ex.fetch_my_trades(SYMBOL)}
    for trade in sim_trades:
        got = mine[trade["txid"]]
        assert got["order"] == bought["id"] and got["side"] == "buy"
        assert dec(got["price"]) == Decimal(trade["price"])
        assert dec(got["amount"]) == Decimal(trade["vol"])
        assert dec(got["fee"]["cost"]) == Decimal(trade["fee"])
        assert got["fee"]["currency"] == "EUR"

    balance = ex.fetch_balance()
    expected = sim.balances()
    assert dec(balance["total"]["EUR"]) == expected["ZEUR"]
    assert dec(balance["total"]["BTC"]) == expected["XXBT"]


def test_krakenex_public_post_and_private_balance(sim):
    api = krakenex.API(*sim.create_key())  # krakenex's own key (see the module docstring)
    api.uri = sim.url
    try:
        server_time = api.query_public("Time")   # krakenex 2.2.x GETs public calls (POST is tested in test_sim_http)
        assert server_time["error"] == [] and server_time["result"]["unixtime"] == int(sim.clock.time())
        balance = api.query_private("Balance")
        assert balance["error"] == []
        assert {k: Decimal(v) for k, v in balance["result"].items() if Decimal(v)} == {
            k: v for k, v in sim.balances().items() if v}
    finally:
        api.close()
    assert [(r.endpoint, r.outcome) for r in sim.access_log[-2:]] == [("Time", "ok"), ("Balance", "ok")]


def test_json_batch_calls_through_ccxt(sim, ex):
    """ccxt sends AddOrderBatch and CancelOrderBatch as JSON bodies with a string nonce."""
    bid = ex.fetch_ticker(SYMBOL)["bid"]
    prices = [float(ex.price_to_precision(SYMBOL, bid * f)) for f in (0.7, 0.71)]
    created = ex.create_orders([{"symbol": SYMBOL, "type": "limit", "side": "buy", "amount": 0.001, "price": p}
                                for p in prices])
    ids = [o["id"] for o in created]
    assert all(ids)
    orders = {o["txid"]: o for o in sim.orders()}
    assert all(orders[i]["status"] == "open" for i in ids)
    ex.cancel_orders(ids, SYMBOL)
    orders = {o["txid"]: o for o in sim.orders()}
    assert [orders[i]["status"] for i in ids] == ["canceled", "canceled"]
    batch_records = [r for r in sim.access_log if r.endpoint in ("AddOrderBatch", "CancelOrderBatch")]
    assert [(r.endpoint, r.outcome) for r in batch_records] == [("AddOrderBatch", "ok"), ("CancelOrderBatch", "ok")]


def test_fetch_positions_reads_a_spot_accounts_empty_list(sim, ex):
    """ccxt sends OpenPositions with docalcs=true&consolidation=market and iterates the answer as a
    list: the simulator's old ``{}`` crashed it (TypeError); Kraken answers a list."""
    assert ex.fetch_positions() == []
    record = [r for r in sim.access_log if r.endpoint == "OpenPositions"][-1]
    assert record.outcome == "ok" and record.params.get("consolidation") == "market"
