"""Issue 20: the disk or the store fails under the running bot. Real faults: a tmpfs of 512 KiB filled
to its last byte, or remounted read-only, in a private mount namespace (``small_disk``); where no
namespace can be made, SQLite's read-only switch on the store's connection instead."""
from __future__ import annotations

import pytest

from tests.reliability import small_disk

NO_NAMESPACE = small_disk.available()
FULL = "full" if NO_NAMESPACE is None else "query_only"
RAW = ("sqlite3.", "krakenbot.store.database.StoreError")


def _raw(results: dict) -> dict:
    return {name: r for name, r in results.items() if r.get("raised", "").startswith(RAW)}


def _increasing(values: list[int]) -> bool:
    return all(b > a for a, b in zip(values, values[1:]))


# -- finding 1: every cancel leaves ------------------------------------------------------------------
def test_on_a_full_disk_every_cancel_and_the_kill_reach_the_exchange_and_say_truly_they_were_sent(tmp_path):
    """Open, PENDING_SUBMIT (a crash after the send) and UNKNOWN orders: each per-order cancel leaves
    though its record cannot be written, says it was sent, and kill() cancels the rest."""
    out = small_disk.run_case("cancels", tmp_path, FULL)
    assert out["open_before"] == 5
    for name in ("cancel_pending", "cancel_unknown", "cancel_open"):
        result = out[name]
        assert "raised" not in result, (name, result)
        assert result["left_the_bot"], (name, result)
        assert result["returned"]["codes"] == ["STORE_FAILURE"] and "cancel was sent" in result["returned"]["reason"], \
            (name, result)
    assert "raised" not in out["kill"] and "halt could not be recorded" in out["kill"]["returned"]["problems"][0]
    assert out["open_after"] == 0
    assert _increasing(out["nonces"]) and not out["store_writes_ok"], out  # rising with no store write


@pytest.mark.skipif(NO_NAMESPACE is not None, reason=f"needs a real small disk: {NO_NAMESPACE}")
@pytest.mark.parametrize("fault", ["full", "readonly"])
def test_krakenbot_kill_on_a_full_or_read_only_disk_cancels_at_the_exchange_in_one_line(tmp_path, fault):
    out = small_disk.run_case("cli_kill", tmp_path, fault)
    assert out["open_before"] == 3 and out["open_after"] == 0, out
    assert out["rc"] == 1 and "Traceback" not in out["stderr"] and len(out["stderr"].strip().splitlines()) == 1, out
    assert "cancelled 3 open order(s)" in out["stdout"] and "halt is NOT recorded" in out["stderr"], out
    assert [e for e in out["endpoints"] if e != "SystemStatus"] == ["CancelAll"], out
    assert int(out["cancel_nonce"]) > out["saved_mark"], out  # above every nonce the mark covered


# -- finding 8: no raw store error out of the wrapper; room again, orders again ------------------------
def test_on_a_full_disk_no_public_wrapper_method_lets_a_raw_store_error_out_and_room_brings_orders_back(tmp_path):
    out = small_disk.run_case("every_method", tmp_path, FULL)
    assert out["not_called"] == [], f"new public methods of the safety wrapper to call here: {out['not_called']}"
    assert _raw(out["calls"]) == {}, _raw(out["calls"])
    refused = out["order_while_full"]["returned"]
    assert refused["codes"] == ["STORE_FAILURE"] and not refused["placed"], refused
    for name in ("submit_order", "canary_order"):
        assert out["calls"][name]["returned"]["codes"] == ["STORE_FAILURE"], out["calls"][name]
    assert out["calls"]["cancel_order"]["returned"]["codes"] == ["STORE_FAILURE"]
    assert "cancel was sent" in out["calls"]["cancel_order"]["returned"]["reason"]
    assert out["open_after"] == 0  # cancel_order, cancel_all and kill all reached the exchange
    assert "returned" in out["calls"]["arm_dead_mans_switch"], out["calls"]["arm_dead_mans_switch"]  # it protects
    assert out["order_with_room"]["returned"]["placed"], out["order_with_room"]  # same process, no restart


# -- finding 5: a full disk does not make the bot spin ----------------------------------------------
def test_on_a_full_disk_refused_orders_start_no_thread_and_retry_no_write(tmp_path):
    out = small_disk.run_case("no_spin", tmp_path, FULL)
    assert out["codes"] == ["STORE_FAILURE"], out
    assert out["threads_after"] == out["threads_before"] and out["tasks_after"] == out["tasks_before"], out
    writes = out["writes_per_order"]
    assert max(writes) <= 25 and sum(writes[-10:]) <= 2 * sum(writes[:10]), writes  # a few each, not growing
    assert out["cpu_per_order_s"] < 0.05, out
