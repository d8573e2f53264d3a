"""Retry decisions as data, and the retrier on a ManualClock (no network)."""
from __future__ import annotations

import random

import pytest

from krakenbot.client import endpoints
from krakenbot.client._transport import Budget
from krakenbot.client.retry import Retrier, RetryPolicy
from krakenbot.clock import ManualClock
from krakenbot.errors import (
    CircuitOpenError,
    ConnectionFailed,
    EndpointNotAllowed,
    InsufficientFundsError,
    InvalidNonceError,
    RateLimitError,
    RequestTimeout,
    ServiceUnavailableError,
    from_codes,
)

POLICY = RetryPolicy()
UNAVAILABLE = from_codes(["EService:Unavailable"], "X")


@pytest.mark.parametrize("endpoint", sorted(endpoints.names(private=True) - endpoints.names(effect=endpoints.Effect.READ)))
@pytest.mark.parametrize("error", [UNAVAILABLE, RequestTimeout("t"), ConnectionFailed("c"),
                                   InvalidNonceError("n", ("EAPI:Invalid nonce",))])
def test_writes_are_never_retried(endpoint, error):
    assert not POLICY.should_retry(endpoint, False, error, 1)


@pytest.mark.parametrize("endpoint", ["Balance", "OpenOrders", "QueryOrders", "ClosedOrders", "TradesHistory"])
@pytest.mark.parametrize("error", [UNAVAILABLE, RequestTimeout("t"), ConnectionFailed("c"),
                                   RateLimitError("r", ("EAPI:Rate limit exceeded",))])
def test_reads_retry_transient_errors_until_max_attempts(endpoint, error):
    assert POLICY.should_retry(endpoint, False, error, 1)
    assert POLICY.should_retry(endpoint, False, error, 2)
    assert not POLICY.should_retry(endpoint, False, error, 3)


def test_public_calls_are_idempotent():
    assert POLICY.should_retry("Ticker", True, UNAVAILABLE, 1)
    assert POLICY.should_retry("AnythingPublic", True, RequestTimeout("t"), 1)


def test_unknown_private_endpoints_are_not_retried():
    assert not POLICY.should_retry("Withdraw", False, UNAVAILABLE, 1)
    assert not POLICY.should_retry("SomethingNew", False, UNAVAILABLE, 1)


def test_invalid_nonce_once_for_reads_only():
    nonce = from_codes(["EAPI:Invalid nonce"], "Balance")
    assert POLICY.should_retry("Balance", False, nonce, 1)
    assert not POLICY.should_retry("Balance", False, nonce, 2)
    assert not POLICY.should_retry("AddOrder", False, nonce, 1)


@pytest.mark.parametrize("error", [InsufficientFundsError("f"), from_codes(["EAPI:Invalid key"]),
                                   CircuitOpenError("o"), EndpointNotAllowed("no"), ValueError("x")])
def test_permanent_and_local_errors_are_not_retried(error):
    assert not POLICY.should_retry("Balance", False, error, 1)


def test_policy_validates():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_backoff_is_exponential_capped_and_jitter_is_seeded():
    policy = RetryPolicy(base_delay=1, multiplier=2, max_delay=5, jitter=0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    jittered = RetryPolicy(base_delay=1, jitter=0.5)
    a = [jittered.delay(1, random.Random(7)) for _ in range(3)]
    b = [jittered.delay(1, random.Random(7)) for _ in range(3)]
    assert a == b and all(0.5 <= d <= 1.5 for d in a)


class Flaky:
    def __init__(self, errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": self.calls}


def test_retrier_sleeps_on_the_clock_and_succeeds():
    clock = ManualClock()
    retrier = Retrier(RetryPolicy(base_delay=1, multiplier=2, jitter=0), clock, random.Random(1))
    fn = Flaky([UNAVAILABLE, RequestTimeout("t")])
    assert retrier.run("Balance", False, fn) == {"ok": 3}
    assert clock.slept == [1, 2]


def test_retrier_gives_up_with_the_last_error():
    clock = ManualClock()
    retrier = Retrier(RetryPolicy(max_attempts=3, jitter=0), clock)
    fn = Flaky([UNAVAILABLE, UNAVAILABLE, RequestTimeout("last"), UNAVAILABLE])
    with pytest.raises(RequestTimeout):
        retrier.run("Ticker", True, fn)
    assert fn.calls == 3


def test_retrier_never_repeats_a_write():
    clock = ManualClock()
    retrier = Retrier(RetryPolicy(), clock)
    fn = Flaky([ServiceUnavailableError("u", ("EService:Unavailable",))])
    with pytest.raises(ServiceUnavailableError):
        retrier.run("AddOrder", False, fn)
    assert fn.calls == 1 and clock.slept == []


def test_retrier_stops_on_a_local_refusal_mid_way():
    clock = ManualClock()
    retrier = Retrier(RetryPolicy(max_attempts=5, jitter=0), clock)
    fn = Flaky([UNAVAILABLE, CircuitOpenError("open")])
    with pytest.raises(CircuitOpenError):
        retrier.run("Balance", False, fn)
    assert fn.calls == 2


# -- one deadline per call (issue #20, finding 10b) ----------------------------------------------

def test_back_off_waits_are_spent_from_the_call_budget_and_no_retry_starts_without_time():
    clock = ManualClock()
    retrier = Retrier(RetryPolicy(max_attempts=5, base_delay=4, multiplier=1, jitter=0), clock)
    budget = Budget(10)
    fn = Flaky([UNAVAILABLE] * 5)
    with pytest.raises(ServiceUnavailableError):
        retrier.run("Balance", False, fn, budget)
    # 10 s: back off 4 (6 left), back off 4 (2 left); a third 4 s wait would end past the deadline
    assert fn.calls == 3 and clock.slept == [4, 4] and budget.left == 2


def test_an_attempt_that_used_the_budget_is_not_retried():
    clock = ManualClock()
    retrier = Retrier(RetryPolicy(max_attempts=3, base_delay=0.1, jitter=0), clock)
    budget = Budget(30)

    def slow():  # what the transport does: the exchange spends what it took
        budget.left -= 28
        raise RequestTimeout("Ticker: answer not complete within the total timeout")

    with pytest.raises(RequestTimeout):
        retrier.run("Ticker", True, slow, budget)
    assert clock.slept == []  # 2 s left is under a tenth of 30 s: no back-off, no second attempt


def test_min_attempt_share_is_validated():
    with pytest.raises(ValueError):
        RetryPolicy(min_attempt_share=1)
