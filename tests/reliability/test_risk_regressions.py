"""Defects the chaos soak found, pinned so they stay fixed.

Position cap vs resting buys (chaos seeds 5 and 11 at 25 % faults, 600 ops): the position
check added only the new order to the filled position, so resting limit buys - each
admitted while the position was low - filled later and took the position past TOTAL_BTC.
Open buy orders (their remaining volume) now count as held.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.bot import Bot
from krakenbot.config import Settings
from krakenbot.risk.checks import RiskSnapshot, check_max_position
from krakenbot.risk import DenialCode, RiskLimits
from krakenbot.models import OrderRequest, OrderType, Side
from krakensim import KrakenSimulator
from krakensim.clock import ManualClock


def test_open_buys_count_towards_the_position_cap():
    limits = RiskLimits(max_position_btc=Decimal("0.02"))
    intent = OrderRequest(pair="XXBTZEUR", side=Side.BUY, ordertype=OrderType.LIMIT, volume=Decimal("0.005"),
                          price=Decimal("59000"))
    assert check_max_position(intent, RiskSnapshot(position_base=Decimal("0.01")), limits) is None
    denial = check_max_position(intent, RiskSnapshot(position_base=Decimal("0.01"),
                                                     pending_buy_base=Decimal("0.006")), limits)
    assert denial is not None and denial.code is DenialCode.MAX_POSITION


@pytest.fixture
def sim():
    with KrakenSimulator(seed=61, clock=ManualClock()) as simulator:
        simulator.set_price("XBTEUR", "60000")
        yield simulator


def test_resting_buys_cannot_fill_the_position_past_total_btc(sim, tmp_path):
    env = {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
           "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KILL_SWITCH_FILE": str(tmp_path / "KILL"),
           "TOTAL_BTC": "0.02", "MAX_POSITION_PCT": "100", "MAX_ORDER_EUR": "1000", "MAX_OPEN_ORDERS": "10"}
    with Bot.build(Settings.from_env(env), clock=sim.clock, store_path=":memory:", live_flag=True) as bot:
        outcomes = [bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.008"), Decimal(price))
                    for price in ("59700", "59600", "59500")]
        assert [o.placed for o in outcomes[:2]] == [True, True]
        assert not outcomes[2].placed and outcomes[2].codes == ["MAX_POSITION"], outcomes[2]
        sim.set_price("XBTEUR", "59000")          # the market falls through every resting buy
        for _ in range(5):
            sim.advance(1)
        bot.safety.refresh_orders()
        position = bot.safety.position("XBTEUR")[0]
    bought = sum((Decimal(t["vol"]) for t in sim.trades() if t["type"] == "buy"), Decimal(0))
    assert bought == position == Decimal("0.016")
    assert bought <= Decimal("0.02")
