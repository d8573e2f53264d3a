from __future__ import annotations

from decimal import Decimal

from domain_helpers import XBTEUR

from krakenbot.clock import ManualClock
from krakenbot.models import OrderRequest, OrderType, Side
from krakenbot.risk import DenialCode, RiskLimits, RiskManager, RiskSnapshot, TradingState
from krakenbot.store import FillRecord, Store, utc_day

LIMITS = RiskLimits(max_daily_trades=2, max_daily_loss=Decimal("10"), max_order_notional=Decimal("100"))
SNAP = RiskSnapshot(pair_info=XBTEUR, mid_price=Decimal("60000"), market_data_age_s=Decimal(0),
                    portfolio_value=Decimal("10000"), free_balances={"ZEUR": Decimal("10000"), "XXBT": Decimal(1)})
BUY = OrderRequest(pair="XBTEUR", side=Side.BUY, ordertype=OrderType.LIMIT, volume=Decimal("0.001"),
                   price=Decimal("60000"))


def placed_orders(rm, count=2):
    """Count orders placed today as the executor does, in the store's daily ``trades`` counter."""
    for _ in range(count):
        rm.store.add_daily(utc_day(rm.clock.time()), "trades", 1)


def losing_round_trip(store, now):
    """Bought 0.01 XBT at 60,000 and sold it at 59,000 today: a loss of 602.4 - 587.64 = 14.76 EUR."""
    store.record_fill(FillRecord("T1", "O1", "XXBTZEUR", "buy", Decimal("60000"), Decimal("0.01"), Decimal("600"),
                                 Decimal("2.4"), now, False))
    store.record_fill(FillRecord("T2", "O2", "XXBTZEUR", "sell", Decimal("59000"), Decimal("0.01"), Decimal("590"),
                                 Decimal("2.36"), now, False))


def test_returns_every_reason_not_just_the_first(store, clock):
    rm = RiskManager(LIMITS, store, clock)
    rm.halt("test")
    placed_orders(rm)
    big = OrderRequest(pair="XBTEUR", side=Side.BUY, ordertype=OrderType.LIMIT, volume=Decimal("0.05"),
                       price=Decimal("70000"))
    decision = rm.check(big, SNAP)
    assert not decision.approved
    assert {DenialCode.TRADING_HALTED, DenialCode.DAILY_TRADE_LIMIT, DenialCode.MAX_NOTIONAL,
            DenialCode.MAX_POSITION, DenialCode.PRICE_COLLAR} <= {d.code for d in decision.denials}
    audit = store.audit_rows("risk_check")
    assert audit[-1]["allowed"] is False and "TRADING_HALTED" in audit[-1]["detail"]["codes"]


def test_approves_a_sane_order(store, clock):
    decision = RiskManager(LIMITS, store, clock).check(BUY, SNAP)
    assert decision.approved and decision.denials == []


def test_state_changes_go_through_one_audited_method(store, clock):
    rm = RiskManager(LIMITS, store, clock)
    assert rm.trading_state is TradingState.ACTIVE
    rm.halt("drawdown", actor="risk")
    rm.resume("operator checked")
    rows = store.audit_rows("trading_state")
    assert [(r["detail"]["from"], r["detail"]["to"], r["actor"]) for r in rows] == [
        ("ACTIVE", "HALTED", "risk"), ("HALTED", "ACTIVE", "operator")]
    assert rows[0]["detail"]["reason"] == "drawdown"


def test_daily_count_resets_at_midnight_utc(store):
    clock = ManualClock(start=1_767_225_600.0 + 86_400 - 60)  # 2026-01-01 23:59:00Z
    rm = RiskManager(LIMITS, store, clock)
    placed_orders(rm)
    assert DenialCode.DAILY_TRADE_LIMIT in {d.code for d in rm.check(BUY, SNAP).denials}
    clock.advance(59)
    assert not rm.check(BUY, SNAP).approved                      # 23:59:59 still the same day
    clock.advance(1)                                             # 00:00:00 the next day
    assert rm.daily_trades() == 0
    assert rm.check(BUY, SNAP).approved


def test_count_loss_and_halt_survive_a_restart(tmp_path, clock):
    path = str(tmp_path / "bot.sqlite")
    with Store(path) as s1:
        rm = RiskManager(LIMITS, s1, clock)
        placed_orders(rm)
        losing_round_trip(s1, clock.time())
        rm.halt("crash test")
    with Store(path) as s2:
        rm2 = RiskManager(LIMITS, s2, clock)
        assert rm2.daily_trades() == 2
        assert rm2.daily_realised_loss() == Decimal("14.76")
        assert rm2.trading_state is TradingState.HALTED
        codes = {d.code for d in rm2.check(BUY, SNAP).denials}
        assert {DenialCode.TRADING_HALTED, DenialCode.DAILY_TRADE_LIMIT} <= codes


def test_daily_loss_comes_from_todays_fills(store, clock):
    now = clock.time()
    store.record_fill(FillRecord("T1", "O1", "XXBTZEUR", "buy", Decimal("60000"), Decimal("0.01"), Decimal("600"),
                                 Decimal("2.4"), now - 86_400, False))       # yesterday
    store.record_fill(FillRecord("T2", "O2", "XXBTZEUR", "sell", Decimal("59000"), Decimal("0.01"), Decimal("590"),
                                 Decimal("2.36"), now + 10, False))          # today: loss 602.4 - 587.64 = 14.76
    clock.advance(20)
    rm = RiskManager(LIMITS, store, clock)
    assert rm.daily_realised_loss() == Decimal("14.76")
    assert DenialCode.DAILY_LOSS_LIMIT in {d.code for d in rm.check(BUY, SNAP).denials}
    clock.advance(86_400)                                                    # tomorrow: nothing realised yet
    assert rm.daily_realised_loss() == 0
    assert rm.check(BUY, SNAP).approved
