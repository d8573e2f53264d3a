"""Per-scenario evidence and the run-level safety check.

Evidence file ``reports/run/evidence.jsonl``: one JSON object per scenario, in run order::

    {"feature": str, "name": str, "tags": [str], "status": "passed"|"failed"|"skipped",
     "target": "simulator"|"live", "mode": str (the last mode in force),
     "modes": [{"start": int, "mode": str}],   # access-log index from which each mode held
     "access_log": [AccessRecord as dict, redacted],
     "audit": [audit row dicts, redacted],
     "counters": {...} | null,                  # the simulator's rate counters at the end
     "violations": [str]}                        # calls outside the mode's allowlist

What each mode may send is the plan's allowlist (``tools.spec_support.plan_allowlist``),
written independently of the bot's table so a bug in the bot's table cannot hide itself.
"""
from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

# The plan's allowlist, stated once for the specification and the safety validation report,
# and independent of the bot's own table (krakenbot.safety.allowlist) so a bug there cannot
# hide itself.
from tools.spec_support.plan_allowlist import CANCELS, FUNDING, PUBLIC, READS, refusal  # noqa: E402
from tools.spec_support.plan_allowlist import PLAN_ALLOWED as SPEC_ALLOWED  # noqa: E402

# Operations a Kraken key can reach that the bot should attempt when proving its allowlist.
ALL_OPERATIONS = PUBLIC | READS | CANCELS | FUNDING | frozenset({"AddOrder", "AddOrderBatch", "EditOrder", "AmendOrder"})


def allowed(mode: str, endpoint: str, params: dict[str, str] | None = None) -> bool:
    """Did the plan allow this request to reach the exchange in ``mode``?"""
    return refusal(mode, endpoint, params) is None


def violations(records: Iterable[Any], segments: Sequence[Any], foreign: Iterable[int] = ()) -> list[str]:
    """Every exchange request outside the allowlist of the mode in force when it arrived.

    Requests before the bot existed, and ``foreign`` ones (sent by the steps themselves as
    "another program" using the key), are not the bot's and are not judged.
    """
    problems = []
    foreign = set(foreign)
    ordered = sorted(segments, key=lambda s: s.start)
    for record in records:
        if record.kind not in ("public", "private"):
            continue
        mode = None
        for segment in ordered:
            if segment.start <= record.seq:
                mode = segment.mode
        if mode is None or record.seq in foreign:
            continue
        if not allowed(mode, record.endpoint, record.params):
            problems.append(f"{record.endpoint} reached the exchange in {mode} mode (request #{record.seq})")
    return problems


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):  # enums
        return to_jsonable(value.value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


AUDIT_COLUMNS = ("id", "time", "actor", "mode", "action", "endpoint", "allowed", "outcome")


def audit_table(rows: Sequence[dict]) -> str:
    """The audit trail as a fixed-width table an operator reads: one row per entry, times in UTC,
    the columns every entry has, then its reason and any other fields as ``name=value``."""
    from datetime import datetime, timezone

    def when(value: Any) -> str:
        try:
            return datetime.fromtimestamp(float(value), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        except (TypeError, ValueError, OverflowError):
            return str(value or "")

    def cell(value: Any) -> str:
        value = to_jsonable(value)
        if value is True or value is False:
            return "yes" if value else "NO"
        return "" if value in (None, "", {}, []) else (value if isinstance(value, str) else json.dumps(value))

    if not rows:
        return "(no audit entries: the scenario built no bot)"
    table = [["#", "time (UTC)", "actor", "mode", "action", "endpoint", "allowed", "outcome", "reason / details"]]
    for row in rows:
        details = [cell(row.get("reason"))] + [f"{k}={cell(v)}" for k, v in row.items()
                                                if k not in AUDIT_COLUMNS and k != "reason" and cell(v)]
        table.append([cell(row.get("id")), when(row.get("time")), *(cell(row.get(c)) for c in AUDIT_COLUMNS[2:]),
                      "; ".join(d for d in details if d)])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
    return "".join(("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1]).rstrip() + "\n" for r in table)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (and every full key) by its first four characters and an ellipsis."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, f"{secret[:4]}…")
    return text


def assert_no_secrets(text: str, secrets: Iterable[str]) -> None:
    """Refuse to attach or save anything that still holds a secret."""
    for secret in secrets:
        if secret and secret in text:
            raise AssertionError(f"a secret ({secret[:4]}…) would have been written to the report")


class EvidenceWriter:
    """Appends one JSON line per scenario; the file is recreated at the start of each run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")

    def write(self, entry: dict, secrets: Iterable[str]) -> None:
        line = redact(json.dumps(to_jsonable(entry), sort_keys=True), secrets)
        assert_no_secrets(line, secrets)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
