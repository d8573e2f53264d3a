"""Market orders: the fill price estimated on the book is collared (they carry no price)."""
from __future__ import annotations

from decimal import Decimal as D

from domain_helpers import XBTEUR

from krakenbot.models import BookLevel, OrderBook, OrderRequest, OrderType, Side
from krakenbot.risk import DenialCode, RiskLimits, RiskSnapshot
from krakenbot.risk.checks import check_market_slippage, estimate_fill

MID = D("60000")


def book(volume_per_level: str, levels: int = 50, step: str = "60") -> OrderBook:
    v, s = D(volume_per_level), D(step)
    return OrderBook("XXBTZEUR", tuple(BookLevel(MID + 1 + i * s, v, 0) for i in range(levels)),
                     tuple(BookLevel(MID - 1 - i * s, v, 0) for i in range(levels)))


def check(side: Side, volume: str, the_book: OrderBook | None, ordertype=OrderType.MARKET):
    intent = OrderRequest("XXBTZEUR", side, ordertype, D(volume), price=MID if ordertype is OrderType.LIMIT else None)
    snap = RiskSnapshot(pair_info=XBTEUR, mid_price=MID, order_book=the_book)
    return check_market_slippage(intent, snap, RiskLimits(price_collar_pct=D("2")))


def test_walking_the_book_gives_the_average_and_worst_price():
    assert estimate_fill(book("0.01"), Side.BUY, D("0.03")) == (D("60061"), D("60121"))
    assert estimate_fill(book("0.01"), Side.SELL, D("0.015")) == ((D("59999") * 10 + D("59939") * 5) / 15, D("59939"))
    assert estimate_fill(book("0.01", levels=2), Side.BUY, D("0.03")) is None


def test_a_market_order_on_a_deep_book_passes():
    assert check(Side.BUY, "0.05", book("1")) is None


def test_a_market_order_on_a_thin_book_is_refused_with_the_numbers():
    denial = check(Side.BUY, "0.05", book("0.001"))  # 50 levels of 60 EUR: worst 62941, ~4.9 % away
    assert denial is not None and denial.code is DenialCode.PRICE_COLLAR
    assert "62941" in denial.detail and "worst" in denial.detail and "collar 2%" in denial.detail
    sell = check(Side.SELL, "0.05", book("0.001"))
    assert sell is not None and "57059" in sell.detail


def test_a_book_that_cannot_fill_the_volume_is_refused():
    denial = check(Side.BUY, "1", book("0.001"))
    assert denial is not None and denial.code is DenialCode.PRICE_COLLAR and "cannot fill" in denial.detail


def test_limit_orders_are_left_to_the_limit_price_collar():
    assert check(Side.BUY, "0.05", book("0.001"), OrderType.LIMIT) is None
