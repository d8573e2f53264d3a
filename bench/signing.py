"""Kraken request signing for the hand-rolled baseline clients (floor, bare requests).

Hand-written on purpose: the floor must carry no library's overhead, and the algorithm is
Kraken-specific (``../shared/kraken/auth-and-errors.md`` §1.2). The bot's own signer lives in
``krakenbot.client``; the bench does not reuse it so the floor stays independent of our code.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time


def kraken_signature(uri_path: str, nonce: str, body: str, secret_b64: str) -> str:
    """API-Sign = base64(HMAC-SHA512(b64decode(secret), path + SHA256(nonce + body)))."""
    inner = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode() + inner, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


class NonceCounter:
    """Wait-free, strictly increasing nonces in microseconds: ``max(now_us, last + 1)``.

    Microseconds (not milliseconds) so back-to-back calls never collide, and a lock so
    threads sharing a key cannot draw the same value.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._last = max(int(time.time() * 1_000_000), self._last + 1)
            return self._last


class MillisecondNonce:
    """krakenex's own nonce unit (ms) made strictly increasing: ``max(now_ms, last + 1)``.

    Used as the workaround for krakenex's ``int(1000 * time.time())`` which repeats under
    back-to-back calls; it stays in milliseconds so the key's high-water mark stays sane.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._last = max(int(time.time() * 1000), self._last + 1)
            return self._last

