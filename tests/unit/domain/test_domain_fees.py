"""The account's own fee rate, read around each fill's time: which rates a fill may have been charged."""
from __future__ import annotations

from decimal import Decimal

from domain_helpers import XBTEUR

from krakenbot.clock import ManualClock
from krakenbot.errors import ServiceUnavailableError
from krakenbot.execution.fills import AccountFees
from krakenbot.models import TradeVolume
from krakenbot.store import FillRecord, Store

D = Decimal


class Account:
    """TradeVolume of an account whose tier the test moves; counts the reads."""

    def __init__(self) -> None:
        self.taker, self.maker, self.reads, self.down = D("0.40"), D("0.25"), 0, False

    @property
    def account(self):
        return self

    def trade_volume(self, pair=None):
        self.reads += 1
        if self.down:
            raise ServiceUnavailableError("EService:Unavailable")
        return TradeVolume("ZUSD", D(0), {pair: self.taker}, {pair: self.maker})


def fill(time: float, maker: bool = False) -> FillRecord:
    return FillRecord(f"T{time}", "O1", "XXBTZEUR", "buy", D("60000"), D("0.01"), D("600"), D("2.4"), time, maker)


def test_a_fill_is_judged_by_the_readings_around_it_and_read_for_only_when_newer_than_all():
    account, clock, store = Account(), ManualClock(1000.0), Store(":memory:")
    fees = AccountFees(account, store, clock)
    assert fees.rates(fill(1000.0), XBTEUR) == (D("0.40"),) and account.reads == 1
    assert fees.rates(fill(999.0, maker=True), XBTEUR) == (D("0.25"),) and account.reads == 1  # older: no read
    account.taker, account.maker = D("0.35"), D("0.20")      # the account's volume passed 10,000
    clock.advance(60)
    assert fees.rates(fill(1030.0), XBTEUR) == (D("0.35"), D("0.40")) and account.reads == 2  # either side of it
    clock.advance(60)
    assert fees.rates(fill(1100.0), XBTEUR) == (D("0.35"),) and account.reads == 3     # within the new tier
    assert fees.rates(fill(1000.0), XBTEUR) == (D("0.40"),)                            # an old fill keeps its tier
    restarted = AccountFees(account, store, clock)             # the readings are kept in the store
    assert restarted.rates(fill(1000.0), XBTEUR) == (D("0.40"),) and account.reads == 3


def test_an_unreadable_rate_leaves_the_fill_for_a_later_look():
    account, clock = Account(), ManualClock(1000.0)
    account.down = True
    fees = AccountFees(account, Store(":memory:"), clock)
    assert fees.rates(fill(1000.0), XBTEUR) is None
    account.down = False
    assert fees.rates(fill(1000.0), XBTEUR) == (D("0.40"),)


def test_a_fill_stamped_ahead_of_the_bots_clock_is_read_for_once():
    """The exchange's clock may run ahead of the bot's: the reading after the fill covers it all the same."""
    account, clock = Account(), ManualClock(1000.0)
    fees = AccountFees(account, Store(":memory:"), clock)
    for _ in range(3):
        assert fees.rates(fill(1002.5), XBTEUR) == (D("0.40"),)
    assert account.reads == 1
