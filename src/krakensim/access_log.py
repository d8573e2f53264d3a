"""Every request the simulator saw, for assertions and for the safety report.

Records never hold a secret: the key is redacted to its first four
characters, the ``API-Sign`` header is never read into a record, and the
``otp`` body field and a WebSocket request's ``token`` are dropped. The nonce stays (tests assert on it).
"""
from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from typing import Any, Mapping

SECRET_PARAMS = frozenset({"otp", "secret", "api_secret", "API-Sign", "api-sign", "token"})  # token: WebSocket
MAX_VALUE = 2048  # a full 15-order batch fits; a 1 MiB junk field does not bloat the log


@dataclass(frozen=True, slots=True)
class AccessRecord:
    seq: int
    time: float
    http_method: str
    path: str
    endpoint: str
    kind: str  # public | private | control | other
    key_id: str | None
    params: dict[str, str]
    outcome: str  # ok | error | fault | dropped
    error: str | None
    fault: str | None
    http_status: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def safe_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Request parameters as short strings, secrets removed."""
    if not params:
        return {}
    out: dict[str, str] = {}
    for name, value in params.items():
        if name in SECRET_PARAMS:
            continue
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
        out[str(name)[:MAX_VALUE]] = text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "\u2026"
    return out


class AccessLog:
    """Append-only, thread-safe list of ``AccessRecord``; ``seq`` is the record's index."""

    def __init__(self) -> None:
        self._records: list[AccessRecord] = []
        self._lock = threading.Lock()

    def append(self, *, time: float, http_method: str, path: str, endpoint: str, kind: str,
               key_id: str | None, params: Mapping[str, Any] | None, outcome: str,
               error: str | None = None, fault: str | None = None, http_status: int = 200) -> AccessRecord:
        cleaned = safe_params(params)
        with self._lock:
            record = AccessRecord(len(self._records), time, http_method, path, endpoint, kind, key_id,
                                  cleaned, outcome, error, fault, http_status)
            self._records.append(record)
        return record

    def records(self) -> list[AccessRecord]:
        with self._lock:
            return list(self._records)

    def since(self, index: int) -> list[AccessRecord]:
        with self._lock:
            return self._records[index:]

    def __len__(self) -> int:
        return len(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
