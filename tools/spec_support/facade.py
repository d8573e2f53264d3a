"""How the steps phrase their requests to the bot's facade and read its answers.

Why here and not in each step module: several features place orders, read denial codes
or parse "a limit buy of 0.01 XBT at 59,000 EUR"; one reading of those phrases keeps
the steps thin and the wording consistent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

PAIR = "XBTEUR"
PAIR_ID = "XXBTZEUR"

_ORDER_PHRASE = re.compile(
    r"^(?:a |an )?(?P<post>post-only )?(?P<type>market|limit) (?P<side>buy|sell) of (?P<volume>[\d.,]+) XBT"
    r"(?: at (?P<price>[\d.,]+) EUR)?$"
)


def amount(text: str) -> Decimal:
    """``"60,000"`` -> ``Decimal("60000")``: the features write money the way people read it."""
    return Decimal(str(text).replace(",", "").strip())


def pair_code(text: str) -> str:
    """``XBT/EUR`` in the features is ``XBTEUR`` for the bot and the simulator."""
    return text.replace("/", "").strip()


@dataclass(frozen=True)
class OrderPhrase:
    side: str
    ordertype: str
    volume: Decimal
    price: Decimal | None
    post_only: bool


def parse_order(text: str) -> OrderPhrase:
    match = _ORDER_PHRASE.match(text.strip())
    if not match:
        raise ValueError(f"cannot read the order {text!r}; write e.g. 'a limit buy of 0.01 XBT at 59,000 EUR'")
    price = match.group("price")
    return OrderPhrase(match.group("side"), match.group("type"), amount(match.group("volume")),
                       amount(price) if price else None, bool(match.group("post")))


def submit(world: Any, side: str, ordertype: str, volume: Decimal, price: Decimal | None = None, *,
           pair: str = PAIR, **extra: Any) -> Any:
    """Send one order through the safety wrapper and remember it for the Thens."""
    outcome = world.safety.submit_order(pair, side, ordertype, volume, price, **extra)
    world.notes["outcome"] = outcome
    world.notes.setdefault("outcomes", []).append(outcome)
    return outcome


def submit_phrase(world: Any, text: str) -> Any:
    order = parse_order(text)
    extra = {"post_only": True} if order.post_only else {}
    return submit(world, order.side, order.ordertype, order.volume, order.price, **extra)


def denial_codes(outcome: Any) -> list[str]:
    codes = []
    for denial in getattr(outcome, "denials", None) or []:
        code = getattr(denial, "code", denial)
        codes.append(str(getattr(code, "value", code)))
    return codes


def describe(outcome: Any) -> str:
    """One line for assertion messages: what the bot answered."""
    if outcome is None:
        return "no answer"
    fields = ("accepted", "placed", "status", "txid", "cl_ord_id", "reason")
    parts = [f"{f}={getattr(outcome, f, None)!r}" for f in fields]
    return ", ".join(parts) + f", denials={denial_codes(outcome)}"


def status_name(status: Any) -> str:
    """``OrderStatus.FILLED`` / ``"FILLED"`` / ``"closed"`` -> ``"filled"`` style lower-case words."""
    text = str(getattr(status, "value", status) or "").lower()
    return {"closed": "filled", "canceled": "cancelled", "partially_filled": "partially filled"}.get(text, text)


def exchange_order(world: Any, outcome: Any) -> dict | None:
    """The exchange's own record of the order the bot placed (by txid, else client reference)."""
    txid = getattr(outcome, "txid", None)
    cl_ord_id = getattr(outcome, "cl_ord_id", None)
    for order in world.sim.orders():
        if (txid and order.get("txid") == txid) or (cl_ord_id and order.get("cl_ord_id") == cl_ord_id):
            return order
    return None


def by_hand(world: Any, method: str, **params: Any) -> dict:
    """Another person (or another program) on the same account, with their own key, not through the
    bot: the exchange's answer. Its requests are marked foreign, so the evidence does not judge them."""
    import requests

    from tools.spec_support.raw_client import signed_post

    key, secret = world.sim.create_key(account="demo")
    before = len(world.sim.access_log)
    answer = signed_post(requests, world.sim.url, key, secret, method, {k: str(v) for k, v in params.items()})
    world.foreign.update(r.seq for r in world.sim.access_log_since(before))
    if answer.get("error"):
        raise AssertionError(f"the exchange should accept the {method} made by hand: {answer['error']}")
    return answer["result"]


def exchange_open_orders(world: Any) -> list[dict]:
    return [o for o in world.sim.orders() if o.get("status") in ("open", "pending")]


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: the figure is a measured call)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]
