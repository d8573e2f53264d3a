"""Issue 22: the bot's metrics page, scraped over loopback HTTP while it trades against the simulator,
agrees with what the exchange recorded (the simulator's access log), and each bot has its own registry."""
from __future__ import annotations

import time
import urllib.request
from collections import Counter
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from krakenbot.bot import Bot
from krakenbot.config import Settings
from krakenbot.metrics import BotMetrics
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock


def scrape(port: int) -> dict[str, list]:
    """``/metrics`` over HTTP: each metric family's samples by family name."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def by_label(samples: list, name: str, label: str, **where: str) -> dict[str, float]:
    return {s.labels[label]: s.value for s in samples if s.name == name
            and all(s.labels.get(k) == v for k, v in where.items())}


def exchange_counts(sim, since: int = 0) -> tuple[Counter, Counter]:
    """Requests and failed requests per endpoint, as the exchange recorded them (not its control API)."""
    records = [r for r in sim.access_log[since:] if r.kind in ("public", "private")]
    return Counter(r.endpoint for r in records), Counter(r.endpoint for r in records if r.outcome != "ok")


def live_bot(sim, tmp_path, **env: str) -> Bot:
    settings = Settings.from_env({
        "KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
        "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KRAKENBOT_HOME": str(tmp_path),
        "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "MAX_OPEN_ORDERS": "10", "MAX_DAILY_TRADES": "3", **env})
    return Bot.build(settings, clock=sim.clock, live_flag=True)


@pytest.fixture
def sim():
    with KrakenSimulator(seed=42, clock=ManualClock(time.time())) as simulator:
        simulator.set_price("XBTEUR", "60000")
        yield simulator


def test_the_page_counts_every_request_and_error_the_exchange_saw_and_each_order_latency(sim, tmp_path):
    with live_bot(sim, tmp_path) as bot:
        metrics = BotMetrics(bot.clock).attach(bot)
        port = metrics.serve(0)
        try:
            mark = len(sim.access_log)
            assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("60100")).placed
            resting = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59500"))
            sim.faults.inject(endpoint="Balance", error="EService:Unavailable", times=1)
            bot.client.private("Balance")  # refused once, then answered: a read is retried
            bot.run_once()
            sim.clock.advance(5)
            families = scrape(port)
            sent, failed = exchange_counts(sim, mark)
        finally:
            metrics.close()
    counted = by_label(families["krakenbot_exchange_response_seconds"], "krakenbot_exchange_response_seconds_count",
                       "endpoint")
    assert counted == dict(sent) and sent["AddOrder"] == 2  # every request the exchange saw, per endpoint
    errors = families["krakenbot_exchange_errors"]
    assert {s.labels["endpoint"]: s.value for s in errors if s.name.endswith("_total")} == dict(failed) == {"Balance": 1}
    assert [s.labels["kind"] for s in errors if s.name.endswith("_total")] == ["ServiceUnavailableError"]
    ack = {s.name: s.value for s in families["krakenbot_order_ack_seconds"]}
    assert ack["krakenbot_order_ack_seconds_count"] == 2 and resting.placed
    fill = {s.name: s.value for s in families["krakenbot_order_fill_seconds"]}
    assert fill["krakenbot_order_fill_seconds_count"] == 1  # the marketable buy; the far one rests
    gauges = {f: families[f][0].value for f in ("krakenbot_trades_today", "krakenbot_trades_limit",
                                               "krakenbot_open_orders", "krakenbot_breaker_state")}
    assert gauges == {"krakenbot_trades_today": 2, "krakenbot_trades_limit": 3, "krakenbot_open_orders": 1,
                      "krakenbot_breaker_state": 0}
    age = by_label(families["krakenbot_market_data_age_seconds"], "krakenbot_market_data_age_seconds", "pair")
    assert families["process_resident_memory_bytes"][0].value > 0  # the library's process collector (Linux)
    assert list(age) == ["XBTEUR"] and 5 <= age["XBTEUR"] < 10  # the clock moved 5 s since the cycle's ticker


def test_refusals_by_reason_and_the_breaker_state_are_on_the_page(sim, tmp_path):
    with live_bot(sim, tmp_path, MAX_DAILY_TRADES="1") as bot:
        metrics = BotMetrics(bot.clock).attach(bot)
        port = metrics.serve(0)
        try:
            assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59500")).placed
            refused = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59500"))
            bot.client.breaker.trip("drill")
            with pytest.raises(Exception):
                bot.client.public("Time")
            families = scrape(port)
        finally:
            metrics.close()
    assert refused.codes == ["DAILY_TRADE_LIMIT"]
    assert by_label(families["krakenbot_orders_refused"], "krakenbot_orders_refused_total", "code") == \
        {"DAILY_TRADE_LIMIT": 1}
    assert by_label(families["krakenbot_requests_refused"], "krakenbot_requests_refused_total", "reason") == \
        {"CircuitOpenError": 1}
    assert families["krakenbot_breaker_state"][0].value == 2


def test_two_bots_in_one_process_keep_their_own_figures(sim, tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    with live_bot(sim, tmp_path / "a") as first, live_bot(sim, tmp_path / "b", BOT_ID="bbbb") as second:
        one, two = BotMetrics(first.clock).attach(first), BotMetrics(second.clock).attach(second)
        first.client.public("Time")
        first.client.public("Time")
        second.client.public("Time")
        counts = [r.get_sample_value("krakenbot_exchange_response_seconds_count", {"endpoint": "Time"})
                  for r in (one.registry, two.registry)]
    assert counts == [2, 1]


# -- the evidence: a real `krakenbot run` against a real `krakensim serve`, scraped while it runs ---------
def test_a_running_bot_s_page_agrees_with_the_simulators_access_log_for_the_run(tmp_path):
    import json
    import re
    import subprocess
    import sys

    from test_operator_controls import base_env, stop, wait_until

    sim = subprocess.Popen([sys.executable, "-m", "krakensim.cli", "serve", "--port", "0", "--seed", "7", "--tier",
                            "pro", "--volatility", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    bot = None
    try:
        url, key, secret = re.search(r"serving (\S+) api_key=(\S+) api_secret=(\S+)", sim.stdout.readline()).groups()
        # One cycle, then a long wait in which the bot sends nothing (no dead man's switch to keep alive):
        # the page and the exchange's log are compared while the bot runs and is quiet.
        env = base_env(tmp_path / "home", KRAKEN_API_KEY=key, KRAKEN_API_SECRET=secret, API_DOMAIN=url,
                       KRAKEN_TIER="pro", KRAKEN_LIVE_TRADING="yes", STRATEGY_INTERVAL_SECONDS="1",
                       DEAD_MANS_SWITCH_SECONDS="0")
        bot = subprocess.Popen([sys.executable, "-m", "krakenbot.cli", "run", "--mode", "live", "--live",
                                "--interval", "3600", "--metrics-port", "0"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        port = None
        for line in bot.stdout:
            found = re.match(r"metrics +http://127\.0\.0\.1:(\d+)/metrics", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "the bot did not say where its metrics are"
        families = wait_until(lambda: (lambda f: f if f["krakenbot_cycles"][0].value >= 1 else None)(scrape(port)),
                              what="the first cycle on the page")
        with urllib.request.urlopen(f"{url}/_sim/access-log", timeout=10) as answer:
            records = [r for r in json.load(answer)["records"] if r["kind"] in ("public", "private")]
        assert bot.poll() is None  # scraped while it runs
    finally:
        if bot is not None:
            stop(bot)
        stop(sim)
    sent = Counter(r["endpoint"] for r in records)
    failed = Counter(r["endpoint"] for r in records if r["outcome"] != "ok")
    counted = by_label(families["krakenbot_exchange_response_seconds"], "krakenbot_exchange_response_seconds_count",
                       "endpoint")
    assert counted == dict(sent) and sent["AddOrder"] >= 1, (counted, sent)
    assert by_label(families["krakenbot_exchange_errors"], "krakenbot_exchange_errors_total", "endpoint") == dict(failed)
    ack = families["krakenbot_order_ack_seconds"]
    fill = families["krakenbot_order_fill_seconds"]
    assert [s.value for s in ack if s.name.endswith("_count")] == [sent["AddOrder"]]  # each order acknowledged
    assert [s.value for s in fill if s.name.endswith("_count")] == [sent["AddOrder"]]  # and filled (market buys)
    assert families["process_resident_memory_bytes"][0].value > 0


def test_the_page_is_off_by_default_on_loopback_when_asked_and_a_busy_port_is_one_line(tmp_path):
    import socket

    from krakenbot.cli import _parse
    from test_operator_controls import cli_run, sim_env

    assert (_parse(["run"]).metrics_port, _parse(["run", "--metrics-port", "9464"]).metrics_host) == \
        (None, "127.0.0.1")
    with socket.socket() as busy, KrakenSimulator(seed=7, tier="pro") as simulator:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = cli_run(["run", "--mode", "paper", "--once", "--metrics-port", str(port)],
                       sim_env(simulator, tmp_path / "home"), tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("krakenbot:")] == \
        [f"krakenbot: --metrics-port {port}: cannot listen on 127.0.0.1 (Address already in use)"]


def test_a_refused_connection_is_counted_once_as_an_exchange_error():
    """The exchange unreachable is the first error an operator must see on the page."""
    import socket

    from krakenbot.client import NO_RETRY, KrakenClient
    from krakenbot.errors import ConnectionFailed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed on leaving: a connect there is refused
    metrics = BotMetrics(ManualClock(0))
    client = KrakenClient(f"http://127.0.0.1:{port}", retry=NO_RETRY, pacing=False, public_burst=None)
    client.observe(metrics)
    try:
        with pytest.raises(ConnectionFailed):
            client.public("Time")
    finally:
        client.close()
    counted = metrics.registry.get_sample_value("krakenbot_exchange_errors_total",
                                                {"endpoint": "Time", "kind": "ConnectionFailed"})
    assert counted == 1, "a refused connection is missing from krakenbot_exchange_errors_total (or counted twice)"
