"""ServerClock: the offset is a lower bound (exchange time never overestimated), fail closed."""
from __future__ import annotations

from krakenbot.client.server_clock import ServerClock
from krakenbot.clock import ManualClock


def test_the_offset_is_the_lower_bound_of_a_slow_answer():
    clock = ManualClock(1000.0)

    def answer():
        clock.advance(2.0)  # the answer takes 2 s; Kraken stamped it 1003 (truncated seconds)
        return 1003

    sc = ServerClock(answer, clock)
    assert sc.sync() == 1.0 and sc.now() == clock.time() + 1.0


def test_unknown_or_skewed_time_is_a_problem_and_known_time_is_not():
    clock = ManualClock(1000.0)
    server = {"t": 1000}

    def fail():
        raise OSError("down")

    assert "unknown" in ServerClock(fail, clock).problem()
    sc = ServerClock(lambda: server["t"], clock, max_skew_seconds=5)
    assert sc.problem() is None
    clock.advance(600)  # due again; the exchange's time stood still: 600 s ahead
    assert "600.0 s ahead of" in sc.problem()
