"""The fail-safe mechanisms the plan requires, and the evidence that each one fired.

Why a detector per mechanism: "it fired" must be proven by a record the bot or the exchange
wrote (an audit row, a breaker transition, a denial code, the simulator's order or fault
record), never inferred from a scenario's name or its pass/fail. Each detector looks at one
scenario's evidence and returns the lines that prove the mechanism fired there (empty: not here).
"""
from __future__ import annotations

from typing import Callable

from tools.safety_report.scenario_facts import audit_codes, is_rate_limit, requests, safety

Detector = Callable[[dict], list[str]]


def _audit(row: dict, action: str, outcome: str | None = None) -> list[dict]:
    return [a for a in row.get("audit") or () if a.get("action") == action
            and (outcome is None or a.get("outcome") == outcome)]


def _denials(row: dict, codes: set[str], text: str | None = None) -> list[str]:
    lines = []
    for a in row.get("audit") or ():
        if a.get("action") != "order" or a.get("allowed") is not False:
            continue
        hit = sorted(codes.intersection(audit_codes(a)))
        if hit and (text is None or text in str(a.get("reason", ""))):
            lines.append(f"audit #{a.get('id')}: order {a.get('outcome')} [{', '.join(hit)}] {a.get('reason', '')}")
    return lines


def _breaker(new: str, previous: str | None = None) -> Detector:
    def detect(row: dict) -> list[str]:
        lines = [f"audit #{a.get('id')}: breaker {a.get('previous')} -> {new} ({a.get('reason', '')})"
                 for a in _audit(row, "breaker", new) if previous is None or a.get("previous") == previous]
        events = [e for e in (safety(row).get("breaker") or {}).get("events") or ()
                  if e.get("new") == new and (previous is None or e.get("old") == previous)]
        lines += [f"breaker {e.get('instance')}: {e.get('old')} -> {new} at access-log #{e.get('index')}"
                  for e in events]
        return lines
    return detect


def rate_limit_backoff(row: dict) -> list[str]:
    """A rate-limit refusal, then the same call again only after a pause."""
    calls = requests(row)
    lines = []
    for n, record in enumerate(calls):
        if not is_rate_limit(record):
            continue
        again = next((r for r in calls[n + 1:] if r.get("endpoint") == record.get("endpoint")), None)
        if again is not None and again.get("time", 0) > record.get("time", 0):
            pause = again["time"] - record["time"]
            lines.append(f"#{record.get('seq')} {record.get('endpoint')} {record.get('error')}; repeated at "
                         f"#{again.get('seq')} after {pause:.1f} s")
    return lines


def kill_switch(row: dict) -> list[str]:
    """Kill engaged, then the halt held: open orders cancelled or a new order refused as HALTED."""
    kills = _audit(row, "kill", "halted")
    if not kills:
        return []
    after = kills[0].get("id", 0)
    proof = [a for a in row.get("audit") or () if a.get("id", 0) > after and (
        (a.get("action") == "cancel_all" and a.get("allowed")) or
        (a.get("action") == "order" and {"HALTED", "TRADING_HALTED"} & set(audit_codes(a))))]
    return [f"audit #{kills[0].get('id')}: kill switch engaged ({kills[0].get('reason', '')})"] + [
        f"audit #{a.get('id')}: {a.get('action')} {a.get('outcome')} {a.get('reason', '')}".rstrip() for a in proof
    ] if proof else []


def dead_mans_switch(row: dict) -> list[str]:
    """Armed by the bot, and the exchange cancelled orders when it expired."""
    armed = _audit(row, "dead_mans_switch", "armed")
    exchange = safety(row).get("exchange") or {}
    fired = [o for o in exchange.get("orders") or () if o.get("reason") == "Dead man's switch"]
    if not armed or not fired:
        return []
    return [f"audit #{armed[0].get('id')}: dead man's switch armed (timeout {armed[0].get('timeout')} s)"] + [
        f"exchange: order {o.get('txid')} {o.get('status')} by \"Dead man's switch\"" for o in fired]


def lost_response_reconciliation(row: dict) -> list[str]:
    """An AddOrder taken by the exchange whose answer was lost, later known to the bot exactly once."""
    store = (safety(row).get("store") or {}).get("orders") or []
    exchange = (safety(row).get("exchange") or {}).get("orders") or []
    lines = []
    for record in requests(row):
        cl = (record.get("params") or {}).get("cl_ord_id")
        if record.get("endpoint") != "AddOrder" or record.get("outcome") != "dropped" or not cl:
            continue
        on_exchange = [o for o in exchange if o.get("cl_ord_id") == cl]
        known = [o for o in store if o.get("cl_ord_id") == cl and o.get("txid")]
        if len(on_exchange) == 1 and len(known) == 1 and known[0]["txid"] == on_exchange[0].get("txid"):
            lines.append(f"#{record.get('seq')} AddOrder {cl}: answer lost; the bot adopted "
                         f"{known[0]['txid']} by its client reference, 1 order on the exchange")
    return lines


def market_status(status: str) -> Detector:
    def detect(row: dict) -> list[str]:
        lines = _denials(row, {"MARKET_STATUS"}, status)
        if status == "post_only" and (safety(row).get("exchange") or {}).get("system_status") == "post_only":
            lines += [f"audit #{a.get('id')}: post-only order {a.get('outcome')} while the exchange was post_only"
                      for a in _audit(row, "order") if a.get("allowed") and "post" in
                      str((a.get("params") or {}).get("oflags", "")) and a.get("outcome") in ("open", "filled")]
        return lines
    return detect


def stale_data_halt(row: dict) -> list[str]:
    lines = _denials(row, {"STALE_MARKET_DATA"})
    lines += [f"audit #{a.get('id')}: trading cycle skipped: {a.get('reason', '')}"
              for a in _audit(row, "cycle", "skipped") if "STALE" in str(a.get("reason", "")).upper()]
    return lines


def protective_exit(kind: str) -> Detector:
    """The bot's own stop-loss / take-profit (not an exchange trigger order): the level crossed,
    then the market sell it sent for that reason, filled."""
    def detect(row: dict) -> list[str]:
        lines = []
        for fired in _audit(row, "protective_exit", kind):
            sells = [a for a in _audit(row, "order", "filled") if a.get("allowed") and a.get("origin") == kind
                     and a.get("id", 0) > fired.get("id", 0)]
            if sells:
                lines.append(f"audit #{fired.get('id')}: {kind} fired ({fired.get('reason', '')}); audit "
                             f"#{sells[0].get('id')}: the exit {(sells[0].get('params') or {}).get('type', '')} "
                             f"{sells[0].get('txid')} filled")
        return lines
    return detect


MECHANISMS: dict[str, Detector] = {
    "circuit breaker opens": _breaker("open"),
    "circuit breaker half-opens": _breaker("half_open"),
    "circuit breaker closes": _breaker("closed", previous="half_open"),
    "rate-limit backoff": rate_limit_backoff,
    "kill switch": kill_switch,
    "dead man's switch": dead_mans_switch,
    "daily trade limit": lambda row: _denials(row, {"DAILY_TRADE_LIMIT"}),
    "position / allocation limit": lambda row: _denials(row, {"MAX_POSITION", "MAX_POSITION_PCT", "MAX_NOTIONAL"}),
    "price collar": lambda row: _denials(row, {"PRICE_COLLAR"}),
    "stale-data halt": stale_data_halt,
    "maintenance handling": market_status("maintenance"),
    "cancel_only handling": market_status("cancel_only"),
    "post_only handling": market_status("post_only"),
    "lost-response reconciliation": lost_response_reconciliation,
    "stop-loss (bot-side)": protective_exit("stop_loss"),
    "take-profit (bot-side)": protective_exit("take_profit"),
}
