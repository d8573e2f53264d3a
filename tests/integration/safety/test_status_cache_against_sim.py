"""The exchange status is cached for STATUS_TTL_S on the injected clock; an order sent inside
the TTL after the exchange closed is refused by the exchange itself, nothing is placed, and the
bot learns the new status from that refusal so the next order stops at its own gate."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.safety.reads import STATUS_TTL_S


def endpoints(sim, start):
    return [r.endpoint for r in sim.access_log_since(start)]


def resting_buy(bot):
    return bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000"))


def test_status_is_read_once_per_ttl_on_the_clock(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    assert resting_buy(bot).placed
    start = len(sim.access_log)
    assert resting_buy(bot).placed
    assert "SystemStatus" not in endpoints(sim, start)
    sim.advance(STATUS_TTL_S)
    start = len(sim.access_log)
    assert resting_buy(bot).placed
    assert endpoints(sim, start).count("SystemStatus") == 1


@pytest.mark.parametrize("status", ["cancel_only", "post_only", "maintenance"])
def test_status_change_inside_the_ttl_is_refused_by_the_exchange_and_learnt(sim, make_bot, status):
    bot = make_bot("live", live_flag=True)
    assert resting_buy(bot).placed
    sim.set_system_status(status)
    before = len(sim.orders())
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert not outcome.accepted and not outcome.placed, outcome
    assert outcome.codes == ["MARKET_STATUS"], outcome
    assert len(sim.orders()) == before  # the exchange refused it: nothing placed
    assert bot.safety.order(outcome.cl_ord_id).status == "REJECTED"
    start = len(sim.access_log)
    again = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert again.codes == ["MARKET_STATUS"] and again.cl_ord_id is None
    assert "AddOrder" not in endpoints(sim, start)


def test_a_closed_status_is_not_cached_so_trading_resumes_with_the_exchange(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    sim.set_system_status("maintenance")
    assert resting_buy(bot).codes == ["MARKET_STATUS"]
    sim.set_system_status("online")
    assert resting_buy(bot).placed
