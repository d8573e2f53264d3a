"""Simulator throughput: signed private Balance requests per second, 1 and 4 client threads on a quiet
book, and 1 thread with other traders' orders arriving (``FLOW_RATE`` a second on each pair).

Reuses the simulator engineer's ``bench/sim_throughput.py`` client loop (raw ``http.client``
keep-alive, one key per thread) against the bench's own simulator process.
"""
from __future__ import annotations

import urllib.parse

from bench.simproc import SimProcess


def measure(seconds: float = 3.0, threads: tuple[int, ...] = (1, 4), windows: int = 3) -> dict:
    """Each thread count runs in ``windows`` short windows, interleaved; the row is the median
    window (a burst of load from elsewhere on the machine hits one window, not the figure)."""
    from bench.sim_throughput import FLOW_RATE, TARGET_ONE_THREAD

    rows = _rows(threads, seconds, windows, 0.0) + _rows((1,), seconds, windows, FLOW_RATE)
    return {"rows": rows, "seconds_per_row": seconds, "windows": windows, "target_one_thread": TARGET_ONE_THREAD,
            "flow_rate": FLOW_RATE,
            "how": ("bench/sim_throughput.run: raw http.client keep-alive per thread, own key per thread; "
                    f"median of {windows} interleaved windows; flow: other traders' orders a second on each pair")}


def _rows(threads: tuple[int, ...], seconds: float, windows: int, flow_rate: float) -> list[dict]:
    from bench.sim_throughput import run

    runs: dict[int, list[dict]] = {n: [] for n in threads}
    with SimProcess(flow_rate=flow_rate) as sim:
        parts = urllib.parse.urlsplit(sim.url)
        creds = [sim.new_key() for _ in range(max(threads))]
        for _ in range(windows):
            for n in threads:
                runs[n].append(run(n, creds, parts.hostname, parts.port, seconds / windows))
    rows = []
    for n in threads:
        ordered = sorted(runs[n], key=lambda r: r["req_per_s"])
        median = ordered[len(ordered) // 2]
        rows.append({**median, "flow_rate": flow_rate, "best_req_per_s": ordered[-1]["req_per_s"],
                     "windows_req_per_s": [round(r["req_per_s"]) for r in runs[n]],
                     "failures": sum(r["failures"] for r in runs[n])})
    return rows
