"""The market stream over a real WebSocket on loopback: the recorded feed kept exactly, and every
way a book stops being trustworthy (a corrupted or skipped update, silence, a drop, a refused
subscription) noticed at once, the book withheld, then rebuilt from a fresh snapshot."""
from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from krakenbot.clock import ManualClock
from krakenbot.models import PairInfo
from krakenbot.stream.book import LocalBook
from krakenbot.stream.connection import Backoff, ConnectLimiter
from krakenbot.stream.market import MarketStream, StreamPair, v2_symbol
from tests.integration.stream.wsserver import FEED_PATH, SYMBOL, ScriptedServer, book_feed, corrupt

PAIR = StreamPair(SYMBOL, "XBTUSD", 1, 8)
WAIT = 10.0  # real seconds a test waits for the stream at most: only a failure ever waits that long


def final_book() -> LocalBook:
    recorded = json.loads(FEED_PATH.read_text(), parse_float=Decimal)
    book = LocalBook(SYMBOL, 1, 8)
    book.apply(recorded["init"]["data"][0], snapshot=True)
    for update in recorded["updates"]:
        book.apply(update["data"][0], snapshot=False)
    return book


class Stream:
    """A market stream on a manual clock: its back-off pauses move that clock (``clock.slept``), never wait."""

    def __init__(self, url: str, **options) -> None:
        self.clock = ManualClock()
        options.setdefault("silence_s", 5.0)
        self.stream = MarketStream(url, [PAIR], clock=self.clock, poll_s=0.02, pause=self.clock.sleep,
                                   rng=random.Random(7), **options)

    def __enter__(self) -> MarketStream:
        self.stream.start()
        return self.stream

    def __exit__(self, *exc: object) -> None:
        self.stream.stop()


def trusted_with(stream: MarketStream, messages: int):
    return lambda: stream.book(SYMBOL) is not None and stream._books[SYMBOL].messages >= messages


def test_the_recorded_feed_over_a_websocket_ends_in_the_exchanges_book():
    with ScriptedServer(book_feed) as server, Stream(server.url) as stream:
        assert stream.wait_for(trusted_with(stream, 510), WAIT), stream.book_problem(SYMBOL)
        expected = final_book()
        book = stream.book("XBTUSD")  # by the bot's name for the pair as well as by the v2 symbol
        assert [(lvl.price, lvl.volume) for lvl in book.asks] == expected.asks()
        assert [(lvl.price, lvl.volume) for lvl in book.bids] == expected.bids()
        assert stream.mismatches == 0 and stream.resubscribes == 0
        assert stream.ticker(SYMBOL).bid == Decimal("29430.2") and stream.exchange_status == "online"
        (_, book_sub), = server.requests("subscribe", "book")
        assert book_sub["params"] == {"channel": "book", "symbol": [SYMBOL], "depth": 10}
        assert server.requests("subscribe", "ticker")


def test_a_corrupted_update_withholds_the_book_until_a_fresh_snapshot():
    async def script(session):
        await book_feed(session, count=200, change=lambda i, u: corrupt(u) if i == 120 and session.number == 1
                        and not session.server.events.get("resubscribed").is_set() else u)

    with ScriptedServer(script) as server:
        server.event("resubscribed")
        with Stream(server.url) as stream:
            assert stream.wait_for(lambda: stream.resubscribes == 1, WAIT)
            assert stream.book(SYMBOL) is None and stream.book_age(SYMBOL) is None
            assert "checksum mismatch" in stream.book_problem(SYMBOL)
            assert stream.mismatches == 1  # the updates after it were ignored, not counted as more mismatches
            assert server.wait_for(lambda: [m["method"] for _, m in server.requests(channel="book")]
                                   == ["subscribe", "unsubscribe", "subscribe"])
            server.release("resubscribed")
            assert stream.wait_for(trusted_with(stream, 201), WAIT), stream.book_problem(SYMBOL)
            assert server.connections == 1  # rebuilt on the same connection


def test_a_skipped_update_is_a_gap_the_checksum_shows():
    async def script(session):
        gate = session.server.events["resubscribed"]
        await book_feed(session, count=100, change=lambda i, u: None if i == 40 and not gate.is_set() else u)

    with ScriptedServer(script) as server:
        server.event("resubscribed")
        with Stream(server.url) as stream:
            assert stream.wait_for(lambda: stream.resubscribes == 1, WAIT)
            assert "checksum mismatch" in stream.book_problem(SYMBOL)
            server.release("resubscribed")
            assert stream.wait_for(trusted_with(stream, 100), WAIT)


def test_updates_with_no_snapshot_are_a_gap_and_ask_for_one():
    async def script(session):
        request = await session.request("subscribe", "book")
        await session.answer(request)
        for update in json.loads(FEED_PATH.read_text())["updates"][:3]:  # the snapshot never came
            await session.send(update)
        await book_feed_after_resubscribe(session)

    async def book_feed_after_resubscribe(session):
        await session.request("unsubscribe", "book")
        request = await session.request("subscribe", "book")
        await session.answer(request)
        recorded = json.loads(FEED_PATH.read_text())
        await session.send(recorded["init"])
        await session.heartbeats()

    with ScriptedServer(script) as server, Stream(server.url) as stream:
        assert stream.wait_for(trusted_with(stream, 1), WAIT), stream.book_problem(SYMBOL)
        assert stream.resubscribes == 1


def test_silence_past_the_limit_withholds_the_book_and_reconnects():
    async def script(session):
        await book_feed(session, count=10, then="silence" if session.number == 1 else "heartbeats")

    with ScriptedServer(script) as server, Stream(server.url, silence_s=5.0) as stream:
        assert stream.wait_for(trusted_with(stream, 11), WAIT)
        stream.clock.advance(3.0)
        assert stream.book_age(SYMBOL) == pytest.approx(3.0)  # on the bot's clock
        assert stream.book(SYMBOL) is not None  # quiet, not yet silent
        stream.clock.advance(2.5)
        assert stream.wait_for(lambda: server.connections == 2, WAIT)
        assert "Silence" in stream.last_problem
        assert stream.wait_for(trusted_with(stream, 11), WAIT)
        assert len(server.requests("subscribe", "book")) == 2  # everything subscribed again on the new connection


def test_a_dropped_connection_is_noticed_and_rebuilt_after_a_jittered_backoff():
    async def script(session):
        await book_feed(session, count=30, then="close" if session.number <= 3 else "heartbeats",
                        gate="fourth" if session.number == 4 else None)

    with ScriptedServer(script) as server, Stream(server.url, backoff=Backoff(first_s=1.0, cap_s=60.0)) as stream:
        assert server.wait_for(lambda: len(server.requests("subscribe", "book")) == 4)
        # connected again, the old connection's book is not served while the fresh snapshot is awaited
        assert stream.connected and stream.book(SYMBOL) is None and "stream down" in stream.book_problem(SYMBOL)
        server.release("fourth")
        assert stream.wait_for(lambda: stream.book(SYMBOL) is not None, WAIT)
        # each connection delivered its book before it dropped, so each retry starts the back-off afresh
        assert len(stream.clock.slept) == 3 and all(0.5 <= p <= 1.0 for p in stream.clock.slept)
        assert len(set(stream.clock.slept)) == 3  # jittered


def test_connections_that_never_work_back_off_exponentially_to_the_cap():
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens: every attempt is refused at once
    with Stream(f"ws://127.0.0.1:{port}/v2", backoff=Backoff(first_s=1.0, cap_s=8.0)) as stream:
        assert stream.wait_for(lambda: len(stream.clock.slept) >= 6, WAIT)
    steps = [1, 2, 4, 8, 8, 8]
    assert all(s / 2 <= p <= s for p, s in zip(stream.clock.slept, steps)), stream.clock.slept
    assert stream.book(SYMBOL) is None and "ConnectionRefused" in stream.last_problem


def test_a_refused_subscription_says_why():
    async def script(session):
        request = await session.request("subscribe", "book")
        await session.answer(request, success=False, error="Currency pair not supported BTC/USD")
        await session.heartbeats()

    with ScriptedServer(script) as server, Stream(server.url) as stream:
        assert stream.wait_for(lambda: "not supported" in (stream.book_problem(SYMBOL) or ""), WAIT)
        assert stream.book(SYMBOL) is None


def test_stop_ends_a_connection_attempt_that_hangs():
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts TCP, never answers the WebSocket handshake
    listener.settimeout(WAIT)
    stream = MarketStream(f"ws://127.0.0.1:{listener.getsockname()[1]}/v2", [PAIR], clock=ManualClock(),
                          open_timeout_s=600.0)
    try:
        stream.start()
        accepted, _ = listener.accept()
        accepted.settimeout(WAIT)
        request = b""
        while b"\r\n\r\n" not in request:  # the upgrade request: the stream now waits for the answer
            request += accepted.recv(4096)
        stream.stop(timeout=WAIT)
        assert not stream._thread.is_alive() and stream.connects == 0
        accepted.close()
    finally:
        listener.close()


def test_the_connect_limiter_keeps_under_krakens_window():
    clock = ManualClock()
    limiter = ConnectLimiter(clock, limit=3, window_s=600.0)
    assert [limiter.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take() == pytest.approx(600.0)
    clock.advance(599.0)
    assert limiter.take() == pytest.approx(1.0)
    clock.advance(1.0)
    assert limiter.take() == 0.0
    with pytest.raises(ValueError):
        ConnectLimiter(clock, limit=151)


def test_pairs_are_named_as_v2_names_them():
    assert v2_symbol("XBT/EUR") == "BTC/EUR" and v2_symbol("XDG/USD") == "DOGE/USD" and v2_symbol("ETH/EUR") == "ETH/EUR"
    info = PairInfo("XXBTZEUR", "XBTEUR", "XBT/EUR", "XXBT", "ZEUR", 1, 8, 5, Decimal("0.1"), Decimal("0.0001"),
                    Decimal("0.5"), Decimal("0.4"), Decimal("0.25"))
    assert StreamPair.from_info(info) == StreamPair("BTC/EUR", "XBTEUR", 1, 8)


def test_a_symbol_whose_fresh_books_keep_failing_is_left_to_rest_until_the_next_connection():
    bad = json.loads(FEED_PATH.read_text())["init"]
    bad["data"][0]["checksum"] += 1

    async def script(session):
        await book_feed(session, count=5, first=bad)

    with ScriptedServer(script) as server, Stream(server.url) as stream:
        assert stream.wait_for(lambda: stream.mismatches == 5, WAIT)
        assert server.wait_for(lambda: len(server.requests("subscribe", "book")) == 5)
        seen = stream.frames
        assert stream.wait_for(lambda: stream.frames >= seen + 8, WAIT)  # the last 5 updates and heartbeats
        assert stream.resubscribes == 4 and stream.book(SYMBOL) is None
        assert "checksum mismatch" in stream.book_problem(SYMBOL) and server.connections == 1
