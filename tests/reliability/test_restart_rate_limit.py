"""Restarting after a crash must not trip Kraken's call counter, and the bot never trades in canary
or live without its dead man's switch armed (issue 20, finding 7).

The fault campaign: 49 of 50 restarts on the starter tier stalled 45 s (the new process paced from an
empty counter while the exchange's was still full from the last one, so its first reads were refused
and it backed off), and 4 of 128 on pro died arming the dead man's switch (``RateLimitError``, not
retried). The simulator keeps one call counter per key across the bot's processes, as Kraken does.
"""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from test_crash_recovery import BotProcess, env, sim  # noqa: F401 - the fixtures of the crash tests

from krakenbot.bot import Bot
from krakenbot.config import Settings
from krakenbot.models import OrderType, Side
from krakenbot.strategy import TradeIntent
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock

pytestmark = pytest.mark.slow
RATE_LIMITED = "EAPI:Rate limit exceeded"


@pytest.mark.parametrize("tier", ["starter", "pro"])
def test_a_restart_right_after_a_crash_paces_within_the_counter_the_last_process_left(env, tmp_path, tier):
    with KrakenSimulator(seed=52, clock=ManualClock(), tier=tier) as sim:
        sim.set_price("XBTEUR", "60000")
        env = dict(env, API_DOMAIN=sim.url, KRAKEN_API_KEY=sim.api_key, KRAKEN_API_SECRET=sim.api_secret,
                   KRAKEN_TIER=tier, MAX_OPEN_ORDERS="20", TRADES="6", FILL_COUNTER="1", ORDERS="0")
        first = BotProcess("trade", env)
        first.expect("READY")
        first.expect("DONE")  # busy to the end: the counter is full
        first.proc.wait(timeout=15)
        before, started = len(sim.access_log), sim.clock.time()
        assert sim.counters()["api"] > sim.counters()["api_max"] - 1

        again = BotProcess("startup", env)  # at once: the exchange's counter has not decayed
        again.expect("READY")
        done = json.loads(again.expect("DONE"))
        again.proc.wait(timeout=15)

        restart = sim.access_log_since(before)
        assert [r.endpoint for r in restart if r.error == RATE_LIMITED] == [], "the restart was rate limited"
        armed = [r for r in restart if r.endpoint == "CancelAllOrdersAfter" and r.params.get("timeout") == "60"]
        assert done["dead_mans_switch_armed"] and [r.outcome for r in armed] == ["ok"]
        print(f"{tier}: the restart took {sim.clock.time() - started:.1f} s on the simulator's clock")


def _settings(sim: KrakenSimulator, tmp_path, **extra: str) -> Settings:
    return Settings.from_env({"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret,
                              "API_DOMAIN": sim.url, "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes",
                              "KILL_SWITCH_FILE": str(tmp_path / "KILL"), "MAX_ORDER_EUR": "1000",
                              "TOTAL_BTC": "0.1", **extra})


class BuyEveryCycle:
    name = "buy-every-cycle"

    def decide(self, view):
        return [TradeIntent(view.pair, Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("59000"))]

    def acknowledge(self, intent, placed, now):
        pass


@pytest.mark.parametrize("refusal", [RATE_LIMITED, "EService:Unavailable"])
def test_arming_the_dead_mans_switch_is_retried_when_refused(tmp_path, refusal):
    with KrakenSimulator(seed=53, clock=ManualClock(), tier="pro") as sim:
        sim.set_price("XBTEUR", "60000")
        sim.faults.inject(endpoint="CancelAllOrdersAfter", kind="error", error=refusal, times=2)
        with Bot.build(_settings(sim, tmp_path), clock=sim.clock, store_path=str(tmp_path / "bot.sqlite"),
                       live_flag=True) as bot:
            bot.start()
            assert bot.safety.dead_mans_switch.armed
            assert sim.dead_mans_switch()["armed"]


def test_the_bot_places_no_order_in_live_until_its_dead_mans_switch_is_armed(tmp_path):
    with KrakenSimulator(seed=54, clock=ManualClock(), tier="pro") as sim:
        sim.set_price("XBTEUR", "60000")
        sim.faults.inject(endpoint="CancelAllOrdersAfter", kind="error", error="EService:Unavailable", times=1000)
        with Bot.build(_settings(sim, tmp_path), clock=sim.clock, store_path=str(tmp_path / "bot.sqlite"),
                       live_flag=True, strategy=BuyEveryCycle()) as bot:
            bot.start()  # the switch cannot be armed: start-up goes on, trading does not
            assert not bot.safety.dead_mans_switch.armed
            report = bot.run_once()
            assert sim.orders() == [], "an order went out without the dead man's switch"
            assert "dead man's switch" in report.skipped["XBTEUR"]
            sim.faults.reset()
            sim.advance(60)  # the circuit breaker the failures opened lets calls through again
            report = bot.run_once()
            assert bot.safety.dead_mans_switch.armed and sim.dead_mans_switch()["armed"]
            assert report.placed == 1 and len(sim.orders()) == 1


@pytest.mark.parametrize("first_in_home", [True, False])
def test_only_a_first_start_in_a_new_home_paces_from_an_empty_counter(tmp_path, first_in_home):
    """A new store in a home where no bot ran (a first install): nothing left the counter full, so
    start-up does not wait it out. A new store in a used home may be a lost one: assume it full."""
    with KrakenSimulator(seed=55, clock=ManualClock(), tier="starter") as sim:
        sim.set_price("XBTEUR", "60000")
        with Bot.build(_settings(sim, tmp_path), clock=sim.clock, store_path=str(tmp_path / "bot.sqlite"),
                       live_flag=True) as bot:
            started = sim.clock.time()
            bot.start(first_in_home=first_in_home)
            waited = sim.clock.time() - started
        assert (waited == 0) is first_in_home, f"start-up waited {waited:.1f} s for the call counter"
