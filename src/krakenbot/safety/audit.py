"""The audit trail: every exchange attempt, allowed or refused, and every safety event.

Why its own module: the audit row is evidence for the safety report, so what goes
into it (and, above all, what never does: secrets, signatures, full keys) is decided in
one place. Rows go to the store's append-only ``audit`` table.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Callable, Mapping, Protocol

log = logging.getLogger(__name__)
_REFUSALS = logging.getLogger("krakenbot.safety")  # the operator's order events: refused before the send

# Parameters worth keeping in an audit row; anything else is counted, not copied.
_SAFE_PARAMS = frozenset({
    "pair", "type", "ordertype", "volume", "price", "price2", "oflags", "timeinforce", "validate",
    "cl_ord_id", "userref", "txid", "timeout", "interval", "since", "count", "asset", "start", "end",
    "deadline", "expiretm", "trades",
})
_NEVER = ("secret", "sign", "key", "otp", "password", "nonce", "address", "token")
# Decided once: the safe names that contain none of the never-words (a row is made per request).
_COPIED = frozenset(n for n in _SAFE_PARAMS if not any(word in n for word in _NEVER))


class AuditSink(Protocol):
    def append_audit(self, event: dict) -> Any: ...

    def audit_rows(self) -> list[dict]: ...


def summarize_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """A copy of the order-relevant parameters; secrets and anything unknown are left out."""
    if not params:
        return {}
    summary: dict[str, str] = {}
    dropped = 0
    for name, value in params.items():
        if value is None or value == "":
            continue
        lowered = str(name).lower()
        if lowered in _COPIED:
            summary[str(name)] = format(value, "f") if isinstance(value, Decimal) else str(value)
        elif lowered != "nonce":
            dropped += 1
    if dropped:
        summary["_omitted"] = str(dropped)
    return summary


def _log_refusal(row: Mapping[str, Any]) -> None:
    """Every order or cancel the wrapper refuses is audited here: its log line too, with the codes."""
    what = "order" if row["action"] == "order" else row["action"].replace("_", " ")
    params = row["params"]
    order = " ".join(params[n] for n in ("type", "volume", "pair", "ordertype") if params.get(n))
    codes = ",".join(row.get("codes") or []) or row["outcome"]
    target = row.get("cl_ord_id") or order
    _REFUSALS.info("%s refused %s%s: %s", what, codes, f" ({target})" if target else "", row["reason"],
                   extra={"fields": {"event": "refused", "action": row["action"], "codes": row.get("codes") or [],
                                     "reason": row["reason"], "origin": row.get("origin"), **params}})


class AuditLog:
    """Writes audit rows with the time and the current mode; reads them back for steps and reports."""

    def __init__(self, sink: AuditSink, clock: Any, mode: Callable[[], Any], scrub: Callable[[str], str] | None = None) -> None:
        self._sink = sink
        self._clock = clock
        self._mode = mode
        self._scrub = scrub or (lambda text: text)
        # Called with every row once it is written (metrics, notifications): cheap, and never the
        # reason a row or an order fails (a listener's exception is logged and dropped).
        self.listeners: list[Callable[[dict], Any]] = []

    def record(self, action: str, *, endpoint: str | None = None, allowed: bool | None = None,
               outcome: str = "", reason: str = "", params: Mapping[str, Any] | None = None,
               actor: str = "bot", **extra: Any) -> dict:
        """Append one row: the store keeps time/actor/action/endpoint/mode/allowed/outcome as
        columns and everything else (reason, params, extra) in ``detail``."""
        mode = self._mode()
        row: dict[str, Any] = {
            "time": self._clock.time(),
            "actor": actor,
            "action": action,
            "mode": str(getattr(mode, "value", mode)),
            "endpoint": endpoint,
            "allowed": allowed,
            "outcome": outcome,
            "reason": self._scrub(reason) if reason else "",
            "params": summarize_params(params),
        }
        for name, value in extra.items():
            row[name] = self._scrub(str(value)) if isinstance(value, str) else value
        if allowed is False and action in ("order", "cancel", "cancel_all"):
            _log_refusal(row)
        try:
            self._sink.append_audit(row)
        except Exception:  # the audit must never be the reason an order is not cancelled
            log.exception("audit write failed for %s %s", action, endpoint)
        for listener in self.listeners:
            try:
                listener(row)
            except Exception:  # noqa: BLE001 - observing must never break what it observes
                log.exception("audit listener %r failed", listener)
        return row

    def rows(self) -> list[dict]:
        """Rows oldest first, flattened: ``detail`` keys (reason, params, ...) at the top level."""
        out = []
        for stored in self._sink.audit_rows():
            row = dict(stored)
            detail = row.pop("detail", None) or {}
            for name, value in detail.items():
                row.setdefault(name, value)
            out.append(row)
        return out
