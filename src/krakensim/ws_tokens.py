"""WebSocket tokens (``GetWebSocketsToken``), each bound to the REST key that asked for it.

Kraken's token must be used (a connection and its first private subscription) within 15 minutes
(``expires: 900``); once used it stays valid for as long as that connection lives
(../shared/kraken/websocket-v2.md §1). A token is a credential: random, never derived from the
seed, and never written to the access log (which records requests, not answers).
"""
from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass
from typing import Any

FIRST_USE_WINDOW = 900  # seconds, Kraken's ``expires``


@dataclass(slots=True)
class _Token:
    key: str
    issued: float
    used: bool = False


class WsTokens:
    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}

    def issue(self, key: str) -> dict[str, Any]:
        """Kraken's answer: a new 43-character token for ``key`` and its first-use window."""
        now = self._clock.time()
        token = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        with self._lock:
            for stale in [t for t, v in self._tokens.items() if not v.used and now - v.issued > FIRST_USE_WINDOW]:
                del self._tokens[stale]  # never used in time: it can never be used again
            self._tokens[token] = _Token(key, now)
        return {"token": token, "expires": FIRST_USE_WINDOW}

    def redeem(self, token: str) -> str | None:
        """The key a token speaks for, or None: unknown, or first used after its 15 minutes."""
        now = self._clock.time()
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                return None
            if not entry.used and now - entry.issued > FIRST_USE_WINDOW:
                del self._tokens[token]
                return None
            entry.used = True
            return entry.key

    def release(self, token: str) -> None:
        """The connection that used the token closed: the token ends with it."""
        with self._lock:
            self._tokens.pop(token, None)
