"""The dry run's wallet: its starting balances and what its resting orders hold.

Why a wallet of its own: a rehearsal must run out of money where live would, and must never
mix its balances with the real account's. It starts from ``DRY_RUN_WALLET`` (``ZEUR=1000,XXBT=0``,
Kraken's asset ids) or, with ``DRY_RUN_WALLET=snapshot``, from the real balances read once at start.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Mapping

SNAPSHOT = "snapshot"
_ASSET = re.compile(r"[A-Z][A-Z0-9.]{1,15}").fullmatch
ZERO = Decimal(0)


def parse_wallet(text: str) -> dict[str, Decimal] | str:
    """``ZEUR=1000,XXBT=0`` -> {asset: amount}, or ``SNAPSHOT``; ValueError names the bad part."""
    text = text.strip()
    if text.lower() == SNAPSHOT:
        return SNAPSHOT
    wallet: dict[str, Decimal] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        asset, sep, amount = (s.strip() for s in part.partition("="))
        if not sep or not _ASSET(asset):
            raise ValueError(f"{part!r} is not ASSET=AMOUNT with a Kraken asset id (e.g. ZEUR=1000,XXBT=0)")
        if asset in wallet:
            raise ValueError(f"{asset} is given twice")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise ValueError(f"{asset}: {amount!r} is not a decimal amount") from None
        if not value.is_finite() or value < 0:
            raise ValueError(f"{asset}: the amount must be a number >= 0, got {amount!r}")
        wallet[asset] = value
    if not wallet:
        raise ValueError("lists no asset (e.g. ZEUR=1000,XXBT=0, or snapshot)")
    return wallet


class Wallet:
    """Balances per asset id; holds are the venue's to compute (they follow its resting orders)."""

    def __init__(self, balances: Mapping[str, Decimal]) -> None:
        self.balances: dict[str, Decimal] = {a: Decimal(v) for a, v in balances.items()}

    def balance(self, asset: str) -> Decimal:
        return self.balances.get(asset, ZERO)

    def move(self, asset: str, amount: Decimal) -> None:
        self.balances[asset] = self.balance(asset) + amount
