"""Review of issue 24 (a market with other traders): each test here fails against the merged code and
names the defect it proves. Loopback HTTP with unmodified krakenex, a manual clock."""
from __future__ import annotations

from test_sim_flow import D, PAIR, inside, ok, place, query  # noqa: F401 - the fixtures below come from there too
from test_sim_flow import alice, bob, sim  # noqa: F401


def test_an_amend_that_reaches_another_accounts_resting_order_trades_with_it(sim, alice, bob):
    """AmendOrder re-queues the order at its new price (trading_api.py, matcher.queue) but never matches
    it: a buy amended up to another account's resting ask leaves the book locked (bid == ask), and the
    two orders never trade, however long the clock runs; Depth hides it. On Kraken a limit price
    change that reaches the other side trades (post_only is the amend's flag to refuse that instead)."""
    price = D(inside(sim))  # one tick inside both synthetic touches: alice alone at the front
    ask = place(alice, "sell", "0.05", str(price))
    bid = place(bob, "buy", "0.05", str(price - 5))  # rests, far from the ask
    ok(bob, "AmendOrder", txid=bid, limit_price=str(price))  # now at alice's price
    sim.advance(60)
    sold, bought = query(alice, ask), query(bob, bid)
    assert (sold["vol_exec"], bought["vol_exec"]) == ("0.05000000", "0.05000000"), \
        f"locked book left standing: alice {sold['status']} {sold['vol_exec']}, bob {bought['status']} " \
        f"{bought['vol_exec']}"


def test_an_amend_through_the_touch_takes_the_best_priced_resting_order_first(sim, alice, bob):
    """The same gap, as a price-priority violation: a buy amended above both alice's ask and the synthetic
    touch is filled at the next step by the synthetic book, as maker at its own (worse) price, while
    alice's better-priced ask stays untouched in front of it."""
    price = D(inside(sim))
    ask = place(alice, "sell", "0.05", str(price))
    bid = place(bob, "buy", "0.05", str(price - 5))
    ok(bob, "AmendOrder", txid=bid, limit_price=str(price + 1))  # through alice's ask and the synthetic touch
    sim.advance(2)
    trades = list(ok(bob, "TradesHistory")["trades"].values())
    assert query(alice, ask)["vol_exec"] == "0.05000000", \
        f"alice's ask at {price} skipped; bob bought at {[(t['price'], t['maker']) for t in trades]}"


def test_a_stop_triggers_at_another_accounts_trade_that_reaches_it(sim, alice):
    """flow.py calls matcher.triggers after each of the other traders' market orders, but an account's
    sweep (Matcher.sweep/execute) never does, and the quiet default skips every step
    (Exchange._catch_up): a market sell by another account prints at alice's stop price and her
    stop-loss stays untriggered for good (here a minute). Pre-existing, but now the two kinds of
    trade disagree: the flow's trade triggers at once, an account's never."""
    from test_sim_flow import FUNDS, client

    bids = alice.query_public("Depth", {"pair": PAIR, "count": 2})["result"]["XXBTZUSD"]["bids"]
    stop = D(bids[1][0])  # the second bid level
    txid = ok(alice, "AddOrder", pair=PAIR, type="sell", ordertype="stop-loss", price=str(stop),
              volume="0.01")["txid"][0]
    carol = client(sim, *sim.create_key(account="carol", balances=FUNDS))
    place(carol, "sell", str(D(bids[0][1]) + D(bids[1][1]) / 2))  # through the first level into the second
    now = sim.clock.time()
    assert min(t["price"] for t in sim.public_trades(PAIR, now - 1, now + 1)) <= stop  # the tape reached it
    sim.advance(60)
    assert query(alice, txid)["status"] == "closed", "the stop never triggered on a trade at its price"
