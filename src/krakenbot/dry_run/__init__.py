"""Dry run: the bot's own orders filled locally against the exchange's live public market.

The same wrapper, risk checks and executor as live; only the venue behind the client differs
(``KrakenClient.venue``): order entry, cancels and the reads of the dry run's own orders, fills
and wallet are answered here and never reach the exchange (``allowlist.VENUE_ENDPOINTS``).
"""
from krakenbot.dry_run.venue import DryRunVenue
from krakenbot.dry_run.wallet import SNAPSHOT, Wallet, parse_wallet

__all__ = ["DryRunVenue", "SNAPSHOT", "Wallet", "parse_wallet"]
