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
