"""A simulator on loopback and a bot built from Settings against it, as in production."""
from __future__ import annotations

import pytest

from krakenbot.bot import Bot
from krakenbot.config import Settings
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock


@pytest.fixture
def sim():
    with KrakenSimulator(seed=42, clock=ManualClock()) as simulator:
        simulator.set_price("XBTEUR", "60000")
        yield simulator


@pytest.fixture
def make_bot(sim, tmp_path):
    bots = []

    def build(mode: str = "read-only", live_flag: bool = False, **env: str) -> Bot:
        values = {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
                  "TRADING_MODE": mode, "KILL_SWITCH_FILE": str(tmp_path / "KILL"), "STORE_PATH": ":memory:",
                  "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "MAX_OPEN_ORDERS": "10"}
        if mode == "live":
            values["KRAKEN_LIVE_TRADING"] = "yes"
        values.update(env)
        bot = Bot.build(Settings.from_env(values), clock=sim.clock, store_path=":memory:", live_flag=live_flag)
        bots.append(bot)
        return bot

    yield build
    for bot in bots:
        bot.close()
