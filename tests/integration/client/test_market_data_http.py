"""MarketDataService against the simulator: cache hits send nothing, history comes from the store."""
from __future__ import annotations

import pytest

from krakenbot.market_data import MarketDataService, MemoryCandleStore


def market_requests(sim, since=0):
    return [r for r in sim.access_log_since(since) if r.kind == "public"]


@pytest.fixture
def service(client, clock):
    return MarketDataService(client, clock, ttl_seconds=2.0)


def test_ticker_cache_hit_makes_no_request(service, sim, clock):
    first = service.ticker("XBTEUR")
    seen = len(sim.access_log)
    assert service.ticker("XBTEUR") is first
    assert len(sim.access_log) == seen
    assert (service.stats.hits, service.stats.misses) == (1, 1)
    clock.advance(2.5)
    service.ticker("XBTEUR")
    assert len(sim.access_log) == seen + 1 and service.stats.misses == 2


def test_order_book_and_trades_are_cached_too(service, sim):
    service.order_book("XBTEUR", 10)
    service.recent_trades("XBTEUR")
    seen = len(sim.access_log)
    service.order_book("XBTEUR", 10)
    service.recent_trades("XBTEUR")
    assert len(sim.access_log) == seen


def test_cache_is_bounded(client, clock):
    service = MarketDataService(client, clock, ttl_seconds=60, max_entries=2)
    for count in (5, 6, 7):
        service.order_book("XBTEUR", count)
    assert service.stats.size == 2


def test_staleness_follows_the_clock(service, clock):
    assert service.is_stale("XBTEUR", max_age=10)
    service.ticker("XBTEUR")
    assert not service.is_stale("XBTEUR", 10) and not service.is_stale("XXBTZEUR", 10)
    clock.advance(11)
    assert service.is_stale("XBTEUR", 10)


def test_candles_report_and_store(service, sim):
    series = service.candles("XBTEUR", 1)
    assert series.candles and series.pair == "XXBTZEUR"
    stored = service.candle_store.load_candles("XXBTZEUR", 1, None, None)
    assert stored and all(c.time <= series.last for c in stored)


def test_history_second_fetch_comes_from_the_store(client, sim, clock):
    store = MemoryCandleStore()
    service = MarketDataService(client, clock, candle_store=store)
    end = int(clock.time()) - 600
    start = end - 3600
    first = service.history("XBTEUR", 1, start, end)
    assert first.candles and not first.from_store
    assert first.candles[0].time >= start - 60 and first.candles[-1].time <= end
    seen = len(sim.access_log)
    again = service.history("XBTEUR", 1, start, end)
    assert len(sim.access_log) == seen
    assert again.from_store and again.candles == first.candles
    # a fresh service on the same store (a restart) also makes no request for that range
    restarted = MarketDataService(client, clock, candle_store=store)
    restarted.asset_pairs()
    seen = len(sim.access_log)
    assert restarted.history("XBTEUR", 1, start, end).candles == first.candles
    assert len(sim.access_log) == seen


def test_trades_between_pages_with_last(service, clock):
    recent = service.recent_trades("XBTEUR")
    start, end = recent.trades[0].time, recent.trades[-1].time
    trades = service.trades_between("XBTEUR", start, end)
    assert trades and all(start <= t.time < end for t in trades)
    assert [t.trade_id for t in trades] == sorted(t.trade_id for t in trades)


def test_other_market_data_does_not_make_an_old_price_look_fresh(service, sim, clock):
    """Freshness is the age of the price (the ticker the risk checks use): candles, book and
    trades fetched while the Ticker endpoint fails must not hide that the price is old."""
    from krakenbot.errors import HttpStatusError

    service.ticker("XBTEUR")
    clock.advance(60)
    sim.faults.inject(endpoint="Ticker", kind="http_status", status=503, times=10)
    with pytest.raises(HttpStatusError):
        service.ticker("XBTEUR")
    service.candles("XBTEUR", 1)
    service.order_book("XBTEUR", 10)
    service.recent_trades("XBTEUR")
    assert service.is_stale("XBTEUR", 30) and service.is_stale("XXBTZEUR", 30)
    assert clock.time() - service.last_update("XBTEUR") >= 60
