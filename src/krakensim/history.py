"""One pair's seeded public trade history before the exchange started, dense and lazy.

Why lazy: Kraken's XBT/EUR prints thousands of trades a day, so months of history cannot
be built at start-up. Everything is drawn per time window from seeded generators with
random access: a daily price walk back from the anchor (one draw per day), a bridge of
minute closes inside each day, then per minute a summary (trade count, open/high/low/close,
volume) and, only when a Trades request reaches that hour, the trades realising exactly
each minute's summary. So the minute candles the OHLC endpoint derives from the summaries and the
trades the Trades endpoint serves always agree: every trade lies within its minute's
low..high, the first is the open, the last the close, and the volumes sum to the candle's.

Prices are whole ticks and volumes whole lots (ints, exact); the random draws behind them
are floats, as ``random`` gives them, and are rounded to ticks/lots before any use.
"""
from __future__ import annotations

import bisect
import math
import random
from decimal import Decimal

from krakensim.pairs import PairSpec

DAY = 86_400
MINUTES_PER_DAY = 1440
DEPTH_DAYS = 180  # how far back the history goes; older ``since`` starts at its first trade
ID_STRIDE = 8  # trade ids per minute slot: ids increase with time, gaps between minutes
_DAY_SIGMA = 0.019  # ~1.9 % a day, about XBT's
_MINUTE_SIGMA = _DAY_SIGMA / math.sqrt(MINUTES_PER_DAY)
_SLOTS_PER_MINUTE = 600_000  # trade times on a 0.1 ms grid: unique, and exact at 4 decimals


class DaySummary:
    """Per-minute summaries of one day (index 0 is the day's first minute)."""
    __slots__ = ("count", "open", "high", "low", "close", "lots")

    def __init__(self) -> None:
        self.count: list[int] = []
        self.open: list[int] = []
        self.high: list[int] = []
        self.low: list[int] = []
        self.close: list[int] = []
        self.lots: list[int] = []


class TradeHistory:
    """Trades strictly before ``end`` (an aligned second: the exchange's first live trade)."""

    def __init__(self, spec: PairSpec, seed: int, end: int, anchor: Decimal, last_id: int) -> None:
        self.spec = spec
        self.end = end
        self.first = end - DEPTH_DAYS * DAY
        self._seed = seed
        self._last_id = last_id  # the first live trade's id: every history id is below it
        self._tick = spec.tick_size
        self._lot = spec.lot_quantum
        self._anchor_ticks = int(anchor / self._tick)
        self._level_lots = max(1, int(spec.level_volume / self._lot))
        # 1..6 trades a minute, 3.5 on average (~5000 a day) for XBT, 1..2 for the others: no empty
        # minute, so the 1-minute candles of the past have no gaps, as on Kraken's busy pairs
        self._bits = 5 if spec.base == "XXBT" else 1
        self._day_prices = [self._anchor_ticks]  # [d]: price at end - d days
        self._day_rng = random.Random(f"history-days:{seed}:{spec.id}")
        self._days: dict[int, DaySummary] = {}
        self._hours: dict[int, list[tuple[int, int, int, str, str, int]]] = {}  # a small FIFO cache

    # ---------------------------------------------------------------- summaries
    def _day_price(self, d: int) -> int:
        prices = self._day_prices
        while len(prices) <= d:
            prices.append(max(1, round(prices[-1] * math.exp(self._day_rng.gauss(0.0, _DAY_SIGMA)))))
        return prices[d]

    def _day(self, d: int) -> DaySummary:
        day = self._days.get(d)
        if day is not None:
            return day
        rng = random.Random(f"history:{self._seed}:{self.spec.id}:{d}")
        start, finish = self._day_price(d + 1), self._day_price(d)
        log_a, log_b = math.log(start), math.log(finish)
        walk, w = [], 0.0
        gauss = rng.gauss
        for _ in range(MINUTES_PER_DAY):
            w += gauss(0.0, _MINUTE_SIGMA)
            walk.append(w)
        total = walk[-1]
        day = DaySummary()
        prev = start
        bits, level, getrandbits, rand = self._bits, self._level_lots, rng.getrandbits, rng.random
        for i in range(MINUTES_PER_DAY):
            f = (i + 1) / MINUTES_PER_DAY
            close = finish if i == MINUTES_PER_DAY - 1 else \
                max(1, round(math.exp(log_a + f * (log_b - log_a) + walk[i] - f * total)))
            n = 1 + bin(getrandbits(bits)).count("1")
            spread = max(1, round(prev * _MINUTE_SIGMA / 2))
            if n == 1:
                o = h = lo = close
            else:
                o = prev
                h, lo = max(o, close), min(o, close)
                if n >= 3:
                    up, down = int(rand() * (spread + 1)), int(rand() * (spread + 1))
                    if n == 3:  # one middle trade: it can stretch only one side
                        up, down = (up, 0) if getrandbits(1) else (0, down)
                    h, lo = h + up, max(1, lo - down)
            day.count.append(n)
            day.open.append(o)
            day.high.append(h)
            day.low.append(lo)
            day.close.append(close)
            day.lots.append(sum(max(1, level * (1 + int(rand() * 60)) // 100) for _ in range(n)))
            prev = close
        self._days[d] = day
        return day

    def _locate(self, minute: int) -> tuple[DaySummary, int]:
        """The day and index of the minute starting at ``minute`` (seconds, < end)."""
        m = (minute - self.end) // 60  # -1 is the last minute before the end
        d = (-m - 1) // MINUTES_PER_DAY
        return self._day(d), m + (d + 1) * MINUTES_PER_DAY

    def minute(self, minute: int) -> tuple[int, int, int, int, int, int] | None:
        """(open, high, low, close, lots, count) in ticks/lots, or None for a minute without trades."""
        day, i = self._locate(minute)
        n = day.count[i]
        if n == 0:
            return None
        return day.open[i], day.high[i], day.low[i], day.close[i], day.lots[i], n

    # ------------------------------------------------------------------- trades
    def hour_trades(self, hour: int) -> list[tuple[int, int, int, str, str, int]]:
        """The trades of the hour starting at ``hour``: (time ns, price ticks, lots, side, kind, id),
        oldest first; each minute's trades realise that minute's summary exactly."""
        cached = self._hours.get(hour)
        if cached is not None:
            return cached
        rng = random.Random(f"history-trades:{self._seed}:{self.spec.id}:{hour}")
        rand = rng.random
        out: list[tuple[int, int, int, str, str, int]] = []
        for minute in range(max(hour, self.first), min(hour + 3600, self.end), 60):
            day, i = self._locate(minute)
            n = day.count[i]
            if n == 0:
                continue
            o, h, lo, c, lots = day.open[i], day.high[i], day.low[i], day.close[i], day.lots[i]
            if n == 1:
                prices = [c]
            else:
                middle = [lo + int(rand() * (h - lo + 1)) for _ in range(n - 2)]
                if n >= 3:  # the extremes beyond open/close are printed by middle trades
                    if h > max(o, c):
                        middle[0] = h
                    if lo < min(o, c):
                        middle[-1] = lo  # with n == 3 only one side is ever stretched
                rng.shuffle(middle)
                prices = [o, *middle, c]
            extra = lots - n  # every trade has at least one lot; the rest is split at random
            cuts = sorted(int(rand() * (extra + 1)) for _ in range(n - 1))
            sizes = [1 + b - a for a, b in zip([0, *cuts], [*cuts, extra])]
            slot = _SLOTS_PER_MINUTE // n  # one trade per sub-slot: times unique and increasing
            base_ns = minute * 1_000_000_000
            first_id = self._last_id - ((self.end - minute) // 60) * ID_STRIDE
            for j in range(n):
                out.append((base_ns + (j * slot + int(rand() * slot)) * 100_000, prices[j], sizes[j],
                            "b" if rand() < 0.5 else "s", "m" if rand() < 0.6 else "l", first_id + j))
        if len(self._hours) >= 48:
            self._hours.pop(next(iter(self._hours)))
        self._hours[hour] = out
        return out

    def trades_after(self, since_ns: int, count: int) -> list[tuple[int, int, int, str, str, int]]:
        """Up to ``count`` trades with since_ns < time < end, oldest first."""
        out: list[tuple[int, int, int, str, str, int]] = []
        end_ns = self.end * 1_000_000_000
        if since_ns >= end_ns:
            return out
        hour = max(self.first, since_ns // 1_000_000_000 // 3600 * 3600)
        while hour < self.end and len(out) < count:
            trades = self.hour_trades(hour)
            start = bisect.bisect_right(trades, (since_ns, 1 << 62))
            out.extend(trades[start:start + count - len(out)])
            hour += 3600
        return out

    # ------------------------------------------------------------------ candles
    def candle(self, start: int, width: int, exact_vwap: bool) -> tuple[int, int, int, int, Decimal, int, Decimal] | None:
        """(open, high, low, close ticks, volume, count, vwap) of [start, start+width), or None if empty.

        The VWAP is exact (from the trades) when asked; else from each minute's typical price,
        which saves realising every trade of a wide candle.
        """
        o = h = lo = c = None
        lots = count = 0
        cost = 0  # ticks * lots
        if exact_vwap:  # only 1-minute candles: the minute's own trades
            hour = start - (start - self.end) % 3600
            trades = self.hour_trades(hour)
            a = bisect.bisect_left(trades, (start * 1_000_000_000,))
            b = bisect.bisect_left(trades, ((start + width) * 1_000_000_000,))
            cost = sum(t[1] * t[2] for t in trades[a:b])
        lo_t, hi_t = max(start, self.first), min(start + width, self.end)
        if lo_t >= hi_t:
            return None
        # widths up to an hour never cross a day (days end on the hour): one slice of one day
        day, i = self._locate(lo_t)
        j = i + (hi_t - lo_t) // 60
        for k in range(i, j):
            mn = day.count[k]
            if mn == 0:
                continue
            mh, ml, mc, mv = day.high[k], day.low[k], day.close[k], day.lots[k]
            if o is None:
                o, h, lo = day.open[k], mh, ml
            elif mh > h:
                h = mh
            if ml < lo:
                lo = ml
            c = mc
            lots += mv
            count += mn
            if not exact_vwap:
                cost += mv * (mh + ml + mc) // 3
        if o is None:
            return None
        vwap = Decimal(cost) / Decimal(lots) * self._tick
        return o, h, lo, c, Decimal(lots) * self._lot, count, vwap
