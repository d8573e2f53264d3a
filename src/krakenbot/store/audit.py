"""The append-only audit trail: every decision the bot made, one row each (a trigger refuses UPDATE/DELETE)."""
from __future__ import annotations

import json
from typing import Any

from krakenbot.store.database import Database

__all__ = ["AuditLog", "insert_audit"]

# One encoder for every JSON column, keys sorted so equal details are equal text.
to_json = json.JSONEncoder(default=str, sort_keys=True).encode

# An audit event's keys stored as columns (``detail`` is the JSON of the rest).
_AUDIT_COLUMNS = frozenset({"time", "actor", "action", "endpoint", "mode", "allowed", "outcome", "detail"})


def insert_audit(db: Any, event: dict[str, Any]) -> int:
    """Insert one row inside the caller's transaction (the order intent rides its audit row this way)."""
    detail = dict(event.get("detail") or {})
    for key in event.keys() - _AUDIT_COLUMNS:  # keys beyond the columns go into detail
        detail[key] = event[key]
    allowed = event.get("allowed")
    cur = db.execute(
        "INSERT INTO audit(time, actor, action, endpoint, mode, allowed, outcome, detail) VALUES (?,?,?,?,?,?,?,?)",
        (
            float(event.get("time", 0.0)),
            str(event.get("actor", "bot")),
            str(event.get("action", "")),
            event.get("endpoint"),
            None if event.get("mode") is None else str(event.get("mode")),
            None if allowed is None else int(bool(allowed)),
            event.get("outcome"),
            to_json(detail),
        ),
    )
    return int(cur.lastrowid)


class AuditLog(Database):
    def append_audit(self, event: dict[str, Any]) -> int:
        """Append one audit row and return its id. Keys: time, actor, action, endpoint, mode, allowed,
        outcome; anything else goes into ``detail``. Callers redact secrets before calling."""
        with self.tx() as db:
            return insert_audit(db, event)

    def audit_rows(self, action: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM audit", ()
        if action is not None:
            sql, args = sql + " WHERE action = ?", (action,)
        out = []
        for r in self._query(sql + " ORDER BY id", args):
            row = dict(r)
            row["allowed"] = None if row["allowed"] is None else bool(row["allowed"])
            row["detail"] = json.loads(row["detail"])
            out.append(row)
        return out
