"""Which failed calls may be sent again, and how long to wait first.

The policy is data (a frozen dataclass) so tests check decisions without a network.
Every Kraken private call is a POST, so the HTTP verb says nothing about safety: each
endpoint's row in ``client.endpoints`` says whether it is an idempotent read. Public calls
and private *reads* are retried on
``retryable`` errors (timeouts, 5xx, ``EService:Unavailable``, rate limits) with
exponential backoff and jitter; ``EAPI:Invalid nonce`` gets one retry with a fresh
nonce, reads only. Writes (AddOrder, CancelOrder, CancelAll, ...) and any endpoint not
in the table are never retried: a write that failed ambiguously may have taken effect, and
the executor reconciles it by ``cl_ord_id`` instead.

One deadline per call: a call's attempts and back-off waits share one ``Budget`` of
``Timeouts.total`` seconds (the transport cuts each exchange at what is left; the retrier counts
each back-off at its nominal length, which is what it takes on the system clock and nothing on a
``ManualClock``). A retry starts only if, after its back-off, at least ``min_attempt_share`` of
the total is left: otherwise the call ends with the last failure. So a read whose answer trickles
in ends after ``total`` seconds, not ``max_attempts`` times that plus the waits.

``Retrier`` runs the policy with tenacity. The first attempt runs outside tenacity, so a
call that succeeds (nearly every call) pays nothing for the retry machinery; only after a
retryable failure does tenacity take over, with that failure replayed as attempt 1.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Callable, TypeVar

from tenacity import RetryCallState, Retrying

from krakenbot.client import endpoints
from krakenbot.client._transport import Budget
from krakenbot.clock import Clock
from krakenbot.errors import InvalidNonceError, KrakenError, LocalRefusal

log = logging.getLogger("krakenbot.client")
T = TypeVar("T")

@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3  # including the first
    base_delay: float = 0.5  # seconds before the first retry
    multiplier: float = 2.0
    max_delay: float = 8.0
    jitter: float = 0.25  # +/- fraction of the delay, drawn from the retrier's seeded RNG
    nonce_retries: int = 1
    min_attempt_share: float = 0.1  # a retry needs this share of the call's total left after its back-off

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.multiplier < 1 or not 0 <= self.jitter < 1:
            raise ValueError("delays must be >= 0, multiplier >= 1, 0 <= jitter < 1")
        if not 0 <= self.min_attempt_share < 1:
            raise ValueError("min_attempt_share must be in [0, 1)")

    def affords(self, budget: Budget | None, delay: float) -> bool:
        """Is there time for a back-off of ``delay`` and a useful attempt after it?"""
        return budget is None or budget.left - delay >= budget.total * self.min_attempt_share

    def is_idempotent(self, endpoint: str, public: bool) -> bool:
        row = endpoints.lookup(endpoint)
        return public or (row is not None and row.idempotent)

    def should_retry(self, endpoint: str, public: bool, error: BaseException, attempt: int) -> bool:
        """May the call that just failed on ``attempt`` (1-based) be sent again?"""
        if not isinstance(error, KrakenError) or isinstance(error, LocalRefusal):
            return False
        if not self.is_idempotent(endpoint, public) or attempt >= self.max_attempts:
            return False
        if isinstance(error, InvalidNonceError):
            return attempt <= self.nonce_retries
        return bool(error.retryable)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed ``attempt`` (1-based): exponential, capped, jittered."""
        base = min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))
        if self.jitter and rng is not None:
            base *= 1 + rng.uniform(-self.jitter, self.jitter)
        return max(0.0, base)


NO_RETRY = RetryPolicy(max_attempts=1)


class Retrier:
    """Runs calls under a ``RetryPolicy``; sleeps on the injected clock."""

    def __init__(self, policy: RetryPolicy, clock: Clock, rng: random.Random | None = None) -> None:
        self.policy = policy
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()

    def run(self, endpoint: str, public: bool, attempt: Callable[[], T], budget: Budget | None = None) -> T:
        """``attempt()`` until it succeeds or the policy (or ``budget``, the call's time) says stop."""
        try:
            return attempt()
        except KrakenError as exc:
            if not self.policy.should_retry(endpoint, public, exc, 1):
                raise
            first_failure: KrakenError | None = exc

        def replaying() -> T:
            nonlocal first_failure
            if first_failure is not None:
                failure, first_failure = first_failure, None
                raise failure
            return attempt()

        policy, rng, clock = self.policy, self._rng, self._clock
        next_delay = 0.0

        def again(state: RetryCallState) -> bool:
            nonlocal next_delay
            if state.outcome is None or not state.outcome.failed:
                return False
            error = state.outcome.exception()
            if not policy.should_retry(endpoint, public, error, state.attempt_number):
                return False
            next_delay = policy.delay(state.attempt_number, rng)
            if not policy.affords(budget, next_delay):
                log.warning("%s failed (%s), not retried: %.2fs of the call's %.2fs left", endpoint,
                            type(error).__name__, max(budget.left, 0.0), budget.total)  # type: ignore[union-attr]
                return False
            return True

        def back_off(seconds: float) -> None:
            clock.sleep(seconds)
            if budget is not None:
                budget.left -= seconds

        retrying = Retrying(
            stop=lambda state: state.attempt_number >= policy.max_attempts,
            wait=lambda state: next_delay,
            retry=again,
            sleep=back_off,
            before_sleep=lambda state: log.warning(
                "%s failed (%s), retry %d/%d in %.2fs",
                endpoint,
                state.outcome.exception().__class__.__name__ if state.outcome else "?",
                state.attempt_number,
                policy.max_attempts - 1,
                state.next_action.sleep if state.next_action else 0.0,
            ),
            reraise=True,
        )
        return retrying(replaying)
