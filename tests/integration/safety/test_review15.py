"""Review 15: ways the owed-fills follow-ups (the protective exit's ``sold_unrecorded``) can be broken.
Each test here fails against aa2815f; none of them is fixed by this branch."""
from __future__ import annotations

from decimal import Decimal


def test_a_stop_loss_sells_only_what_a_resting_sell_leaves(sim, make_bot):
    """The bot holds 0.02, 0.01 of it promised to a resting take-profit sell (the strategy's take-profit is a
    limit at the bid, which rests once the bid falls away). The price falls through the stop: the exit sells the
    recorded position minus only the sells whose fills are owed, so 0.02, not the 0.01 left, while the guard's
    own rule for a sale of what the bot holds (``sells_only_held``) subtracts resting sells too. On an account
    holding only the bot's coins Kraken's hold makes the 0.02 an INSUFFICIENT_BALANCE refusal at every cycle (the
    stop-loss never gets out); on one holding more, the bot sells 0.03 of the 0.02 it bought once the resting
    sell fills."""
    bot = make_bot("live", live_flag=True, STOP_LOSS_PCT="5", MAX_ORDER_EUR="100000", MAX_POSITION_PCT="100")
    for _ in range(2):
        assert bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01")).placed
    resting = bot.safety.submit_order("XBTEUR", "sell", "limit", Decimal("0.01"), Decimal("61000"))
    assert resting.placed and resting.status == "OPEN", resting
    sim.shock("XBTEUR", "-10")
    sim.advance(5)  # past the market data cache's freshness window
    bot.safety.ticker("XBTEUR")  # the cycle's look at the market
    outcomes = bot.safety.check_protective_exits()
    assert [o.placed for o in outcomes] == [True], [(o.codes, o.reason) for o in outcomes]
    bot.safety.refresh_orders()
    sells = [o for o in bot.store.orders() if o.side == "sell"]
    promised = sum((o.volume if o.status in ("OPEN", "PENDING_SUBMIT", "UNKNOWN", "PENDING_CANCEL") else o.volume_executed
                    for o in sells), Decimal(0))  # sold, or offered on the book (a cancel first would do too)
    assert promised <= Decimal("0.02"), f"{promised} sold or offered of the 0.02 bought: " \
        f"{[(o.status, str(o.volume), str(o.volume_executed)) for o in sells]}"
