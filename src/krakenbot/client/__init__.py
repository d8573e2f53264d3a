"""The bot's Kraken client: transport, signing, nonce, pacing, retries, circuit breaker."""
from __future__ import annotations

from krakenbot.client._client import KrakenClient
from krakenbot.client._transport import Timeouts
from krakenbot.client.breaker import BreakerListener, BreakerState, BreakerStats, CircuitBreaker
from krakenbot.client.nonce import NonceGenerator, NonceStore
from krakenbot.client.pacing import CallCounterPacer, PublicPacer, call_cost
from krakenbot.client.parsing import resolve_pair
from krakenbot.client.retry import NO_RETRY, RetryPolicy
from krakenbot.client.signing import ApiSecret, redact_key

__all__ = [
    "KrakenClient",
    "Timeouts",
    "CircuitBreaker",
    "BreakerState",
    "BreakerStats",
    "BreakerListener",
    "RetryPolicy",
    "NO_RETRY",
    "NonceGenerator",
    "NonceStore",
    "CallCounterPacer",
    "PublicPacer",
    "call_cost",
    "resolve_pair",
    "ApiSecret",
    "redact_key",
]
