"""The seeded public trade history: dense, paged like Kraken's, and the same trades the candles show."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from krakensim.clock import ManualClock
from krakensim.exchange import Exchange

DAY = 86_400


def _pages(ex, pair, since, limit=50):
    pages = []
    for _ in range(limit):
        result = ex.handle_public("Trades", {"pair": pair, "since": str(since)})
        rows = result[next(k for k in result if k != "last")]
        if not rows:
            return pages
        pages.append((rows, result["last"]))
        since = result["last"]
    raise AssertionError("paging never reached the present")


def test_three_days_of_xbt_trades_take_many_full_pages_each_once_in_order(ex, clock):
    pages = _pages(ex, "XBTEUR", int(clock.time()) - 3 * DAY)
    rows = [r for page, _ in pages for r in page]
    assert len(pages) >= 10 and all(len(page) == 1000 for page, _ in pages[:-1])
    assert len(rows) / 3 >= 3000  # trades a day, like Kraken's XBT/EUR
    ids = [r[6] for r in rows]
    assert ids == sorted(set(ids))
    lasts = [int(last) for _, last in pages]
    assert lasts == sorted(set(lasts))
    assert all(abs(int(last) / 10**9 - page[-1][2]) < 0.0001 for page, last in pages)  # the last row's time


def test_last_is_the_last_rows_time_in_nanoseconds(ex, clock):
    result = ex.handle_public("Trades", {"pair": "XBTEUR", "since": str(int(clock.time()) - DAY)})
    rows = result["XXBTZEUR"]
    assert len(rows) == 1000
    assert abs(int(result["last"]) / 10**9 - rows[-1][2]) < 0.0001
    seconds = ex.handle_public("Trades", {"pair": "XBTEUR", "since": str(int(clock.time()) - DAY)})
    nanos = ex.handle_public("Trades", {"pair": "XBTEUR", "since": str((int(clock.time()) - DAY) * 10**9)})
    assert seconds == nanos


def test_history_is_deterministic_for_a_seed_and_differs_between_seeds():
    def first_page(seed):
        ex = Exchange(seed=seed, clock=ManualClock())
        return ex.handle_public("Trades", {"pair": "XBTEUR", "since": str(int(ex.clock.time()) - 2 * DAY)})
    assert first_page(7) == first_page(7)
    assert first_page(7)["XXBTZEUR"] != first_page(8)["XXBTZEUR"]


def test_every_trade_lies_within_its_minute_candle_and_volumes_sum_to_it(ex, clock):
    since = int(clock.time()) - 11 * 3600  # inside the 720 one-minute candles
    rows = [r for page, _ in _pages(ex, "XBTEUR", since) for r in page]
    candles = {c[0]: c for c in ex.handle_public("OHLC", {"pair": "XBTEUR", "interval": "1"})["XXBTZEUR"]}
    by_minute = defaultdict(list)
    for r in rows:
        by_minute[int(r[2]) // 60 * 60].append(r)
    checked = 0
    for minute, trades in by_minute.items():
        if minute <= since // 60 * 60:  # the first minute is only partly fetched
            continue
        c = candles[minute]
        prices = [Decimal(t[0]) for t in trades]
        assert Decimal(c[3]) <= min(prices) and max(prices) <= Decimal(c[2])
        assert (Decimal(c[1]), Decimal(c[4])) == (prices[0], prices[-1])
        assert Decimal(c[6]) == sum(Decimal(t[1]) for t in trades) and c[7] == len(trades)
        checked += 1
    assert checked >= 600


def test_construction_builds_no_history_and_pages_build_only_the_days_they_reach():
    """History is built lazily: speed itself is measured by bench/, never asserted here."""
    ex = Exchange(seed=42, clock=ManualClock())
    assert all(not m.history._days for m in ex.markets.values())
    since = int(ex.clock.time()) - 5 * DAY
    for _ in range(10):
        result = ex.handle_public("Trades", {"pair": "XBTEUR", "since": str(since)})
        since = result["last"]
    assert len(ex.markets["XXBTZEUR"].history._days) <= 3  # only the days the pages reached
