"""Market data for the bot: a short TTL cache in front of the client, candle history
kept in a candle store, and the freshness check behind the stale-data halt.

Why a cache: the strategy, risk checks and the safety wrapper all ask for the same
ticker within one cycle; Kraken's public limit is about one call per second per IP.
Entries expire after ``ttl_seconds`` on the injected clock and the cache is bounded
(least recently used entries go first). Hit/miss counters are exposed for tests and
the status report.

Candles: OHLC pages are validated by the client (consistent highs/lows, strictly
increasing times on the interval grid); here gaps between candles are *reported*
(``CandleSeries.gaps``), since a quiet market legitimately skips candles. Only
committed candles (open time <= the page's ``last``) are stored; the still-forming
last row is returned but never stored. A range already in the store is served from
it without a request.

The live book (``follow``): with a market stream, the ticker and the book come from the
stream's book while it is trusted (checksum verified, connection alive) and younger than the
staleness limit; otherwise from REST, as without a stream. So an untrusted or old stream book
is never what a decision reads, and a stream that is down costs nothing but the REST requests.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from krakenbot.client.parsing import resolve_pair
from krakenbot.clock import Clock, SystemClock
from krakenbot.errors import KrakenError, MalformedResponse, UnknownPairError
from krakenbot.models import Candle, OrderBook, PairInfo, PublicTrade, Ticker, TradesPage

_NS = 1_000_000_000  # Kraken's Trades cursor is in nanoseconds

if TYPE_CHECKING:
    from krakenbot.client import KrakenClient

log = logging.getLogger("krakenbot.market_data")


class PairRules(Protocol):
    """Where a pair's trading rules come from (``MarketDataService``: AssetPairs, cached). The
    executor, the reconciler and the positions read it; none of them reaches into the wrapper."""

    def pair_info(self, pair: str) -> PairInfo: ...


class CandleStore(Protocol):
    def save_candles(self, pair: str, interval: int, candles: Sequence[Candle]) -> None: ...

    def load_candles(self, pair: str, interval: int, since: int | None, until: int | None) -> list[Candle]: ...


class MemoryCandleStore:
    """The candle store used when none is given: per (pair, interval), candles by open time."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, int], dict[int, Candle]] = {}
        self._lock = threading.Lock()

    def save_candles(self, pair: str, interval: int, candles: Sequence[Candle]) -> None:
        with self._lock:
            series = self._data.setdefault((pair, interval), {})
            for candle in candles:
                series[candle.time] = candle

    def load_candles(self, pair: str, interval: int, since: int | None, until: int | None) -> list[Candle]:
        with self._lock:
            series = self._data.get((pair, interval), {})
            return [
                series[t]
                for t in sorted(series)
                if (since is None or t >= since) and (until is None or t <= until)
            ]


@dataclass(frozen=True)
class CandleSeries:
    pair: str
    interval: int  # minutes
    candles: tuple[Candle, ...]
    gaps: tuple[tuple[int, int], ...]  # (first missing open time, last missing open time)
    last: int  # open time of the last committed candle
    from_store: bool = False


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    size: int
    max_entries: int


def find_gaps(candles: Sequence[Candle], interval: int, start: int | None = None,
              end: int | None = None) -> tuple[tuple[int, int], ...]:
    """Missing candle open times as inclusive ranges, within [start, end] when given."""
    step = interval * 60
    times = [c.time for c in candles]
    gaps: list[tuple[int, int]] = []
    if start is not None:
        first = times[0] if times else (end + step if end is not None else start)
        if first > start:
            gaps.append((start, min(first - step, end) if end is not None else first - step))
    for prev, cur in zip(times, times[1:]):
        if cur - prev > step:
            gaps.append((prev + step, cur - step))
    if end is not None and times and times[-1] < end:
        gaps.append((times[-1] + step, end))
    return tuple(gaps)


class MarketDataService:
    def __init__(
        self,
        client: KrakenClient,
        clock: Clock | None = None,
        ttl_seconds: float = 2.0,
        candle_store: CandleStore | None = None,
        *,
        max_entries: int = 256,
        pairs_ttl_seconds: float = 3600.0,
        max_pages: int = 50,
    ) -> None:
        if ttl_seconds < 0 or max_entries < 1:
            raise ValueError("ttl_seconds must be >= 0 and max_entries >= 1")
        self.client = client
        self.clock = clock or client.clock or SystemClock()
        self.ttl = float(ttl_seconds)
        self.pairs_ttl = float(pairs_ttl_seconds)
        self.candle_store: CandleStore = candle_store if candle_store is not None else MemoryCandleStore()
        self.max_entries = max_entries
        self.max_pages = max_pages
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._lock = threading.RLock()
        self._fresh: dict[str, float] = {}  # pair (as asked and as pair id) -> clock.time() of last ticker
        self._covered: dict[tuple[str, int], list[tuple[int, int]]] = {}
        self.hits = 0
        self.misses = 0
        self.stream: Any = None  # a MarketStream (``follow``)
        self.stream_max_age = 0.0
        self.sources: dict[str, str] = {}  # pair -> where its last price came from ("live book" / "REST")

    def follow(self, stream: Any, max_age_s: float) -> None:
        """Read prices and books from ``stream`` while its book is trusted and at most ``max_age_s`` old."""
        self.stream = stream
        self.stream_max_age = float(max_age_s)

    def live_book(self, pair: str) -> OrderBook | None:
        """The stream's book of ``pair`` when it may be used for a decision: trusted and fresh."""
        live = self._live(pair)
        return None if live is None else live[0]

    def _live(self, pair: str) -> tuple[OrderBook, float] | None:
        """(book, age in s); the age is read before the book, so it is never younger than said."""
        stream = self.stream
        if stream is None:
            return None
        try:
            age = stream.book_age(pair)
        except KeyError:  # a pair the stream does not follow
            return None
        if age is None or age > self.stream_max_age:
            return None
        book = stream.book(pair)
        return None if book is None else (book, age)

    # -- cache ------------------------------------------------------------------------------
    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self.hits, self.misses, len(self._cache), self.max_entries)

    def invalidate(self, pair: str | None = None) -> None:
        with self._lock:
            if pair is None:
                self._cache.clear()
            else:
                for key in [k for k in self._cache if len(k) > 1 and k[1] == pair]:
                    del self._cache[key]

    def _cached(self, key: tuple[Any, ...], ttl: float, fetch: Callable[[], Any]) -> Any:
        now = self.clock.monotonic()
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and entry[0] > now:
                self._cache.move_to_end(key)
                self.hits += 1
                return entry[1]
            self.misses += 1
        value = fetch()  # outside the lock: a slow exchange must not block cache hits
        with self._lock:
            self._cache[key] = (self.clock.monotonic() + ttl, value)
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return value

    def _touch(self, *pairs: str) -> None:
        now = self.clock.time()
        with self._lock:
            for pair in pairs:
                self._fresh[pair] = now

    # -- freshness ----------------------------------------------------------------------------
    def last_update(self, pair: str) -> float | None:
        """When the pair's price (its ticker, which the risk checks use) last came from the
        exchange. Candles, book and trades do not count: fetched while Ticker fails, they
        would make an old price look fresh."""
        with self._lock:
            found = self._fresh.get(pair)
        if found is None:
            info = self._known_pair(pair)
            if info is not None:
                with self._lock:
                    found = self._fresh.get(info.name)
        return found

    def is_stale(self, pair: str, max_age: float) -> bool:
        """True when the pair's price is older than ``max_age`` seconds, or was never fetched."""
        last = self.last_update(pair)
        return last is None or self.clock.time() - last > max_age

    # -- reference data --------------------------------------------------------------------------
    def asset_pairs(self) -> dict[str, PairInfo]:
        return self._cached(("pairs",), self.pairs_ttl, self.client.market.asset_pairs)

    def _known_pair(self, pair: str) -> PairInfo | None:
        with self._lock:
            entry = self._cache.get(("pairs",))
        if entry is None:
            return None
        return resolve_pair(entry[1], pair)

    def pair_info(self, pair: str) -> PairInfo:
        info = resolve_pair(self.asset_pairs(), pair)
        if info is None:
            raise UnknownPairError(f"unknown pair {pair!r}", ("EQuery:Unknown asset pair",))
        return info

    # -- live data ---------------------------------------------------------------------------------
    def _same_pair(self, asked: str, answered: str, endpoint: str) -> None:
        """Refuse a one-pair answer for another pair than the one asked (the parser accepts the
        single key because Kraken keys by pair id even when asked by altname)."""
        info = self._known_pair(asked)
        if info is not None and answered != info.name:
            raise MalformedResponse(f"{endpoint}: asked for {asked}, answered for {answered}", (), endpoint)

    def ticker(self, pair: str) -> Ticker:
        live = self._live(pair)
        book = None if live is None else live[0]
        if book is not None and book.best_bid is not None and book.best_ask is not None:
            info = self._known_pair(pair)
            if info is not None:
                now = self.clock.time()
                with self._lock:
                    self._fresh[pair] = self._fresh[info.name] = now - live[1]
                self.sources[pair] = "live book"
                zero = Decimal(0)
                mid = (book.best_ask + book.best_bid) / 2
                return Ticker(info.name, book.best_ask, book.best_bid, mid, zero, zero, zero, zero, zero, 0, now)
        self.sources[pair] = "REST"

        def fetch() -> Ticker:
            ticker = self.client.market.ticker(pair)
            self._same_pair(pair, ticker.pair, "Ticker")
            self._touch(pair, ticker.pair)
            return ticker

        return self._cached(("ticker", pair), self.ttl, fetch)

    def order_book(self, pair: str, count: int = 10) -> OrderBook:
        """The pair's best ``count`` levels a side: the live book's when the stream's depth covers
        ``count``, else REST's."""
        book = self.live_book(pair)
        stream = self.stream
        if book is not None and count <= stream.depth:
            return OrderBook(book.pair, book.asks[:count], book.bids[:count])

        def fetch() -> OrderBook:
            book = self.client.market.depth(pair, count)
            self._same_pair(pair, book.pair, "Depth")
            return book

        return self._cached(("book", pair, count), self.ttl, fetch)

    def recent_trades(self, pair: str, since: str | int | None = None) -> TradesPage:
        def fetch() -> TradesPage:
            page = self.client.market.recent_trades(pair, since)
            self._same_pair(pair, page.pair, "Trades")
            return page

        if since is not None:
            return fetch()
        return self._cached(("trades", pair), self.ttl, fetch)

    # -- candles -----------------------------------------------------------------------------------
    def candles(self, pair: str, interval: int = 1, since: int | None = None) -> CandleSeries:
        """The latest OHLC page (incl. the forming candle), validated, gaps reported, committed ones stored."""
        def fetch():
            page = self.client.market.ohlc(pair, interval, since)
            self._same_pair(pair, page.pair, "OHLC")
            return page

        page = self._cached(("ohlc", pair, interval, since), self.ttl, fetch)
        committed = [c for c in page.candles if c.time <= page.last]
        if committed:
            self.candle_store.save_candles(page.pair, interval, committed)
        return CandleSeries(page.pair, interval, page.candles, find_gaps(page.candles, interval), page.last)

    def history(self, pair: str, interval: int, start: int, end: int) -> CandleSeries:
        """Committed candles with open times in [start, end], from the store when it covers the range,
        else paged from the exchange with ``since``/``last`` until ``end`` and stored.

        Kraken serves only the latest 720 candles of an interval, so older parts of a range
        stay as gaps."""
        if end < start:
            raise ValueError("end must not be before start")
        step = interval * 60
        lo, hi = start - start % step, end - end % step
        pair_id = self.pair_info(pair).name
        stored = self.candle_store.load_candles(pair_id, interval, lo, hi)
        if self._is_covered(pair_id, interval, lo, hi, stored):
            return CandleSeries(pair_id, interval, tuple(stored), find_gaps(stored, interval, lo, hi),
                                stored[-1].time if stored else lo, from_store=True)
        collected: dict[int, Candle] = {}
        since = lo - step
        last = since
        for _ in range(self.max_pages):
            page = self.client.market.ohlc(pair, interval, since)
            self._same_pair(pair, page.pair, "OHLC")
            for candle in page.candles:
                if candle.time <= page.last and lo <= candle.time <= hi:
                    collected[candle.time] = candle
            last = page.last
            if page.last >= hi or page.last <= since:
                break
            since = page.last
        candles = [collected[t] for t in sorted(collected)]
        if candles:
            self.candle_store.save_candles(pair_id, interval, candles)
        if last >= hi:
            with self._lock:
                self._covered.setdefault((pair_id, interval), []).append((lo, hi))
        return CandleSeries(pair_id, interval, tuple(candles), find_gaps(candles, interval, lo, hi), last)

    def _is_covered(self, pair_id: str, interval: int, lo: int, hi: int, stored: Sequence[Candle]) -> bool:
        with self._lock:
            if any(a <= lo and hi <= b for a, b in self._covered.get((pair_id, interval), ())):
                return True
        return bool(stored) and stored[0].time <= lo and stored[-1].time >= hi

    def trades_between(self, pair: str, start: float, end: float) -> list[PublicTrade]:
        """Public trades with start <= time < end, oldest first, each once, paging with
        ``since`` = the previous page's ``last`` (nanoseconds, exact). Fails closed: a cursor
        that does not advance or trades out of order raise ``MalformedResponse``, and a period
        needing more than ``max_pages`` pages raises rather than come back silently incomplete."""
        out: list[PublicTrade] = []
        seen: set[int] = set()
        cursor = int(Decimal(repr(float(start))) * _NS) - 1  # a trade exactly at ``start`` counts
        for _ in range(self.max_pages):
            page = self.client.market.recent_trades(pair, str(cursor))
            self._same_pair(pair, page.pair, "Trades")
            for trade in page.trades:
                if trade.trade_id is not None:
                    if trade.trade_id in seen:  # repeated at a page boundary
                        continue
                    seen.add(trade.trade_id)
                if out and trade.time < out[-1].time:
                    raise MalformedResponse(f"Trades: {pair} trades out of time order", (), "Trades")
                if start <= trade.time < end:
                    out.append(trade)
            if not page.trades or page.trades[-1].time >= end:
                return out
            try:
                following = int(page.last)
            except ValueError:
                raise MalformedResponse(f"Trades: last {page.last!r} is not a cursor", (), "Trades") from None
            if following <= cursor:
                raise MalformedResponse(f"Trades: cursor did not advance past {cursor}", (), "Trades")
            cursor = following
        raise KrakenError(f"Trades: {pair} from {start} to {end} needs more than {self.max_pages} pages",
                          (), "Trades")
