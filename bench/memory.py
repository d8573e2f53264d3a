"""Memory: the bot's RSS over many order cycles, and the market data cache's bound.

The cycles run through the whole bot path (safety wrapper, risk, executor, SQLite file
store, client) against the simulator process, so only the bot's own memory is read
(``/proc/self/status``). A short warm-up comes first so one-off allocations (imports,
connection pools, SQLite pages) are not counted as growth.
"""
from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path

from bench.botkit import PAIR, VOLUME, build_bot, price_at
from bench.simproc import SimProcess, rss_kib

SAMPLES = 20


def order_cycles(cycles: int = 10_000, warmup: int = 200, real_orders: bool = False) -> dict:
    """RSS start/peak/end over ``cycles`` placements; validate-only (paper) unless ``real_orders``."""
    mode = "live" if real_orders else "paper"
    errors = 0
    samples: list[tuple[int, float]] = []
    with SimProcess() as sim, tempfile.TemporaryDirectory(prefix="kb-bench-mem-") as tmp:
        bot = build_bot(sim, Path(tmp), TRADING_MODE=mode)
        try:
            safety = bot.safety
            price = price_at(safety.ticker(PAIR).mid, "0.95")

            def cycle() -> bool:
                outcome = safety.submit_order(PAIR, "buy", "limit", VOLUME, price)
                if real_orders and outcome.placed:
                    return safety.cancel_order(outcome.cl_ord_id).accepted
                return outcome.accepted

            for _ in range(warmup):
                cycle()
            gc.collect()
            start_kib = rss_kib()
            began = time.perf_counter()
            every = max(1, cycles // SAMPLES)
            for i in range(1, cycles + 1):
                if not cycle():
                    errors += 1
                if i % every == 0:
                    samples.append((i, (rss_kib() or 0) / 1024))
            seconds = time.perf_counter() - began
            gc.collect()
            end_kib = rss_kib()
        finally:
            bot.close()
    start, end = (start_kib or 0) / 1024, (end_kib or 0) / 1024
    return {
        "cycles": cycles,
        "cycle": ("submit_order (real resting limit) + cancel_order" if real_orders
                  else "submit_order in paper mode (AddOrder validate=true)") + " through the safety wrapper",
        "warmup_cycles": warmup,
        "seconds": seconds,
        "cycles_per_s": cycles / seconds if seconds else None,
        "start_mib": start,
        "peak_mib": max([start, end] + [mib for _, mib in samples]),
        "end_mib": end,
        "growth_mib": end - start,
        "samples": samples,
        "errors": errors,
    }


def _stats(md):
    stats = md.stats
    return stats() if callable(stats) else stats


def cache_bound(keys: int = 2000, max_entries: int | None = None) -> dict:
    """Insert many distinct keys through the market data service's public API (order books of
    several depths on three pairs, then OHLC pages from many ``since`` marks) and read its size.
    ``max_entries`` swaps in a service with a smaller bound (for a fast smoke test)."""
    with SimProcess() as sim, tempfile.TemporaryDirectory(prefix="kb-bench-cache-") as tmp:
        bot = build_bot(sim, Path(tmp), TRADING_MODE="read_only", KRAKEN_LIVE_TRADING="no")
        try:
            md = bot.market_data
            if md is None:
                return {"skipped": "Bot.build wired no market data service"}
            if max_entries is not None:
                md = type(md)(bot.client, bot.clock, max_entries=max_entries)
            sizes = []
            pairs = ("XBTEUR", "XBTUSD", "ETHEUR")
            recent = int(time.time()) - 120  # "since" marks near now: one or two candles per answer
            for i in range(keys):
                pair = pairs[i % len(pairs)]
                if i < 60:
                    md.order_book(pair, count=i // len(pairs) + 1)
                else:
                    md.candles(pair, 1, since=recent + i)
                if (i + 1) % 50 == 0:
                    sizes.append(_stats(md).size)
            stats = _stats(md)
        finally:
            bot.close()
    seen = max(sizes + [stats.size])
    return {"keys_inserted": keys, "size_after": stats.size, "bound": stats.max_entries,
            "max_size_seen": seen, "bounded": seen <= stats.max_entries}
