"""SIGKILL the bot at the worst moments, restart it on the same store, and check the books.

The bot runs as a separate process (``crash_driver.py``) talking HTTP to a simulator
served by this test process; it prints ``POINT <name>`` when it reaches a kill point and
blocks there, and the test kills it with SIGKILL (no cleanup, no atexit, no flush beyond
what the store already made durable). A second process on the same store file recovers.
Then: every exchange order belongs to exactly one stored intent and vice versa (nothing
lost, nothing doubled), fills are booked once, the daily trade count matches the orders
placed, no request of the new process was refused for its nonce and nonces kept rising,
and a fresh reconciliation is clean. The dead man's switch test shows the exchange
cancelling a dead bot's orders once its timeout passes (``POST /_sim/advance``).
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from krakensim import KrakenSimulator
from krakensim.clock import ManualClock

DRIVER = Path(__file__).with_name("crash_driver.py")
ROOT = Path(__file__).resolve().parents[2]
WAIT = 15.0  # seconds a process may take to reach a point (bounded polling, not a sleep)

pytestmark = pytest.mark.slow


class BotProcess:
    def __init__(self, scenario: str, env: dict[str, str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen([sys.executable, str(DRIVER), scenario], env=env, cwd=str(ROOT),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()

    @staticmethod
    def _pump(stream, sink) -> None:
        for line in stream:
            sink(line.rstrip("\n"))

    def expect(self, prefix: str, timeout: float = WAIT) -> str:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        self.kill()
        raise AssertionError(f"bot never printed {prefix!r}; stdout {seen}, stderr tail {self.stderr[-15:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)
        assert self.proc.returncode in (-signal.SIGKILL, 0, 1), self.proc.returncode


@pytest.fixture
def sim():
    with KrakenSimulator(seed=51, clock=ManualClock()) as simulator:
        simulator.set_price("XBTEUR", "60000")
        yield simulator


@pytest.fixture
def env(sim, tmp_path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
        "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "STORE_PATH": str(tmp_path / "bot.sqlite"),
        "KILL_SWITCH_FILE": str(tmp_path / "KILL"), "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1",
        "DEAD_MANS_SWITCH_SECONDS": "60",
    }


def crash_then_recover(sim, env, scenario: str, *, at_point=None, before_recover=None) -> dict:
    bot = BotProcess(scenario, env)
    bot.expect("READY")
    bot.expect("POINT")
    if at_point is not None:
        at_point()
    bot.kill()
    first_process_records = len(sim.access_log)
    if before_recover is not None:
        before_recover()
    sim.advance(30)  # past the AddOrder deadline (15 s): an order that never landed can be ruled out
    again = BotProcess("recover", env)
    again.expect("READY")
    done = json.loads(again.expect("DONE"))
    again.proc.wait(timeout=WAIT)
    done["restart_log"] = sim.access_log_since(first_process_records)
    return done


def assert_books_agree(sim, done: dict, expected_orders: int) -> None:
    exchange = sim.orders()
    stored = {o["cl_ord_id"]: o for o in done["orders"]}
    by_cid: dict[str, list[dict]] = {}
    for o in exchange:
        by_cid.setdefault(o.get("cl_ord_id"), []).append(o)
    assert len(exchange) == expected_orders, exchange
    for cid, group in by_cid.items():
        assert len(group) == 1, f"{cid} placed {len(group)} times"           # not duplicated
        assert cid in stored and stored[cid]["txid"] == group[0]["txid"]    # not lost
        assert stored[cid]["volume_executed"] == str(__import__("decimal").Decimal(group[0]["vol_exec"]))
    placed = [o for o in done["orders"] if o["txid"]]
    assert len(placed) == expected_orders
    assert done["still_unknown"] == []
    assert not [o for o in done["orders"] if o["status"] in ("UNKNOWN", "PENDING_SUBMIT")]
    assert done["daily_trades"] == expected_orders                          # counted once each
    trades = {t["txid"]: t for t in sim.trades()}
    assert sorted(f["trade_id"] for f in done["fills"]) == sorted(trades)   # booked once each
    assert done["reconcile_kinds"] == []


def assert_nonces_fine(sim, done: dict) -> None:
    private = [r for r in sim.access_log if r.kind == "private"]
    assert [r for r in private if r.error == "EAPI:Invalid nonce"] == []
    nonces = [int(r.params["nonce"]) for r in private]
    assert nonces == sorted(nonces) and len(set(nonces)) == len(nonces)    # rose across both processes
    assert any(r.kind == "private" for r in done["restart_log"])


def test_kill_while_addorder_is_in_flight_and_never_landed(sim, env):
    sim.faults.inject(endpoint="AddOrder", kind="hang", seconds=20.0, times=1)

    def wait_until_the_request_is_at_the_exchange():
        deadline = time.monotonic() + WAIT
        while not [r for r in sim.access_log if r.endpoint == "AddOrder"]:
            assert time.monotonic() < deadline, "AddOrder never reached the simulator"
            time.sleep(0.01)  # bounded polling for the other process, not a test delay

    done = crash_then_recover(sim, env, "place-hang", at_point=wait_until_the_request_is_at_the_exchange)
    assert_books_agree(sim, done, expected_orders=0)
    [order] = done["orders"]
    assert order["status"] == "REJECTED" and order["txid"] is None        # ruled out after its deadline
    assert [r for r in done["restart_log"] if r.endpoint == "AddOrder"] == []  # and never re-sent
    assert_nonces_fine(sim, done)


def test_kill_after_addorder_landed_but_before_the_answer_was_booked(sim, env):
    done = crash_then_recover(sim, env, "place-swallow")
    assert_books_agree(sim, done, expected_orders=1)
    [order] = done["orders"]
    assert order["status"] == "OPEN" and order["txid"] == sim.orders()[0]["txid"]
    assert [r for r in done["restart_log"] if r.endpoint == "AddOrder"] == []
    assert_nonces_fine(sim, done)


def test_kill_between_a_fill_and_its_bookkeeping(sim, env):
    done = crash_then_recover(sim, env, "fill")
    assert sim.trades(), "the market order should have filled"
    assert_books_agree(sim, done, expected_orders=1)
    assert done["orders"][0]["status"] == "FILLED"
    assert_nonces_fine(sim, done)


def test_kill_mid_reconciliation(sim, env):
    done = crash_then_recover(sim, env, "reconcile")
    assert_books_agree(sim, done, expected_orders=2)
    assert sorted(o["status"] for o in done["orders"]) == ["FILLED", "OPEN"]
    assert_nonces_fine(sim, done)


def test_dead_mans_switch_cancels_the_dead_bots_orders_after_its_timeout(sim, env):
    bot = BotProcess("dms", env)
    bot.expect("READY")
    bot.expect("POINT")
    bot.kill()
    assert [o["status"] for o in sim.orders()] == ["open"]
    assert sim.dead_mans_switch()["armed"]

    def advance(seconds: float) -> None:
        req = urllib.request.Request(f"{sim.url}/_sim/advance", data=json.dumps({"seconds": seconds}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200

    advance(30)
    assert [o["status"] for o in sim.orders()] == ["open"]   # not before the timeout
    advance(31)
    assert [o["status"] for o in sim.orders()] == ["canceled"]
    done = crash_then_recover_after_dms(sim, env)
    assert done["orders"][0]["status"] == "CANCELED"
    assert done["reconcile_kinds"] == []


def crash_then_recover_after_dms(sim, env) -> dict:
    again = BotProcess("recover", env)
    again.expect("READY")
    done = json.loads(again.expect("DONE"))
    again.proc.wait(timeout=WAIT)
    return done
