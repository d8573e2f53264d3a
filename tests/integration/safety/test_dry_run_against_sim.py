"""Dry run against the simulator over HTTP: orders fill locally against the exchange's live
market, and no order-entry or cancel call ever reaches the exchange (its access log proves it)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from krakenbot.client import endpoints as table

# Every call that enters, changes or cancels an order at the exchange.
ORDER_CALLS = table.names(effect=table.Effect.PLACE) | table.names(effect=table.Effect.CANCEL)
WALLET = "ZEUR=5000,XXBT=0"


def dry_bot(make_bot, **env):
    return make_bot("dry-run", DRY_RUN_WALLET=env.pop("DRY_RUN_WALLET", WALLET), **env)


def sent(sim, start):
    return [r.endpoint for r in sim.access_log_since(start)]


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def test_a_dry_run_market_buy_walks_the_book_and_sends_no_order(sim, make_bot):
    sim.set_liquidity("XBTEUR", "0.004")  # a thin book: the order takes three levels
    bot = dry_bot(make_bot)
    start = len(sim.access_log)
    exchange_before = sim.balances()
    book = bot.safety.order_book("XBTEUR", 500)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert not ORDER_CALLS & set(sent(sim, start)), sent(sim, start)
    assert outcome.accepted and outcome.placed, outcome
    assert sim.orders() == [] and sim.balances() == exchange_before
    fills = sorted(bot.store.fills(), key=lambda f: f.price)
    expected = [(level.price, min(level.volume, Decimal("0.01") - Decimal("0.004") * i))
                for i, level in enumerate(book.asks[:3])]
    assert [(f.price, f.volume) for f in fills] == expected
    assert all(f.fee == cents(f.cost * Decimal("0.40") / 100) and not f.maker for f in fills)
    wallet = bot.safety.balances()
    assert wallet["XXBT"] == Decimal("0.01")
    assert wallet["ZEUR"] == Decimal(5000) - sum(f.cost + f.fee for f in fills)
    [order] = bot.store.orders()
    assert order.status == "FILLED" and order.volume_executed == Decimal("0.01")
