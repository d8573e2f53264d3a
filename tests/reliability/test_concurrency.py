"""One client, many threads: nonces never collide, and pacing keeps a burst under the limit.

Kraken rejects a nonce not above the last one it saw for the key, so eight threads racing
through one ``KrakenClient`` must still reach the exchange in nonce order. Retries are off
(``NO_RETRY``) so a single rejected nonce cannot hide behind the one-retry policy, and the
simulator's access log is checked as well as the exceptions.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from krakenbot.client import NO_RETRY, KrakenClient
from krakenbot.clock import ManualClock
from krakenbot.errors import InvalidNonceError, KrakenError, RateLimitError
from krakensim import KrakenSimulator


def _run_threads(n_threads: int, calls: int, call) -> list[BaseException]:
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(n_threads)

    def worker(i: int) -> None:
        start.wait()
        for j in range(calls):
            try:
                call(i, j)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on
                with lock:
                    errors.append(exc)

    with ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(worker, range(n_threads)))
    return errors


@pytest.mark.timeout(60)
def test_8_threads_x_500_private_calls_no_invalid_nonce():
    clock = ManualClock()
    with KrakenSimulator(seed=5, clock=clock, rate_limits=False) as sim, \
            KrakenClient(sim.url, sim.api_key, sim.api_secret, clock=clock, pacing=False, retry=NO_RETRY,
                         max_connections=8) as client:
        endpoints = ("Balance", "OpenOrders", "TradeBalance", "ClosedOrders")
        errors = _run_threads(8, 500, lambda i, j: client.private(endpoints[(i + j) % len(endpoints)]))
        log = [r for r in sim.access_log if r.kind == "private"]
    assert not [e for e in errors if isinstance(e, InvalidNonceError)]
    assert errors == []
    assert len(log) == 4000
    assert [r for r in log if r.error == "EAPI:Invalid nonce"] == []
    nonces = [int(r.params["nonce"]) for r in log]
    assert len(set(nonces)) == 4000


@pytest.mark.timeout(60)
def test_burst_of_300_paced_calls_at_starter_tier_never_rate_limited():
    clock = ManualClock()
    with KrakenSimulator(seed=6, clock=clock, tier="starter", rate_limits=True) as sim, \
            KrakenClient(sim.url, sim.api_key, sim.api_secret, clock=clock, tier="starter", retry=NO_RETRY,
                         max_connections=4) as client:
        start = clock.time()
        endpoints = ("Balance", "OpenOrders", "TradesHistory", "QueryOrders")

        def call(i: int, j: int) -> None:
            endpoint = endpoints[(i + j) % len(endpoints)]
            if endpoint == "QueryOrders":
                try:
                    client.private(endpoint, txid="OAAAAA-AAAAA-AAAAAA")
                except KrakenError as exc:  # an unknown txid is an answer, not a limit
                    if isinstance(exc, RateLimitError):
                        raise
            else:
                client.private(endpoint)

        errors = _run_threads(4, 75, call)
        log = [r for r in sim.access_log if r.kind == "private"]
        peak = sim.counters()["api_peak"]
    assert [e for e in errors if isinstance(e, RateLimitError)] == []
    assert errors == []
    assert len(log) == 300
    assert [r for r in log if r.error and "Rate limit" in r.error] == []
    assert peak <= 15
    # the pacer really waited on the virtual clock: 300 calls cannot fit in the starter budget at once
    assert clock.time() - start > (300 - 15) / 0.33 * 0.9


def test_concurrent_submits_through_one_wrapper_respect_the_risk_limits(tmp_path):
    """Regression: eight threads submitting at once all passed the risk check before any order
    was recorded (5 placed with MAX_OPEN_ORDERS=3, 0.04 BTC pending with TOTAL_BTC=0.02). The
    wrapper now makes the risk check and the placement one step."""
    from decimal import Decimal

    from krakenbot.bot import Bot
    from krakenbot.config import Settings

    with KrakenSimulator(seed=3, clock=ManualClock()) as sim:
        sim.set_price("XBTEUR", "60000")
        env = {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
               "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KILL_SWITCH_FILE": str(tmp_path / "KILL"),
               "TOTAL_BTC": "0.02", "MAX_POSITION_PCT": "100", "MAX_ORDER_EUR": "1000", "MAX_OPEN_ORDERS": "3"}
        with Bot.build(Settings.from_env(env), clock=sim.clock, store_path=":memory:", live_flag=True) as bot:
            bot.safety.ticker("XBTEUR")
            outcomes = []
            errors = _run_threads(8, 1, lambda i, j: outcomes.append(
                bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.008"), Decimal(59000 + i))))
            on_exchange = sim.orders()
    assert errors == []
    assert sum(o.placed for o in outcomes) == 2 == len(on_exchange)   # 2 x 0.008 <= 0.02 < 3 x 0.008
    assert sorted(c for o in outcomes for c in o.codes) == ["MAX_POSITION"] * 6
