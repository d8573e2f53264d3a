"""Fills as Kraken reports them: paging the trade history, and checking each fee.

Shared by the executor (importing fills) and the reconciler (comparing them), so both
page the same way and judge a fee by the same rule.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from krakenbot.models import PairInfo, TradeInfo
from krakenbot.positions import Discrepancy
from krakenbot.store import FillRecord

__all__ = ["fetch_trades", "expected_fee", "fee_tolerance", "fee_discrepancy"]

TRADES_PAGE = 50  # Kraken's TradesHistory page size
# Kraken keeps fiat amounts (and so the fees charged in them) at 4 decimals (Assets: ZEUR,
# ZUSD ``decimals`` 4), fewer than a pair's ``cost_decimals`` (5 for XBT/EUR).
FEE_ASSET_DECIMALS = 4


def fetch_trades(account: Any, start: int | None) -> dict[str, TradeInfo]:
    """Every trade after ``start`` (Kraken's exclusive bound, whole seconds; None = all):
    TradesHistory pages of 50, newest first, until a short or repeated page."""
    trades: dict[str, TradeInfo] = {}
    ofs = 0
    while True:
        page = account.trades_history(start=start, ofs=ofs or None)
        new = {k: v for k, v in page.items() if k not in trades}
        trades.update(new)
        if len(page) < TRADES_PAGE or not new:
            return trades
        ofs += len(page)


def expected_fee(fill: FillRecord, info: PairInfo) -> Decimal:
    """The fee the pair's schedule asks for this fill (maker or taker rate, in percent)."""
    rate = info.fee_maker if fill.maker else info.fee_taker
    return fill.cost * rate / 100


def fee_tolerance(info: PairInfo) -> Decimal:
    """How far a correctly charged fee may sit from the exact rate: half a unit where the
    exchange rounds it, and never less than one unit of the pair's cost. A wrong tier or a
    maker/taker mix-up moves a fee by 8 % or more, far beyond this for any real order."""
    rounding = Decimal(1).scaleb(-min(info.cost_decimals, FEE_ASSET_DECIMALS)) / 2
    return max(rounding, Decimal(1).scaleb(-info.cost_decimals))


def fee_discrepancy(fill: FillRecord, info: PairInfo) -> Discrepancy | None:
    """A ``fee_mismatch`` when the charged fee is not the schedule's, else None."""
    expected = expected_fee(fill, info)
    if abs(fill.fee - expected) <= fee_tolerance(info):
        return None
    rate = info.fee_maker if fill.maker else info.fee_taker
    return Discrepancy("fee_mismatch", fill.trade_id, str(expected), str(fill.fee),
                       f"{'maker' if fill.maker else 'taker'} rate {rate}% on cost {fill.cost}")
