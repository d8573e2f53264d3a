from __future__ import annotations

from decimal import Decimal

from domain_helpers import XBTEUR

from krakenbot.risk import RiskLimits, size_order, volatility

LIMITS = RiskLimits(max_position_btc=Decimal("1"), max_position_pct=Decimal("100"), max_order_notional=Decimal("10000"),
                    risk_per_trade_pct=Decimal("1"), volatility_k=Decimal("2"), min_volatility=Decimal("0.0001"))


def closes(step_pct: str, n: int = 20) -> list[Decimal]:
    """Alternating up/down moves of step_pct percent."""
    out, price = [], Decimal(60000)
    for i in range(n):
        out.append(price)
        price = price * (1 + (Decimal(step_pct) / 100) * (1 if i % 2 == 0 else -1))
    return out


def test_volatility_of_flat_prices_is_zero_and_of_moves_positive():
    assert volatility([Decimal(100)] * 10) == 0
    assert volatility(closes("1")) > volatility(closes("0.5")) > 0
    assert isinstance(volatility(closes("1")), Decimal)


def test_more_volatile_market_means_smaller_size():
    calm = size_order(Decimal(10000), Decimal(60000), closes("0.5"), LIMITS, XBTEUR)
    wild = size_order(Decimal(10000), Decimal(60000), closes("2"), LIMITS, XBTEUR)
    assert calm.limited_by == wild.limited_by == "volatility"
    assert wild.volume < calm.volume
    # notional ~ equity * 1% / (2 * vol): four times the volatility, about a quarter of the size
    assert abs(calm.notional / wild.notional - 4) < Decimal("0.3")


def test_size_is_rounded_down_to_the_lot():
    r = size_order(Decimal(10000), Decimal(60000), closes("1"), LIMITS, XBTEUR)
    assert r.volume == XBTEUR.round_volume(r.volume) and r.volume.as_tuple().exponent >= -8
    assert r.notional == r.volume * 60000


def test_clipped_by_hard_limits():
    tight = RiskLimits(max_order_notional=Decimal("100"), max_position_btc=Decimal("1"),
                       max_position_pct=Decimal("100"), min_volatility=Decimal("0.0001"))
    r = size_order(Decimal(100000), Decimal(60000), closes("0.1"), tight, XBTEUR)
    assert r.limited_by == "max_order_notional" and r.notional <= Decimal("100")
    held = RiskLimits(max_order_notional=Decimal("100000"), max_position_btc=Decimal("0.01"),
                      max_position_pct=Decimal("100"), min_volatility=Decimal("0.0001"))
    r = size_order(Decimal(100000), Decimal(60000), closes("0.1"), held, XBTEUR, position_base=Decimal("0.008"))
    assert r.limited_by == "max_position" and r.volume == Decimal("0.002")


def test_below_minimums_means_no_trade():
    r = size_order(Decimal(10), Decimal(60000), closes("5"), LIMITS, XBTEUR)
    assert r.volume == 0 and r.limited_by == "minimum"
