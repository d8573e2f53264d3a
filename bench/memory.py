"""Memory: the bot's RSS over many order cycles, and the market data cache's bound.

The cycles run through the whole bot path (safety wrapper, risk, executor, SQLite file
store, client) against the simulator process, so only the bot's own memory is read
(``/proc/self/status``). A short warm-up comes first so one-off allocations (imports,
connection pools, SQLite pages) are not counted as growth.
"""
from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.botkit import PAIR, VOLUME, build_bot, price_at
from bench.simproc import SimProcess, rss_kib

SAMPLES = 20
ROOT = Path(__file__).resolve().parent.parent


def order_cycles(cycles: int = 10_000, warmup: int = 200, real_orders: bool = False,
                 budget_s: float | None = None) -> dict:
    """RSS start/peak/end over ``cycles`` placements; validate-only (paper) unless ``real_orders``.

    With ``budget_s``, the warm-up's pace decides how many cycles fit in the budget; fewer
    than asked are run (and said so) rather than overrunning ``make bench``'s five minutes.
    Call it in a fresh process (``in_fresh_process``): freed memory of earlier work in the
    same process would absorb the bot's growth and hide a leak.
    """
    mode = "live" if real_orders else "paper"
    errors = 0
    samples: list[tuple[int, float]] = []
    asked = cycles
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

            began_warmup = time.perf_counter()
            half = warmup // 2
            for _ in range(warmup - half):
                cycle()
            began_pace = time.perf_counter()
            for _ in range(half):
                cycle()
            if budget_s is not None and half:
                per_cycle = (time.perf_counter() - began_pace) / half  # pace once warm
                fits = int((budget_s - (time.perf_counter() - began_warmup)) / per_cycle)
                cycles = max(min(cycles, fits), min(cycles, 100))
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
    growth = end - start
    return {
        "cycles": cycles,
        "cycles_asked": asked,
        "reduced_to_fit_budget": cycles < asked,
        "cycle": ("submit_order (real resting limit) + cancel_order" if real_orders
                  else "submit_order in paper mode (AddOrder validate=true)") + " through the safety wrapper",
        "warmup_cycles": warmup,
        "seconds": seconds,
        "cycles_per_s": cycles / seconds if seconds else None,
        "start_mib": start,
        "peak_mib": max([start, end] + [mib for _, mib in samples]),
        "end_mib": end,
        "growth_mib": growth,
        "growth_per_10k_mib": growth * 10_000 / cycles if cycles else None,
        "samples": samples,
        "errors": errors,
    }


def in_fresh_process(cycles: int = 10_000, warmup: int = 200, budget_s: float | None = None,
                     real_orders: bool = False) -> dict:
    """``order_cycles`` in a new interpreter that has imported nothing but the bot and the bench."""
    command = [sys.executable, "-m", "bench.memory", "--cycles", str(cycles), "--warmup", str(warmup)]
    if budget_s is not None:
        command += ["--budget", f"{budget_s:.1f}"]
    if real_orders:
        command.append("--real-orders")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          timeout=(budget_s or 600) * 2 + 60)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"memory run failed (exit {done.returncode}): {tail[:200]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=order_cycles.__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--budget", type=float, default=None, help="seconds the cycles may take")
    parser.add_argument("--real-orders", action="store_true", help="real resting order + cancel per cycle")
    args = parser.parse_args(argv)
    result = order_cycles(args.cycles, args.warmup, args.real_orders, args.budget)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
