"""Conformance of the simulator's WebSocket v2 with an unmodified third-party client: ccxt pro's kraken
(inside the installed ``ccxt``), pointed at the simulator only through ``urls["api"]``.

ccxt pro's kraken speaks v2 on every channel used here. Its own book checksum (option
``watchOrderBook.checksum``) cannot run in Python whatever the server sends: it calls
``str.split`` on the float prices its JSON parser gives (``AttributeError``), and with
``exchange.number = str`` its book sides fail on ``-price``. So the checksum is verified here on
ccxt's own book: the checksum each raw message carried, against ccxt's resulting book formatted at
the pair's precision, after every message.
"""
from __future__ import annotations

import asyncio
import zlib
from decimal import Decimal

import ccxt.pro
import pytest

from krakensim import KrakenSimulator
from krakensim.clock import ManualClock

TIMEOUT = 10.0


def _crc(asks, bids, pp: int, qp: int) -> int:
    def f(v, n):
        return f"{Decimal(repr(v)):.{n}f}".replace(".", "").lstrip("0")
    s = "".join(f(p, pp) + f(q, qp) for p, q in asks[:10]) + "".join(f(p, pp) + f(q, qp) for p, q in bids[:10])
    return zlib.crc32(s.encode()) & 0xFFFFFFFF


@pytest.fixture
def sim():
    with KrakenSimulator(seed=11, clock=ManualClock(), rate_limits=False, trading_limits=False) as s:
        yield s


def _exchange(sim):
    exchange = ccxt.pro.kraken({"apiKey": sim.api_key, "secret": sim.api_secret, "enableRateLimit": False,
                                "timeout": 5000})
    exchange.urls["api"]["public"] = sim.url
    exchange.urls["api"]["private"] = sim.url
    exchange.urls["api"]["ws"] = {"public": sim.ws_url, "private": sim.ws_auth_url, "publicV2": sim.ws_url,
                                  "privateV2": sim.ws_auth_url}
    return exchange


def _run(sim, scenario) -> None:
    async def main():
        exchange = _exchange(sim)
        try:
            await asyncio.wait_for(scenario(exchange), TIMEOUT * 3)
        finally:
            await exchange.close()
    asyncio.run(main())


def test_watch_order_book_stays_on_every_checksum_through_rest_changes(sim) -> None:
    checked = []

    async def scenario(exchange):
        original = exchange.handle_order_book

        def observed(client, message):  # observe only: ccxt's handler runs unchanged
            original(client, message)
            symbol = message["data"][0]["symbol"]
            book = exchange.orderbooks[symbol]
            checked.append(_crc(book["asks"], book["bids"], 1, 8) == message["data"][0]["checksum"])
        exchange.handle_order_book = observed
        await exchange.load_markets()
        book = await asyncio.wait_for(exchange.watch_order_book("BTC/EUR", 10), TIMEOUT)
        assert len(book["bids"]) == 10
        for price in ("61000", "60000.5", "59500"):
            sim.set_price("XBTEUR", price)
            book = await asyncio.wait_for(exchange.watch_order_book("BTC/EUR", 10), TIMEOUT)
            assert book["bids"][0][0] == float(Decimal(price) - Decimal("0.1"))
    _run(sim, scenario)
    assert len(checked) >= 4 and all(checked)


def test_watch_ticker_trades_ohlcv(sim) -> None:
    async def scenario(exchange):
        await exchange.load_markets()
        ticker = await asyncio.wait_for(exchange.watch_ticker("BTC/EUR"), TIMEOUT)
        assert ticker["bid"] < ticker["ask"]
        trades_task = asyncio.ensure_future(exchange.watch_trades("BTC/EUR"))
        ohlcv_task = asyncio.ensure_future(exchange.watch_ohlcv("BTC/EUR", "1m"))
        ohlcv = await asyncio.wait_for(ohlcv_task, TIMEOUT)  # the snapshot
        assert ohlcv and len(ohlcv[-1]) == 6
        await asyncio.sleep(0)  # let the trade subscription go out before the market moves
        while not trades_task.done():
            sim.set_price("XBTEUR", "61234.5")
            await asyncio.wait([trades_task], timeout=0.5)
        trades = trades_task.result()
        assert trades[-1]["price"] == 61234.5 and trades[-1]["symbol"] == "BTC/EUR"
        ticker_task = asyncio.ensure_future(exchange.watch_ticker("BTC/EUR"))
        await asyncio.sleep(0)
        sim.set_price("XBTEUR", "61300")
        ticker = await asyncio.wait_for(ticker_task, TIMEOUT)
        assert ticker["last"] == 61300
    _run(sim, scenario)


def test_orders_trades_and_balance_over_ccxt_pro(sim) -> None:
    async def scenario(exchange):
        await exchange.load_markets()
        balance = await asyncio.wait_for(exchange.watch_balance(), TIMEOUT)
        assert balance["EUR"]["total"] == 10000
        orders_task = asyncio.ensure_future(exchange.watch_orders("BTC/EUR"))
        mid = sim.exchange.mid("XBTEUR")
        order = await asyncio.wait_for(exchange.create_order_ws("BTC/EUR", "limit", "buy", 0.01,
                                                                float(mid - 300)), TIMEOUT)
        assert order["id"] == sim.orders()[0]["txid"]
        orders = await asyncio.wait_for(orders_task, TIMEOUT)
        assert orders[-1]["id"] == order["id"]
        await asyncio.wait_for(exchange.cancel_order_ws(order["id"]), TIMEOUT)
        assert sim.orders()[0]["status"] == "canceled"
        trades_task = asyncio.ensure_future(exchange.watch_my_trades("BTC/EUR"))
        balance_task = asyncio.ensure_future(exchange.watch_balance())
        await asyncio.wait_for(exchange.create_order_ws("BTC/EUR", "market", "buy", 0.01), TIMEOUT)
        mine = await asyncio.wait_for(trades_task, TIMEOUT)
        assert mine[-1]["symbol"] == "BTC/EUR" and mine[-1]["amount"] > 0
        assert mine[-1]["order"] == sim.orders()[-1]["txid"]
        balance = await asyncio.wait_for(balance_task, TIMEOUT)
        assert balance["BTC"]["total"] == float(sim.balances()["XXBT"])
    _run(sim, scenario)
