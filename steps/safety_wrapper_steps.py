"""The safety wrapper: per-mode allowlists, withdrawals, paper and canary orders, the live opt-in, the audit
trail, secrets in logs and output."""
from __future__ import annotations

import os
from decimal import Decimal
from unittest import mock

from behave import given, then, when
from hamcrest import (assert_that, contains_string, empty, equal_to, greater_than, has_item, has_length, instance_of,
                      is_, is_in, is_not, less_than_or_equal_to, not_none)

from krakenbot.errors import EndpointNotAllowed
from krakenbot.safety import LiveTradingRefused
from tools.spec_support.evidence import ALL_OPERATIONS, SPEC_ALLOWED
from tools.spec_support.facade import denial_codes, describe, exchange_order, status_name, submit
from tools.spec_support.log_capture import everything_logged_and_printed


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


@given("the operator has set the bot to live mode and gives the explicit live flag")
def step_set_to_live(context):
    context.world.configure(TRADING_MODE="live")
    context.world.notes["live_flag"] = True


@given("the operator has not consented to trading real money")
def step_no_live_consent(context):
    """KRAKEN_LIVE_TRADING left out altogether: the bot's own default is what is tested."""
    context.world.env.pop("KRAKEN_LIVE_TRADING", None)


@when("the operator starts the bot, which then tries to buy {volume:Amount} XBT at market")
def step_start_then_buy(context, volume):
    """The bot wired from its settings as ``krakenbot run`` does; should it start, it buys at once."""
    from krakenbot.bot import Bot
    from krakenbot.config import Settings
    from tools.spec_support import safety_evidence

    world = context.world
    settings = Settings.from_env(world.env)
    try:
        world.bot = Bot.build(settings, clock=world.clock, store_path=world.env["STORE_PATH"],
                              live_flag=world.notes["live_flag"])
    except LiveTradingRefused as exc:
        world.notes["refusal"] = exc
        return
    safety_evidence.observe(world)
    world.record_mode()
    submit(world, "buy", "market", volume)


@when("the bot sends an order to {side:Side} {volume:Amount} XBT at market straight to the exchange, "
      "without asking for validation only")
def step_raw_order(context, side, volume):
    """The raw call, as a plugin or a console holding the wrapper could make it, not ``submit_order``."""
    world = context.world
    world.notes["raw_answer"] = world.safety.call("AddOrder", pair="XBTEUR", type=side, ordertype="market",
                                                  volume=str(volume))


@when("code holding the bot's exchange client sends it an order to {side:Side} {volume:Amount} XBT at market, "
      "past the safety wrapper")
def step_client_order(context, side, volume):
    """The client's own guard is the last door: a plugin or a console holding the client, not the wrapper."""
    world = context.world
    try:
        world.safety.client.private("AddOrder", pair="XBTEUR", type=side, ordertype="market", volume=str(volume))
    except Exception as exc:  # the outcome under test: which error, if any
        world.notes["attempt_error"] = exc
    else:
        world.notes["attempt_error"] = None


# -- Then -----------------------------------------------------------------------------------------
@then("the bot refuses to start with one line saying live trading needs the operator's consent")
def step_refused_without_consent(context):
    world = context.world
    refusal = world.notes.get("refusal")
    started = world.mode if world.bot is not None else None
    assert_that(refusal, instance_of(LiveTradingRefused),
                f"the bot should refuse live mode without the consent, it started in {started} mode"
                + (f" and {describe(world.notes['outcome'])}" if "outcome" in world.notes else ""))
    text = str(refusal)
    assert_that("\n" in text.strip(), equal_to(False), f"one line: {text!r}")
    assert_that(text, contains_string("KRAKEN_LIVE_TRADING=yes"), "the refusal should name the missing consent")
    assert_that(world.bot, is_(None), "no bot should have been started")


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
    refused_rows = {r.get("endpoint") for r in world.safety.audit_log()
                    if r.get("allowed") is False and r.get("outcome") == "refused"}
    for op in world.notes["attempts"]:
        assert_that(refused_rows, has_item(op), f"the refused attempt to call {op} should be in the audit trail")


@then("the attempt is refused")
def step_attempt_refused(context):
    assert_that(context.world.notes["attempt_error"], instance_of(EndpointNotAllowed),
                "the attempt must be refused inside the bot")


@then("the exchange received no request at all for it")
def step_no_request_at_all(context):
    """Refused before sending: not a withdrawal, and no other request either (the exchange
    refuses withdrawals on this key anyway, so only the bot's own refusal can be tested)."""
    world = context.world
    if not world.on_simulator:  # no request log on the real exchange: the audit must show nothing sent
        sent = [r for r in world.safety.audit_log() if r.get("endpoint") == "Withdraw" and r.get("allowed") is not False]
        assert_that(sent, empty(), "the withdrawal must never have been let out")
        return
    reached = [f"#{r.seq} {r.endpoint}" for r in world.bot_calls(since=world.notes["when_mark"])]
    assert_that(reached, empty(), "the bot should refuse the withdrawal before anything is sent")


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


@then("the exchange only validated the order")
def step_raw_validated(context):
    answer = context.world.notes["raw_answer"]
    assert_that(answer.get("txid"), equal_to(None), f"a paper order must get no exchange id: {answer}")
    assert_that(answer.get("descr"), not_none(), f"the exchange should have checked the order: {answer}")


@then("the audit trail shows the switch to live mode as {verdict}")
def step_audit_live_switch(context, verdict):
    rows = [r for r in context.world.safety.audit_log() if r.get("action") == "mode"]
    assert_that(rows, is_not(empty()), "the attempt to switch to live mode should be audited")
    assert_that(rows[-1].get("allowed"), is_(verdict == "allowed"),
                f"the switch to live mode should be audited as {verdict}: {rows[-1]}")


@then("the audit trail shows the balance read as allowed")
def step_audit_allowed(context):
    rows = [r for r in context.world.safety.audit_log() if r.get("endpoint") == "Balance" and r.get("allowed") is True]
    assert_that(rows, is_not(empty()), "the balance read should be audited as allowed")


@then("the audit trail shows the withdrawal as refused")
def step_audit_refused(context):
    rows = [r for r in context.world.safety.audit_log() if r.get("endpoint") == "Withdraw" and r.get("allowed") is False]
    assert_that(rows, is_not(empty()), "the withdrawal attempt should be audited as refused")


@then("the exchange received exactly one order, a post-only limit order at least {pct:Amount}% from {mid:Amount} EUR "
      "on the side that waits, worth at most {cap:Amount} EUR")
def step_one_canary(context, pct, mid, cap):
    """Read from the exchange's own record: what the bot asked for is not what it must prove."""
    world = context.world
    sent = world.bot_calls("AddOrder", since=world.notes["when_mark"])
    assert_that(sent, has_length(1), "a canary cycle should send exactly one order")
    cl_ord_id = sent[0].params.get("cl_ord_id")
    order = next((o for o in world.sim.orders() if cl_ord_id and o.get("cl_ord_id") == cl_ord_id), None)
    assert_that(order, not_none(), f"the exchange should hold the canary order {cl_ord_id}")
    world.notes["canary"] = (sent[0], order)
    descr = order["descr"]
    side, price, volume = descr["type"], Decimal(descr["price"]), Decimal(order["vol"])
    assert_that(descr["ordertype"], equal_to("limit"), "a canary is a limit order: it names its price")
    assert_that(order.get("oflags", ""), contains_string("post"), "a canary is post-only: it can never take liquidity")
    far = mid * (1 - pct / 100) if side == "buy" else mid * (1 + pct / 100)
    assert_that(price <= far if side == "buy" else price >= far, is_(True),
                f"a canary {side} at {price} EUR should be at least {pct}% from {mid} EUR on the waiting side")
    assert_that(volume * price, less_than_or_equal_to(cap), f"the canary ({volume} XBT at {price}) is worth too much")


@then("the order was sent for {volume:Amount} XBT at {price:Amount} EUR")
def step_sent_for_at(context, volume, price):
    """Read from the exchange's own record of the order."""
    world = context.world
    order = exchange_order(world, world.notes["outcome"])
    assert_that((Decimal(order["vol"]), Decimal(order["descr"]["price"])), equal_to((volume, price)),
                "the order's volume and price on the exchange")


@then("the exchange accepted that order and the bot's next request on the account cancelled it")
def step_canary_cancelled_at_once(context):
    world = context.world
    sent, order = world.notes["canary"]
    assert_that(sent.outcome, equal_to("ok"), f"the exchange should accept the canary: {sent.error}")
    assert_that((order["status"], Decimal(order["vol_exec"])), equal_to(("canceled", Decimal(0))),
                "the canary should end cancelled, with nothing filled")
    after = [r for r in world.bot_calls(since=sent.seq + 1) if r.kind == "private"]
    assert_that(after, is_not(empty()), "the bot should have cancelled the canary")
    first = after[0]
    assert_that((first.endpoint, first.params.get("txid") or first.params.get("cl_ord_id")),
                is_in([("CancelOrder", order["txid"]), ("CancelOrder", order["cl_ord_id"])]),
                "the bot's very next request on the account should cancel the canary")


# -- a whole session, for the secrets ------------------------------------------------------------
def _cli_check(world):
    """``krakenbot check`` as the operator runs it (its own process state: settings from the environment)."""
    from krakenbot import cli

    empty = world.tmpdir / "empty.env"  # named, so that no .env of the working directory is read
    empty.touch(mode=0o600)
    with mock.patch.dict(os.environ, world.env):
        code = cli.main(["--env-file", str(empty), "--store", str(world.tmpdir / "cli.sqlite"), "check"])
    assert_that(code, equal_to(cli.EXIT_OK), "the connection check should succeed")


def _trade(world):
    for side in ("buy", "sell"):
        outcome = submit(world, side, "market", Decimal("0.01"))
        assert_that(outcome.placed, is_(True), f"the {side} should be placed: {describe(outcome)}")
    resting = submit(world, "buy", "limit", Decimal("0.01"), Decimal("59000"))
    assert_that(resting.placed, is_(True), f"the limit buy should rest: {describe(resting)}")
    world.safety.cancel_order(resting.cl_ord_id)


def _refused_withdrawal(world):
    assert_that(_attempt(world, "Withdraw", asset="XBT", key="operator-wallet", amount="0.5"),
                instance_of(EndpointNotAllowed), "the withdrawal should be refused")


def _exchange_errors(world):
    world.sim.faults.inject(endpoint="AddOrder", kind="error", error="EOrder:Insufficient funds", times=1)
    world.sim.faults.inject(endpoint="Balance", kind="error", error="EService:Unavailable", times=2)
    outcome = submit(world, "buy", "limit", Decimal("0.01"), Decimal("59000"))
    assert_that(outcome.placed, is_(False), f"the exchange should have refused the order: {describe(outcome)}")
    world.safety.balances()


SESSION = {
    "the operator checks the connection from the command line": _cli_check,
    "the bot buys and sells at market and cancels a resting order": _trade,
    "the bot runs one trading cycle": lambda world: world.bot.run_once(),
    "the bot attempts to withdraw, and is refused": _refused_withdrawal,
    "the exchange answers an order and a balance read with errors": _exchange_errors,
    "the bot's configuration is printed": lambda world: print(world.bot.settings),
}


@when("the bot goes through a whole session with everything it logs captured down to debug messages:")
def step_whole_session(context):
    world = context.world
    wanted = [row["step"].strip() for row in context.table]
    unknown = [s for s in wanted if s not in SESSION]
    assert_that(unknown, empty(), f"session steps the specification knows: {sorted(SESSION)}")
    with everything_logged_and_printed() as captured:
        for name in wanted:
            SESSION[name](world)
    world.notes["captured"] = captured


@then("nothing the bot logged or printed contains the key or the secret")
def step_nothing_leaked(context):
    world = context.world
    captured = world.notes["captured"]
    text = captured.text()
    # The capture must have seen the session, or a clean result would prove nothing.
    assert_that(captured.debug_enabled, is_(True), "the bot's loggers should have been captured at DEBUG")
    assert_that(captured.records, greater_than(0), "the session should have logged something")
    assert_that(captured.stdout.getvalue(), contains_string(f"{world.api_key[:4]}…"),
                "the connection check and the configuration should have been printed (with the key redacted)")
    assert_that(world.api_key[:5] in text, is_(False), "no more of the key than its first four characters may show")
    assert_that(world.api_secret in text, is_(False), "the secret must never be logged or printed")


# What each operation is called at the exchange, and the words of the bot's refusal that say which rule refused it.
_NO_MODE_OPERATIONS = {
    "to place several orders in one batch": "AddOrderBatch",
    "a withdrawal under a name the bot does not know": "WithdrawInstantly",
    "an operation the bot does not know": "MoveEverything",
    "to open a subaccount": "CreateSubaccount",
}
_REFUSALS = {
    "refused in every mode, each order having to pass the risk check alone":
        "is refused in every mode (each order passes the risk check alone)",
    "a funding operation, refused in every mode": "is a funding endpoint: refused in every mode",
    "on no list, refused by default": "is not on any allowlist (default deny)",
}


@when("the bot attempts {operation}, which no mode allows")
def step_attempt_no_mode(context, operation):
    world = context.world
    world.notes["attempted"] = name = _NO_MODE_OPERATIONS[operation]
    world.notes["attempt_error"] = _attempt(world, name)


@then("the audit trail shows the attempt refused as {refusal}")
def step_audit_refused_as(context, refusal):
    world = context.world
    name = world.notes["attempted"]
    rows = [r.get("reason") for r in world.safety.audit_log() if r.get("endpoint") == name and r.get("allowed") is False]
    assert_that(rows, has_length(1), f"the refused attempt to call {name} should be audited once")
    assert_that(rows[0], contains_string(f"{name} {_REFUSALS[refusal]}"), "the refusal should name the rule that refused it")


@then("the bot reports the order as not cancelled, because the exchange is in maintenance")
def step_cancel_refused_maintenance(context):
    outcome = context.world.notes["cancel"]
    assert_that((outcome.accepted, outcome.placed), equal_to((False, False)), f"the cancel was not done: {describe(outcome)}")
    assert_that(denial_codes(outcome), equal_to(["MARKET_STATUS"]), "the refusal should name the exchange's status")
    assert_that(outcome.reason, contains_string("maintenance"), "the operator should read why")


@then("the exchange received no request to cancel it")
def step_no_cancel_sent(context):
    world = context.world
    sent = [f"#{r.seq} {r.endpoint}" for r in world.bot_calls(since=world.notes["when_mark"])
            if r.endpoint.startswith("Cancel")]
    assert_that(sent, empty(), "no request to cancel should have left the bot")


@then("once the exchange shows its trades again, the bot's recovery records the order filled, with its fill")
def step_filled_once_readable(context):
    world = context.world
    world.sim.faults.clear()
    world.sim.advance(60)  # the failed reads opened the circuit breaker: its recovery time passes
    world.safety.recover()  # as at a start: refresh_orders and reconcile() leave a FILLED order's missing fill alone
    record = world.safety.order(world.notes["resting"][-1].cl_ord_id)
    fills = world.bot.store.fills(txid=record.txid) if record.txid else []
    assert_that((record.status, sum((f.volume for f in fills), Decimal(0))), equal_to(("FILLED", record.volume)),
                f"the bot should record the order filled, with its fill: {record}")


@given("the exchange fails every read of the account's trades, being unavailable for a while")
def step_trades_unreadable(context):
    for endpoint in ("QueryTrades", "TradesHistory"):
        context.world.sim.faults.inject(endpoint=endpoint, kind="error", error="EService:Unavailable", times=1000)


@then("the audit trail shows the cancel as {verdict}")
def step_audit_cancel(context, verdict):
    world = context.world
    cl_ord_id = world.notes["cancel"].cl_ord_id
    rows = [r for r in world.safety.audit_log() if r.get("action") == "cancel" and r.get("cl_ord_id") == cl_ord_id]
    assert_that([r.get("allowed") for r in rows], equal_to([{"let through": True, "refused": False}[verdict]]),
                f"the cancel should be audited once, as {verdict}: {rows}")
