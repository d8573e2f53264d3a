"""Kraken's request signature, and a secret that never prints itself.

Hand-written because it is Kraken-specific (auth-and-errors.md §1.2):
``API-Sign = b64(HMAC-SHA512(b64decode(secret), path + SHA256(nonce + body)))``.
The HMAC keyed with the secret is built once and ``copy()``-ed per request, which
skips re-keying on the hot path.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


class ApiSecret:
    """Holds the decoded API secret; ``repr``/``str`` are redacted so it cannot leak into logs."""

    __slots__ = ("_raw",)

    def __init__(self, secret_b64: str | bytes) -> None:
        try:
            raw = base64.b64decode(secret_b64, validate=True)
        except (binascii.Error, ValueError, TypeError):
            # Never echo the value: the message names only the problem.
            raise ValueError("API secret is not valid base64") from None
        if not raw:
            raise ValueError("API secret is empty")
        self._raw = raw

    def key_bytes(self) -> bytes:
        return self._raw

    def __repr__(self) -> str:
        return "ApiSecret(<redacted>)"

    __str__ = __repr__

    def __reduce__(self):  # pragma: no cover - refuse to pickle secrets into caches or queues
        raise TypeError("ApiSecret cannot be pickled")


def redact_key(api_key: str | None) -> str:
    """The documented redaction of an API key: its first four characters and an ellipsis."""
    if not api_key:
        return "<none>"
    return f"{api_key[:4]}…"


class Signer:
    """Signs private requests for one secret."""

    __slots__ = ("_hmac",)

    def __init__(self, secret: ApiSecret) -> None:
        self._hmac = hmac.new(secret.key_bytes(), digestmod=hashlib.sha512)

    def sign(self, path: bytes, nonce: str, body: str) -> str:
        """``path`` is the URI path as bytes (``b"/0/private/AddOrder"``); ``body`` the exact wire body."""
        mac = self._hmac.copy()
        mac.update(path + hashlib.sha256((nonce + body).encode()).digest())
        return base64.b64encode(mac.digest()).decode()

    def __repr__(self) -> str:
        return "Signer(<redacted>)"


def sign(path: str, nonce: str, body: str, secret_b64: str) -> str:
    """One-shot form of :class:`Signer` (tests, tools)."""
    return Signer(ApiSecret(secret_b64)).sign(path.encode(), nonce, body)
