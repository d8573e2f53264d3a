"""The bot's streams against the simulator's own WebSocket v2 server (not the scripted one): the
book kept equal to the exchange's through price moves and an order resting, and a fill known from
the executions stream with its fees, the token taken through the bot's REST client."""
from __future__ import annotations

import random
from decimal import Decimal

import pytest

import krakensim  # a plain import: a simulator that fails to import fails these tests, never skips them
from krakenbot.client import KrakenClient, Timeouts
from krakenbot.clock import ManualClock
from krakenbot.stream.executions import ExecutionsStream
from krakenbot.stream.market import MarketStream, StreamPair

WAIT = 10.0


@pytest.fixture
def sim():
    with krakensim.KrakenSimulator(seed=5, clock=ManualClock(), rate_limits=False, trading_limits=False) as s:
        yield s


@pytest.fixture
def rest(sim):
    client = KrakenClient(sim.url, sim.api_key, sim.api_secret, clock=ManualClock(),
                          timeouts=Timeouts(connect=1.0, read=2.0), rng=random.Random(7))
    yield client
    client.close()


def _same_as_rest(stream: MarketStream, rest: KrakenClient) -> bool:
    book = stream.book("XBTEUR")
    depth = rest.market.depth("XBTEUR", 10)
    return book is not None and [(lvl.price, lvl.volume) for lvl in book.asks] == \
        [(lvl.price, lvl.volume) for lvl in depth.asks] and \
        [(lvl.price, lvl.volume) for lvl in book.bids] == [(lvl.price, lvl.volume) for lvl in depth.bids]


def test_the_market_streams_book_stays_the_exchanges_through_moves(sim, rest):
    info = rest.market.asset_pairs()["XXBTZEUR"]
    clock = ManualClock()
    stream = MarketStream(sim.ws_url, [StreamPair.from_info(info)], clock=clock, poll_s=0.02, pause=clock.sleep)
    stream.start()
    try:
        assert stream.wait_for(lambda: stream.book("BTC/EUR") is not None, WAIT), stream.book_problem("BTC/EUR")
        for price in ("61000", "60990.5", "59000"):
            sim.set_price("XBTEUR", price)
            assert stream.wait_for(lambda: _same_as_rest(stream, rest), WAIT), stream.book_problem("BTC/EUR")
        best_bid = stream.book("XBTEUR").best_bid
        placed = rest.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit",
                              price=str(best_bid + Decimal("0.1")), volume="0.01")
        assert placed["txid"]
        assert stream.wait_for(lambda: _same_as_rest(stream, rest) and stream.book("XBTEUR").best_bid
                               == best_bid + Decimal("0.1"), WAIT)
        assert stream.mismatches == 0 and stream.ticker("XBTEUR") is not None
    finally:
        stream.stop()


def test_a_fill_is_known_from_the_exchanges_notice(sim, rest):
    events = []
    clock = ManualClock()
    stream = ExecutionsStream(sim.ws_auth_url, rest.account.websockets_token, events.append, clock=clock,
                              poll_s=0.02, pause=clock.sleep)
    stream.start()
    try:
        assert stream.wait_for(lambda: stream.subscribed, WAIT), stream.last_problem
        placed = rest.private("AddOrder", pair="XBTEUR", type="buy", ordertype="market", volume="0.01",
                              cl_ord_id="kb-ws-1")
        txid = placed["txid"][0]
        assert stream.wait_for(lambda: any(e.exec_type == "filled" and e.order_id == txid for e in events), WAIT)
        fills = [e for e in events if e.exec_type == "trade" and e.order_id == txid]
        assert fills and sum(f.last_qty for f in fills) == Decimal("0.01")
        assert all(f.fees and isinstance(f.fees[0][1], Decimal) for f in fills)
        assert fills[-1].cum_qty == Decimal("0.01") and fills[-1].cl_ord_id == "kb-ws-1"
        assert stream.needs_reconciliation and stream.reconciled(stream.epoch)
    finally:
        stream.stop()
