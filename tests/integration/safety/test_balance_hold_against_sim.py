"""After an order the wrapper takes its hold off the cached free balance instead of re-reading
BalanceEx; the risk check must never see more free balance than the exchange has."""
from __future__ import annotations

from decimal import Decimal


def exchange_free(sim):
    holds = sim.holds()
    return {a: Decimal(str(v)) - Decimal(str(holds.get(a, 0))) for a, v in sim.balances().items()}


def balance_reads(sim, start):
    return [r.endpoint for r in sim.access_log_since(start) if r.endpoint in ("Balance", "BalanceEx")]


def test_resting_orders_lower_the_cached_free_balance_without_a_read(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed
    start = len(sim.access_log)
    for side, price in (("buy", "59500"), ("sell", "60800"), ("buy", "59200")):
        assert bot.safety.submit_order("XBTEUR", side, "limit", Decimal("0.01"), Decimal(price)).placed
    assert balance_reads(sim, start) == []
    _, free = bot.safety._balances_and_free()
    actual = exchange_free(sim)
    for asset in ("ZEUR", "XXBT"):
        assert free.get(asset, Decimal(0)) <= actual.get(asset, Decimal(0)), (asset, free, actual)
    # the bot's local hold is the exchange's own (buy: price x volume x (1 + worst fee))
    assert actual["ZEUR"] - free["ZEUR"] < Decimal("0.01")


def test_a_market_order_or_an_unknown_outcome_forgets_the_cached_balances(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed
    assert bot.safety._balances is not None
    assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01")).placed
    assert bot.safety._balances is None
    start = len(sim.access_log)
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000")).placed
    assert balance_reads(sim, start) == ["BalanceEx"]


def test_a_refused_order_keeps_the_cache_and_a_cancel_of_a_filled_order_forgets_it(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    placed = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000"))
    cached = bot.safety._balances
    sim.faults.inject(endpoint="AddOrder", kind="error", error="EOrder:Insufficient funds", times=1)
    refused = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59200"))
    assert not refused.placed and bot.safety._balances == cached
    sim.set_price("XBTEUR", "58900")  # the resting buy fills before the cancel reaches it
    late = bot.safety.cancel_order(placed.cl_ord_id)
    assert late.status == "FILLED" and bot.safety._balances is None


def test_a_cancel_gives_back_exactly_the_hold_the_cache_took(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    bot.safety._balances_and_free()
    _, before = bot.safety._balances_and_free()
    placed = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000"))
    assert placed.placed
    start = len(sim.access_log)
    assert bot.safety.cancel_order(placed.cl_ord_id).accepted
    _, after = bot.safety._balances_and_free()
    assert balance_reads(sim, start) == [] and after == before
    actual = exchange_free(sim)
    assert all(after.get(a, Decimal(0)) <= actual.get(a, Decimal(0)) for a in ("ZEUR", "XXBT"))
