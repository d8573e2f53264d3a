"""Three days of public trades through the safety wrapper's read facade, over HTTP: several
Trades pages, each asked after the last, and exactly the trades the exchange records."""
from __future__ import annotations

DAY = 86_400


def test_three_days_of_trades_arrive_over_several_pages_complete_and_once(sim, make_bot):
    bot = make_bot("read-only")
    end = sim.clock.time()
    start = end - 3 * DAY
    seen = len(sim.access_log)

    trades = bot.safety.trade_history("XBTEUR", start, end)

    asked = [r for r in sim.access_log_since(seen) if r.endpoint == "Trades"]
    cursors = [int(r.params["since"]) for r in asked]
    assert len(asked) >= 10 and all(r.outcome == "ok" for r in asked)
    assert cursors == sorted(set(cursors))  # each page asked strictly after the previous one
    served = sim.public_trades("XBTEUR", start, end)
    assert len(served) >= 3 * 3000
    ids = [t.trade_id for t in trades]
    assert len(ids) == len(set(ids))
    assert [(t.trade_id, t.price, t.volume, t.time, t.side, t.ordertype) for t in trades] == \
        [(s["trade_id"], s["price"], s["volume"], s["time"], s["side"], s["ordertype"]) for s in served]
    assert all(start <= t.time < end for t in trades)
