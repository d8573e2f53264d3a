"""Public market data from the simulator, parsed into typed models."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.client import resolve_pair
from krakenbot.errors import UnknownPairError


def test_asset_pairs_resolve_by_any_name(client):
    pairs = client.market.asset_pairs()
    info = pairs["XXBTZEUR"]
    assert (info.altname, info.wsname, info.base, info.quote) == ("XBTEUR", "XBT/EUR", "XXBT", "ZEUR")
    assert info.ordermin == Decimal("0.00005") and info.tick_size == Decimal("0.1") and info.lot_decimals == 8
    assert resolve_pair(pairs, "XBT/EUR") is info and resolve_pair(pairs, "XBTEUR") is info
    assert client.market.pair_info("XBTEUR") == info


def test_assets(client):
    assets = client.market.assets()
    assert assets["XXBT"]["altname"] == "XBT" and assets["ZEUR"]["status"] == "enabled"


def test_ticker_is_keyed_by_pair_id_and_sane(client):
    ticker = client.market.ticker("XBTEUR")
    assert ticker.pair == "XXBTZEUR"
    assert Decimal(0) < ticker.bid <= ticker.ask and isinstance(ticker.last, Decimal)


def test_depth_sorted_and_not_crossed(client):
    book = client.market.depth("XBTEUR", count=5)
    assert 0 < len(book.asks) <= 5 and 0 < len(book.bids) <= 5
    assert list(book.asks) == sorted(book.asks, key=lambda level: level.price)
    assert book.best_bid < book.best_ask


def test_ohlc_page_is_consistent(client, clock):
    page = client.market.ohlc("XBTEUR", interval=1)
    assert page.pair == "XXBTZEUR" and page.candles
    assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in page.candles)
    assert page.last <= clock.time()


def test_recent_trades_page_then_poll_with_last(client, sim, clock):
    first = client.market.recent_trades("XBTEUR")
    assert first.trades and first.last.isdigit()
    again = client.market.recent_trades("XBTEUR", since=first.last)
    assert all(t.time >= first.trades[-1].time for t in again.trades)


def test_spread(client):
    page = client.market.spread("XBTEUR")
    assert page.pair == "XXBTZEUR" and all(e.bid <= e.ask for e in page.entries)


def test_unknown_pair_is_typed(client):
    with pytest.raises(UnknownPairError):
        client.market.ticker("NOPEEUR")
