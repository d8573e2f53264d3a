from __future__ import annotations

from decimal import Decimal

from domain_helpers import XBTEUR

from krakenbot.models import OrderType, Side
from krakenbot.positions import Position
from krakenbot.risk import ProtectiveMonitor, levels_for

POS = Position("XXBTZEUR", "XXBT", "ZEUR", volume=Decimal("0.01"), cost_basis=Decimal("600"))  # entry 60000


def test_levels_from_entry():
    lv = levels_for(Decimal(60000), Decimal(5), Decimal(10))
    assert (lv.stop, lv.target) == (Decimal("57000"), Decimal("66000"))


def test_monitor_quiet_between_levels():
    m = ProtectiveMonitor(Decimal(5), Decimal(10))
    assert m.check(POS, Decimal("57000.1")) is None
    assert m.check(POS, Decimal("65999.9")) is None


def test_stop_loss_crossed_emits_one_market_sell_of_the_position():
    m = ProtectiveMonitor(Decimal(5), Decimal(10))
    signal = m.check(POS, Decimal("56999"), XBTEUR)
    assert signal.kind == "stop_loss" and signal.level == Decimal(57000)
    assert (signal.intent.side, signal.intent.ordertype, signal.intent.volume) == (Side.SELL, OrderType.MARKET,
                                                                                  Decimal("0.01"))
    assert m.check(POS, Decimal("56000"), XBTEUR) is None  # fired once for this position


def test_take_profit_crossed():
    signal = ProtectiveMonitor(Decimal(5), Decimal(10)).check(POS, Decimal(66000))
    assert signal.kind == "take_profit"


def test_disabled_levels_and_empty_position():
    assert ProtectiveMonitor(None, None).check(POS, Decimal(1)) is None
    assert ProtectiveMonitor(Decimal(5), Decimal(10)).check(Position("XXBTZEUR", "XXBT", "ZEUR"), Decimal(1)) is None


def test_a_stop_loss_whose_exit_did_not_go_out_fires_again_after_rearm():
    m = ProtectiveMonitor(Decimal(5), Decimal(10))
    assert m.check(POS, Decimal("56999"), XBTEUR).kind == "stop_loss"
    assert m.check(POS, Decimal("56000"), XBTEUR) is None
    m.rearm("XETHZEUR")                                   # another pair: still quiet
    assert m.check(POS, Decimal("56000"), XBTEUR) is None
    m.rearm("XXBTZEUR")                                   # the market sell was refused
    assert m.check(POS, Decimal("56000"), XBTEUR).kind == "stop_loss"
