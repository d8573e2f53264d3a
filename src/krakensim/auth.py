"""API keys, Kraken's request signature, nonces and per-key permissions.

Hand-written because all of it is Kraken-specific: the signature is
``HMAC-SHA512(b64decode(secret), path + SHA256(nonce + raw_body))`` over the bytes
exactly as received (never a re-encoded form), the nonce must rise strictly per
key, and each endpoint needs one of Kraken's key permissions
(../shared/kraken/auth-and-errors.md sections 1-3).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field

from krakensim import errors

QUERY_FUNDS = "query_funds"
QUERY_ORDERS = "query_orders"
QUERY_CLOSED = "query_closed"  # Kraken's separate "Query Closed Orders & Trades"; query_orders covers it too
QUERY_LEDGER = "query_ledger"
TRADE = "trade"
CANCEL = "cancel"
WITHDRAW = "withdraw"
ALL_PERMISSIONS = frozenset({QUERY_FUNDS, QUERY_ORDERS, QUERY_CLOSED, QUERY_LEDGER, TRADE, CANCEL, WITHDRAW})
DEMO_PERMISSIONS = ALL_PERMISSIONS - {WITHDRAW}

# Funding endpoints: refused for every key, whatever its permissions, so the
# simulator can never be used to rehearse moving money out.
FUNDING_ENDPOINTS = frozenset({
    "DepositMethods", "DepositAddresses", "DepositStatus",
    "WithdrawMethods", "WithdrawAddresses", "WithdrawInfo", "Withdraw", "WithdrawStatus",
    "WithdrawCancel", "WalletTransfer", "AccountTransfer", "CreateSubaccount",
    "Earn/Allocate", "Earn/Deallocate", "Earn/AllocateStatus", "Earn/DeallocateStatus",
})

# Export reports: refused for every key (no key here carries Kraken's "Export data" permission), so
# a client learns the gap from Kraken's own answer, ``EGeneral:Permission denied``.
EXPORT_ENDPOINTS = frozenset({"AddExport", "ExportStatus", "RetrieveExport", "RemoveExport"})
EXPORT = "export_data"

# endpoint -> permissions of which the key needs at least one.
ENDPOINT_PERMISSIONS: dict[str, frozenset[str]] = {
    **{name: frozenset({QUERY_FUNDS}) for name in ("Balance", "BalanceEx", "TradeBalance", "TradeVolume")},
    **{name: frozenset({QUERY_ORDERS}) for name in ("OpenOrders", "OpenPositions")},
    **{name: frozenset({QUERY_ORDERS, QUERY_CLOSED}) for name in (
        "ClosedOrders", "QueryOrders", "QueryTrades", "TradesHistory", "OrderAmends")},
    **{name: frozenset({QUERY_LEDGER}) for name in ("Ledgers", "QueryLedgers")},
    **{name: frozenset({TRADE}) for name in ("AddOrder", "AddOrderBatch", "EditOrder", "AmendOrder")},
    **{name: frozenset({CANCEL}) for name in ("CancelOrder", "CancelAll", "CancelOrderBatch")},
    # Kraken's guide says cancel, its SDK says trade: either is enough.
    "CancelAllOrdersAfter": frozenset({CANCEL, TRADE}),
    "GetWebSocketsToken": frozenset({QUERY_FUNDS, QUERY_ORDERS, TRADE}),
    **{name: frozenset({WITHDRAW}) for name in FUNDING_ENDPOINTS},
    **{name: frozenset({EXPORT}) for name in EXPORT_ENDPOINTS},
}
PRIVATE_ENDPOINTS = frozenset(ENDPOINT_PERMISSIONS)


def redact(key: str | None) -> str | None:
    """The only form of a key that may be logged: first four characters."""
    return None if key is None else key[:4] + "\u2026"


def sign(secret_b64: str, urlpath: str, nonce: str, body: bytes) -> str:
    """Kraken's ``API-Sign`` for a request (used by tests and the bench as the client side)."""
    return base64.b64encode(_digest(base64.b64decode(secret_b64), urlpath.encode(), nonce.encode(), body)).decode()


def _digest(secret: bytes, urlpath: bytes, nonce: bytes, body: bytes) -> bytes:
    inner = hashlib.sha256(nonce + body).digest()
    return hmac.new(secret, urlpath + inner, hashlib.sha512).digest()


@dataclass(repr=False)
class ApiKey:
    """One key: its secret, owner account, permissions and nonce high-water mark."""

    key: str
    secret: bytes
    account: str
    permissions: frozenset[str]
    nonce_window: int = 0
    last_nonce: int = 0
    used_in_window: set[int] = field(default_factory=set)

    def __repr__(self) -> str:
        """Redacted: a key record may end up in an exception or a log, its secret never."""
        return f"ApiKey(key={redact(self.key)!r}, account={self.account!r}, permissions={sorted(self.permissions)})"

    def verify(self, urlpath: bytes, nonce: bytes, body: bytes, api_sign: str) -> bool:
        try:
            given = base64.b64decode(api_sign, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, _digest(self.secret, urlpath, nonce, body))

    def allows(self, endpoint: str) -> bool:
        if endpoint in FUNDING_ENDPOINTS:
            return False
        needed = ENDPOINT_PERMISSIONS.get(endpoint)
        return needed is not None and not needed.isdisjoint(self.permissions)


class KeyRing:
    """All keys the simulator knows; nonce checks are atomic per key ring."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyRing({len(self._keys)} keys)"

    def create(self, permissions: set[str] | frozenset[str], account: str, key: str | None = None,
               secret_b64: str | None = None, nonce_window: int = 0) -> tuple[str, str]:
        unknown = set(permissions) - ALL_PERMISSIONS
        if unknown:
            raise ValueError(f"unknown permissions: {sorted(unknown)}")
        key = key or base64.b64encode(secrets.token_bytes(42)).decode()
        secret_b64 = secret_b64 or base64.b64encode(secrets.token_bytes(64)).decode()
        try:
            secret = base64.b64decode(secret_b64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("api secret must be base64") from None
        with self._lock:
            self._keys[key] = ApiKey(key, secret, account, frozenset(permissions), nonce_window)
        return key, secret_b64

    def accounts(self) -> set[str]:
        with self._lock:
            return {k.account for k in self._keys.values()}

    def get(self, key: str | None) -> ApiKey | None:
        return self._keys.get(key) if key else None

    def accept_nonce(self, api_key: ApiKey, nonce: int) -> None:
        """Raise ``EAPI:Invalid nonce`` unless ``nonce`` is acceptable; only then move the mark."""
        with self._lock:
            last = api_key.last_nonce
            if nonce > last:
                api_key.last_nonce = nonce
                if api_key.nonce_window:
                    api_key.used_in_window = {n for n in api_key.used_in_window if last - n <= api_key.nonce_window}
                    api_key.used_in_window.add(last)
                return
            if api_key.nonce_window and nonce < last and last - nonce <= api_key.nonce_window and nonce not in api_key.used_in_window:
                api_key.used_in_window.add(nonce)
                return
        raise errors.KrakenAPIError(errors.INVALID_NONCE)


class Lockouts:
    """``EGeneral:Temporary lockout`` after repeated invalid keys or signatures on one key.

    Kraken locks a key out for "a few minutes" after too many sequential ``EAPI:Invalid
    key`` (and, says older support text, invalid signature) errors; it publishes no
    threshold, so ours is ``failures`` in a row, for ``seconds`` on the injected clock.
    Counted per key as presented (known or not), never per address: every client of a
    loopback simulator shares one. A request that passes the signature check ends the run.
    """

    MAX_TRACKED = 10_000  # unknown keys are attacker-chosen: keep the table bounded

    def __init__(self, clock, failures: int = 10, seconds: float = 300.0) -> None:
        self.failures = failures
        self.seconds = seconds
        self._clock = clock
        self._runs: dict[str, int] = {}
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Raise ``EGeneral:Temporary lockout`` while ``key`` is locked out."""
        if not self._until:  # the common case, without the lock
            return
        with self._lock:
            until = self._until.get(key)
            if until is None:
                return
            if self._clock.time() < until:
                raise errors.KrakenAPIError(errors.TEMPORARY_LOCKOUT)
            del self._until[key]

    def failed(self, key: str) -> None:
        with self._lock:
            if len(self._runs) >= self.MAX_TRACKED and key not in self._runs:
                self._runs.clear()
            run = self._runs.get(key, 0) + 1
            if run >= self.failures:
                now = self._clock.time()
                if len(self._until) >= self.MAX_TRACKED and key not in self._until:
                    # bounded too: expired lockouts go first, then the oldest one
                    for stale in [k for k, t in self._until.items() if t <= now] or [next(iter(self._until))]:
                        del self._until[stale]
                self._until[key] = now + self.seconds
                run = 0
            self._runs[key] = run

    def passed(self, key: str) -> None:
        if key in self._runs:
            with self._lock:
                self._runs.pop(key, None)

    def reset(self) -> None:
        with self._lock:
            self._runs.clear()
            self._until.clear()


def parse_nonce(value: object) -> tuple[int, bytes]:
    """The nonce as an int and as the digits the client signed; ``EAPI:Invalid nonce`` if malformed."""
    if isinstance(value, bool) or value is None:
        raise errors.KrakenAPIError(errors.INVALID_NONCE)
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise errors.KrakenAPIError(errors.INVALID_NONCE)
    number = int(text)
    if number >= 2**64:
        raise errors.KrakenAPIError(errors.INVALID_NONCE)
    return number, text.encode()
