"""Trading modes: how far the bot may go, from looking to trading real money.

Why a ladder of modes rather than a ``dry_run`` boolean: "dry run that wasn't" is the
classic bot accident (zenbot #1403, infinity-grid #74). Each mode is checked in one
place (the allowlist guard the client calls before anything leaves), and LIVE needs two
independent switches so one mistyped variable cannot arm it.
"""
from __future__ import annotations

from enum import Enum


class TradingMode(str, Enum):
    READ_ONLY = "read-only"  # market data and account reads; nothing that changes the account
    PAPER = "paper"  # AddOrder only with validate=true: Kraken checks it, nothing is placed
    # Orders fill against the live public market in a local venue (krakenbot.dry_run) with a
    # simulated wallet: no order-entry or cancel call reaches the exchange.
    DRY_RUN = "dry-run"
    CANARY = "canary"  # real post-only limit orders far from the market, minimal size, cancelled at once
    LIVE = "live"  # real orders: needs KRAKEN_LIVE_TRADING=yes AND an explicit live flag

    @classmethod
    def parse(cls, text: str | "TradingMode") -> "TradingMode":
        if isinstance(text, TradingMode):
            return text
        wanted = str(text).strip().lower().replace("_", "-")
        wanted = {"readonly": "read-only", "dryrun": "dry-run"}.get(wanted, wanted)
        for mode in cls:
            if mode.value == wanted:
                return mode
        choices = "|".join(m.value for m in cls)
        raise ValueError(f"unknown trading mode {text!r}; expected one of {choices}")

    def __str__(self) -> str:
        return self.value


class CurrentMode:
    """The mode in force: the guard enforces it and the audit trail writes it on every row.

    Why an object of its own: both read it, so it is built before either and handed to each
    (one-way wiring); neither has to reach into the other for it."""

    def __init__(self, mode: TradingMode = TradingMode.READ_ONLY) -> None:
        self.mode = mode

    def __call__(self) -> TradingMode:
        return self.mode


class LiveTradingRefused(PermissionError):
    """LIVE was asked for without both switches; the message says which one is missing."""


def live_refusal_reason(env_enabled: bool, live_flag: bool) -> str | None:
    """Why LIVE is not allowed now, or None when both switches are on."""
    missing = []
    if not env_enabled:
        missing.append("KRAKEN_LIVE_TRADING=yes is not set in the environment")
    if not live_flag:
        missing.append("the explicit live flag (--live) was not given")
    if not missing:
        return None
    return "live trading refused: " + " and ".join(missing)
