"""The dip-buy strategy: intents only, driven by prices and time."""
from __future__ import annotations

from decimal import Decimal

from krakenbot.models import OrderType, Side
from krakenbot.strategy import DipBuyStrategy, HoldStrategy, MarketView


def view(bid, ask, t=0.0, pos="0", entry=None):
    return MarketView("XBTEUR", t, Decimal(bid), Decimal(ask), Decimal(pos), Decimal(entry) if entry else None)


def make(interval=None):
    return DipBuyStrategy(buy_eur=Decimal("10"), dip_pct=Decimal("2"), rise_pct=Decimal("3"), interval_seconds=interval)


def test_first_view_sets_reference_and_does_not_buy():
    s = make()
    assert s.decide(view("60000", "60010")) == []
    assert s.reference["XBTEUR"] == Decimal("60005")


def test_buys_fixed_eur_on_a_dip_at_the_ask():
    s = make()
    s.decide(view("60000", "60010"))
    assert s.decide(view("59000", "59010")) == []  # 1.7 % down: not yet
    [intent] = s.decide(view("58700", "58790"))
    assert intent.side is Side.BUY and intent.ordertype is OrderType.LIMIT
    assert intent.price == Decimal("58790")
    assert intent.volume == Decimal("0.00017009")  # 10 / 58790 truncated to 8 decimals
    assert isinstance(intent.volume, Decimal)


def test_acknowledged_buy_moves_reference_unplaced_does_not():
    s = make()
    s.decide(view("60000", "60010"))
    [intent] = s.decide(view("58000", "58010"))
    s.acknowledge(intent, placed=False, now=1.0)
    assert s.reference["XBTEUR"] == Decimal("60005")
    s.acknowledge(intent, placed=True, now=1.0)
    assert s.reference["XBTEUR"] == Decimal("58010")
    assert s.decide(view("58000", "58010")) == []


def test_interval_buys():
    s = make(interval=3600)
    [first] = s.decide(view("60000", "60010", t=0))
    s.acknowledge(first, True, 0)
    assert s.decide(view("60000", "60010", t=3599)) == []
    assert len(s.decide(view("60000", "60010", t=3600))) == 1


def test_sells_whole_position_above_target_at_the_bid():
    s = make()
    assert s.decide(view("61700", "61710", pos="0.002", entry="60000")) == []  # 2.8 %
    [intent] = s.decide(view("61800", "61810", pos="0.002", entry="60000"))
    assert intent.side is Side.SELL and intent.volume == Decimal("0.002") and intent.price == Decimal("61800")


def test_broken_quotes_produce_nothing():
    s = make(interval=1)
    assert s.decide(view("0", "60000")) == []
    assert s.decide(view("60010", "60000")) == []


def test_hold_never_trades():
    assert HoldStrategy().decide(view("1", "2")) == []
