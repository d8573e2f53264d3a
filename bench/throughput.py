"""Simulator throughput: signed private Balance requests per second, 1 and 4 client threads.

Reuses the simulator engineer's ``bench/sim_throughput.py`` client loop (raw ``http.client``
keep-alive, one key per thread) against the bench's own simulator process.
"""
from __future__ import annotations

import urllib.parse

from bench.simproc import SimProcess


def measure(seconds: float = 3.0, threads: tuple[int, ...] = (1, 4)) -> dict:
    from bench.sim_throughput import TARGET_ONE_THREAD, run

    rows = []
    with SimProcess() as sim:
        parts = urllib.parse.urlsplit(sim.url)
        creds = [sim.new_key() for _ in range(max(threads))]
        for n in threads:
            rows.append(run(n, creds, parts.hostname, parts.port, seconds))
    return {"rows": rows, "seconds_per_row": seconds, "target_one_thread": TARGET_ONE_THREAD,
            "how": "bench/sim_throughput.run: raw http.client keep-alive per thread, own key per thread"}
