from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from krakenbot.models import OrderInfo, Side, TradeInfo
from krakenbot.positions import PositionManager
from krakenbot.store import FillRecord, OrderRecord, Store

D = Decimal


def fill(tid, side, price, vol, fee, t, txid="O1"):
    return FillRecord(tid, txid, "XXBTZEUR", side, D(price), D(vol), D(price) * D(vol), D(fee), t, False)


def test_average_entry_includes_fees_and_realised_pnl_is_net(store):
    store.record_fill(fill("T1", "buy", "60000", "0.01", "2.4", 1))      # 600 + 2.4
    store.record_fill(fill("T2", "buy", "62000", "0.01", "2.48", 2))     # 620 + 2.48
    pm = PositionManager(store)
    pos = pm.position("XXBTZEUR")
    assert pos.volume == D("0.02") and pos.cost_basis == D("1224.88")
    assert pos.average_entry == D("61244")
    store.record_fill(fill("T3", "sell", "63000", "0.01", "2.52", 3))    # proceeds 627.48 - basis 612.44
    pos = pm.position("XXBTZEUR")
    assert pos.realised_pnl == D("15.04")
    assert pos.volume == D("0.01") and pos.cost_basis == D("612.44")
    assert pos.fees_paid == D("7.40")
    assert pm.realised_pnl(since=2.5) == D("15.04") and pm.realised_pnl(until=2.5) == 0


def test_selling_more_than_bought_realises_only_the_covered_part(store):
    store.record_fill(fill("T1", "buy", "100", "1", "0", 1))
    store.record_fill(fill("T2", "sell", "110", "2", "0", 2))
    pos = PositionManager(store).position("XXBTZEUR")
    assert pos.realised_pnl == D("10") and pos.uncovered_sell_volume == D("1") and pos.volume == 0


def test_expected_balances_follow_fills_after_the_baseline(store):
    store.record_fill(fill("T0", "buy", "100", "1", "0", 0))       # before the baseline: already in it
    pm = PositionManager(store)
    assert pm.balances() is None
    pm.set_baseline({"ZEUR": D("1000"), "XXBT": D("1")})
    store.record_fill(fill("T1", "buy", "60000", "0.01", "2.4", 1))
    assert pm.balances() == {"ZEUR": D("397.6"), "XXBT": D("1.01")}


def _order(status="OPEN", vol_exec="0"):
    return OrderRecord("kb1", "XXBTZEUR", "buy", "limit", D("0.01"), D("60000"), status, 1.0, 1.0, txid="O1",
                       volume_executed=D(vol_exec))


def _info(vol_exec="0"):
    return OrderInfo("O1", "open", "XBTEUR", Side.BUY, "limit", D("0.01"), D(vol_exec), D(0), D(0), D(0), D("60000"),
                     1.0, cl_ord_id="kb1")


def _trade(tid="T1", fee="2.4"):
    return TradeInfo(tid, "O1", "XXBTZEUR", Side.BUY, "limit", D("60000"), D("0.01"), D("600"), D(fee), 1.0, False)


def test_reconcile_clean_when_consistent(store):
    store.upsert_order(_order())
    store.record_fill(fill("T1", "buy", "60000", "0.01", "2.4", 1))
    pm = PositionManager(store)
    pm.set_baseline({"ZEUR": D("1000")})
    store.upsert_order(_order("FILLED", "0.01"))
    report = pm.reconcile({"ZEUR": D("1000")}, {}, {"T1": _trade()})
    assert report.clean, report.discrepancies


def test_reconcile_lists_each_discrepancy_precisely(store):
    store.upsert_order(_order())
    pm = PositionManager(store)
    pm.set_baseline({"ZEUR": D("1000"), "XXBT": D("0")})
    store.record_fill(fill("T9", "buy", "60000", "0.01", "2.4", 1))     # the exchange never saw this one
    report = pm.reconcile(
        {"ZEUR": D("1000"), "XXBT": D("0")},
        {"O1": _info("0.005"), "O2": _info()},
        {"T1": _trade(), "TX": TradeInfo("TX", "OFOREIGN", "XXBTZEUR", Side.SELL, "market", D(1), D(1), D(1), D(0),
                                         1.0, False)},
    )
    got = {(d.kind, d.key, d.bot_value, d.exchange_value) for d in report.discrepancies}
    assert ("fill_missing", "T1", None, "buy 0.01 @ 60000 fee 2.4") in got
    assert ("foreign_fill", "TX", None, "sell 1 @ 1 fee 0") in got
    assert ("fill_not_on_exchange", "T9", "buy 0.01 @ 60000", None) in got
    assert ("order_mismatch", "kb1.volume_executed", "0", "0.005") in got
    assert ("order_unknown_to_bot", "O2", None, "open buy 0.01 XBTEUR") in got
    assert ("balance_mismatch", "ZEUR", "397.60", "1000") in got
    assert ("balance_mismatch", "XXBT", "0.01", "0") in got
    assert len(report.discrepancies) == len(got) == 7


def test_reconcile_reports_fill_field_mismatch_and_vanished_order(store):
    store.upsert_order(_order())
    store.record_fill(fill("T1", "buy", "60000", "0.01", "2.4", 1))
    report = PositionManager(store).reconcile(None, {}, {"T1": _trade(fee="2.5")})
    got = {(d.kind, d.key, d.bot_value, d.exchange_value) for d in report.discrepancies}
    assert got == {("fill_mismatch", "T1.fee", "2.4", "2.5"), ("order_not_on_exchange", "kb1", "OPEN", None)}


_fills = st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 500), st.integers(50_000, 70_000),
                            st.integers(0, 40)), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None)
@given(_fills, st.integers(40_000, 80_000))
def test_realised_plus_unrealised_equals_cash_flow_plus_holdings(rows, mark):
    """Whatever the sequence, PnL splits into realised and unrealised parts (up to Decimal's
    28-digit rounding of the average cost: far below any cent)."""
    with Store(":memory:") as s:
        held, cash = D(0), D(0)
        for i, (side, vol_units, price, fee_bp) in enumerate(rows):
            vol = D(vol_units) / 10_000
            if side == "sell" and vol > held:
                vol = held                         # stay covered: the identity holds for the bot's own coins
            if vol == 0:
                continue
            cost = vol * price
            fee = cost * fee_bp / 10_000
            s.record_fill(FillRecord(f"T{i}", "O", "XXBTZEUR", side, D(price), vol, cost, fee, float(i), False))
            held += vol if side == "buy" else -vol
            cash += (-cost - fee) if side == "buy" else (cost - fee)
        pos = PositionManager(s).position("XXBTZEUR")
        assert pos.volume == held
        unrealised = pos.volume * mark - pos.cost_basis
        assert abs(pos.realised_pnl + unrealised - (cash + held * mark)) < D("1e-18")


def _full_replay(store, since=None, until=None):
    """The reference: every fill replayed from scratch, oldest first; realised PnL within [since, until)."""
    pm, positions, window = PositionManager(store), {}, D(0)
    for f in store.fills():
        realised = pm._apply_fill(positions, f)
        if (since is None or f.time >= since) and (until is None or f.time < until):
            window += realised
    return positions, window


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(90, 110), st.integers(1, 5),
                          st.integers(0, 3), st.integers(0, 20), st.booleans()), min_size=1, max_size=25))
def test_incremental_replay_equals_a_full_replay_after_interleaved_additions(ops):
    """The cached replay is extended between reads, including with fills older than the last
    one seen (which must force a full replay); every read equals a fresh full replay."""
    with Store(":memory:") as st_:
        cached = PositionManager(st_)
        for i, (side, price, vol, fee, t, read) in enumerate(ops):
            st_.record_fill(fill(f"T{i}", side, str(price), str(vol), str(fee), t))
            if read:
                assert cached.positions() == _full_replay(st_)[0]
                for since, until in ((None, None), (5, 15), (t, None), (None, t)):
                    assert cached.realised_pnl(since=since, until=until) == _full_replay(st_, since, until)[1]
        assert cached.positions() == _full_replay(st_)[0]


def test_positions_returned_are_copies_of_the_cache(store):
    store.record_fill(fill("T1", "buy", "100", "1", "0", 1))
    pm = PositionManager(store)
    pm.position("XXBTZEUR").volume += D(5)
    assert pm.position("XXBTZEUR").volume == D(1)
