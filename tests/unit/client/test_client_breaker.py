from __future__ import annotations

import pytest

from krakenbot.client.breaker import BreakerState, CircuitBreaker
from krakenbot.clock import ManualClock
from krakenbot.errors import (
    CircuitOpenError,
    InsufficientFundsError,
    RequestTimeout,
    ServiceUnavailableError,
)


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[BreakerState, BreakerState, str]] = []

    def state_change(self, old, new, reason):
        self.changes.append((old, new, reason))


def unavailable():
    return ServiceUnavailableError("x", ("EService:Unavailable",), "Balance")


@pytest.fixture
def setup():
    clock = ManualClock()
    rec = Recorder()
    breaker = CircuitBreaker(clock, failure_threshold=3, window=10, recovery_timeout=30, success_threshold=2,
                             listeners=[rec])
    return clock, breaker, rec


def test_opens_after_threshold_failures_within_window(setup):
    clock, breaker, rec = setup
    for _ in range(2):
        breaker.before_call("Balance")
        breaker.record_failure(unavailable())
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call("Balance")
    breaker.record_failure(RequestTimeout("t", (), "Balance"))
    assert breaker.state is BreakerState.OPEN
    assert rec.changes[-1][:2] == (BreakerState.CLOSED, BreakerState.OPEN)
    assert "RequestTimeout" in rec.changes[-1][2]
    with pytest.raises(CircuitOpenError):
        breaker.before_call("Balance")
    assert breaker.stats.rejected_calls == 1 and breaker.stats.opened_count == 1


def test_failures_outside_the_window_do_not_add_up(setup):
    clock, breaker, _ = setup
    for _ in range(5):
        breaker.record_failure(unavailable())
        clock.advance(6)  # two failures never within 10 s of a third
    assert breaker.state is BreakerState.CLOSED


def test_business_errors_do_not_trip_it(setup):
    _, breaker, _ = setup
    for _ in range(10):
        breaker.record_failure(InsufficientFundsError("f", ("EOrder:Insufficient funds",)))
    assert breaker.state is BreakerState.CLOSED
    assert breaker.stats.failures == 0 and breaker.stats.successes == 10


def trip(breaker):
    for _ in range(3):
        breaker.record_failure(unavailable())
    assert breaker.state is BreakerState.OPEN


def test_half_open_after_recovery_then_closed_after_successes(setup):
    clock, breaker, rec = setup
    trip(breaker)
    clock.advance(29.9)
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.2)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call("Balance")  # the trial
    with pytest.raises(CircuitOpenError):
        breaker.before_call("Balance")  # only one trial at a time
    breaker.record_success()
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call("Balance")
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert [c[1] for c in rec.changes] == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_failed_trial_reopens(setup):
    clock, breaker, _ = setup
    trip(breaker)
    clock.advance(30)
    breaker.before_call("Ticker")
    breaker.record_failure(RequestTimeout("t", (), "Ticker"))
    assert breaker.state is BreakerState.OPEN
    assert breaker.stats.opened_count == 2
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        breaker.before_call("Ticker")
    clock.advance(1)
    breaker.before_call("Ticker")  # new trial after a fresh recovery timeout


def test_release_frees_the_trial_slot(setup):
    clock, breaker, _ = setup
    trip(breaker)
    clock.advance(30)
    breaker.before_call("Ticker")
    breaker.release()
    breaker.before_call("Ticker")


def test_broken_listener_does_not_break_the_breaker(setup):
    clock, breaker, _ = setup

    class Broken:
        def state_change(self, *a):
            raise RuntimeError("boom")

    breaker.add_listener(Broken())
    trip(breaker)
    assert breaker.state is BreakerState.OPEN


@pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"window": 0}, {"recovery_timeout": -1},
                                    {"success_threshold": True}])
def test_bad_settings_refused(kwargs):
    with pytest.raises(ValueError) as info:
        CircuitBreaker(ManualClock(), **kwargs)
    assert next(iter(kwargs)) in str(info.value)


def test_the_early_check_refuses_like_before_call_but_takes_no_trial_slot():
    clock = ManualClock()
    breaker = CircuitBreaker(clock, failure_threshold=1, recovery_timeout=30)
    breaker.ensure_not_open("Balance")                      # closed: passes
    breaker.record_failure(unavailable())
    with pytest.raises(CircuitOpenError):
        breaker.ensure_not_open("Balance")
    assert breaker.stats.rejected_calls == 1
    clock.advance(30)
    breaker.ensure_not_open("Balance")                      # half-open, slot free: passes, slot still free
    breaker.before_call("Balance")                          # so the real admission gets it
    with pytest.raises(CircuitOpenError):
        breaker.ensure_not_open("Balance")                  # a trial is in flight
