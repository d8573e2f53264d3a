"""Failing safe: circuit breaker, rate limits, exchange status, stale data, kill switch,
dead man's switch, and an order whose confirmation was lost."""
from __future__ import annotations

import os
from decimal import Decimal

from behave import given, then, when
from hamcrest import (assert_that, contains_string, empty, equal_to, has_key, has_length, is_, is_not,
                      less_than_or_equal_to, not_none)

from krakenbot.errors import KrakenError
from krakenbot.safety.reads import STATUS_TTL_S
from tools.spec_support.facade import (PAIR_ID, by_hand, denial_codes, describe, exchange_open_orders, exchange_order,
                                       status_name, submit)


def _breaker_state(world) -> str:
    state = world.safety.breaker.state
    return str(getattr(state, "value", getattr(state, "name", state))).upper()


def _read_price_quietly(world):
    try:
        world.safety.ticker("XBTEUR")
    except KrakenError as exc:
        world.notes.setdefault("errors", []).append(exc)


def _bot_requests(world) -> list:
    """What reached the exchange since the scenario's action began (steps' own requests excluded)."""
    return world.bot_calls(since=world.notes.get("when_mark", 0))


# How the exchange fails, as the features name it -> the simulator's fault.
FAILURES = {
    "an error page": {"kind": "http_status", "status": 503},
    "a service-unavailable error": {"kind": "error", "error": "EService:Unavailable"},
    "no answer in time": {"kind": "hang", "seconds": 0.3},
    "a dropped connection": {"kind": "reset"},
    "a garbled answer": {"kind": "truncated_json"},
}
# The bot waits 10 s for an answer; "no answer in time" is staged in milliseconds with a bot that
# waits 0.05 s (the simulator still answers a normal request in about a millisecond). Its whole-call
# bound (5 s) leaves room for the read's two retries: their back-off waits count against it too.
SHORT_PATIENCE = 0.05


# -- the exchange misbehaving ---------------------------------------------------------------------
@given("the exchange fails the next {count:d} requests")
def step_fail_next(context, count):
    context.world.sim.faults.inject(endpoint="*", kind="error", error="EService:Unavailable", times=count)


@given("the exchange answers the next {count:d} requests with {failure}")
def step_fail_next_with(context, count, failure):
    world = context.world
    assert_that(FAILURES, has_key(failure), f"the specification should know the failure '{failure}'")
    if FAILURES[failure]["kind"] == "hang":
        from krakenbot.client import Timeouts

        world.client_options["timeouts"] = Timeouts(connect=1.0, read=SHORT_PATIENCE, total=5.0)
        world.restart()
    world.sim.faults.inject(endpoint="*", times=count, **FAILURES[failure])


def _read_balances_quietly(world):
    """The balances: read at the exchange each time (a price the bot read a moment ago is reused)."""
    try:
        world.safety.balances()
    except KrakenError as exc:
        world.notes.setdefault("errors", []).append(exc)


@given("the exchange failed {count:d} of the bot's requests, the first of them {seconds:d} seconds ago")
def step_failed_seconds_ago(context, count, seconds):
    """Counted from the first failed request as the exchange saw it: the reads' own retry pauses come after it."""
    world = context.world
    mark = len(world.sim.access_log)
    world.sim.faults.inject(endpoint="*", kind="error", error="EService:Unavailable", times=count)
    failed: list = []
    while len(failed) < count and len(world.notes.get("errors", [])) <= count:
        _read_balances_quietly(world)
        failed = [r for r in world.exchange_calls() if r.seq >= mark and r.outcome != "ok"]
    assert_that(failed, has_length(count), "the exchange should have failed that many of the bot's requests")
    assert_that(_breaker_state(world), equal_to("CLOSED"), f"{count} failures should not open the circuit breaker")
    world.sim.advance(failed[0].time + seconds - world.clock.time())


@when("the exchange fails the bot's next request")
def step_fail_one_more(context):
    world = context.world
    world.sim.faults.inject(endpoint="*", kind="error", error="EService:Unavailable", times=1)
    _read_balances_quietly(world)


@given("the circuit breaker has opened after repeated failures")
def step_breaker_opened(context):
    world = context.world
    world.sim.faults.inject(endpoint="*", kind="error", error="EService:Unavailable", probability=1.0)
    for _ in range(20):
        if _breaker_state(world) == "OPEN":
            break
        try:  # the balances: read at the exchange each time (a price the bot read a moment ago is reused)
            world.safety.balances()
        except KrakenError as exc:
            world.notes.setdefault("errors", []).append(exc)
    assert_that(_breaker_state(world), equal_to("OPEN"), "repeated failures should open the circuit breaker")


@given("{seconds:d} seconds have passed since the circuit breaker opened")
def step_since_opened(context, seconds):
    """Counted from the opening itself: the read that opened it still waits out its retry pause after."""
    world = context.world
    opened_at = world.safety.breaker.stats.opened_at
    assert_that(opened_at, not_none(), "the circuit breaker should have opened")
    world.sim.advance(opened_at + seconds - world.safety.clock.monotonic())


@then("after the circuit breaker's recovery wait the bot records every order as cancelled")
def step_records_catch_up(context):
    """The open breaker held back the reads after the kill: once it lets a trial through, the next
    refresh brings the records up to what the exchange did."""
    world = context.world
    step_since_opened(context, 30)
    world.safety.refresh_orders()
    statuses = {o["txid"]: status_name(world.safety.order(o["cl_ord_id"]).status) for o in world.sim.orders()}
    assert_that(set(statuses.values()), equal_to({"cancelled"}), f"the bot's records after the kill: {statuses}")


@given("the exchange has recovered")
def step_recovered(context):
    context.world.sim.faults.clear()


@given("the exchange is in {status} mode")
def step_system_status(context, status):
    context.world.sim.set_system_status(status.replace("-", "_"))  # Kraken spells them cancel_only, post_only
    # The bot caches SystemStatus for STATUS_TTL_S; Kraken announces a status change ahead, so
    # "is in <status> mode" means it has been for longer than that (an order inside the TTL is
    # refused by the exchange itself: see the wrapper's unit tests).
    context.world.sim.advance(STATUS_TTL_S + 1)


@given("the exchange has put {pair:Pair} alone in {status} mode")
def step_pair_status(context, pair, status):
    """One market restricted while the exchange as a whole is online. The bot reads a pair's rules once an
    hour; a restriction Kraken announced ahead is in them, so the bot is restarted (same store) to read it."""
    world = context.world
    world.sim.set_pair_status(pair, status.replace("-", "_"))
    world.restart()


@given("the exchange stops answering price requests")
def step_no_prices(context):
    for endpoint in ("Ticker", "Depth", "OHLC", "Spread", "Trades"):
        context.world.sim.faults.inject(endpoint=endpoint, kind="error", error="EService:Unavailable", probability=1.0)


@given("the price of {pair:Pair} has fallen to {price:Amount} EUR and the bot read it a moment ago")
def step_fell_and_read(context, pair, price):
    world = context.world
    world.sim.set_price(pair, price)
    world.sim.advance(5)  # a few seconds after the last cycle: its price is no longer the bot's cached one
    ticker = world.safety.ticker(pair)
    assert_that(ticker.ask, less_than_or_equal_to(price * Decimal("1.001")), "the bot should have read the fallen price")


@given("the exchange will take the next order but lose its confirmation")
def step_drop_confirmation(context):
    context.world.sim.faults.inject(endpoint="AddOrder", kind="accept_then_drop", times=1)


@when("the bot reads the price of {pair:Pair} {times}, a minute apart")
def step_read_spaced(context, pair, times):
    world = context.world
    count = {"once": 1, "twice": 2}[times]
    for _ in range(count):
        world.sim.advance(60)
        _read_price_quietly(world)


@when("the bot reads the price of {pair:Pair} and the balances")
def step_read_price_and_balances(context, pair):
    world = context.world
    world.notes["read_errors"] = []
    for read in (lambda: world.safety.ticker(pair), world.safety.balances):
        try:
            read()
        except KrakenError as exc:
            world.notes["read_errors"].append(exc)


@when("the bot reads the price of {pair:Pair} and, while the exchange is answering, reads the balances")
def step_read_during_trial(context, pair):
    """The balance read is made while the price read, the breaker's trial, is at the exchange."""
    world = context.world
    world.notes["read_errors"] = []

    def read_balances():
        try:
            world.safety.balances()
        except KrakenError as exc:
            world.notes["read_errors"].append(exc)

    world.sim.faults.on_arrival("Ticker", read_balances)
    _read_price_quietly(world)


@given("the bot has just read the balances {count:d} times, its request allowance filled up to the reserve")
def step_allowance_at_reserve(context, count):
    world = context.world
    for _ in range(count):
        world.safety.balances()


@when("the bot reads the balances and, while it waits for its turn, failing price reads open the circuit breaker")
def step_read_waiting_while_breaker_opens(context):
    """The balance read passed the breaker's early check and waits (on the scenario's clock) for room in
    the allowance; during that wait the price reads fail until the breaker opens."""
    world = context.world
    world.notes["read_errors"] = []
    fired: list[float] = []

    def fail_price_reads(now: float) -> None:
        if fired:  # once: the price reads' own pauses move the clock too
            return
        fired.append(now)
        world.sim.faults.inject(endpoint="Ticker", kind="error", error="EService:Unavailable", probability=1.0)
        for _ in range(5):
            if _breaker_state(world) == "OPEN":
                break
            try:
                world.safety.call("Ticker", pair="XBTEUR")
            except KrakenError as exc:
                world.notes.setdefault("errors", []).append(exc)

    world.clock.on_advance(fail_price_reads)
    try:
        world.safety.balances()
    except KrakenError as exc:
        world.notes["read_errors"].append(exc)
    finally:
        world.clock.off_advance(fail_price_reads)
    assert_that(fired, has_length(1), "the balance read should have waited for its turn")
    assert_that(_breaker_state(world), equal_to("OPEN"), "the failing price reads should have opened the breaker")


@when("the bot reads the price of {pair:Pair} while the exchange is still failing")
def step_read_while_failing(context, pair):
    _read_price_quietly(context.world)


@given("the exchange will answer the next order with an error page")
def step_error_page(context):
    context.world.sim.faults.inject(endpoint="AddOrder", kind="http_status", status=503, times=1)


@given("the exchange ignores the client reference when the bot looks its orders up")
def step_lookup_filter_ignored(context):
    """Each look-up of open or closed orders by client reference answers with every order of the account."""
    for endpoint in ("OpenOrders", "ClosedOrders"):
        context.world.sim.faults.inject(endpoint=endpoint, kind="filter_ignored", times=1000)


# -- the bot and the operator ---------------------------------------------------------------------
@when("the bot reads the balances {count:d} times in a row")
def step_read_balances_n(context, count):
    world = context.world
    for _ in range(count):
        try:
            world.safety.balances()
        except KrakenError as exc:
            world.notes.setdefault("errors", []).append(exc)


@given("the bot has sent no price request for a minute")
def step_quiet_minute(context):
    context.world.sim.advance(60)


@when("the bot asks the exchange for the price of {pair:Pair} {count:d} times in a row")
def step_raw_tickers(context, pair, count):
    """Straight to the exchange, past the bot's market data cache: each read is one public request."""
    world = context.world
    for _ in range(count):
        world.safety.call("Ticker", pair=pair)


@given("the bot has run one trading cycle at that price")
@when("the bot runs one trading cycle")
def step_run_once(context):
    context.world.notes["cycle"] = context.world.bot.run_once()


@when("the bot runs one trading cycle {minutes:d} minutes later")
def step_run_once_later(context, minutes):
    context.world.sim.advance(minutes * 60)
    step_run_once(context)


@given("the bot has run a trading cycle every minute for {minutes:d} minutes")
def step_cycles_every_minute(context, minutes):
    for _ in range(minutes):
        step_run_once_later(context, 1)


@when("the bot runs its next trading cycle a minute later")
def step_next_cycle(context):
    """A minute: the loop's pause between cycles, so the cycle sees the price of now, not a cached one."""
    step_run_once_later(context, 1)


@given("the operator has pulled the kill switch")
@when("the operator pulls the kill switch")
def step_kill(context):
    context.world.safety.kill("operator pulled the kill switch in the specification")


@given("the operator has pulled the kill switch without giving a reason")
def step_kill_no_reason(context):
    context.world.safety.kill("")


@given("the operator has pulled the kill switch naming a home no bot has run in yet, its folders not yet made")
def step_kill_new_home(context):
    """``krakenbot kill --home`` as the operator runs it, in-process; then the bot is started on that home's kill file."""
    world = context.world
    home = world.tmpdir / "not-yet" / "made" / "home"
    named = {k: v for k, v in world.env.items() if k not in ("KILL_SWITCH_FILE", "STORE_PATH")}  # the home alone
    _kill_command(world, named, "--home", str(home), "--reason", "before the first start")
    world.configure(KILL_SWITCH_FILE=str(home / "KILL_SWITCH"))


def _kill_command(world, env: dict, *args: str) -> tuple[int, str]:
    """``krakenbot kill ARGS`` in-process with exactly ``env`` as its environment: its exit code and output."""
    import contextlib
    import io
    from unittest import mock

    from krakenbot import cli

    empty = world.tmpdir / "empty.env"  # no ./.env of the checkout can slip in
    empty.touch(mode=0o600)
    out = io.StringIO()
    with mock.patch.dict(os.environ, env, clear=True), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(["--env-file", str(empty), "kill", *args])
    return code, out.getvalue()


@given("the operator, who named no home for the bot, has pulled the kill switch from the command line")
def step_kill_default_home(context):
    """``krakenbot kill`` with the environment the bot runs with, no KRAKENBOT_HOME nor KILL_SWITCH_FILE in
    it: both find the home the same way, in the user's state folder (XDG_STATE_HOME); the bot restarts on it."""
    world = context.world
    world.env.pop("KILL_SWITCH_FILE", None)
    world.env.pop("KRAKENBOT_HOME", None)
    world.env["XDG_STATE_HOME"] = str(world.tmpdir / "state")
    code, output = _kill_command(world, world.env, "--reason", "operator: stop, default home")
    assert_that(code, equal_to(0), f"the kill command should succeed: {output}")
    world.configure()


@given("another program holds the bot's records locked")
def step_store_locked(context):
    """A write lock on the bot's database held past the kill command's short wait for it (as a
    backup or a second tool in the middle of a write would): the command cannot use the records."""
    db = context.world.bot.store._db
    db.execute("BEGIN IMMEDIATE")
    context.world.mends.append(lambda: db.execute("ROLLBACK"))


@when("the operator pulls the kill switch from the command line, the machine's clock set right again")
def step_kill_command_clock_right(context):
    """``krakenbot kill`` in-process, in the bot's environment: its requests are numbered by the machine's
    clock as it is (the running bot's clock stays fast)."""
    world = context.world
    world.notes["kill_exit"], world.notes["kill_output"] = _kill_command(world, world.env, "--reason", "records locked")


@then("once its records are free again, the bot's refresh a quarter of a minute later records every order as cancelled")
def step_records_catch_up_after_kill_command(context):
    """The kill command numbered its requests above the bot's saved mark, which is at most 10 s of
    numbers ahead of the bot's own: 15 s later (the scenario's clock and the one the bot numbers its
    requests by) the bot's requests are above the command's again, and its refresh catches up."""
    world = context.world
    world.mend()  # the other program lets go of the records
    nonces = world.safety.client.nonces
    numbering = nonces._now
    nonces._now = lambda: numbering() + 15_000_000  # as run_request_numbering_clock_fast
    world.sim.advance(15)
    world.safety.refresh_orders()
    statuses = {o["txid"]: status_name(world.safety.order(o["cl_ord_id"]).status) for o in world.sim.orders()}
    assert_that(set(statuses.values()), equal_to({"cancelled"}), f"the bot's records after the kill: {statuses}")


@then('the refusal gives the operator\'s reason, "{reason}"')
def step_refusal_reason(context, reason):
    outcome = context.world.notes["outcome"]
    assert_that(outcome.reason, contains_string(reason), f"the operator should read why trading stopped: {outcome}")


@given("the operator has left the kill switch file")
def step_kill_file(context, text="operator: stop everything\n"):
    world = context.world
    path = world.tmpdir / "KILL_SWITCH"
    assert_that(world.env["KILL_SWITCH_FILE"], equal_to(str(path)), "the bot should watch the scenario's kill file")
    path.write_text(text)


@given("the operator has left an empty kill switch file, made by hand")
def step_empty_kill_file(context):
    step_kill_file(context, text="")  # `touch KILL_SWITCH`: no reason in it


@given("the exchange is slow to answer the bot's balance check before an order")
def step_slow_balance_check(context):
    context.world.sim.faults.inject(endpoint="BalanceEx", kind="latency", seconds=3, times=1)


@given("the operator leaves the kill switch file while the bot waits for that answer")
def step_kill_file_meanwhile(context):
    """The exchange holds the bot's pre-order balance read while the operator creates the file
    (as ``krakenbot kill`` does from another terminal): the bot's first check had passed."""
    world = context.world
    path = world.tmpdir / "KILL_SWITCH"
    world.sim.faults.on_arrival("BalanceEx", lambda: path.write_text("operator: stop, mid-decision\n"))


@given("the disk holding the bot's records refuses every write from now on")
def step_store_read_only(context):
    """The bot's database becomes read-only under it, as on a disk remounted read-only: every
    write fails with SQLite's "attempt to write a readonly database". Staged on the store's own
    connection (``PRAGMA query_only``): the specification runs as root, whom file modes do not
    stop, and an open descriptor keeps writing after a chmod. Lifted before the bot closes."""
    db = context.world.bot.store._db
    db.execute("PRAGMA query_only=ON")
    context.world.mends.append(lambda: db.execute("PRAGMA query_only=OFF"))


@given("the disk holding the bot's records refuses every write from the moment the exchange receives the next order")
def step_store_read_only_at_order(context):
    """As above, staged on the order's arrival at the exchange: the bot wrote its intent down, the exchange
    takes the order, and what follows (the acknowledgement) cannot be written."""
    db = context.world.bot.store._db
    context.world.sim.faults.on_arrival("AddOrder", lambda: db.execute("PRAGMA query_only=ON"))
    context.world.mends.append(lambda: db.execute("PRAGMA query_only=OFF"))


@then("once the disk takes writes again, the bot's refresh half a minute later records the order under the exchange's "
      "reference")
def step_recorded_after_disk(context):
    """Past the order's deadline at the exchange (15 s): the look-up by client reference cannot race its send."""
    world = context.world
    world.mend()  # the disk back to read-write
    world.sim.advance(30)
    world.safety.refresh_orders()
    outcome = world.notes["outcome"]
    record = world.safety.order(outcome.cl_ord_id)
    assert_that(record.txid, equal_to(exchange_order(world, outcome)["txid"]),
                f"the bot's record should catch up with the exchange: {record}")


@then("the bot reports the order as placed at the exchange, and that it could not write it down")
def step_placed_not_recorded(context):
    """A caller told "not placed" may ask again (a protective exit does): a second order."""
    world = context.world
    outcome = world.notes["outcome"]
    assert_that(outcome.placed, is_(True), f"the exchange took the order, so it is placed: {describe(outcome)}")
    assert_that(exchange_order(world, outcome), not_none(), "the txid reported should be the exchange's order")
    assert_that(denial_codes(outcome), equal_to(["STORE_FAILURE"]), f"the record's failure is reported: {outcome}")


@given("the bot has a limit buy of {volume:Amount} XBT at {price:Amount} EUR whose outcome it never learnt")
def step_unknown_outcome(context, volume, price):
    """The exchange takes the order but the answer is lost, and every look-up that follows fails until
    the bot gives up: the order rests at the exchange while the bot holds it as of unknown outcome."""
    world = context.world
    world.sim.faults.inject(endpoint="AddOrder", kind="accept_then_drop")
    for endpoint in ("OpenOrders", "ClosedOrders"):
        world.sim.faults.inject(endpoint=endpoint, kind="error", error="EService:Unavailable", times=1000)
    try:
        outcome = world.safety.submit_order("XBTEUR", "buy", "limit", volume, price)
    finally:
        world.sim.faults.clear()
    world.sim.advance(60)  # the failed look-ups opened the circuit breaker: its recovery time passes
    assert_that(outcome.status, equal_to("UNKNOWN"), f"the bot should not know the order's outcome: {outcome}")
    assert_that(exchange_order(world, outcome), not_none(), "the exchange should hold the order")
    world.notes.setdefault("resting", []).append(outcome)


@then("the bot reports that the cancel was sent but could not be written down")
def step_cancel_sent_not_recorded(context):
    cancel = context.world.notes["cancel"]
    assert_that(cancel.codes, equal_to(["STORE_FAILURE"]), f"the cancel should be reported unrecorded: {cancel}")
    assert_that(cancel.reason, contains_string("cancel was sent"), "the report should say the cancel left")


@given("the operator has pulled the kill switch and then resumed trading")
def step_kill_and_resume(context):
    step_kill(context)
    context.world.safety.resume("operator resumed in the specification")


@when("the operator tries to resume trading")
def step_resume(context):
    try:
        context.world.safety.resume("operator resumed in the specification")
    except Exception as exc:  # the refusal is the outcome under test
        context.world.notes["resume_error"] = exc


@then("resuming is refused because the kill file is still there")
def step_resume_refused(context):
    error = context.world.notes.get("resume_error")
    assert_that(error, not_none(), "resuming must be refused while the kill file exists")
    assert_that(str(error), contains_string("kill file"), "the refusal should name the kill file")


@then("resuming is refused because the bot's records cannot be written, in one plain line")
def step_resume_refused_store(context):
    from krakenbot.errors import StoreFailure

    error = context.world.notes.get("resume_error")
    assert_that(error, not_none(), "resuming must be refused while nothing can be written down")
    assert_that(isinstance(error, StoreFailure), is_(True),
                f"the operator should get the bot's own store failure, not a database error: {error!r}")
    assert_that(str(error), contains_string("store failed"), "the message should say the records failed")
    assert_that(len(str(error).splitlines()), equal_to(1), f"one line: {error}")


@then("the bot reports trading as halted")
def step_reports_halted(context):
    status = context.world.safety.status()
    assert_that(status["kill_switch"]["engaged"], is_(True), f"the kill switch should still be engaged: {status}")


@given("the bot has armed the dead man's switch for {seconds:d} seconds")
def step_arm_dms(context, seconds):
    context.world.safety.arm_dead_mans_switch(timeout=seconds)


@given("the exchange refuses every request to arm the dead man's switch")
def step_refuse_dms_always(context):
    context.world.sim.faults.inject(endpoint="CancelAllOrdersAfter", kind="error", error="EService:Unavailable",
                                    probability=1.0)


@given("the exchange refuses the next {count:d} requests to arm the dead man's switch for exceeding the rate limit")
def step_refuse_dms_rate_limit(context, count):
    context.world.sim.faults.inject(endpoint="CancelAllOrdersAfter", kind="error", error="EAPI:Rate limit exceeded",
                                    times=count)


@then("the exchange holds the bot's dead man's switch armed")
def step_dms_armed_at_exchange(context):
    held = context.world.sim.dead_mans_switch(context.world.account)
    assert_that(held["armed"], is_(True), f"the exchange should count down to cancel the bot's orders: {held}")


@when("{seconds:d} seconds pass without a sign of life from the bot")
def step_silence(context, seconds):
    context.world.sim.advance(seconds)


@when("{minutes:d} minutes pass with a sign of life from the bot every {every:d} seconds")
def step_alive(context, minutes, every):
    world = context.world
    for _ in range(minutes * 60 // every):
        world.sim.advance(every)
        world.safety.keep_alive()


# -- Then -----------------------------------------------------------------------------------------
@then("the circuit breaker is open")
def step_breaker_open(context):
    assert_that(_breaker_state(context.world), equal_to("OPEN"), "repeated failures should open the circuit breaker")


@then("the exchange saw {count:d} failed requests")
def step_failed_requests(context, count):
    failed = [r for r in _bot_requests(context.world) if r.outcome != "ok"]
    assert_that(failed, has_length(count), "each failed request at the exchange, retries included, is one failure")


@then("no balance request reached the exchange")
def step_no_balance_request(context):
    sent = context.world.bot_calls("Balance", since=context.world.notes["when_mark"])
    assert_that(sent, empty(), "a read waiting for its turn should not go out once the circuit breaker is open")


@then("the exchange saw {count:d} requests in all")
@then("exactly {count:d} request reached the exchange, the trial")
def step_requests_in_all(context, count):
    """Once the breaker opens (or reopens after a failed trial), not even the read's own retry is sent."""
    requests = _bot_requests(context.world)
    assert_that(requests, has_length(count),
                f"nothing more should be sent once the circuit breaker is open: {[r.endpoint for r in requests]}")


def _reads_refused(context, count):
    errors = context.world.notes["read_errors"]
    assert_that([type(e).__name__ for e in errors], equal_to(["CircuitOpenError"] * count),
                f"each read should be refused by the circuit breaker: {errors}")


@then("both reads are refused because the circuit breaker is open")
def step_reads_refused(context):
    _reads_refused(context, 2)


@then("the balance read is refused because the circuit breaker is open")
def step_balance_read_refused(context):
    _reads_refused(context, 1)


@then("the exchange received no request")
def step_no_request(context):
    assert_that(_bot_requests(context.world), empty(), "nothing should reach the exchange while the breaker is open")


@then("the exchange saw the balance request {count:d} times, with a pause of at least {gap:d} seconds before each repeat")
def step_spaced_requests(context, count, gap):
    times = [r.time for r in context.world.exchange_calls("Balance")]
    assert_that(times, has_length(count), "the refused read should be tried again, a limited number of times")
    for earlier, later in zip(times, times[1:]):
        assert_that(later - earlier >= gap, is_(True),
                    f"the bot should wait at least {gap} s after a rate-limit refusal (times: {times})")


@then("the circuit breaker is still trying the exchange")
def step_breaker_half_open(context):
    assert_that(_breaker_state(context.world), equal_to("HALF_OPEN"),
                "one successful trial should not yet close the circuit breaker")


@then("the circuit breaker is closed")
def step_breaker_closed(context):
    assert_that(_breaker_state(context.world), equal_to("CLOSED"), "the breaker should close once calls succeed again")


@then("the exchange saw the first {burst:d} price requests at once and each of the other {rest:d} one second "
      "after the one before")
def step_public_pacing(context, burst, rest):
    times = [r.time for r in _bot_requests(context.world) if r.endpoint == "Ticker"]
    assert_that(times, has_length(burst + rest), "every price request should reach the exchange")
    gaps = [round(later - earlier, 3) for earlier, later in zip(times, times[1:])]
    assert_that(gaps, equal_to([0.0] * (burst - 1) + [1.0] * rest),
                f"a burst of {burst} then one request a second (gaps between requests, s: {gaps})")


@then("the exchange answered all {count:d} balance reads")
def step_all_reads_answered(context, count):
    answered = context.world.exchange_calls("Balance", outcome="ok")
    assert_that(answered, has_length(count), "every read should reach the exchange and be answered")


@then("the exchange never refused a request for exceeding the rate limit")
def step_no_rate_refusal(context):
    refused = [r for r in context.world.exchange_calls() if "Rate limit" in (r.error or "")]
    assert_that(refused, empty(), "the bot should pace itself below the exchange's limit")


@then("the exchange's request counter never went above its maximum")
def step_counter_peak(context):
    world = context.world
    counters = world.sim.counters(world.api_key)
    assert_that(counters["api_peak"], less_than_or_equal_to(counters["api_max"]),
                "the exchange's request counter for the bot's key should stay within its allowance")


@then("the bot records that it skipped the trading cycle because its market data is stale")
def step_stale_recorded(context):
    """The cycle's own record: the loop stopped before asking the strategy (the order gates and the
    risk check refuse a stale price too, but this is the rule that keeps the strategy out of it)."""
    world = context.world
    cycles = [a for a in world.safety.audit_log() if a.get("action") == "cycle"]
    assert_that(cycles, is_not(empty()), "the trading cycle should be recorded")
    last = cycles[-1]
    assert_that(last.get("outcome"), equal_to("skipped"), f"the cycle should be skipped: {last}")
    assert_that(str(last.get("reason", "")), contains_string("STALE_DATA"),
                f"the cycle should say its market data is stale: {last}")


@then("the exchange received that order exactly once")
def step_sent_once(context):
    sent = context.world.bot_calls("AddOrder")  # orders placed by hand on the account are not the bot's
    assert_that(sent, has_length(1), "an order whose outcome is unclear must never be sent again")


@then("the bot does not count the order as placed")
def step_not_placed(context):
    world = context.world
    outcome = world.notes["outcome"]
    assert_that(outcome.placed, is_(False), "an order the exchange never confirmed is not placed")
    record = world.safety.order(outcome.cl_ord_id)
    assert_that(record.txid, equal_to(None), "the bot should not invent an exchange id")
    assert_that(str(record.status).upper(), equal_to("REJECTED"),
                "once the lookup by client reference finds nothing, the order is settled as not placed")


@then("exactly {count:d} order is open on the exchange")
def step_exactly_open(context, count):
    assert_that(exchange_open_orders(context.world), has_length(count),
                "the order should exist on the exchange exactly once")


@then("the bot knows that order by its client reference")
def step_bot_knows(context):
    world = context.world
    outcome = world.notes["outcome"]
    order = exchange_order(world, outcome)
    assert_that(order, not_none(), "the exchange's order should carry the bot's client reference")
    record = world.safety.order(outcome.cl_ord_id)
    assert_that(record.txid, equal_to(order["txid"]), "the bot should have found the exchange's order id")
    assert_that(str(record.status).upper(), is_(equal_to("OPEN")), "the bot should know the order is open")


# -- false answers: the exchange's answer contradicts what it holds -------------------------------
def _contradictions(world) -> list[dict]:
    return [row for row in world.safety.audit_log() if row.get("action") == "exchange_contradiction"]


@given("the exchange will put the next order on the book but answer that the account lacks the funds")
def step_refused_but_placed(context):
    context.world.sim.faults.inject(endpoint="AddOrder", kind="error_but_processed",
                                    error="EOrder:Insufficient funds", times=1)


@given("the exchange will confirm the next order with the reference of the order before it")
def step_replayed_confirmation(context):
    context.world.sim.faults.inject(endpoint="AddOrder", kind="replayed_answer", times=1)


@given("the exchange will confirm the next order with a reference it never issued")
def step_phantom_confirmation(context):
    context.world.sim.faults.inject(endpoint="AddOrder", kind="phantom_txid", times=1)


@given("another bot on the account has a limit buy of {volume:Amount} XBT resting at {price:Amount} EUR")
def step_other_bot_order(context, volume, price):
    """Another bot sharing the account: its order carries its own client reference, unknown to this bot."""
    answer = by_hand(context.world, "AddOrder", pair=PAIR_ID, type="buy", ordertype="limit", volume=volume,
                     price=price, cl_ord_id="kbothr0000000001")
    context.world.notes["others_orders"] = list(answer["txid"])


@given("the other bot has cancelled its order")
def step_other_bot_cancels(context):
    world = context.world
    for txid in world.notes["others_orders"]:
        by_hand(world, "CancelOrder", txid=txid)


@given("trading on XBT/EUR was halted after a false answer from the exchange")
def step_pair_halted_by_false_answer(context):
    world = context.world
    step_refused_but_placed(context)
    outcome = submit(world, "buy", "limit", Decimal("0.01"), Decimal("59000"))
    assert_that(world.safety.status()["halted_pairs"], has_key(PAIR_ID),
                f"the false refusal should have halted XBT/EUR: {describe(outcome)}")
    world.notes.pop("outcome")  # the Given's order is the scene, not the order the Thens are about
    world.notes.pop("outcomes")


@given("the bot trades XBT/EUR and ETH/EUR")
def step_two_pairs(context):
    context.world.configure(PAIRS="XBTEUR,ETHEUR")


@when("the bot places a limit buy of {volume:Amount} ETH at {price:Amount} EUR")
def step_places_eth(context, volume, price):
    submit(context.world, "buy", "limit", volume, price, pair="ETHEUR")


@then("the exchange holds the order, open")
def step_exchange_holds_open(context):
    world = context.world
    outcome = world.notes["outcome"]
    held = [o for o in world.sim.orders() if o.get("cl_ord_id") == outcome.cl_ord_id]
    assert_that(held, has_length(1), f"the exchange should hold the order once: {describe(outcome)}")
    assert_that(held[0]["status"], equal_to("open"), "the order should rest in the book")
    world.notes["held"] = held[0]


@then("the bot records the order as open, under the exchange's reference, and counts it among today's trades")
def step_bot_records_held(context):
    world = context.world
    outcome, held = world.notes["outcome"], world.notes["held"]
    record = world.safety.order(outcome.cl_ord_id)
    assert_that((record.status, record.txid), equal_to(("OPEN", held["txid"])),
                f"the bot's record should follow the exchange, not its answer: {describe(outcome)}")
    assert_that(outcome.placed, is_(True), f"the bot should report the order as placed: {describe(outcome)}")
    others = set(world.notes.get("others_orders", ()))
    placed_today = sum(1 for o in world.sim.orders() if o["txid"] not in others)
    assert_that(world.safety.status()["daily_trades"], equal_to(placed_today),
                "every order the bot put on the exchange today counts towards the daily trade limit")


@then("the bot still records the earlier order under its own reference")
def step_earlier_kept(context):
    world = context.world
    earlier = world.notes["resting"][-1]
    record = world.safety.order(earlier.cl_ord_id)
    assert_that(record.txid, equal_to(exchange_order(world, earlier)["txid"]), "the earlier order keeps its reference")
    assert_that(record.status, equal_to("OPEN"), "the earlier order is still open")


@then("the bot reports that the exchange's answer contradicted what the exchange holds")
def step_contradiction_reported(context):
    world = context.world
    rows = _contradictions(world)
    assert_that([r["cl_ord_id"] for r in rows], equal_to([world.notes["outcome"].cl_ord_id]),
                "one contradiction should be recorded, about this order")


@then("trading on XBT/EUR is halted until the operator clears it, while the bot itself stays active")
def step_pair_halted(context):
    status = context.world.safety.status()
    assert_that(list(status["halted_pairs"]), equal_to([PAIR_ID]), "XBT/EUR alone should be halted")
    assert_that(status["trading_state"], equal_to("ACTIVE"), "the rest of the bot should trade on")
