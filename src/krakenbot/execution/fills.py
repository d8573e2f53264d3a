"""Fills as Kraken reports them: paging the trade history, and checking each fee.

Shared by the executor (importing fills) and the reconciler (comparing them), so both
page the same way and judge a fee by the same rule: the account's own fee tier for the
pair (TradeVolume), maker or taker as the fill executed. The tier moves with the account's
30-day volume (down as it trades, up as old trades leave the window), so a rate read is
right only around when it was read: ``AccountFees`` keeps every reading's time and judges
a fill by the readings around it, reading again for a fill newer than the last one.
"""
from __future__ import annotations

import bisect
import json
from decimal import Decimal
from typing import Any

from krakenbot.clock import Clock
from krakenbot.errors import KrakenError
from krakenbot.models import PairInfo, TradeInfo
from krakenbot.positions import Discrepancy
from krakenbot.store import FillRecord, Store

__all__ = ["fetch_trades", "account_rates", "AccountFees", "fee_tolerance", "fee_discrepancy", "FEES_KEY"]

TRADES_PAGE = 50  # Kraken's TradesHistory page size
# Kraken keeps fiat amounts (and so the fees charged in them) at 4 decimals (Assets: ZEUR,
# ZUSD ``decimals`` 4), fewer than a pair's ``cost_decimals`` (5 for XBT/EUR).
FEE_ASSET_DECIMALS = 4
FEES_KEY = "fees."  # meta key prefix (+ pair id): the account's rates per pair, as read and when
_KEPT_READINGS = 50  # periods of one rate kept per pair: tiers change a few times a month at most


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


def account_rates(account: Any, info: PairInfo) -> tuple[Decimal, Decimal]:
    """The account's own (taker, maker) percent on the pair now: its TradeVolume tier, or the pair's
    schedule (AssetPairs, its first tier) when Kraken names no fee for the pair. A failed read raises."""
    volume = account.trade_volume(pair=info.name)
    if info.name not in volume.fees:
        return info.fee_taker, info.fee_maker
    return volume.fees[info.name], volume.fees_maker.get(info.name, info.fee_maker)


class AccountFees:
    """The account's fee rates per pair as read over time, kept in the store's meta (a restart keeps them).

    Each pair holds periods ``[first read, last read, taker, maker]`` of one rate. A fill at time t was
    charged the rate of the last reading before t or of the first one at or after it (the same rate
    unless the tier changed in between, perhaps with that very fill); the first reading's rate when none
    was before. A fill newer than every reading is read for: the reading is taken after the fill, at
    the bot's time or the fill's, whichever is later (the exchange's clock may run ahead)."""

    def __init__(self, client: Any, store: Store, clock: Clock) -> None:
        self.client = client
        self.store = store
        self.clock = clock
        self._periods: dict[str, list[list]] = {}

    def _of(self, pair: str) -> list[list]:
        if pair not in self._periods:
            raw = self.store.get_meta(FEES_KEY + pair)
            self._periods[pair] = [] if raw is None else [[p[0], p[1], Decimal(p[2]), Decimal(p[3])]
                                                           for p in json.loads(raw)]
        return self._periods[pair]

    def _read(self, info: PairInfo, newest: float) -> list[list] | None:
        """A reading now, which covers every fill up to ``newest``; None when the read fails."""
        try:
            taker, maker = account_rates(self.client.account, info)
        except KrakenError:
            return None
        periods = self._of(info.name)
        now = max(self.clock.time(), newest)
        if periods and (periods[-1][2], periods[-1][3]) == (taker, maker):
            periods[-1][1] = max(periods[-1][1], now)
        else:
            periods.append([now, now, taker, maker])
            del periods[:-_KEPT_READINGS]
        self.store.set_meta(FEES_KEY + info.name, json.dumps([[a, b, str(t), str(m)] for a, b, t, m in periods]))
        return periods

    def rates(self, fill: FillRecord, info: PairInfo) -> tuple[Decimal, ...] | None:
        """The percents the fill may rightly have been charged (maker or taker as it executed); None
        when the account's rate cannot be read now (the fill is judged at a later look)."""
        periods = self._of(info.name)
        if not periods or fill.time > periods[-1][1]:
            periods = self._read(info, fill.time)
            if periods is None:
                return None
        at = 3 if fill.maker else 2
        i = bisect.bisect_left([p[1] for p in periods], fill.time)  # the first reading at or after: in period i
        if i == 0 or periods[i][0] < fill.time:  # and the last one before it too (or none was before)
            return (periods[i][at],)
        return periods[i][at], periods[i - 1][at]


def fee_tolerance(info: PairInfo) -> Decimal:
    """How far a correctly charged fee may sit from the exact rate: half a unit where the
    exchange rounds it, and never less than one unit of the pair's cost. A wrong tier or a
    maker/taker mix-up moves a fee by 8 % or more, far beyond this for any real order."""
    rounding = Decimal(1).scaleb(-min(info.cost_decimals, FEE_ASSET_DECIMALS)) / 2
    return max(rounding, Decimal(1).scaleb(-info.cost_decimals))


def fee_discrepancy(fill: FillRecord, info: PairInfo, rates: tuple[Decimal, ...]) -> Discrepancy | None:
    """A ``fee_mismatch`` when the charged fee is none of ``rates`` (percent) of the fill's cost, else None."""
    expected = [fill.cost * rate / 100 for rate in rates]
    if any(abs(fill.fee - fee) <= fee_tolerance(info) for fee in expected):
        return None
    return Discrepancy("fee_mismatch", fill.trade_id, str(expected[0]), str(fill.fee),
                       f"{'maker' if fill.maker else 'taker'} rate {' or '.join(f'{r}%' for r in rates)}"
                       f" on cost {fill.cost}")
