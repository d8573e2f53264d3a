"""Stream faults on the simulator's WebSocket v2, asked for as a test or a scenario would (in process
or over the ``/_sim/faults`` control API): drop, silence, a corrupted or skipped book update, delay,
and a maintenance pushed on ``status``."""
from __future__ import annotations

import json
import urllib.request

import pytest
from sim_ws_client import Book, WsClient, rest_public
from websockets.exceptions import ConnectionClosed

from krakensim import KrakenSimulator
from krakensim.clock import ManualClock


@pytest.fixture
def sim():
    with KrakenSimulator(seed=9, clock=ManualClock(), rate_limits=False, trading_limits=False) as s:
        yield s


@pytest.fixture
def book_ws(sim):
    with WsClient(sim.ws_url) as client:
        client.reply(client.send("subscribe", channel="book", symbol=["BTC/EUR"], depth=10))
        client.book = Book(10, 1, 8)
        assert client.book.apply(client.channel("book", kind="snapshot"))
        client.skipped.clear()  # the status on connect: read
        yield client


def _control_fault(sim, **fault) -> dict:
    request = urllib.request.Request(sim.url + "/_sim/faults", data=json.dumps(fault).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_a_corrupted_book_update_no_longer_matches_its_checksum_and_the_next_ones_neither(sim, book_ws) -> None:
    _control_fault(sim, endpoint="book", kind="ws_corrupt")
    sim.set_price("XBTEUR", "61000")
    assert book_ws.book.apply(book_ws.channel("book", kind="update")) is False
    sim.set_price("XBTEUR", "61000.5")
    assert book_ws.book.apply(book_ws.channel("book", kind="update")) is False  # the book stays wrong


def test_a_skipped_update_leaves_the_subscriber_behind(sim, book_ws) -> None:
    fault = sim.faults.inject("book", "ws_skip")
    sim.set_price("XBTEUR", "61000")
    book_ws.channel("heartbeat")  # sent only after a second with nothing sent: the update went missing
    assert fault.fired == 1
    sim.set_price("XBTEUR", "62000")
    assert book_ws.book.apply(book_ws.channel("book", kind="update")) is False


def test_a_dropped_connection_ends_without_a_close_frame(sim, book_ws) -> None:
    sim.faults.inject("book", "ws_drop")
    sim.set_price("XBTEUR", "61000")
    with pytest.raises(ConnectionClosed) as closed:
        book_ws.channel("book", kind="update")
    assert closed.value.rcvd is None  # no close frame from the server: a drop, not a goodbye


def test_a_silent_connection_sends_nothing_not_even_heartbeats(sim, book_ws) -> None:
    sim.faults.inject("*", "ws_silence", seconds=60)
    sim.set_price("XBTEUR", "61000")
    with pytest.raises(TimeoutError):
        book_ws.wait(lambda m: True, timeout=2.5)  # a heartbeat is due every second


def test_a_delayed_update_still_arrives_in_order(sim, book_ws) -> None:
    sim.faults.inject("book", "ws_delay", seconds=0.2)
    sim.set_price("XBTEUR", "61000")
    assert book_ws.book.apply(book_ws.channel("book", kind="update"))
    sim.set_price("XBTEUR", "61500")
    assert book_ws.book.apply(book_ws.channel("book", kind="update"))


def test_maintenance_is_pushed_on_status_and_rest_never_sees_a_stream_fault(sim, book_ws) -> None:
    fault = sim.faults.inject("*", "ws_skip", times=5)
    assert rest_public(sim, "Time")["error"] == []
    assert fault.fired == 0
    sim.faults.clear()
    sim.set_system_status("maintenance")
    status = book_ws.channel("status")
    assert status["data"][0]["system"] == "maintenance"
