"""Each DenialCode triggers with its numbers in the detail, and not otherwise."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from krakenbot.models import OrderRequest, OrderType, Side
from krakenbot.risk.checks import CHECKS, DenialCode, RiskSnapshot, TradingState
from krakenbot.risk.limits import RiskLimits

from domain_helpers import XBTEUR

LIMITS = RiskLimits(
    max_position_btc=Decimal("0.01"), max_position_pct=Decimal("50"), max_order_notional=Decimal("500"),
    min_trade_volume=Decimal("0.00005"), min_eur_for_trade=Decimal("5.0"), max_daily_trades=10,
    max_daily_loss=Decimal("100"), max_open_orders=3, max_leverage=Decimal("1"), price_collar_pct=Decimal("5"),
    max_data_age_s=Decimal("30"),
)
SNAP = RiskSnapshot(
    pair_info=XBTEUR, mid_price=Decimal("60000"), market_data_age_s=Decimal("1"), position_base=Decimal("0.002"),
    portfolio_value=Decimal("10000"), free_balances={"ZEUR": Decimal("1000"), "XXBT": Decimal("0.002")},
    open_orders=0, daily_trades=0, daily_realised_loss=Decimal(0),
)
BUY = OrderRequest(pair="XBTEUR", side=Side.BUY, ordertype=OrderType.LIMIT, volume=Decimal("0.001"),
                   price=Decimal("60000"))


def denials(intent=BUY, snap=SNAP, limits=LIMITS):
    return [d for d in (c(intent, snap, limits) for c in CHECKS) if d is not None]


def codes(*args, **kw):
    return {d.code for d in denials(*args, **kw)}


def test_a_reasonable_order_passes_every_check():
    assert denials() == []


CASES = [
    # (code, intent, snapshot, limits, numbers that must appear in the detail)
    (DenialCode.TRADING_HALTED, BUY, replace(SNAP, trading_state=TradingState.HALTED), LIMITS, ["HALTED"]),
    (DenialCode.PAIR_NOT_ALLOWED, BUY, replace(SNAP, pair_info=replace(XBTEUR, status="cancel_only")), LIMITS,
     ["XBTEUR", "cancel_only"]),
    (DenialCode.LEVERAGE_NOT_ALLOWED, replace(BUY, leverage="2"), SNAP, LIMITS, ["2", "1"]),
    (DenialCode.UNKNOWN_ORDER_OUTSTANDING, BUY, replace(SNAP, unknown_order_pairs=frozenset({"XXBTZEUR"})), LIMITS,
     ["XBTEUR"]),
    (DenialCode.FILLS_OWED, BUY, replace(SNAP, fills_owed=("kbot1", "kbot2")), LIMITS, ["kbot1, kbot2"]),
    (DenialCode.STALE_MARKET_DATA, BUY, replace(SNAP, market_data_age_s=Decimal("31")), LIMITS, ["31", "30"]),
    (DenialCode.PRICE_COLLAR, replace(BUY, price=Decimal("66000")), SNAP, replace(LIMITS, max_order_notional=Decimal(10**6)),
     ["66000", "60000", "10.0000", "5"]),
    (DenialCode.BELOW_EXCHANGE_MINIMUM, replace(BUY, volume=Decimal("0.00004")), SNAP,
     replace(LIMITS, min_trade_volume=Decimal("0.00001"), min_eur_for_trade=Decimal("0")), ["0.00004", "0.00005"]),
    (DenialCode.BELOW_MIN_VOLUME, replace(BUY, volume=Decimal("0.0001")), SNAP,
     replace(LIMITS, min_trade_volume=Decimal("0.0002")), ["0.0001", "0.0002"]),
    (DenialCode.BELOW_MIN_NOTIONAL, replace(BUY, volume=Decimal("0.00006")), SNAP, LIMITS, ["3.6", "5.0"]),
    (DenialCode.MAX_NOTIONAL, replace(BUY, volume=Decimal("0.009")), SNAP, LIMITS, ["540", "500"]),
    (DenialCode.MAX_POSITION, replace(BUY, volume=Decimal("0.0081")), SNAP,
     replace(LIMITS, max_order_notional=Decimal(10**6)), ["0.0101", "0.01"]),
    (DenialCode.MAX_POSITION_PCT, BUY, replace(SNAP, portfolio_value=Decimal("300")), LIMITS, ["180", "60", "50"]),
    (DenialCode.MAX_OPEN_ORDERS, BUY, replace(SNAP, open_orders=3), LIMITS, ["3"]),
    (DenialCode.DAILY_TRADE_LIMIT, BUY, replace(SNAP, daily_trades=10), LIMITS, ["10"]),
    (DenialCode.DAILY_LOSS_LIMIT, BUY, replace(SNAP, daily_realised_loss=Decimal("100.5")), LIMITS, ["100.5", "100"]),
    (DenialCode.INSUFFICIENT_BALANCE, BUY, replace(SNAP, free_balances={"ZEUR": Decimal("60")}), LIMITS,
     ["60.24", "0.40", "60"]),
]


@pytest.mark.parametrize(("code", "intent", "snap", "limits", "numbers"), CASES, ids=[c[0].value for c in CASES])
def test_each_code_triggers_with_its_numbers(code, intent, snap, limits, numbers):
    found = [d for d in denials(intent, snap, limits) if d.code is code]
    assert len(found) == 1, denials(intent, snap, limits)
    for number in numbers:
        assert number in found[0].detail, (number, found[0].detail)


def test_every_code_has_a_case():
    assert {c[0] for c in CASES} == set(DenialCode)


def test_stale_when_there_is_no_price_at_all():
    market = OrderRequest(pair="XBTEUR", side=Side.BUY, ordertype=OrderType.MARKET, volume=Decimal("0.001"))
    assert DenialCode.STALE_MARKET_DATA in codes(market, replace(SNAP, mid_price=None))


def test_boundaries_are_inclusive_where_the_limit_allows():
    assert codes(replace(BUY, volume=Decimal("0.008"))) == set()                       # position exactly 0.01
    assert codes(replace(BUY, price=Decimal("63000"), volume=Decimal("0.001"))) == set()  # exactly 5 % collar
    assert codes(snap=replace(SNAP, open_orders=2)) == set()
    assert codes(snap=replace(SNAP, daily_trades=9)) == set()
    assert codes(snap=replace(SNAP, daily_realised_loss=Decimal("99.99"))) == set()


def test_reducing_sells_pass_daily_limits_and_position_limits():
    sell = replace(BUY, side=Side.SELL, volume=Decimal("0.002"))
    snap = replace(SNAP, daily_trades=10, daily_realised_loss=Decimal("500"), position_base=Decimal("0.002"))
    assert codes(sell, snap) == set()
    bigger = replace(sell, volume=Decimal("0.003"))
    assert {DenialCode.DAILY_TRADE_LIMIT, DenialCode.DAILY_LOSS_LIMIT, DenialCode.INSUFFICIENT_BALANCE} <= \
        codes(bigger, replace(snap, free_balances={"XXBT": Decimal("0.002")}))


def test_while_fills_are_owed_only_a_sell_of_what_is_held_once_the_sells_have_left_passes():
    """A sell whose fill is missing is in ``pending_sell_base``: the position shown still holds it."""
    owed = replace(SNAP, fills_owed=("kbot1",), position_base=Decimal("0.003"), pending_sell_base=Decimal("0.001"),
                   free_balances={"XXBT": Decimal("0.003"), "ZEUR": Decimal("1000")})
    sell = replace(BUY, side=Side.SELL, volume=Decimal("0.002"))
    assert codes(sell, owed) == set()
    assert codes(replace(sell, volume=Decimal("0.00200001")), owed) == {DenialCode.FILLS_OWED}
    assert codes(replace(BUY, volume=Decimal("0.0001")), owed) == {DenialCode.FILLS_OWED}


def test_a_sell_of_what_is_held_is_not_capped_by_the_largest_order_value():
    """The protective exit sells the whole position in one order; under the documented defaults a
    full position (0.01 XBT) is worth several largest orders, so a cap here would trap the position."""
    held = replace(SNAP, position_base=Decimal("0.01"), free_balances={"XXBT": Decimal("0.01")})
    sell = replace(BUY, side=Side.SELL, volume=Decimal("0.01"))   # 600 EUR > 500 EUR largest order
    assert codes(sell, held) == set()
    more = replace(sell, volume=Decimal("0.01000001"))               # beyond what is held: new exposure
    assert DenialCode.MAX_NOTIONAL in codes(more, replace(held, free_balances={"XXBT": Decimal("1")}))
    # Resting sells may already have filled unseen: only what they leave is certainly held.
    offered = replace(held, pending_sell_base=Decimal("0.004"), free_balances={"XXBT": Decimal("1")})
    assert DenialCode.MAX_NOTIONAL in codes(sell, offered)
    assert codes(replace(sell, volume=Decimal("0.006")), offered) == set()


def test_market_orders_use_the_mid_for_notional():
    market = OrderRequest(pair="XBTEUR", side=Side.BUY, ordertype=OrderType.MARKET, volume=Decimal("0.009"))
    found = [d for d in denials(market) if d.code is DenialCode.MAX_NOTIONAL]
    assert found and "540" in found[0].detail


@pytest.mark.parametrize(("ordertype", "price", "refused"), [
    (OrderType.TAKE_PROFIT, "66000", False),      # a target 10 % above the market is the point of it
    (OrderType.STOP_LOSS, "54000", False),        # so is a stop 10 % below
    (OrderType.STOP_LOSS, "60500", True),         # a sell stop above the market fires at once
    (OrderType.TAKE_PROFIT, "59500", True),       # so does a sell target below it
    (OrderType.STOP_LOSS_LIMIT, "61000", True),
])
def test_protective_trigger_orders_are_collared_by_side_not_by_distance(ordertype, price, refused):
    sell = OrderRequest(pair="XBTEUR", side=Side.SELL, ordertype=ordertype, volume=Decimal("0.001"),
                        price=Decimal(price), price2=Decimal(price) if "limit" in ordertype.value else None)
    assert (DenialCode.PRICE_COLLAR in codes(sell)) is refused


def test_leverage_is_checked_but_never_sent():
    """A spot bot places no margin order: the request carries the leverage asked for, the wire does not."""
    request = replace(BUY, leverage="2:1")
    assert request.leverage == "2:1"
    assert "leverage" not in request.as_params() and "leverage" not in replace(request, validate=True).as_params()
