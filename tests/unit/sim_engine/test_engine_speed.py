"""Engine cost per private request: the simulator must serve well over 1,500 private req/s.

The bound here is loose (CI machines are shared and noisy); it catches an accidental
O(history) scan, not a few microseconds. Typical figures: Balance ~10 us, AddOrder
validate ~70 us.
"""
from __future__ import annotations

import time

from krakensim.clock import ManualClock
from krakensim.exchange import Exchange


def _per_call(fn, n: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best


def test_balance_and_validate_stay_cheap_with_history():
    ex = Exchange(seed=1, clock=ManualClock())
    ex.trading_limits = False
    for i in range(30):
        ex.handle_private("demo", "AddOrder", {"pair": "XBTEUR", "type": "buy", "ordertype": "limit",
                                               "price": str(40000 + i), "volume": "0.001"})
    for _ in range(200):  # a long trade history must not slow the hot paths down
        ex.handle_private("demo", "AddOrder", {"pair": "XBTEUR", "type": "sell", "ordertype": "market",
                                               "volume": "0.0001"})
    order = {"pair": "XXBTZEUR", "type": "buy", "ordertype": "limit", "price": "50000", "volume": "0.001",
             "validate": "true", "cl_ord_id": "speed-1"}
    balance = _per_call(lambda: ex.handle_private("demo", "Balance", {}), 300)
    validate = _per_call(lambda: ex.handle_private("demo", "AddOrder", order), 300)
    assert balance < 300e-6, balance
    assert validate < 600e-6, validate
