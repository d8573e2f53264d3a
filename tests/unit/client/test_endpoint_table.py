"""The one endpoint table: retry, pacing, guard and allowlist give the same answer per row."""
from __future__ import annotations

import pytest

from krakenbot.client import endpoints
from krakenbot.client.pacing import call_cost
from krakenbot.client.retry import RetryPolicy
from krakenbot.errors import from_codes
from krakenbot.safety.allowlist import check
from krakenbot.safety.guard import ORDER_PLACING
from krakenbot.safety.modes import TradingMode

UNAVAILABLE = from_codes(["EService:Unavailable"], "X")


@pytest.mark.parametrize("row", endpoints.ROWS, ids=lambda r: r.name)
def test_every_rule_reads_the_same_row(row):
    retried = RetryPolicy().should_retry(row.name, not row.private, UNAVAILABLE, 1)
    assert retried is row.idempotent
    assert call_cost(row.name) == row.cost
    assert (row.name in ORDER_PLACING) is row.places_orders
    for mode in TradingMode:
        assert check(mode, row.name).allowed is (mode in row.modes)


@pytest.mark.parametrize("name", ["OpenPositions", "ExportStatus"])
def test_reads_the_bot_has_no_use_for_are_refused_and_say_why(name):
    for mode in TradingMode:
        verdict = check(mode, name)
        assert not verdict.allowed and "every mode" in verdict.reason


def test_funding_rows_are_refused_everywhere_and_writes_among_them_never_retried():
    funding = [r for r in endpoints.ROWS if r.funding]
    assert {"Withdraw", "DepositAddresses", "Earn/Allocate"} <= {r.name for r in funding}
    assert all(not r.modes for r in funding)
    assert {r.name for r in endpoints.ROWS if r.moves_funds} <= {r.name for r in funding}
    assert not endpoints.ENDPOINTS["DepositAddresses"].idempotent  # new=true creates an address


def test_unknown_endpoint_is_not_retried_costs_one_and_is_refused():
    assert endpoints.lookup("SomethingNew") is None
    assert not RetryPolicy().should_retry("SomethingNew", False, UNAVAILABLE, 1)
    assert call_cost("SomethingNew") == 1
    assert not check(TradingMode.LIVE, "SomethingNew").allowed


def test_the_websocket_token_is_a_read_every_mode_may_take():
    """The executions stream's token: read-only included (it follows fills, it places nothing)."""
    row = endpoints.ENDPOINTS["GetWebSocketsToken"]
    assert row.idempotent and not row.places_orders and row.private
    assert all(check(mode, "GetWebSocketsToken").allowed for mode in TradingMode)


def test_the_dry_run_venue_answers_exactly_the_endpoints_its_list_names():
    """``VENUE_ENDPOINTS`` is what the guard lets through to the venue: a name the venue has no answer for
    would fail at the call, one it answers but the list lacks would be refused. Each is a row of the table."""
    from krakenbot.clock import ManualClock
    from krakenbot.dry_run import DryRunVenue, Wallet
    from krakenbot.safety.allowlist import VENUE_ENDPOINTS

    venue = DryRunVenue(None, None, ManualClock(), Wallet({}))
    assert set(venue._handlers) == VENUE_ENDPOINTS[TradingMode.DRY_RUN] == DryRunVenue.endpoints
    assert all(endpoints.lookup(name) is not None for name in DryRunVenue.endpoints)
