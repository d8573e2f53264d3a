"""Each success criterion turns to FAIL when its evidence is broken on purpose, naming the
evidence, while the criteria left untouched stay PASS. The starting point is a real run."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tools import safety_report as reporting
from safety_report_rig import assert_only_this_fails, failure_lines, scenario_title

ALL_PASS = "All scenarios pass"
UNAUTHORIZED = "No unauthorized API calls"
FAIL_SAFES = "All fail-safe mechanisms activate correctly"
DATA = "Zero data corruption or loss"
RATE = "API rate limits respected"
BREAKER = "Circuit breaker prevents cascading failures"
ALLOCATION = "Test allocation respected"


def _append_request(row: dict, endpoint: str, **params: str) -> dict:
    """A request the exchange recorded after everything else in the scenario."""
    last = row["access_log"][-1] if row["access_log"] else {"time": 0.0, "key_id": None}
    record = {"seq": len(row["access_log"]), "time": last["time"] + 1.0, "http_method": "POST",
              "path": f"/0/private/{endpoint}", "endpoint": endpoint, "kind": "private", "key_id": last["key_id"],
              "params": dict(params), "outcome": "ok", "error": None, "fault": None, "http_status": 200}
    row["access_log"].append(record)
    return record


def _quiet_row(evidence, mode: str) -> dict:
    """A scenario that ended in ``mode`` and whose breaker never opened."""
    rows = evidence.rows_where(lambda r: r["mode"] == mode and not r["safety"]["breaker"]["events"])
    assert rows, f"the clean run has no quiet scenario in {mode} mode"
    return rows[0]


def test_the_clean_run_passes_every_criterion_with_real_figures(evidence):
    verdicts = evidence.verdicts()

    assert {name: v.status for name, v in verdicts.items()} == {name: reporting.PASS for name in verdicts}
    assert len(verdicts) == 7
    assert int(verdicts[DATA].figures["fills compared"]) >= 4
    assert int(verdicts[BREAKER].figures["breaker openings"]) >= 2
    assert int(verdicts[BREAKER].figures["calls refused locally by the breaker"]) >= 1
    assert int(verdicts[RATE].figures["provoked (injected) rate-limit errors"]) >= 1
    assert "not demonstrated" not in verdicts[FAIL_SAFES].figures.values()


# -- No unauthorized API calls ---------------------------------------------------------------------
def test_an_order_that_slipped_past_the_wrapper_in_read_only_mode_fails_the_criterion(evidence):
    row = _quiet_row(evidence, "read-only")
    record = _append_request(row, "AddOrder", pair="XBTEUR", type="buy", ordertype="market", volume="0.01")

    broken = assert_only_this_fails(evidence.verdicts(), UNAUTHORIZED)

    assert f"{scenario_title(row)}: #{record['seq']} AddOrder reached the exchange in read-only mode: " \
           "AddOrder is not on the read-only allowlist" in failure_lines(broken)


def test_a_paper_order_sent_without_validate_fails_the_criterion(evidence):
    row = _quiet_row(evidence, "paper")
    _append_request(row, "AddOrder", pair="XBTEUR", type="buy", ordertype="limit", volume="0.01", price="50000")

    broken = assert_only_this_fails(evidence.verdicts(), UNAUTHORIZED)

    assert any("AddOrder without validate=true in paper mode" in line for line in failure_lines(broken))


def test_a_withdrawal_that_reached_the_exchange_fails_in_any_mode(evidence):
    row = _quiet_row(evidence, "live")
    _append_request(row, "Withdraw", asset="XBT", key="cold wallet", amount="1")

    broken = assert_only_this_fails(evidence.verdicts(), UNAUTHORIZED)

    assert any("Withdraw reached the exchange (funding call)" in line for line in failure_lines(broken))


# -- Zero data corruption or loss ------------------------------------------------------------------
def _row_with_fills(evidence) -> dict:
    # a dry run's fills are its local venue's, compared with no exchange: a live scenario's
    rows = evidence.rows_where(lambda r: r["safety"]["store"].get("fills") and r["mode"] != "dry-run")
    assert rows, "the clean run has no scenario with fills"
    return rows[0]


def test_one_fill_altered_in_the_store_fails_the_criterion_naming_the_trade(evidence):
    row = _row_with_fills(evidence)
    fill = row["safety"]["store"]["fills"][0]
    fill["fee"] = str(Decimal(fill["fee"]) + Decimal("0.0001"))

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    assert any(f"trade {fill['trade_id']}: store fee {fill['fee']} != exchange fee" in line
               for line in failure_lines(broken)), failure_lines(broken)


def test_a_fill_counted_twice_fails_the_criterion(evidence):
    row = _row_with_fills(evidence)
    fills = row["safety"]["store"]["fills"]
    fills.append(dict(fills[0]))

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    assert any(f"trade {fills[0]['trade_id']} is recorded 2 times" in line for line in failure_lines(broken))


def test_a_fill_missing_from_the_store_fails_the_criterion(evidence):
    row = _row_with_fills(evidence)
    lost = row["safety"]["store"]["fills"].pop()

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    assert any(f"exchange trade {lost['trade_id']}" in line and "missing from the bot's store" in line
               for line in failure_lines(broken))


def test_only_the_fill_a_scenario_removed_on_purpose_is_left_unjudged(evidence):
    """A scenario that deletes a record to prove the bot notices declares that one trade; any other
    missing fill in the same scenario still fails the criterion."""
    rows = evidence.rows_where(lambda r: len(r["safety"]["store"].get("fills") or ()) >= 2)
    assert rows, "the clean run has no scenario with two fills"
    fills = rows[0]["safety"]["store"]["fills"]
    row = rows[0]
    planted, lost = fills.pop(), fills.pop()
    row["safety"]["planted_losses"] = [planted["trade_id"]]

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    lines = failure_lines(broken)
    assert any(f"exchange trade {lost['trade_id']}" in line for line in lines)
    assert not any(f"exchange trade {planted['trade_id']}" in line for line in lines)


def test_only_the_order_a_scenario_removed_on_purpose_is_left_unjudged(evidence):
    """A lost store (deleted on purpose) declares the orders it held; any other order missing from the
    store in the same scenario still fails the criterion."""
    rows = evidence.rows_where(lambda r: len(r["safety"]["store"].get("orders") or ()) >= 2)
    assert rows, "the clean run has no scenario with two orders"
    orders = rows[0]["safety"]["store"]["orders"]
    planted, lost = orders.pop(), orders.pop()
    rows[0]["safety"]["planted_losses"] = [planted["txid"]]

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    lines = failure_lines(broken)
    assert any(f"exchange order {lost['txid']}" in line for line in lines), lines
    assert not any(f"exchange order {planted['txid']}" in line for line in lines), lines


def test_an_order_status_that_differs_from_the_exchange_fails_the_criterion(evidence):
    row = evidence.row("A market buy is filled")
    order = row["safety"]["store"]["orders"][0]
    order["status"] = "OPEN"

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    assert any(f"order {order['txid']}: store status OPEN != exchange closed" in line for line in failure_lines(broken))


def test_a_store_that_fails_its_integrity_check_fails_the_criterion(evidence):
    row = evidence.row("A market buy is filled")
    row["safety"]["store"]["integrity_check"] = "*** in database main ***; Page 4: btreeInitPage() returns error code 11"

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    assert any("PRAGMA integrity_check: *** in database main" in line for line in failure_lines(broken))


# -- Circuit breaker prevents cascading failures -------------------------------------------------------
def test_a_request_sent_while_the_breaker_was_open_fails_the_criterion(evidence):
    """The breaker disabled: the exchange saw a call after the breaker had opened."""
    row = evidence.row("While the circuit breaker is open")
    opened = [e for e in row["safety"]["breaker"]["events"] if e["new"] == "open"][0]
    record = _append_request(row, "Ticker", pair="XBTEUR")
    record["kind"] = "public"

    broken = assert_only_this_fails(evidence.verdicts(), BREAKER)

    assert f"{scenario_title(row)}: #{record['seq']} Ticker left the bot while breaker 0 open from " \
           f"#{opened['index']} to the end of the scenario ({opened['reason']})" in failure_lines(broken)
    assert broken.figures["requests sent while open"] == "1"


def test_a_cancel_sent_while_the_breaker_was_open_is_no_breach_and_is_counted_apart(evidence):
    """Less exposure passes the breaker (the kill switch's CancelAll): not a finding, but a figure."""
    row = evidence.row("While the circuit breaker is open")
    before = int(evidence.verdicts()[BREAKER].figures["cancels sent while open (less exposure: let through)"])
    _append_request(row, "CancelAll")

    verdict = evidence.verdicts()[BREAKER]

    assert verdict.status == "PASS", failure_lines(verdict)
    assert int(verdict.figures["cancels sent while open (less exposure: let through)"]) == before + 1


def test_keep_alives_a_second_apart_while_the_breaker_is_open_fail_the_criterion(evidence):
    """Re-review of issue 20: cancels pass the breaker, but a keep-alive a second against a failing
    exchange (the bug the first review found) must still be a finding."""
    row = evidence.row("While the circuit breaker is open")
    first = _append_request(row, "CancelAllOrdersAfter", timeout="60")
    _append_request(row, "CancelAllOrdersAfter", timeout="60")  # one second later

    broken = assert_only_this_fails(evidence.verdicts(), BREAKER)

    assert any(f"#{first['seq'] + 1} CancelAllOrdersAfter 1 s after the last one" in line
               for line in failure_lines(broken))


def test_the_breaker_judged_from_the_audit_trail_alone_still_catches_a_request_sent_while_open(evidence):
    """Evidence without the breaker's transitions (live target): the audit rows' times are used."""
    row = evidence.row("While the circuit breaker is open")
    row["safety"]["breaker"]["events"] = []
    record = _append_request(row, "Ticker", pair="XBTEUR")
    record["kind"] = "public"

    broken = assert_only_this_fails(evidence.verdicts(), BREAKER)

    assert any(f"#{record['seq']} Ticker left the bot while breaker 0 open from t=" in line
               for line in failure_lines(broken))


# -- Test allocation respected -------------------------------------------------------------------------
def test_a_limit_raised_above_the_allocation_fails_the_criterion(evidence):
    row = evidence.row("A market buy is filled")
    row["safety"]["limits"][0]["total_btc"] = "1000"

    broken = assert_only_this_fails(evidence.verdicts(), ALLOCATION)

    assert f"{scenario_title(row)}: configured TOTAL_BTC 1000 is above the test allocation 2" in failure_lines(broken)


def test_a_position_above_the_configured_limit_fails_the_criterion(evidence):
    row = evidence.row("The trade after the daily allowance is refused")
    trades = row["safety"]["exchange"]["trades"]
    assert trades, "the daily-allowance scenario should have filled orders"
    position = sum(Decimal(t["vol"]) for t in trades if t["type"] == "buy")
    for limits in row["safety"]["limits"]:
        limits["total_btc"] = str(position / 2)

    broken = assert_only_this_fails(evidence.verdicts(), ALLOCATION)

    assert any("position reached" in line and f"> TOTAL_BTC {position / 2}" in line for line in failure_lines(broken))


# -- API rate limits respected ---------------------------------------------------------------------------
def test_an_unprovoked_rate_limit_refusal_fails_the_criterion(evidence):
    row = evidence.row("A market buy is filled")
    record = next(r for r in row["access_log"] if r["endpoint"] == "Balance" or r["kind"] == "private")
    record.update(outcome="error", error="EAPI:Rate limit exceeded")

    broken = assert_only_this_fails(evidence.verdicts(), RATE)

    assert f"{scenario_title(row)}: #{record['seq']} {record['endpoint']}: EAPI:Rate limit exceeded " \
           "(not injected by the scenario)" in failure_lines(broken)


def test_an_api_counter_above_the_tier_maximum_fails_the_criterion(evidence):
    row = evidence.row("A market buy is filled")
    row["counters"]["api_peak"] = row["counters"]["api_max"] + 1

    broken = assert_only_this_fails(evidence.verdicts(), RATE)

    assert any("API counter peaked at" in line for line in failure_lines(broken))


# -- All fail-safe mechanisms activate correctly -----------------------------------------------------------
def test_a_fail_safe_never_exercised_fails_the_criterion_on_the_simulator(evidence):
    """The dead man's switch scenario provokes nothing: the bot never arms the switch."""
    row = evidence.row("cancelled by the exchange when the bot goes silent")
    row["audit"] = [a for a in row["audit"] if a.get("action") != "dead_mans_switch"]

    broken = assert_only_this_fails(evidence.verdicts(), FAIL_SAFES)

    assert "run: dead man's switch: no scenario produced evidence that it fired" in failure_lines(broken)
    assert broken.figures["dead man's switch"] == "not demonstrated"
    assert broken.figures["kill switch"] != "not demonstrated"


def test_a_stop_loss_whose_exit_sell_did_not_fill_is_not_evidence_that_it_fired(evidence):
    """The bot's own stop-loss counts only with the market sell it sent for it, filled."""
    row = evidence.row("past the stop-loss sells")
    for a in row["audit"]:
        if a.get("action") == "order" and a.get("origin") == "stop_loss":
            a["outcome"] = "rejected"

    broken = assert_only_this_fails(evidence.verdicts(), FAIL_SAFES)

    assert "run: stop-loss (bot-side): no scenario produced evidence that it fired" in failure_lines(broken)
    assert broken.figures["take-profit (bot-side)"] != "not demonstrated"


def test_a_fail_safe_never_exercised_on_the_live_target_is_reported_not_exercised(evidence):
    evidence.meta["target"] = "live"
    evidence.rows = [r for r in evidence.rows if "goes silent" not in r["name"]]

    verdict = evidence.verdicts()[FAIL_SAFES]

    assert verdict.status == reporting.NOT_EXERCISED
    assert "dead man's switch: NOT DEMONSTRATED in this run" in verdict.evidence


# -- All scenarios pass ---------------------------------------------------------------------------------------
def test_a_failed_scenario_fails_the_criterion(evidence):
    row = evidence.row("A market buy is filled")
    row["status"] = "failed"

    broken = assert_only_this_fails(evidence.verdicts(), ALL_PASS)

    assert f"{scenario_title(row)}: scenario status 'failed' in the evidence" in failure_lines(broken)


def test_fewer_scenarios_than_the_tags_select_fails_the_criterion_and_vouches_for_no_other(evidence):
    evidence.meta["expected_to_run"] += 1

    verdicts = evidence.verdicts()

    broken = verdicts[ALL_PASS]
    assert broken.status == reporting.FAIL
    ran = len(evidence.rows)
    assert any(f"only {ran} scenario(s) ran of the {ran + 1}" in line for line in failure_lines(broken))
    others = {v.status for name, v in verdicts.items() if name != ALL_PASS}
    assert others == {reporting.NOT_EXERCISED}  # a partial run passes nothing it did not run


@pytest.mark.parametrize("criterion", [ALL_PASS, UNAUTHORIZED, FAIL_SAFES, DATA, RATE, BREAKER])
def test_a_run_where_nothing_ran_fails(evidence, criterion):
    evidence.rows = []
    evidence.meta["expected_to_run"] = 0

    assert evidence.verdicts()[criterion].status == reporting.FAIL


def test_a_scenario_skipped_on_the_simulator_counts_as_not_run(evidence):
    row = evidence.row("A market buy is filled")
    row["status"] = "skipped"

    broken = evidence.verdicts()[ALL_PASS]

    assert broken.status == reporting.FAIL
    ran = len(evidence.rows) - 1
    assert any(f"only {ran} scenario(s) ran of the {ran + 1}" in line for line in failure_lines(broken))


def test_on_the_live_target_an_order_placed_by_the_bot_is_unauthorized(evidence):
    """Live runs deploy no capital: a placed order in the store is a failure, named by its reference."""
    evidence.meta["target"] = "live"
    row = evidence.row("A market buy is filled")
    order = row["safety"]["store"]["orders"][0]

    verdict = evidence.verdicts()[UNAUTHORIZED]

    assert verdict.status == reporting.FAIL
    assert any(f"store: order {order['cl_ord_id']} was placed ({order['txid']}) on the live target" in line
               for line in failure_lines(verdict))


def test_a_resting_order_whose_limit_price_changed_in_the_store_fails_the_criterion(evidence):
    row = evidence.row("cancelled by the exchange when the bot goes silent")
    order = next(o for o in row["safety"]["store"]["orders"] if o["ordertype"] == "limit")
    order["price"] = str(Decimal(order["price"]) + 100)

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    assert any(f"order {order['txid']}: store limit price {order['price']} != exchange" in line
               for line in failure_lines(broken))


# -- No unauthorized API calls: the dry run ---------------------------------------------------------------------
def test_a_clean_dry_run_passes_the_criterion_with_its_requests_judged(evidence):
    row = evidence.row("A dry run never sends an order to the exchange")
    assert row["safety"]["store"]["orders"], "the dry run placed its order (locally)"

    verdict = evidence.verdicts()[UNAUTHORIZED]

    assert verdict.status == reporting.PASS
    assert int(verdict.figures["in dry-run"]) > 0


@pytest.mark.parametrize("endpoint, params", [
    ("AddOrder", {"pair": "XBTEUR", "type": "buy", "ordertype": "market", "volume": "0.01"}),
    ("CancelOrder", {"txid": "OABCDE-FGHIJ-KLMNOP"}),
])
def test_an_order_entry_or_cancel_that_reached_the_exchange_in_a_dry_run_fails_the_criterion(evidence, endpoint,
                                                                                             params):
    row = evidence.row("A dry run never sends an order to the exchange")
    record = _append_request(row, endpoint, **params)

    broken = assert_only_this_fails(evidence.verdicts(), UNAUTHORIZED)

    assert f"{scenario_title(row)}: #{record['seq']} {endpoint} reached the exchange in dry-run mode: " \
           f"{endpoint} is not on the dry-run allowlist" in failure_lines(broken)


def test_a_dry_run_is_judged_to_have_moved_no_money_on_the_exchange(evidence):
    """Its books are local (compared with no exchange order), but a balance that moved at the exchange
    during a dry run is a failure, named."""
    row = evidence.row("A dry run never sends an order to the exchange")
    exchange = row["safety"]["exchange"]
    assert exchange["balances"] == exchange["start_balances"]
    assert int(evidence.verdicts()[DATA].figures[
        "dry runs (local books; the exchange must show none of their orders or money)"]) == 1
    exchange["balances"]["XXBT"] = str(Decimal(exchange["balances"].get("XXBT", "0")) + Decimal("0.01"))

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    assert any(line.startswith(f"{scenario_title(row)}: balance XXBT: the exchange moved from ")
               and line.endswith("during a dry run") for line in failure_lines(broken))


def test_a_dry_runs_store_is_judged_against_its_venue_field_by_field(evidence):
    """The dry run's books live in its local venue: a fill the store records differently from the venue fails,
    named, as a live fill differing from the exchange's does."""
    row = evidence.row("A dry run never sends an order to the exchange")
    venue = row["safety"]["venue"]
    assert venue["orders"] and venue["trades"], "the dry run's venue recorded its order and fill"
    fill = row["safety"]["store"]["fills"][0]
    fill["fee"] = str(Decimal(fill["fee"]) + Decimal("0.0001"))

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    assert any(f"trade {fill['trade_id']}: store fee {fill['fee']} != exchange fee" in line
               for line in failure_lines(broken)), failure_lines(broken)


def test_a_dry_run_whose_venue_was_not_recorded_fails_rather_than_passing_unjudged(evidence):
    row = evidence.row("A dry run never sends an order to the exchange")
    del row["safety"]["venue"]

    broken = assert_only_this_fails(evidence.verdicts(), DATA)

    assert f"{scenario_title(row)}: the dry run's venue was not recorded: its books cannot be judged" \
        in failure_lines(broken)
