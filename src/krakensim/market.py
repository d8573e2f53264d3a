"""One pair's synthetic market: mid price, order book, public trade tape, candles.

Deterministic from the seed: the starting mid, the book's level sizes, the history
before the exchange started and the random walk are all drawn from per-pair seeded
generators, so the same seed gives the same market. Everything after the start is
real: every price move and every fill is a trade on the tape, and candles are built
from the tape, so OHLC, Trades, Ticker and Depth agree with what the accounts see. Before the
first live trade, ``history.TradeHistory`` serves the dense seeded past lazily, and the
1..60-minute candles of that past are derived from the same minute summaries.
"""
from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from krakensim.history import TradeHistory
from krakensim.pairs import DEPTH_VOLUME_DECIMALS, WIRE_PRICE_DECIMALS, PairSpec
from krakensim.wire import decimals_of, fmt, q, utc_day_start

INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
OHLC_LIMIT = 720
BOOK_LEVELS = 500
_STEP_FRACTION = Decimal("0.0001")  # distance between synthetic book levels, relative to mid
_HISTORY_SECONDS = 3600
_HISTORY_TRADES = 120  # per hour of the seeded live tape
_DERIVED_MAX = 60  # candle widths (minutes) built from the history's minute summaries
_NS = 1_000_000_000
_MAX_TAPE = 200_000


def _fixed(units: int, places: int) -> str:
    """``units`` * 10**-places as Kraken prints it; what ``fmt`` gives, without Decimal's cost
    (a 1000-row history page would otherwise spend most of its time formatting)."""
    whole, frac = divmod(units, 10 ** places)
    return f"{whole}.{frac:0{places}d}" if places else str(whole)


@dataclass(slots=True)
class PublicTrade:
    price: Decimal
    volume: Decimal
    time: float
    side: str  # taker side: "b" / "s"
    kind: str  # "m" market / "l" limit
    trade_id: int
    ns: int = 0  # unique, increasing: the ``since``/``last`` cursor


class Candle:
    __slots__ = ("open", "high", "low", "close", "volume", "cost", "count")

    def __init__(self, price: Decimal) -> None:
        self.open = self.high = self.low = self.close = price
        self.volume = Decimal(0)
        self.cost = Decimal(0)
        self.count = 0

    def add(self, price: Decimal, volume: Decimal) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close = price
        self.volume += volume
        self.cost += price * volume
        self.count += 1


class PairMarket:
    def __init__(self, spec: PairSpec, seed: int, start_time: float) -> None:
        self.spec = spec
        rng = random.Random(f"market:{seed}:{spec.id}")
        self._seed = seed
        self._walk_rng = random.Random(f"walk:{seed}:{spec.id}")
        self._tape_rng = random.Random(f"tape:{seed}:{spec.id}")
        jitter = Decimal(rng.randint(-200, 200)) / Decimal(10_000)
        self.mid = self.round_price(spec.start_price * (1 + jitter))
        self.liquidity: Decimal | None = None
        self._sizes = {
            side: [q(spec.level_volume * Decimal(rng.randint(40, 160)) / 100, spec.lot_decimals)
                   for _ in range(BOOK_LEVELS)]
            for side in ("asks", "bids")
        }
        self._taken: dict[tuple[str, int], Decimal] = {}
        self.updated_at = int(start_time)
        self.start_time = start_time
        self._tape: list[PublicTrade] = []
        self._tape_times: list[int] = []  # ns, strictly increasing
        self._next_trade_id = 10_000_000 + rng.randint(0, 999_999)
        self._live: dict[int, dict[int, Candle]] = {i: {} for i in INTERVALS}
        self._live_times: dict[int, list[int]] = {i: [] for i in INTERVALS}
        self._synthetic: dict[int, dict[int, list]] = {}
        self._spreads: list[list] = []
        self._seed_history(rng, start_time)
        self._history_anchor = self._tape[0].price  # the tape is trimmed later; candle history must not move
        self.history = TradeHistory(spec, seed, self._tape_times[0] // _NS, self._history_anchor,
                                    self._tape[0].trade_id)

    # ----------------------------------------------------------------- prices
    def round_price(self, price: Decimal) -> Decimal:
        tick = self.spec.tick_size
        return max(tick, (price / tick).to_integral_value() * tick)

    @property
    def next_trade_id(self) -> int:
        return self._next_trade_id

    @property
    def last(self) -> Decimal:
        return self._tape[-1].price

    @property
    def step(self) -> Decimal:
        tick = self.spec.tick_size
        return max(tick, (self.mid * _STEP_FRACTION / tick).to_integral_value(ROUND_FLOOR) * tick)

    @property
    def best_ask(self) -> Decimal:
        return self.mid + self.spec.tick_size

    @property
    def best_bid(self) -> Decimal:
        return self.mid - self.spec.tick_size

    def level_price(self, side: str, i: int) -> Decimal:
        if side == "asks":
            return self.mid + self.spec.tick_size + i * self.step
        return self.mid - self.spec.tick_size - i * self.step

    def level_volume(self, side: str, i: int) -> Decimal:
        base = self.liquidity if self.liquidity is not None else self._sizes[side][i]
        return base - self._taken.get((side, i), Decimal(0))

    def level0_volume(self, side: str) -> Decimal:
        return self.liquidity if self.liquidity is not None else self._sizes[side][0]

    def new_step(self) -> None:
        """Liquidity taken from the synthetic book comes back at each step."""
        self._taken.clear()

    def set_mid(self, price: Decimal, now: float, record: bool = True) -> None:
        self.mid = self.round_price(price)
        self._taken.clear()
        self.updated_at = int(now)
        self._spreads.append([int(now), self.best_bid, self.best_ask])
        if len(self._spreads) > 2000:
            del self._spreads[:1000]
        if record:
            vol = q(self.spec.level_volume * Decimal(self._tape_rng.randint(1, 20)) / 100, self.spec.lot_decimals)
            self.record_trade(self.mid, vol, now, "b" if self._tape_rng.random() < 0.5 else "s", "l")

    def random_walk(self, volatility: Decimal, now: float) -> None:
        g = Decimal(repr(round(self._walk_rng.gauss(0.0, 1.0), 8)))
        self.set_mid(self.mid * (1 + volatility * g), now)

    # ------------------------------------------------------------------- book
    def level_at(self, side: str, price: Decimal) -> int | None:
        """The synthetic level of ``side`` at ``price``, or None between levels and inside the spread."""
        offset = price - self.best_ask if side == "asks" else self.best_bid - price
        if offset < 0:
            return None
        i, rest = divmod(offset, self.step)
        return int(i) if rest == 0 and i < BOOK_LEVELS else None

    def consume(self, side: str, level: int, volume: Decimal) -> None:
        key = (side, level)
        self._taken[key] = self._taken.get(key, Decimal(0)) + volume

    def depth(self, count: int, user_asks: dict[Decimal, Decimal], user_bids: dict[Decimal, Decimal]) -> dict:
        ts = self.updated_at
        ask_rows, bid_rows = self.levels(count, user_asks, user_bids)
        pd, vd = WIRE_PRICE_DECIMALS, DEPTH_VOLUME_DECIMALS
        return {
            "asks": [[fmt(p, pd), fmt(v, max(vd, decimals_of(v))), ts] for p, v in ask_rows],
            "bids": [[fmt(p, pd), fmt(v, max(vd, decimals_of(v))), ts] for p, v in bid_rows],
        }

    def levels(self, count: int, user_asks: dict[Decimal, Decimal], user_bids: dict[Decimal, Decimal]) \
            -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """The best ``count`` (price, volume) levels a side, best first: the synthetic book with the
        users' resting orders in it (what Depth and the WebSocket book show)."""
        asks: dict[Decimal, Decimal] = dict(user_asks)
        bids: dict[Decimal, Decimal] = dict(user_bids)
        # A user order resting through the synthetic side hides the synthetic levels it crosses.
        best_user_bid = max(user_bids) if user_bids else None
        best_user_ask = min(user_asks) if user_asks else None
        step, tick, mid = self.step, self.spec.tick_size, self.mid
        for side, book in (("asks", asks), ("bids", bids)):
            n = 0
            first, sign = (mid + tick, 1) if side == "asks" else (mid - tick, -1)
            for i in range(BOOK_LEVELS):
                if n >= count:
                    break
                price = first + sign * i * step  # level_price(side, i), with the step computed once
                if price <= 0:
                    break
                if side == "asks" and best_user_bid is not None and price <= best_user_bid:
                    continue
                if side == "bids" and best_user_ask is not None and price >= best_user_ask:
                    continue
                vol = self.level_volume(side, i)
                if vol > 0:
                    book[price] = book.get(price, Decimal(0)) + vol
                    n += 1
        ask_rows = sorted(asks.items())
        bid_rows = sorted(bids.items(), reverse=True)
        # A resting order the synthetic book moved through is not shown crossing the other side.
        while ask_rows and bid_rows and ask_rows[0][0] <= bid_rows[0][0]:
            ask_rows.pop(0)
        return ask_rows[:count], bid_rows[:count]

    # ------------------------------------------------------------------- tape
    def record_trade(self, price: Decimal, volume: Decimal, when: float, side: str, kind: str) -> None:
        trade = PublicTrade(price, volume, when, side, kind, self._next_trade_id)
        self._next_trade_id += 1
        ns = int(Decimal(repr(when)) * _NS)
        if self._tape_times and ns <= self._tape_times[-1]:  # fills of one sweep: 1 ns apart
            ns = self._tape_times[-1] + 1
            when = trade.time = max(when, self._tape[-1].time)
        trade.ns = ns
        self._tape.append(trade)
        self._tape_times.append(ns)
        if len(self._tape) > _MAX_TAPE:
            del self._tape[: _MAX_TAPE // 2]
            del self._tape_times[: _MAX_TAPE // 2]
        t = int(when)
        for interval in INTERVALS:
            width = interval * 60
            slot = t - t % width
            candles = self._live[interval]
            candle = candles.get(slot)
            if candle is None:
                candle = candles[slot] = Candle(price)
                self._live_times[interval].append(slot)
                candle.volume += volume
                candle.cost += price * volume
                candle.count = 1
            else:
                candle.add(price, volume)

    def trades(self, since_ns: int | None, count: int) -> tuple[list[list], str]:
        """Kraken's Trades page: up to ``count`` trades after ``since_ns``, oldest first, and
        ``last`` (the last row's nanoseconds) to pass as the next ``since``."""
        pd, ld = WIRE_PRICE_DECIMALS, self.spec.lot_decimals
        out: list[list] = []
        last_ns = since_ns
        if since_ns is not None and since_ns < self._tape_times[0]:
            per_tick = int(self.spec.tick_size.scaleb(pd))  # price units (10**-pd) in one tick
            for ns, ticks, lots, side, kind, tid in self.history.trades_after(since_ns, count):
                out.append([_fixed(ticks * per_tick, pd), _fixed(lots, ld), round(ns / _NS, 4), side, kind, "", tid])
                last_ns = ns
        if since_ns is None:
            rows = self._tape[-count:]
        else:
            start = bisect.bisect_right(self._tape_times, since_ns)
            rows = self._tape[start:start + count - len(out)]
        out.extend([fmt(t.price, pd), fmt(t.volume, ld), round(t.time, 4), t.side, t.kind, "", t.trade_id]
                   for t in rows)
        if rows:
            last_ns = rows[-1].ns
        return out, str(last_ns if last_ns is not None else self._tape_times[-1])

    def public_trades(self, start: float, end: float) -> list[dict]:
        """Every public trade with start <= time < end as this exchange records it (a test view)."""
        pd, ld = self.spec.pair_decimals, self.spec.lot_decimals
        out: list[dict] = []
        since = int(Decimal(repr(start)) * _NS) - 1
        end_ns = int(Decimal(repr(end)) * _NS)
        while True:
            rows, last = self.trades(since, 1000)
            rows = [r for r in rows if Decimal(repr(r[2])) < Decimal(repr(end))] if rows else rows
            out.extend({"price": Decimal(r[0]), "volume": Decimal(r[1]), "time": r[2], "side": r[3],
                        "ordertype": r[4], "trade_id": r[6]} for r in rows)
            if not rows or int(last) >= end_ns or int(last) == since:
                return out
            since = int(last)

    def spreads(self, since: float | None) -> tuple[list[list], int]:
        rows = self._spreads if since is None else [r for r in self._spreads if r[0] > since]
        rows = rows[-1000:]
        pd = WIRE_PRICE_DECIMALS
        out = [[r[0], fmt(r[1], pd), fmt(r[2], pd)] for r in rows]
        last = rows[-1][0] if rows else (int(since) if since is not None else self.updated_at)
        return out, last

    # ---------------------------------------------------------------- candles
    def ohlc(self, interval: int, since: float | None, now: float) -> tuple[list[list], int]:
        width = interval * 60
        current = int(now) - int(now) % width
        first = current - (OHLC_LIMIT - 1) * width
        if since is not None:  # rows strictly after ``since``, as Kraken's polling expects
            first = max(first, (int(math.floor(since)) // width + 1) * width)
        live = self._live[interval]
        times = self._live_times[interval]
        first_live = times[0] if times else current + width
        # the seeded history is built only when a request reaches back before the live candles
        if first >= first_live:
            synthetic: dict[int, list] = {}
        elif interval <= _DERIVED_MAX:
            synthetic = self._derived_rows(interval, first, first_live)
        else:
            synthetic = self._synthetic_rows(interval)
        pd, ld = self.spec.pair_decimals, self.spec.lot_decimals
        prev_close = self._close_before(interval, first, synthetic)
        rows: list[list] = []
        for t in range(first, current + width, width):
            candle = live.get(t)
            if candle is not None:
                vwap = candle.cost / candle.volume if candle.volume else Decimal(0)
                rows.append([t, fmt(candle.open, pd), fmt(candle.high, pd), fmt(candle.low, pd),
                             fmt(candle.close, pd), fmt(vwap, pd), fmt(candle.volume, ld), candle.count])
                prev_close = candle.close
            elif t < first_live:
                row = synthetic.get(t)
                if row is None:
                    continue
                rows.append(row[0])
                prev_close = row[1]
            else:
                p = fmt(prev_close, pd)
                rows.append([t, p, p, p, p, fmt(Decimal(0), pd), fmt(Decimal(0), ld), 0])
        return rows, current - width

    def _close_before(self, interval: int, t: int, synthetic: dict[int, list]) -> Decimal:
        times = self._live_times[interval]
        i = bisect.bisect_left(times, t)
        if i > 0:
            return self._live[interval][times[i - 1]].close
        if times:  # before live data: the anchor the synthetic history leads into
            return self._history_anchor
        return self.mid

    def _derived_rows(self, interval: int, first: int, end: int) -> dict[int, list]:
        """Candles of the seeded past in [first, end), from the history's minute summaries:
        the same trades the Trades endpoint serves (exact VWAP for 1-minute candles)."""
        width = interval * 60
        pd, ld = self.spec.pair_decimals, self.spec.lot_decimals
        tick = self.spec.tick_size
        rows: dict[int, list] = {}
        for t in range(first, end, width):
            c = self.history.candle(t, width, exact_vwap=interval == 1)
            if c is None:
                continue
            o, h, lo, cl, volume, count, vwap = c
            rows[t] = [[t, fmt(o * tick, pd), fmt(h * tick, pd), fmt(lo * tick, pd), fmt(cl * tick, pd),
                        fmt(vwap, pd), fmt(volume, ld), count], cl * tick]
        return rows

    def _synthetic_rows(self, interval: int) -> dict[int, list]:
        """720 seeded candles of 4 h and wider leading into the first live candle (generated once
        per interval; too wide to derive from minute summaries cheaply, so drawn on their own)."""
        cached = self._synthetic.get(interval)
        if cached is not None:
            return cached
        width = interval * 60
        times = self._live_times[interval]
        anchor_time = times[0] if times else int(self.start_time) - int(self.start_time) % width
        rng = random.Random(f"history:{self._seed}:{self.spec.id}:{interval}")
        sigma = 0.0008 * math.sqrt(interval)
        pd, ld = self.spec.pair_decimals, self.spec.lot_decimals
        tick = self.spec.tick_size
        close = self._history_anchor
        rows: dict[int, list] = {}
        for k in range(1, OHLC_LIMIT + 1):
            t = anchor_time - k * width
            open_ = self.round_price(close * (1 + Decimal(repr(round(rng.gauss(0, sigma), 8)))))
            hi_base, lo_base = max(open_, close), min(open_, close)
            high = (hi_base * (1 + Decimal(repr(round(abs(rng.gauss(0, sigma / 2)), 8)))) / tick).to_integral_value(ROUND_CEILING) * tick
            low = (lo_base * (1 - Decimal(repr(round(abs(rng.gauss(0, sigma / 2)), 8)))) / tick).to_integral_value(ROUND_FLOOR) * tick
            low = max(tick, low)
            volume = q(self.spec.level_volume * Decimal(rng.randint(10, 400) * interval) / 100, ld)
            count = rng.randint(5, 60) * max(1, int(math.sqrt(interval)))
            vwap = (high + low + close) / 3
            rows[t] = [[t, fmt(open_, pd), fmt(high, pd), fmt(low, pd), fmt(close, pd), fmt(vwap, pd),
                        fmt(volume, ld), count], close]
            close = open_
        self._synthetic[interval] = rows
        return rows

    def _seed_history(self, rng: random.Random, start: float) -> None:
        """Public trades from the full hour at least an hour before the start, a seeded walk
        ending at the mid. The first is on that hour, so every candle up to an hour wide is
        either all live tape or all ``TradeHistory``."""
        begin = int(start - _HISTORY_SECONDS) // _HISTORY_SECONDS * _HISTORY_SECONDS
        span = start - begin
        n = max(2, round(_HISTORY_TRADES * span / _HISTORY_SECONDS))
        prices = [self.mid]
        for _ in range(n - 1):
            prices.append(self.round_price(prices[-1] * (1 + Decimal(repr(round(rng.gauss(0, 0.0004), 8))))))
        prices.reverse()
        offsets = [0.0, *sorted(rng.uniform(0, span) for _ in range(n - 1))]
        for price, off in zip(prices, offsets):
            vol = q(self.spec.level_volume * Decimal(rng.randint(1, 60)) / 100, self.spec.lot_decimals)
            when = min(round(begin + off, 4), start)
            self.record_trade(price, vol, when, rng.choice("bs"), rng.choice("ml"))
        for k in range(10, 0, -1):
            self._spreads.append([int(start) - k * 30, self.best_bid, self.best_ask])

    def stats(self, now: float) -> dict:
        """Ticker numbers from hourly candles: today (since 00:00 UTC) and the last 24 h.

        Memoised per (second, last trade id): they can only change when a trade prints or the
        clock crosses a second, and deriving 25 hourly candles from the dense history on every
        Ticker request would make it the simulator's slowest public call."""
        key = (int(now), self._next_trade_id)
        cached = getattr(self, "_stats_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        out = self._compute_stats(now)
        self._stats_cache = (key, out)
        return out

    def _compute_stats(self, now: float) -> dict:
        rows, _ = self.ohlc(60, now - 25 * 3600, now)
        day0 = utc_day_start(now)
        out = {}
        for key, start in (("today", day0 - day0 % 3600), ("24h", int(now) - 24 * 3600)):
            sel = [r for r in rows if r[0] >= start - start % 3600] or rows[-1:]
            vol = sum((Decimal(r[6]) for r in sel), Decimal(0))
            cost = sum((Decimal(r[6]) * Decimal(r[5]) for r in sel), Decimal(0))
            out[key] = {
                "volume": vol,
                "vwap": cost / vol if vol else Decimal(sel[-1][4]),
                "count": sum(r[7] for r in sel),
                "low": min(Decimal(r[3]) for r in sel),
                "high": max(Decimal(r[2]) for r in sel),
                "open": Decimal(sel[0][1]),
            }
        return out
