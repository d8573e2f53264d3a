"""``python -m bench``: every measurement the performance issue asks for, in one run.

Sections run one after another (never in parallel: this is a 2-core machine and the
figures are ratios within the run). A section that cannot run yet (its code has not
landed, the spec is missing) is recorded as skipped with the reason instead of failing
the run. ``--quick`` shrinks every count for the smoke tests; it is not a measurement.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

from bench import report, targets

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
BASELINE = ROOT / "bench" / "BASELINE.md"
ANALYSIS_HEADING = "## What the misses come from"
SECTIONS = ("latency", "imports", "bot", "throughput", "sim_ws", "book", "stream", "spec", "chaos", "memory")  # memory last: it fills the budget
SIM_MODE = "separate process (multiprocessing spawn child running KrakenSimulator(rate_limits=False))"


def machine_facts() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}"


def _loadavg() -> list[float] | None:
    """1/5/15-minute load averages: other work on the machine inflates absolute figures."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def git_commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10)
        return done.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _latency(results: dict, args) -> None:
    from bench.latency import add_ratios, measure
    from bench.peers import ADAPTERS, krakenex_nonce_collisions
    from bench.simproc import SimProcess

    adapters, unavailable = [], {}
    with SimProcess() as sim:
        for name in args.clients:
            try:
                key, secret = sim.new_key()
                adapters.append(ADAPTERS[name](sim.url, key, secret))
            except Exception as exc:  # a client that cannot run is reported, the rest still run
                unavailable[name] = f"{type(exc).__name__}: {exc}"[:200]
        try:
            if "krakenex" in args.clients:
                key, secret = sim.new_key()
                results["krakenex_nonce"] = krakenex_nonce_collisions(sim.url, key, secret, args.nonce_calls)
            lat = measure(adapters, timed=args.timed, warmup=args.warmup)
        finally:
            for adapter in adapters:
                adapter.close()
        results["sim_rss_mib_after_latency"] = (sim.rss_kib() or 0) / 1024
    add_ratios(lat)
    results["latency"] = lat
    results["unavailable"] = unavailable
    results["latency_notes"] = {a.name: a.notes for a in adapters if a.notes}


def _imports(results: dict, args) -> None:
    from bench.imports import measure

    results["imports"] = measure(samples=args.import_samples)


def _bot(results: dict, args) -> None:
    from bench.bot_path import measure, risk_check_scaling

    results["bot_path"] = measure(orders=args.orders, fills=args.fills)
    results["bot_path"]["risk_scaling"] = risk_check_scaling(
        (0, 100, 500) if args.quick else (0, 1000, 5000), checks=3 if args.quick else 10)


def _memory(results: dict, args) -> None:
    from bench.memory import cache_bound, in_fresh_process

    results["cache"] = cache_bound(keys=args.cache_keys)
    budget = None
    if args.budget:
        budget = max(30.0, args.budget - (time.perf_counter() - args.started) - 15.0)
    results["memory"] = in_fresh_process(cycles=args.cycles, budget_s=budget, warmup=min(200, args.cycles))


def _throughput(results: dict, args) -> None:
    from bench.throughput import measure

    results["throughput"] = measure(seconds=args.tp_seconds, threads=(1, 4))


def _sim_ws(results: dict, args) -> None:
    from bench.sim_ws_throughput import measure

    results["sim_ws"] = measure(seconds=args.tp_seconds, windows=1 if args.quick else 3)


def _book(results: dict, args) -> None:
    from bench.book import measure

    results["book"] = measure(quick=args.quick)


def _stream(results: dict, args) -> None:
    from bench.stream_latency import measure

    results["stream"] = measure(rounds=args.stream_rounds, quick=args.quick)


def _spec(results: dict, args) -> None:
    from bench.suites import spec_times

    results["spec"] = spec_times()


def _chaos(results: dict, args) -> None:
    from bench.suites import chaos_soak

    results["chaos"] = chaos_soak(seconds=args.chaos_seconds)


RUNNERS = {"latency": _latency, "imports": _imports, "bot": _bot, "memory": _memory,
           "throughput": _throughput, "sim_ws": _sim_ws, "book": _book, "stream": _stream, "spec": _spec, "chaos": _chaos}
SKIP_KEYS = {"bot": "bot_path", "memory": "memory", "throughput": "throughput", "sim_ws": "sim_ws", "book": "book",
             "stream": "stream", "spec": "spec", "chaos": "chaos"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny counts (smoke test), not a measurement")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    p.add_argument("--skip", nargs="+", choices=SECTIONS, default=[], help="skip these sections")
    p.add_argument("--clients", nargs="+", default=["floor", "krakenbot", "krakenex", "ccxt", "requests"])
    p.add_argument("--timed", type=int, default=2000, help="timed calls per client and call")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--nonce-calls", type=int, default=500, help="back-to-back krakenex calls for nonce collisions")
    p.add_argument("--orders", type=int, default=300, help="orders per stage in the bot-path section")
    p.add_argument("--fills", type=int, default=100, help="marketable orders for placement -> fill")
    p.add_argument("--cycles", type=int, default=10_000, help="order cycles for the memory section")
    p.add_argument("--cache-keys", type=int, default=1000)
    p.add_argument("--tp-seconds", type=float, default=3.0)
    p.add_argument("--chaos-seconds", type=float, default=10.0)
    p.add_argument("--stream-rounds", type=int, default=30, help="interleaved rounds of tick-to-order and fill notice")
    p.add_argument("--import-samples", type=int, default=3)
    p.add_argument("--budget", type=float, default=270.0,
                   help="seconds for the whole run; the memory cycles (last) shrink to fit (0: no limit)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    p.add_argument("--baseline", action="store_true", help=f"also write {BASELINE.relative_to(ROOT)}")
    args = p.parse_args(argv)
    if args.quick:
        args.timed, args.warmup, args.nonce_calls = 20, 5, 20
        args.orders, args.fills, args.cycles, args.cache_keys = 5, 3, 30, 100
        args.tp_seconds, args.chaos_seconds, args.import_samples, args.budget = 0.3, 1.0, 1, 0.0
        if not args.only:
            args.skip = sorted(set(args.skip) | {"spec", "chaos"})
    return args


def run(args: argparse.Namespace) -> dict:
    started = args.started = time.perf_counter()
    results: dict = {
        "meta": {
            "started": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "machine": machine_facts(),
            "python": platform.python_version(),
            "commit": git_commit(),
            "sim_mode": SIM_MODE,
            "timed": args.timed,
            "warmup": args.warmup,
            "quick": args.quick,
            "section_seconds": {},
            "load_before": _loadavg(),
            "section_errors": {},
        }
    }
    wanted = [s for s in SECTIONS if (not args.only or s in args.only) and s not in args.skip]
    for section in SECTIONS:
        if section not in wanted:
            if section in SKIP_KEYS:
                results.setdefault(SKIP_KEYS[section], {"skipped": "not selected in this run"})
            continue
        print(f"[bench] {section} ...", flush=True)
        t0 = time.perf_counter()
        try:
            RUNNERS[section](results, args)
        except Exception as exc:  # one broken section must not lose the others' figures
            text = f"{type(exc).__name__}: {exc}"[:300]
            results["meta"]["section_errors"][section] = text
            if section in SKIP_KEYS:
                results[SKIP_KEYS[section]] = {"skipped": f"failed: {text}"}
            traceback.print_exc()
        results["meta"]["section_seconds"][section] = round(time.perf_counter() - t0, 2)
        print(f"[bench] {section} done in {results['meta']['section_seconds'][section]:.1f} s", flush=True)
    results["targets"] = [t.as_dict() for t in targets.evaluate(results)]
    results["meta"]["seconds"] = time.perf_counter() - started
    results["meta"]["load_after"] = _loadavg()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["KRAKENBOT_BENCH_RUNNING"] = "1"  # lets a spec step see it was started by the bench
    results = run(args)
    paths = report.write(results, args.out)
    text = report.markdown(results)
    print(text)
    if args.baseline:
        # the hand-written analysis at the end of BASELINE.md survives a new run (the figures are replaced)
        kept = ""
        if BASELINE.exists():
            old = BASELINE.read_text()
            at = old.find(ANALYSIS_HEADING)
            kept = "\n" + old[at:] if at >= 0 else ""
        BASELINE.write_text(text.replace("# Benchmark results", "# Benchmark baseline (last committed run)", 1) + kept)
    print("written: " + ", ".join(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in paths.values()))
    return 0
