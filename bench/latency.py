"""Per-call latency of every client in interleaved rounds.

Each round times one call per (call, client), starting at a different client each round,
so a burst of machine noise lands on every row alike. Besides wall time, the measuring
thread's CPU time per call is kept: it is the client's own cost, without the simulator's
time or the wait for it, so it separates the clients even when the server dominates. Errors are counted and left out of
the percentiles (an error reply is cheaper than a success and would flatter the client).
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

from bench.peers import CALLS, Adapter
from bench.stats import Summary, summarize_ns


@dataclass
class Row:
    """One client's samples and errors for one call."""

    samples_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


def _time_one(fn, row: Row) -> None:
    cpu = time.thread_time_ns()
    start = time.perf_counter_ns()
    try:
        fn()
    except Exception as exc:  # counted per message; the run goes on
        key = (str(exc) or type(exc).__name__)[:120]
        row.errors[key] = row.errors.get(key, 0) + 1
        return
    row.samples_ns.append(time.perf_counter_ns() - start)
    row.cpu_ns.append(time.thread_time_ns() - cpu)


def measure(adapters: list[Adapter], *, timed: int, warmup: int, calls: tuple[str, ...] = CALLS) -> dict:
    """Run ``warmup`` then ``timed`` interleaved rounds; return summaries and errors per client/call."""
    rows = {a.name: {c: Row() for c in calls} for a in adapters}
    scratch = {a.name: {c: Row() for c in calls} for a in adapters}
    n = len(adapters)
    for phase_rows, rounds in ((scratch, warmup), (rows, timed)):
        gc.collect()
        for r in range(rounds):
            offset = r % n
            order = adapters[offset:] + adapters[:offset]
            for call in calls:
                for adapter in order:
                    _time_one(adapter.calls[call], phase_rows[adapter.name][call])
    out: dict = {}
    for a in adapters:
        out[a.name] = {}
        for c in calls:
            summary: Summary = summarize_ns(rows[a.name][c].samples_ns)
            out[a.name][c] = {
                **summary.as_dict(),
                "cpu_p50": summarize_ns(rows[a.name][c].cpu_ns).p50,
                "errors": rows[a.name][c].errors,
                "warmup_errors": scratch[a.name][c].errors,
            }
    return out


def add_ratios(results: dict, floor: str = "floor") -> None:
    """Annotate each p50 (and client CPU p50) with its ratio to the floor's for the same call (in place)."""
    base = results.get(floor)
    for per_call in results.values():
        for call, figures in per_call.items():
            ref = base[call]["p50"] if base else None
            figures["ratio_p50"] = (figures["p50"] / ref) if ref else None
            ref_cpu = base[call].get("cpu_p50") if base else None
            cpu = figures.get("cpu_p50")
            figures["ratio_cpu_p50"] = (cpu / ref_cpu) if ref_cpu and cpu is not None else None
