"""Watching the running bot: its monitoring page and the operator's notifications.

The page is the bot's own metrics served over loopback HTTP and read as an operator's Prometheus
would; what it says is compared with the exchange's record of the scenario (the simulator's access
log). The notifications go to a loopback receiver (``tools.spec_support.webhook``)."""
from __future__ import annotations

import os

from behave import given, then, when
from hamcrest import assert_that, contains_string, equal_to, greater_than, has_entries, is_not

from krakenbot.metrics import BotMetrics
from krakenbot.notify import Notifier
from tools.spec_support.facade import submit
from tools.spec_support.monitoring import exchange_calls_since_page, histogram_count, page_calls, read_page
from tools.spec_support.webhook import Receiver


@given("the operator watches the bot's monitoring page")
def step_watch_page(context):
    world = context.world
    metrics = BotMetrics(world.clock).attach(world.bot)
    world.notes["page_port"] = metrics.serve(0)
    world.notes["metrics"] = metrics
    world.notes["page_from"] = len(world.exchange_calls())  # what the bot sent before the page was up
    world.mends.append(metrics.close)


@given("the operator has asked to be told of what needs attention")
def step_notifications(context):
    world = context.world
    receiver = Receiver()
    notifier = Notifier(receiver.url, on_outcome=world.notes["metrics"].notification).attach(world.bot)
    world.notes["receiver"] = receiver
    world.mends.append(receiver.close)
    world.mends.append(notifier.close)


@given("the exchange fails the next {count:d} balance requests")
def step_fail_balances(context, count):
    context.world.sim.faults.inject(endpoint="Balance", kind="error", error="EService:Unavailable", times=count)


@when("the bot trades for {cycles:d} cycles, a minute apart, buying {volume:Amount} XBT at market in each")
def step_trade_cycles(context, cycles, volume):
    world = context.world
    outcomes = []
    for _ in range(cycles):
        outcomes.append(submit(world, "buy", "market", volume))
        world.bot.run_once()
        world.sim.advance(60)
    assert_that([o.status for o in outcomes], equal_to(["FILLED"] * cycles), "every market buy should have filled")


@when("the operator reads the monitoring page")
def step_read_page(context):
    context.world.notes["page"] = read_page(context.world)


@then("the page shows how long each order took to be acknowledged and to be filled")
def step_page_latency(context):
    world = context.world
    page = world.notes["page"]
    orders = len(world.notes["outcomes"])
    for family in ("krakenbot_order_ack_seconds", "krakenbot_order_fill_seconds"):
        assert_that(histogram_count(page, family), equal_to(orders), f"{family}: one figure per order placed")


@then("the page counts as many calls and failed calls of each kind as the exchange recorded")
def step_page_counts(context):
    world = context.world
    page = world.notes["page"]
    calls, failed = exchange_calls_since_page(world)
    on_page, failed_on_page = page_calls(page)
    assert_that(on_page, equal_to(calls), "calls per kind on the page and at the exchange")
    assert_that(failed_on_page, equal_to(failed), "failed calls per kind on the page and at the exchange")
    assert_that(failed, has_entries({"Balance": 2}), "the failures the exchange was told to make")
    world.notes["error_rate"] = sum(failed.values()) / sum(calls.values())


@then("the page shows the exchange's response times and the memory the bot uses")
def step_page_times_memory(context):
    page = context.world.notes["page"]
    total = sum(s.value for s in page["krakenbot_exchange_response_seconds"]
                if s.name == "krakenbot_exchange_response_seconds_sum")
    assert_that(total, greater_than(0), "the exchange's response times, summed")
    if os.path.isdir("/proc/self"):  # the library reads the process's memory there; elsewhere it is absent
        memory = page["process_resident_memory_bytes"][0].value
        assert_that(memory, greater_than(1e6), "the bot's resident memory")


@then("the operator is told that the circuit breaker opened, and why")
def step_told_breaker(context):
    world = context.world
    posts = world.notes["receiver"].wait_for(1)
    opened = [p for p in posts if p["event"] == "breaker_opened"]
    assert_that(len(opened), equal_to(1), f"one message that the breaker opened: {posts}")
    assert_that(opened[0]["text"], contains_string("failures within"), "the message says why")
    world.notes["message"] = opened[0]


@then("the message holds neither the bot's key nor its secret")
def step_message_clean(context):
    world = context.world
    text = str(world.notes["message"])
    for secret in (world.api_key, world.api_secret):
        assert_that(text, is_not(contains_string(secret)), "no key or secret in a notification")
