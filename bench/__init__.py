"""Benchmarks: our client and bot measured against peers and a raw ``http.client`` floor.

Run ``make bench`` (``python -m bench``). Figures are only comparable within one run,
as ratios; see ``bench/BASELINE.md`` for the last committed run and
``../shared/perf-baseline.md`` for how the peers were first measured.
"""
