"""MarketDataService.trades_between over scripted Trades pages: pure paging logic (the real
exchange is covered in tests/integration/client/test_trade_history_http.py)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.clock import ManualClock
from krakenbot.errors import KrakenError, MalformedResponse
from krakenbot.market_data import MarketDataService
from krakenbot.models import PublicTrade, TradesPage

NS = 1_000_000_000


def trade(t: float, tid: int) -> PublicTrade:
    return PublicTrade(Decimal("60000.0"), Decimal("0.01"), t, "b", "l", tid)


class ScriptedMarket:
    """Answers Trades from a list of (trades, last) pages and records the ``since`` asked."""

    def __init__(self, pages):
        self.pages = list(pages)
        self.asked: list[str] = []

    def recent_trades(self, pair, since=None, count=None):
        self.asked.append(since)
        trades, last = self.pages.pop(0) if self.pages else ((), self.asked[-1])
        return TradesPage("XXBTZEUR", tuple(trades), str(last))


class ScriptedClient:
    def __init__(self, pages):
        self.market = ScriptedMarket(pages)
        self.clock = ManualClock()


def service(pages, max_pages=50):
    client = ScriptedClient(pages)
    return MarketDataService(client, client.clock, max_pages=max_pages), client.market


def test_a_trade_repeated_at_a_page_boundary_is_returned_once_in_order():
    pages = [([trade(100, 1), trade(101, 2)], 101 * NS), ([trade(101, 2), trade(102, 3)], 102 * NS), ([], 102 * NS)]
    svc, market = service(pages)
    trades = svc.trades_between("XBTEUR", 100, 200)
    assert [t.trade_id for t in trades] == [1, 2, 3]
    assert market.asked == [str(100 * NS - 1), str(101 * NS), str(102 * NS)]


def test_paging_stops_at_the_first_trade_at_or_after_the_end():
    pages = [([trade(100, 1), trade(150, 2)], 150 * NS), ([trade(199, 3), trade(200, 4)], 200 * NS)]
    svc, market = service(pages)
    assert [t.trade_id for t in svc.trades_between("XBTEUR", 100, 200)] == [1, 2, 3]
    assert len(market.asked) == 2


def test_a_cursor_that_does_not_advance_fails_instead_of_looping():
    pages = [([trade(100, 1)], 100 * NS), ([trade(100, 1)], 100 * NS)] + [([trade(100, 1)], 100 * NS)] * 50
    svc, market = service(pages)
    with pytest.raises(MalformedResponse):
        svc.trades_between("XBTEUR", 100, 200)
    assert len(market.asked) == 2


def test_a_period_longer_than_the_page_budget_fails_closed():
    pages = [([trade(100 + k, k + 1)], (100 + k) * NS) for k in range(10)]
    svc, market = service(pages, max_pages=3)
    with pytest.raises(KrakenError, match="more than 3 pages"):
        svc.trades_between("XBTEUR", 100, 200)
    assert len(market.asked) == 3


def test_trades_out_of_time_order_are_refused():
    pages = [([trade(150, 1), trade(120, 2)], 150 * NS)]
    svc, _ = service(pages)
    with pytest.raises(MalformedResponse):
        svc.trades_between("XBTEUR", 100, 200)
