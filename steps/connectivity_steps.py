"""Connecting to the exchange: keys, signatures, nonces, transient failures."""
from __future__ import annotations

import base64
import secrets
from decimal import Decimal

import requests
from behave import given, then, when
from hamcrest import (all_of, assert_that, contains_string, empty, equal_to, greater_than_or_equal_to, has_length, is_,
                      is_not, less_than_or_equal_to)

from tools.spec_support.facade import amount
from tools.spec_support.raw_client import signed_post


# -- Given ----------------------------------------------------------------------------------------
@given("the bot uses a key the exchange does not know")
def step_unknown_key(context):
    world = context.world
    world.configure(KRAKEN_API_KEY="UNKNOWN" + secrets.token_hex(26))


@given("the bot uses the right key with a wrong secret")
def step_wrong_secret(context):
    context.world.configure(KRAKEN_API_SECRET=base64.b64encode(secrets.token_bytes(64)).decode())


@given("another program using the bot's key has already sent a request numbered far ahead")
def step_foreign_nonce(context):
    """A second program on the same key signs its own request with a much higher nonce."""
    world = context.world
    before = len(world.sim.access_log)
    answer = signed_post(requests, world.sim.url, world.api_key, world.api_secret, "Balance", {}, nonce=10**18)
    world.foreign.update(r.seq for r in world.sim.access_log_since(before))
    assert_that(answer.get("error"), empty(), "the other program's request should be accepted")


@given("the bot has read the balances once")
def step_read_balances_once(context):
    context.world.safety.balances()


@given("the bot has read the balances once while the machine's clock ran {seconds:d} seconds fast")
def step_read_balances_clock_fast(context, seconds):
    context.world.run_request_numbering_clock_fast(seconds)
    context.world.safety.balances()


@given("the bot has been restarted since, with the clock set right")
def step_restart_clock_right(context):
    context.world.restart()  # the new bot numbers its requests by the machine's clock as it is


@given("the machine's clock stands still from now on")
def step_clock_stands_still(context):
    """The clock the bot numbers its requests by (the machine's wall clock, never the scenario's) stops
    just after the bot's last number: every request from now on reads the same time."""
    context.world.stop_request_numbering_clock()


@given("each request to the exchange may take at most {seconds:d} second, its retries and pauses included")
@given("each request to the exchange may take at most {seconds:d} seconds, its retries and pauses included")
def step_total_time_limit(context, seconds):
    limit = str(seconds)  # the time to connect and to wait for an answer fit within it
    context.world.configure(KRAKEN_TOTAL_TIMEOUT=limit, KRAKEN_CONNECT_TIMEOUT=limit, KRAKEN_READ_TIMEOUT=limit)


@given("the exchange is unavailable for the next {count:d} balance requests")
def step_unavailable_next(context, count):
    context.world.sim.faults.inject(endpoint="Balance", kind="error", error="EService:Unavailable", times=count)


@given("the exchange is unavailable for every balance request")
def step_unavailable_always(context):
    context.world.sim.faults.inject(endpoint="Balance", kind="error", error="EService:Unavailable", probability=1.0)


@given("the exchange refuses the next {count:d} balance requests for exceeding the rate limit")
def step_rate_limited_next(context, count):
    context.world.sim.faults.inject(endpoint="Balance", kind="error", error="EAPI:Rate limit exceeded", times=count)


# -- When -----------------------------------------------------------------------------------------
@when("the operator checks the connection")
def step_check_connection(context):
    world = context.world
    world.notes["report"] = world.safety.check_connection()


# -- Then -----------------------------------------------------------------------------------------
def _report(context):
    return context.world.notes["report"]


@then("the exchange is reported online")
def step_online(context):
    report = _report(context)
    assert_that(report.online, is_(True), f"the exchange should be reported online: {report!r}")
    assert_that(str(report.system_status), contains_string("online"), "the exchange's status should be online")


@then("the bot is reported as authenticated")
def step_authenticated(context):
    report = _report(context)
    assert_that(report.authenticated, is_(True), f"the exchange should accept the bot's key: {report.error!r}")


@then("the bot is reported as not authenticated")
def step_not_authenticated(context):
    report = _report(context)
    assert_that(report.authenticated, is_(False), "the bot should not claim a working connection")


@then('the reason given mentions "{words}"')
def step_reason_mentions(context, words):
    report = _report(context)
    assert_that(str(report.error or "").lower(), contains_string(words.lower()),
                f"the operator should be told the reason in words ('{words}')")


@then("no balance is shown")
def step_no_balance(context):
    assert_that(_report(context).balances or {}, equal_to({}), "no balance should be shown without a working key")


@then("the balances shown are the exchange's balances")
def step_balances_match(context):
    world, shown = context.world, _report(context).balances or {}
    if world.on_simulator:
        expected = {k: v for k, v in world.sim.balances().items() if v}
        assert_that({k: v for k, v in shown.items() if v}, equal_to(expected),
                    "the bot should show exactly the balances the exchange holds")
    else:
        assert_that(shown, is_not(equal_to({})), "the real account's balances should be shown")


# The bot varies each pause by up to a quarter (client/retry.py: RetryPolicy.jitter).
PAUSE_JITTER = Decimal("0.25")


@then("the exchange saw the balance request again after pauses of about")
def step_backoff(context):
    """Measured at the exchange (its clock is the bot's): a pause removed, shortened or no longer
    growing shows as a gap out of its band."""
    times = [Decimal(str(r.time)) for r in context.world.exchange_calls("Balance")]
    expected = [amount(row["pause, seconds"]) for row in context.table]
    assert_that(times, has_length(len(expected) + 1), "the failed read should be repeated once after each pause")
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    for gap, pause in zip(gaps, expected):
        assert_that(gap, all_of(greater_than_or_equal_to(pause * (1 - PAUSE_JITTER)),
                                less_than_or_equal_to(pause * (1 + PAUSE_JITTER))),
                    f"the bot should pause about {pause} s before repeating the read (pauses: {gaps})")


@then("the exchange refused no request for its sequence number")
def step_no_nonce_refusal(context):
    refused = [r for r in context.world.exchange_calls() if "nonce" in (r.error or "").lower()]
    assert_that(refused, empty(), "every request should carry a number above the last one the exchange accepted")


@then("the exchange was asked for the balances exactly {count:d} times")
def step_balance_calls_exactly(context, count):
    calls = context.world.exchange_calls("Balance")
    assert_that(calls, has_length(count), "a failing read is tried again only while its time limit allows")


@then("the exchange was asked for the balances at most {count:d} times")
def step_balance_calls_at_most(context, count):
    calls = context.world.exchange_calls("Balance")
    assert_that(len(calls), less_than_or_equal_to(count), "a failing read must not be retried without end")
