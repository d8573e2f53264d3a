"""Performance under normal load: placement and read latency, error rate, memory over a long run.

Latency is wall time (``time.perf_counter``) over real loopback HTTP; the exchange's own
clock is virtual, so "normal load" spacing between calls costs no real time. Figures are
attached to the report and written to reports/run/performance.json.

The ceilings in features/performance.feature are about ten times these figures (ms; measured
2026-12-07 on the 2-core machine shared by several jobs, load average 6-7, five runs each; "heavy":
two more busy processes, load 9):
  placement p50 4.6-9.8 (heavy 11-29), p99 29-79 (heavy 74-261)  -> 50 and 400
  reads     p50 0.4-2.3 (heavy 0.4-1.1), p95 2-10 (heavy 4-23), p99 5-15 (heavy 12-55) -> 5, 50, 100
  memory growth over 150 cycles 0.084-0.085 MB                    -> 1 MB
Placement writes its intent to disk (fsync) before it sends, so its tail follows the disk.
"""
from __future__ import annotations

import gc
import json
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

import allure
from behave import given, then, when
from hamcrest import assert_that, equal_to, greater_than_or_equal_to, less_than

from krakenbot.errors import KrakenError
from tools.spec_support.charts import figures_table, latency_svg
from tools.spec_support.facade import describe, percentile, submit
from tools.spec_support.monitoring import (exchange_calls_since_page, histogram_count, histogram_quantile, page_calls,
                                          read_page)

FIGURES = Path(__file__).resolve().parent.parent / "reports" / "run" / "performance.json"


def _save_figures(name: str, figures: dict) -> None:
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    saved[name] = figures
    FIGURES.write_text(json.dumps(saved, indent=1, sort_keys=True))


def _summary(samples_ms: list[float]) -> dict:
    return {"calls": len(samples_ms), "p50_ms": round(percentile(samples_ms, 50), 3),
            "p95_ms": round(percentile(samples_ms, 95), 3), "p99_ms": round(percentile(samples_ms, 99), 3),
            "max_ms": round(max(samples_ms), 3)}


@given("the bot may trade {count:d} times a day for this measurement")
def step_allowance(context, count):
    context.world.configure(MAX_DAILY_TRADES=str(count))


@when("the bot places and cancels {count:d} limit buys one after another")
def step_place_cancel(context, count):
    world = context.world
    samples, failures = [], 0
    for _ in range(count):
        started = time.perf_counter()
        outcome = submit(world, "buy", "limit", Decimal("0.001"), Decimal("59000"))
        samples.append((time.perf_counter() - started) * 1000)
        if not outcome.placed:
            failures += 1
            world.notes["last_failure"] = describe(outcome)
            continue
        world.sim.advance(10)  # normal load: an order every 20 s of exchange time
        world.safety.cancel_order(outcome.cl_ord_id)
        world.sim.advance(10)
    world.notes["placed"] = count - failures
    world.notes["latency"] = samples
    world.notes["failures"] = failures
    _save_figures("order_placement", {**_summary(samples), "failed": failures})


@when("the bot reads balances and prices {count:d} times under normal load")
def step_reads(context, count):
    world = context.world
    samples, failures = [], 0
    for i in range(count):
        started = time.perf_counter()
        try:
            world.safety.balances() if i % 2 == 0 else world.safety.ticker("XBTEUR")
        except KrakenError:
            failures += 1
        samples.append((time.perf_counter() - started) * 1000)
        world.sim.advance(5)  # well inside the exchange's request allowance
    world.notes["latency"] = samples
    world.notes["failures"] = failures
    _save_figures("reads", {**_summary(samples), "failed": failures})


@when("the bot runs {count:d} trading cycles")
def step_cycles(context, count):
    world = context.world
    third = count // 3
    gc.collect()
    tracemalloc.start()
    marks = {}
    try:
        for i in range(count):
            world.bot.run_once()
            world.sim.advance(60)
            if i + 1 in (third, count):
                gc.collect()
                marks[i + 1] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    world.notes["memory"] = marks
    growth = (marks[count] - marks[third]) / 1e6
    _save_figures("memory", {"cycles": count, "after_first_third_mb": round(marks[third] / 1e6, 3),
                             "after_last_mb": round(marks[count] / 1e6, 3), "growth_mb": round(growth, 3)})


@then("the placement time is under {p50:d} milliseconds at the median and {p99:d} at the 99th percentile")
def step_placement(context, p50, p99):
    world = context.world
    assert_that(world.notes["failures"], equal_to(0),
                f"every order should be placed under normal load: {world.notes.get('last_failure')}")
    world.notes["ceilings"] = {50: p50, 99: p99}
    for pct, ceiling in ((50, p50), (99, p99)):
        assert_that(percentile(world.notes["latency"], pct), less_than(ceiling),
                    f"placing an order should take under {ceiling} ms at the {pct}th percentile")


@then("the response time is under {p50:d} milliseconds at the median, {p95:d} at the 95th and {p99:d} at the 99th percentile")
def step_distribution(context, p50, p95, p99):
    samples = context.world.notes["latency"]
    context.world.notes["ceilings"] = {50: p50, 95: p95, 99: p99}
    for pct, ceiling in ((50, p50), (95, p95), (99, p99)):
        assert_that(percentile(samples, pct), less_than(ceiling), f"p{pct} should be under {ceiling} ms")


@then("fewer than {pct:Amount}% of the calls failed")
def step_error_rate(context, pct):
    world = context.world
    rate = Decimal(world.notes["failures"]) * 100 / len(world.notes["latency"])
    assert_that(rate, less_than(pct), "calls under normal load should almost never fail")


@then("the memory in use grew by less than {mb:d} MB between the first third and the end of the run")
def step_memory(context, mb):
    marks = context.world.notes["memory"]
    first, last = min(marks), max(marks)
    growth = (marks[last] - marks[first]) / 1e6
    assert_that(growth, less_than(mb), f"memory should stay flat over the run (grew {growth:.2f} MB)")


@then("the placement times are attached to the report")
@then("the response times are attached to the report")
def step_attach_latency(context):
    samples = context.world.notes["latency"]
    title = f"{context.scenario.name}: time per call (ms)"
    chart = latency_svg(samples, title)
    points = chart.split('points="')[1].split('"')[0].split()
    assert_that(len(points), equal_to(len(samples)), "the chart should show every measured call")
    allure.attach(chart, name="latency chart", attachment_type=allure.attachment_type.SVG)
    rows = [(k, str(v)) for k, v in _summary(samples).items()] + [("failed", str(context.world.notes["failures"]))]
    allure.attach(figures_table(rows), name="latency figures", attachment_type=allure.attachment_type.CSV)


@then("the memory figures are attached to the report")
def step_attach_memory(context):
    marks = context.world.notes["memory"]
    assert_that(len(marks), greater_than_or_equal_to(2), "memory should have been measured at several points of the run")
    rows = [(f"traced memory after cycle {n} (MB)", f"{v / 1e6:.3f}") for n, v in sorted(marks.items())]
    allure.attach(figures_table(rows), name="memory figures", attachment_type=allure.attachment_type.CSV)


@then("the bot's monitoring page counts the same calls, failures and placements as these figures")
def step_page_agrees(context):
    """The report's figures and the operator's page are one account: each call, failure and placement measured
    here is on the page, and the page holds no call the exchange did not record."""
    world = context.world
    page = read_page(world)
    calls, failed = exchange_calls_since_page(world)
    on_page, failed_on_page = page_calls(page)
    assert_that(on_page, equal_to(calls), "calls per kind on the page and at the exchange")
    assert_that(failed_on_page, equal_to(failed), "failed calls per kind on the page and at the exchange")
    measured = len(world.notes["latency"])
    if "placed" in world.notes:
        assert_that(histogram_count(page, "krakenbot_order_ack_seconds"), equal_to(world.notes["placed"]),
                    "one acknowledgement time on the page per order placed")
        assert_that(on_page.get("AddOrder"), equal_to(measured), "one order request per placement measured")
    else:
        assert_that(on_page.get("Balance", 0) + on_page.get("Ticker", 0), equal_to(measured),
                    "one request per read measured")
    assert_that(sum(failed_on_page.values()), equal_to(world.notes["failures"]), "the failures measured")
    if "placed" in world.notes:  # placement -> acknowledgement, as the page measures it
        family, endpoints = "krakenbot_order_ack_seconds", None
    else:  # the exchange's response to the reads
        family, endpoints = "krakenbot_exchange_response_seconds", {"Balance", "Ticker"}
    rows = [("calls on the page", str(int(sum(on_page.values())))),
            ("failed calls on the page", str(int(sum(failed_on_page.values())))),
            ("error rate on the page, %", f"{100 * sum(failed_on_page.values()) / sum(on_page.values()):.2f}")]
    for q in (0.5, 0.95, 0.99):
        ms = 1000 * histogram_quantile(page, family, q, endpoints)
        rows.append((f"p{round(q * 100)} on the page, ms ({family}, histogram_quantile)", f"{ms:.3f}"))
        ceiling = world.notes.get("ceilings", {}).get(round(q * 100))
        if ceiling is not None:
            assert_that(ms, less_than(ceiling), f"the page's p{round(q * 100)} should be under the same {ceiling} ms")
    allure.attach(figures_table(rows), name="monitoring page figures", attachment_type=allure.attachment_type.CSV)
