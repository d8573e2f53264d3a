"""The safety wrapper: per-mode allowlists, withdrawals, paper orders, the live opt-in, the audit trail."""
from __future__ import annotations

import json

from behave import given, then, when
from hamcrest import (assert_that, contains_string, empty, equal_to, has_item, instance_of, is_, is_not,
                      not_none)

from krakenbot.errors import EndpointNotAllowed
from krakenbot.safety import LiveTradingRefused
from tools.spec_support.evidence import ALL_OPERATIONS, SPEC_ALLOWED
from tools.spec_support.facade import describe, status_name


def _attempt(world, endpoint, **params):
    try:
        world.safety.call(endpoint, **params)
    except Exception as exc:  # the outcome under test: which error, if any
        return exc
    return None


@when("the bot attempts every operation that {mode} mode does not allow")
def step_attempt_all(context, mode):
    world = context.world
    forbidden = set(ALL_OPERATIONS - SPEC_ALLOWED[mode])
    refused_by_bot = getattr(world.safety, "refused_endpoints", None)
    if callable(refused_by_bot):
        forbidden |= set(refused_by_bot())
    world.notes["attempts"] = {op: _attempt(world, op) for op in sorted(forbidden)}


@when("the bot attempts to withdraw {amount:Amount} XBT")
def step_withdraw(context, amount):
    world = context.world
    world.notes["attempt_error"] = _attempt(world, "Withdraw", asset="XBT", key="operator-wallet", amount=str(amount))


@when("the bot reads the balances")
def step_read_balances(context):
    context.world.notes["balances"] = context.world.safety.balances()


@given("the environment {setting} the live trading opt-in")
def step_env_opt_in(context, setting):
    context.world.notes["live_env"] = {"KRAKEN_LIVE_TRADING": "yes" if setting == "sets" else "no"}


@when("the operator switches to live mode {flag} the explicit live flag")
def step_switch_live(context, flag):
    world = context.world
    try:
        world.set_mode("live", live_flag=(flag == "with"), env=world.notes["live_env"])
    except LiveTradingRefused as exc:
        world.notes["refusal"] = exc


# -- Then -----------------------------------------------------------------------------------------
@then("every attempt is refused")
def step_all_refused(context):
    attempts = context.world.notes["attempts"]
    assert_that(len(attempts), is_not(equal_to(0)), "there should be operations outside the mode's list")
    not_refused = {op: repr(err) for op, err in attempts.items() if not isinstance(err, EndpointNotAllowed)}
    assert_that(not_refused, equal_to({}), "every operation outside the mode's list should be refused by the bot")


@then("none of them reached the exchange")
def step_none_reached(context):
    world = context.world
    if not world.on_simulator:
        return  # on the real exchange the refusal itself (nothing sent) is the evidence, checked above
    attempted = set(world.notes["attempts"])
    reached = [r.endpoint for r in world.exchange_calls() if r.endpoint in attempted]
    assert_that(reached, empty(), "a refused operation must never reach the exchange")


@then("every refused attempt is in the audit trail")
def step_all_audited(context):
    world = context.world
    refused_rows = {r.get("endpoint") for r in world.safety.audit_log() if r.get("allowed") is False}
    for op in world.notes["attempts"]:
        assert_that(refused_rows, has_item(op), f"the refused attempt to call {op} should be in the audit trail")


@then("the attempt is refused")
def step_attempt_refused(context):
    assert_that(context.world.notes["attempt_error"], instance_of(EndpointNotAllowed),
                "a withdrawal must be refused inside the bot")


@then("the exchange received no withdrawal request")
def step_no_withdrawal(context):
    world = context.world
    if world.on_simulator:
        reached = [r for r in world.exchange_calls() if r.endpoint.lower().startswith("withdraw")]
        assert_that(reached, empty(), "no withdrawal request may reach the exchange")


@then("the order is accepted as validated only")
def step_validated_only(context):
    outcome = context.world.notes["outcome"]
    assert_that(outcome.accepted, is_(True), f"the exchange should validate the order: {describe(outcome)}")
    assert_that(outcome.placed, is_(False), f"a paper order must not be placed: {describe(outcome)}")
    assert_that(outcome.txid, equal_to(None), "a validated-only order has no exchange id")
    assert_that(status_name(outcome.status), equal_to("validated"), "the bot should record it as validated only")


@then("the bot is in {mode} mode")
def step_in_mode(context, mode):
    assert_that(context.world.mode, equal_to(mode), f"the bot should be in {mode} mode")
    if mode != "live":
        assert_that(context.world.notes.get("refusal"), not_none(), "the refusal should be explained")


@then("the audit trail shows the balance read as allowed")
def step_audit_allowed(context):
    rows = [r for r in context.world.safety.audit_log() if r.get("endpoint") == "Balance" and r.get("allowed") is True]
    assert_that(rows, is_not(empty()), "the balance read should be audited as allowed")


@then("the audit trail shows the withdrawal as refused")
def step_audit_refused(context):
    rows = [r for r in context.world.safety.audit_log() if r.get("endpoint") == "Withdraw" and r.get("allowed") is False]
    assert_that(rows, is_not(empty()), "the withdrawal attempt should be audited as refused")


@then("the audit trail contains neither the key nor the secret")
def step_audit_clean(context):
    world = context.world
    text = json.dumps(world.safety.audit_log(), default=str)
    assert_that(world.api_key in text, is_(False), "the full key must never be in the audit trail")
    assert_that(world.api_secret in text, is_(False), "the secret must never be in the audit trail")
    assert_that(text, contains_string("Withdraw"), "the audit trail read should be the one with the attempts")
