"""The per-mode allowlist: reads everywhere, writes only where the mode allows, funding never."""
from __future__ import annotations

import pytest

from krakenbot.safety.allowlist import check, is_funding
from krakenbot.safety.modes import LiveTradingRefused, TradingMode, live_refusal_reason

ALL_MODES = list(TradingMode)
FUNDING = ["Withdraw", "WithdrawCancel", "WithdrawAddresses", "DepositAddresses", "DepositMethods",
           "WalletTransfer", "AccountTransfer", "Earn/Allocate", "/0/private/Withdraw", "FundingWithdraw"]


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("endpoint", FUNDING)
def test_funding_refused_in_every_mode(mode, endpoint):
    verdict = check(mode, endpoint)
    assert verdict.allowed is False
    assert "funding" in verdict.reason


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("endpoint", ["Ticker", "Depth", "OHLC", "SystemStatus", "AssetPairs", "Balance",
                                      "OpenOrders", "ClosedOrders", "QueryOrders", "TradesHistory"])
def test_reads_allowed_in_every_mode(mode, endpoint):
    assert check(mode, endpoint).allowed


@pytest.mark.parametrize("mode, endpoint, allowed", [
    (TradingMode.READ_ONLY, "AddOrder", False),
    (TradingMode.READ_ONLY, "CancelOrder", False),
    (TradingMode.READ_ONLY, "CancelAll", False),
    (TradingMode.READ_ONLY, "CancelAllOrdersAfter", False),
    (TradingMode.PAPER, "AddOrder", True),
    (TradingMode.PAPER, "CancelAll", False),
    (TradingMode.PAPER, "AmendOrder", False),
    (TradingMode.CANARY, "AddOrder", True),
    (TradingMode.CANARY, "CancelOrder", True),
    (TradingMode.CANARY, "CancelAllOrdersAfter", True),
    (TradingMode.CANARY, "AmendOrder", False),
    (TradingMode.LIVE, "AddOrder", True),
    (TradingMode.LIVE, "CancelAll", True),
    (TradingMode.LIVE, "AmendOrder", True),
])
def test_writes_per_mode(mode, endpoint, allowed):
    verdict = check(mode, endpoint)
    assert verdict.allowed is allowed
    if not allowed:
        assert mode.value in verdict.reason


@pytest.mark.parametrize("mode", ALL_MODES)
def test_unknown_endpoints_are_denied_by_default(mode):
    verdict = check(mode, "SomethingNew")
    assert not verdict.allowed and "default deny" in verdict.reason


def test_funding_detection_is_not_fooled_by_trading_names():
    assert not is_funding("AddOrder") and not is_funding("Balance")


def test_live_needs_both_switches():
    assert live_refusal_reason(True, True) is None
    assert "KRAKEN_LIVE_TRADING" in live_refusal_reason(False, True)
    assert "--live" in live_refusal_reason(True, False)
    both = live_refusal_reason(False, False)
    assert "KRAKEN_LIVE_TRADING" in both and "--live" in both
    assert issubclass(LiveTradingRefused, PermissionError)


@pytest.mark.parametrize("text, mode", [("read-only", TradingMode.READ_ONLY), ("READ_ONLY", TradingMode.READ_ONLY),
                                        ("paper", TradingMode.PAPER), ("Canary", TradingMode.CANARY),
                                        ("live", TradingMode.LIVE)])
def test_mode_parse(text, mode):
    assert TradingMode.parse(text) is mode


def test_mode_parse_rejects_unknown():
    with pytest.raises(ValueError, match="read-only"):
        TradingMode.parse("dry")


def test_a_mode_prints_as_its_name():
    """Operators read the mode in status lines, banners and the audit trail: "live", not "TradingMode.LIVE"."""
    assert [str(m) for m in TradingMode] == ["read-only", "paper", "dry-run", "canary", "live"]
    assert f"{TradingMode.LIVE}" == "live"
