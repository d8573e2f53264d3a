"""How the bench builds our client: every pacing switch off, nothing else changed.

The simulator runs with rate limits off, so the client's own pacers (which would sleep
on the system clock to respect Kraken's counters) are disabled too; signing, nonce,
breaker, retry policy, guard slot and the AddOrder ``deadline`` all stay as shipped.
"""
from __future__ import annotations

from decimal import Decimal

NOTES = "pacing=False, public_burst=None (sim rate limits off); everything else as shipped"


def build_client(url: str, key: str, secret: str):
    from krakenbot.client import KrakenClient

    return KrakenClient(url, key, secret, pacing=False, public_burst=None)


def order_request(*, validate: bool):
    """The common bench order: buy 0.0001 XBT/EUR limit 50000."""
    from krakenbot.models import OrderRequest, OrderType, Side

    return OrderRequest(
        pair="XBTEUR", side=Side.BUY, ordertype=OrderType.LIMIT, volume=Decimal("0.0001"),
        price=Decimal("50000"), validate=validate,
    )
