"""A bare Kraken request signer for steps that play *another program* on the same account.

Hand-written (not the bot's client) on purpose: these requests must not pass the bot's
guard, nonce store or audit, exactly like a person using the website or another tool.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from typing import Any


def sign(path: str, body: str, nonce: str, secret: str) -> str:
    """Kraken's API-Sign: HMAC-SHA512(path + SHA256(nonce + body)) with the decoded secret."""
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def signed_post(requests: Any, base_url: str, key: str, secret: str, method: str, params: dict[str, str],
                nonce: int | None = None) -> dict:
    nonce_text = str(nonce if nonce is not None else time.time_ns() // 1000)
    body = urllib.parse.urlencode({"nonce": nonce_text, **params})
    path = f"/0/private/{method}"
    response = requests.post(base_url + path, data=body, timeout=5, headers={
        "API-Key": key, "API-Sign": sign(path, body, nonce_text, secret),
        "Content-Type": "application/x-www-form-urlencoded"})
    return response.json()
