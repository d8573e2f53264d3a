"""The bot's own CPU per placement, by layer: ``python -m bench.bot_cpu [placements] [--profile N]``.

One resting limit placement (buy 0.0002 XBT/EUR at 95 % of mid, cancelled untimed) through
``SafetyWrapper.submit_order`` against a simulator process, repeated. Each layer's entry is shimmed
with ``time.thread_time_ns()``: the CPU time of the order's thread, which other work on a shared
machine does not inflate the way it inflates wall time. Figures are inclusive (a layer's time
contains the layers it calls) and are p50s over the placements. ``--profile N`` prints the top
of a cProfile of N further placements (by own time). ``--bytecodes N`` counts the Python bytecodes
N further placements execute (``sys.settrace`` opcode events), by function: a count that does not
move with the machine's load, for comparing two versions of the code on a busy machine.
"""
from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.botkit import PAIR, VOLUME, bare_client, build_bot, order_request, price_at, time_layers
from bench.simproc import SimProcess
from bench.stats import summarize_ns

_LAYERS = (  # (label, object path on the bot, method); inclusive CPU of each call during a placement
    ("wrapper._snapshot (risk snapshot)", "safety", "_snapshot"),
    ("risk.check", "safety.risk", "check"),
    ("executor._place", "safety.executor", "_place"),
    ("store.record_intent (SQL + commit)", "store", "record_intent"),
    ("client.trading.add_order (incl. guard)", "client.trading", "add_order"),
    ("guard (_check_call, incl. its audit row)", "client", "_check_call"),
    ("executor._transition (post-ack)", "safety.executor", "_transition"),
    ("audit.record (each wrapper audit row, summed)", "safety.audit", "record"),
    ("wrapper._order_blocker (kill switch, trading state)", "safety", "_order_blocker"),
    ("wrapper.pair_info (each, summed)", "safety", "pair_info"),
    ("wrapper.market_data_problem", "safety", "market_data_problem"),
    ("wrapper._hold_locally", "safety", "_hold_locally"),
    ("executor.unknown_pairs", "safety.executor", "unknown_pairs"),
    ("executor.new_cl_ord_id", "safety.executor", "new_cl_ord_id"),
    ("positions.positions (fills replay)", "safety.positions", "positions"),
    ("store.orders (each SELECT of orders, summed)", "store", "orders"),
    ("store.get_meta (each, summed)", "store", "get_meta"),
    ("store.append_audit (each, summed)", "store", "append_audit"),
    ("executor._send_once (from the send to the result)", "safety.executor", "_send_once"),
    ("executor._count_placed", "safety.executor", "_count_placed"),
    ("wrapper._record_placement (the ack's audit row)", "safety", "_record_placement"),
    ("store.update_order", "store", "update_order"),
)


def _count_bytecodes(safety: Any, price: Any, placements: int) -> collections.Counter:
    """Opcodes executed per code object over ``placements`` wrapper placements (the cancels untraced)."""
    counts: collections.Counter = collections.Counter()

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode":
            counts[frame.f_code] += 1
        return local

    def on_call(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return local

    for _ in range(placements):
        sys.settrace(on_call)
        try:
            outcome = safety.submit_order(PAIR, "buy", "limit", VOLUME, price)
        finally:
            sys.settrace(None)
        safety.cancel_order(outcome.cl_ord_id)
    return counts


def measure(placements: int = 400, profile: int = 0, bytecodes: int = 0) -> dict[str, Any]:
    with SimProcess() as sim, tempfile.TemporaryDirectory(prefix="kb-bench-cpu-") as tmp:
        bot = build_bot(sim, Path(tmp))
        bare = bare_client(sim)
        try:
            safety = bot.safety
            rest = price_at(safety.ticker(PAIR).mid, "0.95")

            def place() -> None:
                outcome = safety.submit_order(PAIR, "buy", "limit", VOLUME, rest)
                if not outcome.placed:
                    raise RuntimeError(f"wrapper refused the bench order: {outcome.reason}")
                safety.cancel_order(outcome.cl_ord_id)

            for _ in range(30):  # warm-up: connections, SQLite pages, caches
                place()
            current: dict[str, int] = {}
            remove = time_layers(bot, _LAYERS, current, time.thread_time_ns)
            samples: dict[str, list[int]] = {"submit_order (whole placement)": [], "bare client add_order": []}
            pair_id = safety.pair_info(PAIR).name
            samples.update({label: [] for label, _, _ in _LAYERS})
            try:
                for _ in range(placements):
                    current.clear()
                    start = time.thread_time_ns()
                    outcome = safety.submit_order(PAIR, "buy", "limit", VOLUME, rest)
                    samples["submit_order (whole placement)"].append(time.thread_time_ns() - start)
                    spent = dict(current)
                    safety.cancel_order(outcome.cl_ord_id)
                    for label, _, _ in _LAYERS:
                        samples[label].append(spent.get(label, 0))
                    start = time.thread_time_ns()  # the bare call, interleaved: what the bot is compared to
                    ack = bare.trading.add_order(order_request("buy", rest, pair=pair_id))
                    samples["bare client add_order"].append(time.thread_time_ns() - start)
                    bare.trading.cancel_order(txid=ack.txids[0])
            finally:
                remove()
            report: dict[str, Any] = {"placements": placements,
                                      "cpu_p50_us": {k: summarize_ns(v).p50 for k, v in samples.items()}}
            if profile:
                prof = cProfile.Profile()
                for _ in range(profile):
                    prof.enable()
                    outcome = safety.submit_order(PAIR, "buy", "limit", VOLUME, rest)
                    prof.disable()
                    safety.cancel_order(outcome.cl_ord_id)
                report["profile"] = pstats.Stats(prof)
            if bytecodes:
                report["bytecodes"] = (_count_bytecodes(safety, rest, bytecodes), bytecodes)
            return report
        finally:
            bare.close()
            bot.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bot_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("placements", type=int, nargs="?", default=400)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile N more placements")
    parser.add_argument("--bytecodes", type=int, default=0, metavar="N", help="count the bytecodes of N more placements")
    parser.add_argument("--top", type=int, default=40, help="rows of the profile (and of the bytecode count) to print")
    args = parser.parse_args(argv)
    report = measure(args.placements, args.profile, args.bytecodes)
    print(f"thread CPU per placement, p50 over {report['placements']} placements (µs, inclusive):")
    for label, us in report["cpu_p50_us"].items():
        print(f"  {us:8.1f}  {label}")
    if "profile" in report:
        report["profile"].sort_stats("tottime").print_stats(args.top)
    if "bytecodes" in report:
        counts, n = report["bytecodes"]
        print(f"bytecodes per placement: {sum(counts.values()) / n:.0f}; by function (own):")
        for code, count in counts.most_common(args.top):
            print(f"  {count / n:7.0f}  {code.co_filename.rsplit('/', 2)[-1]}:{code.co_firstlineno} {code.co_name}")
    return 0


if __name__ == "__main__":  # the simulator's spawn child re-imports this module: do not re-run
    raise SystemExit(main())
