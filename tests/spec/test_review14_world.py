"""Review 14: the per-scenario exchange (World.use_exchange_on_machine_clock). Failed against e37dc86 when written."""
from __future__ import annotations

import pytest

from krakenbot.clock import ManualClock
from krakensim import KrakenSimulator
from tools.spec_support.world import World


class _BotThatFailsToClose:
    def close(self):
        raise OSError("the store's disk is gone")


def test_the_scenario_s_own_exchange_is_closed_even_when_the_bot_fails_to_close():
    """A scenario's own exchange (a serving thread, a socket, a websocket) must not outlive the scenario: the
    bot's close raising (a disk the scenario broke, a mend that failed) leaves it serving for the rest of the run."""
    clock = ManualClock()
    with KrakenSimulator(seed=1, clock=clock) as shared:
        world = World(target="simulator", clock=clock, sim=shared)
        world.begin()
        world.use_exchange_on_machine_clock(tier="pro")
        own = world.own_sim
        world.bot = _BotThatFailsToClose()
        with pytest.raises(OSError):
            world.finish()
        try:
            assert own._closed, "the scenario's own exchange is still serving"
        finally:
            own.close()
