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


def _depth(sim, pair: str, count: int) -> tuple[dict, dict]:
    (rows,) = rest_public(sim, "Depth", pair=pair, count=count)["result"].values()
    return ({Decimal(p): Decimal(v) for p, v, _ in rows["asks"]}, {Decimal(p): Decimal(v) for p, v, _ in rows["bids"]})


def _follow_to_depth(sim, ws: WsClient, symbol: str, book: Book, pair: str) -> None:
    """Apply ``symbol``'s book updates in order, every checksum checked, until the book is REST Depth's."""
    want = _depth(sim, pair, book.depth)
    while (book.asks, book.bids) != want:
        update = ws.wait(lambda m: m.get("channel") == "book" and m["data"][0]["symbol"] == symbol)
        assert update["type"] == "update" and book.apply(update), f"{symbol} depth {book.depth}: bad checksum"


def _joined(ws: WsClient, symbol: str, depth: int, pp: int = 1) -> Book:
    """Subscribe to ``symbol``'s book (again: what a previous subscription still had on its way is dropped)."""
    assert ws.reply(ws.send("subscribe", channel="book", symbol=[symbol], depth=depth))["success"] is True
    book = Book(depth, pp, 8)
    while True:
        message = ws.wait(lambda m: m.get("channel") == "book" and m["data"][0]["symbol"] == symbol)
        if message["type"] == "snapshot":
            assert book.apply(message)
            return book


def test_subscribers_at_different_depths_joining_and_leaving_each_hold_the_exchanges_book(sim) -> None:
    """Each book is diffed once per pair and depth and the message shared: every subscriber of it must
    still end each burst of changes on the exchange's book, whenever it joined, whoever left."""
    with WsClient(sim.ws_url) as a, WsClient(sim.ws_url) as b, WsClient(sim.ws_url) as c:
        books = {(a, "BTC/EUR"): _joined(a, "BTC/EUR", 10), (a, "ETH/EUR"): _joined(a, "ETH/EUR", 25, pp=2),
                 (b, "BTC/EUR"): _joined(b, "BTC/EUR", 10), (c, "BTC/EUR"): _joined(c, "BTC/EUR", 100)}
        bursts = [
            lambda: (sim.set_price("XBTEUR", "61000"), sim.set_price("ETHEUR", "3100"), sim.set_liquidity("XBTEUR", "0.3")),
            lambda: rest_private(sim, "AddOrder", pair="XBTEUR", type="buy", ordertype="limit", volume="0.02",
                                 price=str(max(books[(a, "BTC/EUR")].bids) + Decimal("0.1"))),
            lambda: (sim.shock("XBTEUR", "-0.5"), sim.set_liquidity("ETHEUR", "2")),
        ]
        late = None
        for i, burst in enumerate(bursts):
            burst()
            if i == 1:  # one joins a book others already follow, one leaves it, the only one of another renews
                late = WsClient(sim.ws_url)
                books[(late, "BTC/EUR")] = _joined(late, "BTC/EUR", 10)
                assert b.reply(b.send("unsubscribe", channel="book", symbol=["BTC/EUR"], depth=10))["success"]
                del books[(b, "BTC/EUR")]
                books[(c, "BTC/EUR")] = _joined(c, "BTC/EUR", 100)
            for (ws, symbol), book in books.items():
                _follow_to_depth(sim, ws, symbol, book, "ETHEUR" if symbol == "ETH/EUR" else "XBTEUR")
        assert late is not None
        late.close()
        assert {(symbol, book.depth, len(book.asks)) for (_, symbol), book in books.items()} == {
            ("BTC/EUR", 10, 10), ("ETH/EUR", 25, 25), ("BTC/EUR", 100, 100)}
        assert all(book.checked > 1 for book in books.values())  # each followed updates after its snapshot


def test_other_traders_flow_moves_the_streamed_book_as_it_moves_depth() -> None:
    with KrakenSimulator(seed=5, clock=ManualClock(), rate_limits=False, trading_limits=False,
                         flow_rate=20) as sim, WsClient(sim.ws_url) as ws:
        book = _joined(ws, "BTC/EUR", 25)
        for _ in range(5):
            before = (dict(book.asks), dict(book.bids))
            sim.advance(1)  # the flow's arrivals of that second run: others' trades, orders and cancels
            _follow_to_depth(sim, ws, "BTC/EUR", book, "XBTEUR")
            assert (book.asks, book.bids) != before
        assert book.checked > 5
