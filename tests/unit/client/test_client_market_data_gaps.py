from __future__ import annotations

from decimal import Decimal

from krakenbot.market_data import MemoryCandleStore, find_gaps
from krakenbot.models import Candle


def candle(t):
    one = Decimal(1)
    return Candle(t, one, one, one, one, one, one, 1)


def test_no_gaps_in_a_continuous_series():
    assert find_gaps([candle(0), candle(60), candle(120)], 1) == ()


def test_inner_leading_and_trailing_gaps():
    series = [candle(120), candle(300), candle(360)]
    assert find_gaps(series, 1) == ((180, 240),)
    assert find_gaps(series, 1, start=0, end=540) == ((0, 60), (180, 240), (420, 540))


def test_empty_range_is_one_gap():
    assert find_gaps([], 5, start=0, end=600) == ((0, 600),)


def test_memory_store_upserts_and_filters():
    store = MemoryCandleStore()
    store.save_candles("XXBTZEUR", 1, [candle(60), candle(0)])
    store.save_candles("XXBTZEUR", 1, [candle(60), candle(120)])
    assert [c.time for c in store.load_candles("XXBTZEUR", 1, None, None)] == [0, 60, 120]
    assert [c.time for c in store.load_candles("XXBTZEUR", 1, 60, 60)] == [60]
    assert store.load_candles("XXBTZEUR", 5, None, None) == []


def test_an_answer_for_another_pair_is_refused_and_does_not_refresh_the_price():
    """Kraken keys market data by pair id; a one-pair answer for the wrong pair (XETHZEUR when
    XBTEUR was asked) must not become XBT/EUR's price."""
    import pytest

    from krakenbot.clock import ManualClock
    from krakenbot.errors import MalformedResponse
    from krakenbot.market_data import MarketDataService
    from krakenbot.models import PairInfo, Ticker

    def info(name, alt, ws):
        d = Decimal
        return PairInfo(name, alt, ws, name[:4], name[4:], 1, 8, 5, d("0.1"), d("0.0001"), d("0.5"), d("0.4"), d("0.25"))

    class Market:
        answer_for = "XETHZEUR"

        def asset_pairs(self):
            return {p.name: p for p in (info("XXBTZEUR", "XBTEUR", "XBT/EUR"), info("XETHZEUR", "ETHEUR", "ETH/EUR"))}

        def ticker(self, pair):
            price = Decimal("3000")
            return Ticker(self.answer_for, price, price, price, price, price, price, price, price, 1)

    class Client:
        clock = ManualClock()
        market = Market()

    service = MarketDataService(Client(), Client.clock)
    service.asset_pairs()
    with pytest.raises(MalformedResponse):
        service.ticker("XBTEUR")
    assert service.last_update("XBTEUR") is None
    Client.market.answer_for = "XXBTZEUR"
    assert service.ticker("XBT/EUR").pair == "XXBTZEUR" and service.last_update("XBTEUR") is not None
