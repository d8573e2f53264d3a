"""Kraken's error strings, exactly as the exchange sends them.

Taken from ../shared/kraken/auth-and-errors.md (Kraken's spot error table). The
simulator keeps its own copy: it must never import the bot.
"""
from __future__ import annotations


class KrakenAPIError(Exception):
    """Raised inside the simulator; the server turns it into ``{"error": [code]}``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# General / API / auth
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
UNKNOWN_METHOD = "EGeneral:Unknown method"
PERMISSION_DENIED = "EGeneral:Permission denied"
INTERNAL_ERROR = "EGeneral:Internal error"
TEMPORARY_LOCKOUT = "EGeneral:Temporary lockout"
TOO_MANY_REQUESTS = "EGeneral:Too many requests"
INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
INVALID_NONCE = "EAPI:Invalid nonce"
API_RATE_LIMIT = "EAPI:Rate limit exceeded"
# Query
UNKNOWN_ASSET_PAIR = "EQuery:Unknown asset pair"
UNKNOWN_ASSET = "EQuery:Unknown asset"
# Orders
UNKNOWN_ORDER = "EOrder:Unknown order"
INVALID_ORDER = "EOrder:Invalid order"
INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
ORDER_MINIMUM = "EOrder:Order minimum not met"
COST_MINIMUM = "EOrder:Cost minimum not met"
TICK_SIZE = "EOrder:Tick size check failed"
INVALID_PRICE = "EOrder:Invalid price"
ORDER_RATE_LIMIT = "EOrder:Rate limit exceeded"
ORDERS_LIMIT = "EOrder:Orders limit exceeded"
DUPLICATE_ORDER = "EOrder:Duplicate order"  # cl_ord_id already on an open order; Kraken's text unpublished
POST_ONLY_ORDER = "EOrder:Post only order"  # AmendOrder post_only that would take liquidity
REDUCE_ONLY_NO_POSITION = "EOrder:Reduce only:No position exists"  # reduce_only without a margin position
# Service
SERVICE_UNAVAILABLE = "EService:Unavailable"
SERVICE_BUSY = "EService:Busy"
CANCEL_ONLY = "EService:Market in cancel_only mode"
POST_ONLY = "EService:Market in post_only mode"
LIMIT_ONLY = "EService:Market in limit_only mode"  # a pair's limit_only status (text unverified: Kraken's pattern)
DEADLINE_ELAPSED = "EService:Deadline elapsed"
# Funding (refused by the simulator, always)
FUNDING_UNKNOWN_WITHDRAW_KEY = "EFunding:Unknown withdraw key"


def invalid_arguments(field: str | None = None) -> KrakenAPIError:
    return KrakenAPIError(f"{INVALID_ARGUMENTS}:{field}" if field else INVALID_ARGUMENTS)
