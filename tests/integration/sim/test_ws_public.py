"""The simulator's public WebSocket v2 endpoint over real loopback sockets: status, ping, the book
with Kraken's checksum on every message, ticker, trade, ohlc, instrument, heartbeat."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sim_ws_client import Book, WsClient, rest_private, rest_public

from krakensim import KrakenSimulator
from krakensim.clock import ManualClock


@pytest.fixture
def sim():
    with KrakenSimulator(seed=5, clock=ManualClock(), rate_limits=False, trading_limits=False) as s:
        yield s


@pytest.fixture
def ws(sim):
    with WsClient(sim.ws_url) as client:
        yield client


def test_status_on_connect_and_ping_answered_with_its_req_id(ws) -> None:
    status = ws.recv()
    assert status["channel"] == "status" and status["data"][0]["system"] == "online"
    assert status["data"][0]["api_version"] == "v2" and status["data"][0]["connection_id"] > 2 ** 53
    req = ws.send("ping")
    pong = ws.reply(req)
    assert pong["method"] == "pong" and "time_in" in pong and "time_out" in pong


def _subscribe_book(ws: WsClient, depth: int, symbol: str = "BTC/EUR") -> tuple[Book, dict]:
    req = ws.send("subscribe", channel="book", symbol=[symbol], depth=depth)
    ack = ws.reply(req)
    assert ack["success"] is True and ack["result"] == {"channel": "book", "symbol": symbol, "depth": depth,
                                                       "snapshot": True}
    book = Book(depth, 1, 8)
    snapshot = ws.channel("book", kind="snapshot")
    assert book.apply(snapshot)
    return book, snapshot


def test_book_snapshot_then_updates_pushed_from_rest_changes_every_checksum_matching(sim, ws) -> None:
    book, snapshot = _subscribe_book(ws, 10)
    assert len(book.asks) == len(book.bids) == 10
    for price in ("61000", "60990.5", "59000"):
        sim.set_price("XBTEUR", price)
        assert book.apply(ws.channel("book", kind="update"))
    sim.shock("XBTEUR", "-1")
    assert book.apply(ws.channel("book", kind="update"))
    # an order resting through REST is in the book, at its price and size
    best_bid = max(book.bids)
    inside = best_bid + Decimal("0.1")  # inside the spread: it rests
    answer = rest_private(sim, "AddOrder", pair="XBTEUR", type="buy", ordertype="limit", price=str(inside),
                          volume="0.01")
    assert answer["error"] == []
    update = ws.channel("book", kind="update")
    assert book.apply(update)
    assert book.bids[inside] == Decimal("0.01")
    depth = rest_public(sim, "Depth", pair="XBTEUR", count=10)["result"]["XXBTZEUR"]
    assert [Decimal(p) for p, _, _ in depth["bids"]] == sorted(book.bids, reverse=True)
    assert [Decimal(v) for _, v, _ in depth["asks"]] == [book.asks[p] for p in sorted(book.asks)]


def test_book_numbers_are_written_at_the_pairs_full_precision(sim, ws) -> None:
    ws.send("subscribe", channel="book", symbol=["ETH/EUR"], depth=10)
    raw = ws.ws.recv(timeout=5)
    while '"type":"snapshot"' not in raw:
        raw = ws.ws.recv(timeout=5)
    first_bid = raw.split('"bids":[{')[1].split("}")[0]
    price, qty = first_bid.split(",")
    assert len(price.split(".")[1]) == 2 and len(qty.split(".")[1]) == 8  # ETH/EUR: 2 / 8 decimals


@pytest.mark.parametrize("depth", [25, 100, 500, 1000])
def test_every_depth_is_truncated_to_what_was_asked(sim, ws, depth) -> None:
    book, _ = _subscribe_book(ws, depth)
    assert len(book.asks) == len(book.bids) == min(depth, 500)  # the synthetic book has 500 levels a side
    sim.set_price("XBTEUR", "60500")
    assert book.apply(ws.channel("book", kind="update"))
    assert len(book.asks) == len(book.bids) == min(depth, 500)


def test_an_unknown_or_legacy_symbol_and_a_bad_depth_are_refused(ws) -> None:
    ack = ws.reply(ws.send("subscribe", channel="book", symbol=["XBT/EUR"]))
    assert ack["success"] is False and ack["error"] == "Currency pair not supported XBT/EUR"
    ack = ws.reply(ws.send("subscribe", channel="book", symbol=["BTC/EUR"], depth=7))
    assert ack["success"] is False
    ack = ws.reply(ws.send("subscribe", channel="nonsense", symbol=["BTC/EUR"]))
    assert ack["error"] == "Subscription name invalid"


def test_ticker_trade_and_ohlc_follow_a_price_move(sim, ws) -> None:
    for channel, extra in (("ticker", {}), ("trade", {}), ("ohlc", {"interval": 1})):
        ack = ws.reply(ws.send("subscribe", channel=channel, symbol=["BTC/EUR"], **extra))
        assert ack["success"] is True, ack
    assert ws.channel("ticker", kind="snapshot")["data"][0]["symbol"] == "BTC/EUR"
    assert ws.channel("ohlc", kind="snapshot")["data"][-1]["interval"] == 1
    sim.set_price("XBTEUR", "61111.1")
    tick = ws.channel("ticker", kind="update")["data"][0]
    assert tick["last"] == Decimal("61111.1") and tick["bid"] < tick["ask"]
    trade = ws.channel("trade", kind="update")["data"][-1]
    assert trade["price"] == Decimal("61111.1") and trade["side"] in ("buy", "sell")
    assert trade["trade_id"] == sim.public_trades("XBTEUR", 0, 2e9)[-1]["trade_id"]
    candle = ws.channel("ohlc", kind="update")["data"][-1]
    assert candle["close"] == Decimal("61111.1")


def test_instrument_lists_v2_symbols_with_their_precision(ws) -> None:
    assert ws.reply(ws.send("subscribe", channel="instrument"))["success"] is True
    data = ws.channel("instrument", kind="snapshot")["data"]
    pairs = {p["symbol"]: p for p in data["pairs"]}
    assert pairs["BTC/EUR"]["price_precision"] == 1 and pairs["BTC/EUR"]["qty_precision"] == 8
    assert {a["id"] for a in data["assets"]} >= {"BTC", "ETH", "EUR", "USD"}


def test_heartbeat_only_with_a_subscription(sim, ws) -> None:
    ws.recv()  # status
    with pytest.raises(TimeoutError):
        ws.wait(lambda m: True, timeout=1.5)
    ws.reply(ws.send("subscribe", channel="ticker", symbol=["BTC/EUR"]))
    assert ws.channel("heartbeat", timeout=3) == {"channel": "heartbeat"}
