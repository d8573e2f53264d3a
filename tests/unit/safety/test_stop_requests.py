"""A stop request ends every wait at once (clock-injected: the ManualClock never moves for it)."""
from __future__ import annotations

import signal
import threading

import pytest

from krakenbot.client.pacing import CallCounterPacer
from krakenbot.clock import Interrupted, ManualClock, SystemClock, Wakeup
from krakenbot.orchestrator import Orchestrator


def test_a_stop_ends_a_rate_limit_back_off_without_waiting_it_out():
    clock, wakeup = ManualClock(), Wakeup()
    clock.wakeup = wakeup
    pacer = CallCounterPacer(clock, "starter")
    pacer.on_rate_limited()  # about 45 s of back-off ahead
    wakeup.request_stop(signal.SIGTERM)
    start = clock.time()
    with pytest.raises(Interrupted):
        pacer.acquire("Balance")
    assert clock.time() == start and clock.slept == []


def test_the_loop_stops_during_its_interval_and_says_it_was_interrupted():
    clock, wakeup = ManualClock(), Wakeup()
    clock.wakeup = wakeup
    cycles = []

    class Safety:  # the loop's view of the wrapper: every step a no-op, the first cycle asks to stop
        kill_switch = type("K", (), {"engaged": False, "reason": None})()
        mode = "read-only"

        def __getattr__(self, name):
            return lambda *a, **k: None

        def market_data_problem(self, pair, refresh=False):
            return "no market data in this test"

        def record_cycle(self, report):
            cycles.append(report)
            wakeup.request_stop(signal.SIGINT)

    orchestrator = Orchestrator(Safety(), clock, ("XBTEUR",), cycle_seconds=3600)
    assert orchestrator.run(threading.Event()) == 1
    assert orchestrator.interrupted is not None and orchestrator.interrupted.signum == signal.SIGINT
    assert len(cycles) == 1 and clock.slept == []


def test_the_system_clock_wakes_within_a_fraction_of_a_second():
    wakeup = Wakeup()
    clock = SystemClock(wakeup)
    threading.Timer(0.05, wakeup.request_stop, args=(signal.SIGTERM,)).start()
    started = clock.monotonic()
    with pytest.raises(Interrupted):
        clock.sleep(45)
    assert clock.monotonic() - started < 1.0


def test_a_check_request_runs_at_the_wait_and_the_wait_goes_on():
    wakeup, seen = Wakeup(), []
    wakeup.on_check = lambda: seen.append("checked")
    wakeup.request_check()
    SystemClock(wakeup).sleep(0.1)
    assert seen == ["checked"]
