"""The bot as a separate process, for the crash-recovery tests (``test_crash_recovery.py``).

    python tests/reliability/crash_driver.py <scenario>     (settings from the environment)

It builds the production bot (``Bot.build``, LIVE, a file store) against the simulator the
test serves over HTTP, runs one scenario and, at the chosen kill point, prints
``POINT <name>`` and blocks for ever so the test can SIGKILL it exactly there. The
``recover`` scenario is the restart: it recovers, refreshes and prints ``DONE <json>`` with
the store's view. Its clock is a ``ManualClock`` started at the simulator's time whose
``sleep`` also advances the simulator (``POST /_sim/advance``): both stay on one timeline.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import urllib.request
from decimal import Decimal
from typing import Any

from krakenbot.bot import Bot
from krakenbot.clock import ManualClock
from krakenbot.config import Settings
from krakenbot.store import utc_day

SIM = os.environ["API_DOMAIN"]


def _control(method: str, path: str, body: dict | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{SIM}/_sim/{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


class SimLinkedClock(ManualClock):
    """A manual clock on the simulator's timeline: waiting moves the simulator too."""

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if seconds > 0:
            _control("POST", "advance", {"seconds": seconds})


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def block_here(point: str) -> None:
    """Tell the test where we are, then wait to be killed."""
    say(f"POINT {point}")
    threading.Event().wait()


def build() -> Bot:
    clock = SimLinkedClock(start=float(_control("GET", "state")["time"]))
    return Bot.build(Settings.from_env(os.environ), clock=clock, live_flag=True)


def _view(bot: Bot, **extra: Any) -> dict:
    """What an operator would check after a start: trading state and why, today's count, open orders."""
    halts = [r for r in bot.store.audit_rows() if r.get("action") == "trading_state"]
    return {"trading_state": bot.safety.risk.trading_state.value,
            "halt_reason": (halts[-1].get("detail") or {}).get("reason") if halts else None,
            "daily_trades": bot.safety.risk.daily_trades(),
            "open_orders": sorted(o.cl_ord_id for o in bot.safety.open_orders()),
            "dead_mans_switch_armed": bot.safety.dead_mans_switch.armed, **extra}


def main(scenario: str) -> None:
    bot = build()
    safety = bot.safety
    say("READY")
    if scenario in ("place-hang", "place-swallow"):
        transport = bot.client._transport
        real_send, real_receive = transport.send, transport.receive  # a private call: send, then receive

        def send(method: str, path: str, endpoint: str, *args: Any, **kwargs: Any) -> Any:
            if endpoint == "AddOrder" and scenario == "place-hang":
                say("POINT sending AddOrder")  # the simulator's hang fault holds the request in flight
            return real_send(method, path, endpoint, *args, **kwargs)

        def receive(exchange: Any) -> Any:
            answer = real_receive(exchange)
            if exchange[1] == "AddOrder" and scenario == "place-swallow":  # (connection, endpoint, ...)
                block_here("AddOrder answered, answer not yet read by the executor")
            return answer

        transport.send, transport.receive = send, receive
        safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))
    elif scenario == "fill":
        store = bot.store
        real_fill = store.record_fill

        def hooked_fill(fill: Any) -> bool:
            block_here(f"filled at the exchange ({fill.trade_id}), not yet booked")
            return real_fill(fill)

        store.record_fill = hooked_fill
        safety.submit_order("XBTEUR", "buy", "market", Decimal("0.001"))
    elif scenario == "reconcile":
        outcome = safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))
        assert outcome.placed, outcome
        outcome = safety.submit_order("XBTEUR", "buy", "market", Decimal("0.001"))
        assert outcome.placed, outcome
        account = bot.client.account
        real_history = account.trades_history

        def hooked_history(*args: Any, **kwargs: Any) -> Any:
            answer = real_history(*args, **kwargs)
            block_here("mid-reconciliation")
            return answer

        account.trades_history = hooked_history
        safety.reconcile()
    elif scenario == "dms":
        outcome = safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))
        assert outcome.placed, outcome
        safety.arm_dead_mans_switch(int(os.environ.get("DEAD_MANS_SWITCH_SECONDS", "60")))
        block_here("orders open, dead man's switch armed")
    elif scenario == "trade":  # start, place TRADES resting buys, cancel CANCEL of them, stop cleanly
        bot.start()
        placed = []
        for _ in range(int(os.environ.get("TRADES", "10"))):
            outcome = safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))
            assert outcome.placed, outcome
            placed.append(outcome.cl_ord_id)
        for cid in placed[:int(os.environ.get("CANCEL", "0"))]:
            safety.cancel_order(cid)
        if os.environ.get("FILL_COUNTER"):  # busy to the end: leave the key's call counter full, unrefused
            bot.client.pacer = None
            while (c := _control("GET", "state")["counters"])["api"] + 1 <= c["api_max"]:
                bot.client.account.balance()
        say("DONE " + json.dumps(_view(bot, placed=placed)))
        bot.close()
        return
    elif scenario == "startup":  # the production start-up, then try to place ORDERS resting buys
        bot.start()
        outcomes = [safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))
                    for _ in range(int(os.environ.get("ORDERS", "6")))]
        view = _view(bot, placed=[o.cl_ord_id for o in outcomes if o.placed])
        view["refusals"] = [o.reason for o in outcomes if not o.placed]
        say("DONE " + json.dumps(view))
        bot.close()
        return
    elif scenario == "recover":
        report = safety.recover()
        safety.refresh_orders()
        rec = safety.reconcile()
        store = bot.store
        say("DONE " + json.dumps({
            "orders": [{"cl_ord_id": o.cl_ord_id, "txid": o.txid, "status": o.status,
                        "volume_executed": str(o.volume_executed)} for o in store.orders()],
            "fills": [{"trade_id": f.trade_id, "txid": f.txid, "volume": str(f.volume)} for f in store.fills()],
            "daily_trades": store.daily_trade_count(utc_day(bot.clock.time())),
            "still_unknown": list(report.still_unknown),
            "resolved": list(report.resolved),
            "reconcile_kinds": sorted(rec.kinds()) if rec is not None else None,
            "nonce": store.load_nonce(),
        }))
        bot.close()
        return
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    say("FINISHED without reaching the kill point")


if __name__ == "__main__":
    main(sys.argv[1])
