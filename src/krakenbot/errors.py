"""Every way a call to Kraken can fail, as typed exceptions.

    KrakenError                      base; .codes keeps Kraken's original strings
    ├── TransportError               the request may not have reached Kraken (or the answer did not come back)
    │   ├── RequestTimeout
    │   ├── ConnectionFailed
    │   ├── HttpStatusError          5xx / non-200, usually an HTML page from the edge
    │   └── MalformedResponse        not JSON, truncated, or not Kraken's envelope/shape
    │       └── AnswerTooLarge       an answer over the transport's size limit (never read whole)
    ├── AuthenticationError          EAPI:Invalid key, EAPI:Invalid signature, EGeneral:Temporary lockout
    │   └── PermissionDeniedError    EGeneral:Permission denied
    ├── InvalidNonceError            EAPI:Invalid nonce
    ├── RateLimitError               EAPI:Rate limit exceeded, EGeneral:Too many requests, EService: Throttled
    │   └── OrderRateLimitError      EOrder:Rate limit exceeded
    ├── ServiceUnavailableError      EService:Unavailable/Busy, EGeneral:Internal error, EDatabase:Internal error
    │   └── MarketModeError          EService:Market in <cancel_only|post_only|limit_only|...> mode
    ├── DeadlineElapsedError         EService:Deadline elapsed (the order was NOT placed)
    ├── InvalidOrderError            order rejected as malformed or below the pair's rules
    │   ├── OrderMinimumError        EOrder:Order minimum not met / Cost minimum not met
    │   └── InvalidArgumentsError    EGeneral:Invalid arguments[:field]
    ├── InsufficientFundsError       EOrder:Insufficient funds
    ├── UnknownOrderError            EOrder:Unknown order, EOrder:Invalid order (on cancel/query)
    ├── UnknownPairError             EQuery:Unknown asset pair / Invalid asset pair / Unknown asset
    └── LocalRefusal                 refused inside the bot: nothing was sent
        ├── CircuitOpenError         the circuit breaker is open
        ├── EndpointNotAllowed       the safety wrapper's allowlist refused the endpoint
        ├── IntentNotDurable         the order's intent did not reach the disk: the order was not sent
        └── NonceNotSaved            the nonce mark could not be saved: the request was not sent
    StoreFailure (also a KrakenError)  the bot's store failed (disk full, read-only, I/O): IntentNotDurable
                                     and NonceNotSaved are ones; the safety wrapper raises it for any other

Two flags drive policy so that retry and breaker read data instead of matching
strings: ``retryable`` (safe to resend a *read* after waiting) and
``counts_for_breaker`` (says something about the exchange's health; insufficient
funds does not, a timeout does).
"""
from __future__ import annotations


class KrakenError(Exception):
    retryable = False
    counts_for_breaker = False

    def __init__(self, message: str, codes: tuple[str, ...] = (), endpoint: str | None = None) -> None:
        super().__init__(message)
        self.codes = tuple(codes)
        self.endpoint = endpoint

    @property
    def code(self) -> str | None:
        return self.codes[0] if self.codes else None


class TransportError(KrakenError):
    retryable = True
    counts_for_breaker = True


class RequestTimeout(TransportError):
    pass


class ConnectionFailed(TransportError):
    pass


class HttpStatusError(TransportError):
    def __init__(self, message: str, status: int, endpoint: str | None = None) -> None:
        super().__init__(message, (), endpoint)
        self.status = status


class MalformedResponse(TransportError):
    pass


class AnswerTooLarge(MalformedResponse):
    """An answer over the size limit: refused once it passes the limit (or announces more), the
    connection closed. Not retried: a server that sent that much would send it again."""

    retryable = False

    def __init__(self, message: str, size: int, limit: int, endpoint: str | None = None) -> None:
        super().__init__(message, (), endpoint)
        self.size, self.limit = size, limit


class AuthenticationError(KrakenError):
    pass


class PermissionDeniedError(AuthenticationError):
    pass


class InvalidNonceError(KrakenError):
    retryable = True  # once, with a fresh nonce, reads only (see client retry policy)


class RateLimitError(KrakenError):
    retryable = True


class OrderRateLimitError(RateLimitError):
    pass


class ServiceUnavailableError(KrakenError):
    retryable = True
    counts_for_breaker = True


class MarketModeError(ServiceUnavailableError):
    retryable = False
    counts_for_breaker = False  # the exchange is healthy, it just refuses new orders


class DeadlineElapsedError(KrakenError):
    pass


class InvalidOrderError(KrakenError):
    pass


class OrderMinimumError(InvalidOrderError):
    pass


class InvalidArgumentsError(InvalidOrderError):
    pass


class InsufficientFundsError(KrakenError):
    pass


class UnknownOrderError(KrakenError):
    pass


class UnknownPairError(KrakenError):
    pass


class LocalRefusal(KrakenError):
    """Refused before anything left the process."""


class ClientClosed(LocalRefusal):
    """The client was closed: nothing can be sent (not a transport failure: nothing was attempted)."""


class CircuitOpenError(LocalRefusal):
    pass


class EndpointNotAllowed(LocalRefusal):
    pass


class StoreFailure(KrakenError):
    """The bot's store could not be read or written (disk full, read-only, an I/O error). The safety
    wrapper lets no raw ``sqlite3``/``StoreError`` out: callers see this type (or a STORE_FAILURE
    refusal). Nothing of the store's state may be assumed recorded by the call that raised it."""


class IntentNotDurable(StoreFailure, LocalRefusal):
    """The order's intent could not be put on disk: the order was not sent."""


class NonceNotSaved(StoreFailure, LocalRefusal):
    """The nonce reservation could not be saved, so the request was not sent (cancels are exempt:
    ``NonceGenerator.unsaved_allowed``)."""


# Exact Kraken strings first; then prefixes, longest first (see classify()).
_EXACT: dict[str, type[KrakenError]] = {
    "EAPI:Invalid key": AuthenticationError,
    "EAPI:Invalid signature": AuthenticationError,
    "EAPI:Bad request": InvalidArgumentsError,
    "EGeneral:Temporary lockout": AuthenticationError,
    "EGeneral:Permission denied": PermissionDeniedError,
    "EAPI:Invalid nonce": InvalidNonceError,
    "EAPI:Rate limit exceeded": RateLimitError,
    "EGeneral:Too many requests": RateLimitError,
    "EOrder:Rate limit exceeded": OrderRateLimitError,
    "EOrder:Domain rate limit exceeded": OrderRateLimitError,
    "EService:Unavailable": ServiceUnavailableError,
    "EService:Busy": ServiceUnavailableError,
    "EService:Market in cancel_only mode": MarketModeError,
    "EService:Market in post_only mode": MarketModeError,
    "EService:Deadline elapsed": DeadlineElapsedError,
    "EOrder:Insufficient funds": InsufficientFundsError,
    "EOrder:Order minimum not met": OrderMinimumError,
    "EOrder:Cost minimum not met": OrderMinimumError,
    "EOrder:Tick size check failed": InvalidOrderError,
    "EOrder:Orders limit exceeded": InvalidOrderError,
    "EOrder:Unknown order": UnknownOrderError,
    "EOrder:Invalid order": UnknownOrderError,
    "EQuery:Unknown asset pair": UnknownPairError,
    "EQuery:Invalid asset pair": UnknownPairError,
    "EQuery:Unknown asset": UnknownPairError,
}
_PREFIXES: list[tuple[str, type[KrakenError]]] = sorted(
    [
        ("EGeneral:Invalid arguments", InvalidArgumentsError),
        ("EGeneral:Internal error", ServiceUnavailableError),
        ("EDatabase:Internal error", ServiceUnavailableError),
        ("EService:Market in ", MarketModeError),  # limit_only / reduce_only: text unverified, same family
        ("EService: Throttled", RateLimitError),
        ("EService:Throttled", RateLimitError),
        ("EOrder:Invalid price", InvalidOrderError),
        ("EOrder:", InvalidOrderError),
        ("EService:", ServiceUnavailableError),
        ("EAPI:", AuthenticationError),
        ("EQuery:", UnknownPairError),
    ],
    key=lambda item: -len(item[0]),
)


def classify(code: str) -> type[KrakenError]:
    """The exception class for one Kraken error string: exact match, then longest prefix."""
    if code in _EXACT:
        return _EXACT[code]
    for prefix, cls in _PREFIXES:
        if code.startswith(prefix):
            return cls
    return KrakenError


def from_codes(codes: list[str] | tuple[str, ...], endpoint: str | None = None) -> KrakenError:
    """Build the typed error for a Kraken ``error`` array (the first E-string decides)."""
    errors = [c for c in codes if isinstance(c, str) and c.startswith("E")] or [str(c) for c in codes]
    cls = classify(errors[0]) if errors else KrakenError
    where = f"{endpoint}: " if endpoint else ""
    return cls(f"{where}{', '.join(errors)}", tuple(errors), endpoint)
