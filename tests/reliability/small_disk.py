"""A real small disk for storage-fault tests (issue 20): a tmpfs of a few hundred KiB, mounted in a
private mount namespace so nothing outside the child process sees it.

Why a child process: a mount namespace belongs to a process; the test (pytest) stays where it is
and runs ``python -m tests.reliability.small_disk CASE DIR`` under ``unshare -m`` (root) or
``unshare -r -m`` (a user namespace otherwise). The case builds the bot on a store on that disk
against a simulator on loopback (in the child, on a ``ManualClock``; ``krakenbot kill`` runs as a
grandchild, inside the same namespace), fills the disk to the last byte, acts, and prints one JSON
line that the test judges. Where no namespace can be made, ``available()`` says why and the test
falls back to the same case on a store SQLite refuses to write (``PRAGMA query_only``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
DISK_KIB = 512


def _unshare_prefix() -> list[str]:
    return ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]


def available() -> str | None:
    """None when a private tmpfs can be mounted here, else why not."""
    if shutil.which("unshare") is None:
        return "no unshare(1) on this machine"
    probe = subprocess.run([*_unshare_prefix(), "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt || "
                            "mount -t tmpfs -o size=64k tmpfs /tmp"], capture_output=True, text=True, timeout=30)
    return None if probe.returncode == 0 else f"cannot mount a tmpfs in a mount namespace: {probe.stderr.strip()}"


def run_case(case: str, folder: Path, fault: str = "full", timeout: float = 120) -> dict[str, Any]:
    """Run ``case`` in a child on a tmpfs of ``DISK_KIB``; ``fault`` (full, readonly) is the case's
    to stage. ``query_only``: no namespace, the same case on SQLite's read-only switch (fallback).
    Returns the case's JSON."""
    disk = folder / "disk"
    disk.mkdir(exist_ok=True)
    import krakenbot

    src = str(Path(krakenbot.__file__).resolve().parents[1])  # the child runs the very bot under test
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "tests.reliability.small_disk", case, str(disk), fault]
    if fault != "query_only":
        script = f'mount -t tmpfs -o size={DISK_KIB}k tmpfs "$1" && shift && exec "$@"'
        command = [*_unshare_prefix(), "sh", "-c", script, "sh", str(disk), *command]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and lines, f"case {case} ended {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[-1])


# -- inside the child ---------------------------------------------------------------------------------
class Disk:
    """Stages the fault: ``full`` fills the disk to its last byte, ``readonly`` remounts it read-only
    (no file may be open for writing then), ``query_only`` sets SQLite's switch on ``store``."""

    def __init__(self, folder: Path, fault: str, store: Any = None) -> None:
        self.folder, self.fault, self.store = folder, fault, store
        self.filler = folder / "filler"

    def fail(self) -> None:
        if self.fault == "query_only":
            self.store._db.execute("PRAGMA query_only=ON")
        elif self.fault == "readonly":
            subprocess.run(["mount", "-o", "remount,ro", str(self.folder)], check=True)
        else:
            self._fill()

    def _fill(self) -> None:
        chunk = b"\0" * 4096
        with open(self.filler, "ab", buffering=0) as out:
            for size in (4096, 512, 1):
                try:
                    while True:
                        out.write(chunk[:size])
                except OSError:
                    continue
        probe = self.folder / "probe"
        try:
            with open(probe, "wb", buffering=0) as out:
                out.write(b"x")
        except OSError:
            probe.unlink(missing_ok=True)
            return
        raise AssertionError("the disk still takes a byte")

    def mend(self) -> None:
        """Room again (the filler removed) or writable again."""
        if self.fault == "query_only":
            self.store._db.execute("PRAGMA query_only=OFF")
        elif self.fault == "readonly":
            subprocess.run(["mount", "-o", "remount,rw", str(self.folder)], check=True)
        else:
            self.filler.unlink()


def _sim() -> Any:
    from krakensim import KrakenSimulator
    from krakensim.clock import ManualClock

    sim = KrakenSimulator(seed=20, clock=ManualClock())
    sim.set_price("XBTEUR", "60000")
    return sim


def _env(sim: Any, folder: Path, **extra: str) -> dict[str, str]:
    env = {"KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret, "API_DOMAIN": sim.url,
           "TRADING_MODE": "live", "KRAKEN_LIVE_TRADING": "yes", "KRAKENBOT_HOME": str(folder),
           "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "MAX_OPEN_ORDERS": "20", "MAX_DAILY_TRADES": "100"}
    env.update(extra)
    return env


def _bot(sim: Any, folder: Path) -> Any:
    from krakenbot.bot import Bot
    from krakenbot.config import Settings

    return Bot.build(Settings.from_env(_env(sim, folder)), clock=sim.clock, store_path=str(folder / "krakenbot.sqlite"),
                     live_flag=True)


def _open_at_exchange(sim: Any) -> int:
    return len([o for o in sim.orders() if o["status"] == "open"])


def _buy(bot: Any) -> Any:
    return bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))


def _crashed_send(bot: Any, status: str) -> str:
    """An order a previous run recorded and sent, then died before learning its outcome: its record
    says ``status`` (PENDING_SUBMIT, or UNKNOWN after a lookup that failed) and it rests at the exchange."""
    from krakenbot.store import OrderRecord

    cid = bot.safety.executor.new_cl_ord_id()
    now = bot.clock.time()
    bot.store.record_intent(OrderRecord(cl_ord_id=cid, pair="XXBTZEUR", side="buy", ordertype="limit",
                                        volume=Decimal("0.001"), price=Decimal("59000"), status=status,
                                        created_at=now, updated_at=now, intent={"deadline": now + 15}))
    bot.client.private("AddOrder", pair="XBTEUR", type="buy", ordertype="limit", volume="0.001", price="59000",
                       cl_ord_id=cid)
    return cid


def _attempt(results: dict[str, Any], name: str, action: Callable[[], Any]) -> Any:
    """Run one public call; record what it returned or the type of what escaped it."""
    try:
        value = action()
    except Exception as exc:  # noqa: BLE001 - what escapes is the finding
        results[name] = {"raised": f"{type(exc).__module__}.{type(exc).__name__}", "message": str(exc)[:300]}
        return None
    results[name] = {"returned": _shown(value)}
    return value


def _shown(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    codes = getattr(value, "codes", None)
    if codes is not None:
        return {"codes": list(codes), "reason": getattr(value, "reason", ""), "placed": getattr(value, "placed", None),
                "accepted": getattr(value, "accepted", None), "status": getattr(value, "status", None)}
    if hasattr(value, "problems"):
        return {"cancelled": value.cancelled, "problems": list(value.problems)}
    return type(value).__name__


def case_cancels(folder: Path, fault: str) -> dict[str, Any]:
    """Finding 1: on a full disk the wrapper's per-order cancels (open, PENDING_SUBMIT and UNKNOWN
    orders) and kill() reach the exchange, nothing raw escapes, and cancel nonces keep rising."""
    out: dict[str, Any] = {}
    with _sim() as sim, _bot(sim, folder) as bot:
        disk = Disk(folder, fault, bot.store)
        bot.safety.check_connection()
        placed = [_buy(bot) for _ in range(3)]
        assert all(o.placed for o in placed), placed
        pending, unknown = _crashed_send(bot, "PENDING_SUBMIT"), _crashed_send(bot, "UNKNOWN")
        out["open_before"] = _open_at_exchange(sim)
        disk.fail()
        statements: list[str] = []
        bot.store._db.set_trace_callback(statements.append)
        nonces = [bot.client.nonces.last]
        for name, cid in (("cancel_pending", pending), ("cancel_unknown", unknown), ("cancel_open", placed[0].cl_ord_id)):
            before = _open_at_exchange(sim)
            _attempt(out, name, lambda cid=cid: bot.safety.cancel_order(cid))
            out[name]["left_the_bot"] = _open_at_exchange(sim) < before
            nonces.append(bot.client.nonces.last)
        _attempt(out, "kill", lambda: bot.safety.kill("disk full drill"))
        nonces.append(bot.client.nonces.last)
        out["open_after"] = _open_at_exchange(sim)
        out["nonces"] = nonces
        out["store_writes_ok"] = _writes_ok(bot.store)
        bot.store._db.set_trace_callback(None)
        disk.mend()
    return out


def case_cli_kill(folder: Path, fault: str) -> dict[str, Any]:
    """Finding 1: ``krakenbot kill`` on a home whose disk is full (or read-only) cancels at the exchange,
    in one line, and its CancelAll's nonce is above every nonce the store's mark covers."""
    from krakensim import KrakenSimulator

    out: dict[str, Any] = {}
    with KrakenSimulator(seed=21) as sim:  # the system clock: the CLI is another process
        sim.set_price("XBTEUR", "60000")
        env = _env(sim, folder)
        from krakenbot.bot import Bot
        from krakenbot.config import Settings

        with Bot.build(Settings.from_env(env), store_path=str(folder / "krakenbot.sqlite"), live_flag=True) as bot:
            bot.safety.check_connection()
            assert all(_buy(bot).placed for _ in range(3))
            mark = bot.store.load_nonce()
        out["open_before"] = _open_at_exchange(sim)
        disk = Disk(folder, fault)
        disk.fail()
        start = len(sim.access_log)
        env = {**env, "PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        empty = folder.parent / "empty.env"
        empty.write_text("")
        empty.chmod(0o600)
        done = subprocess.run([sys.executable, "-m", "krakenbot.cli", "--env-file", str(empty), "kill", "--reason",
                               "disk drill", "--wait", "1"], env=env, capture_output=True, text=True, timeout=60)
        out.update(rc=done.returncode, stdout=done.stdout, stderr=done.stderr, open_after=_open_at_exchange(sim))
        sent = sim.access_log_since(start)
        out["endpoints"] = [r.endpoint for r in sent]
        out["cancel_nonce"] = next((r.params.get("nonce") for r in sent if r.endpoint == "CancelAll"), None)
        out["saved_mark"] = mark
        disk.mend()
    return out


def _bot_saving_every_nonce(sim: Any, folder: Path) -> Any:
    """A bot whose nonce generator saves its mark before every private call (block 1): on a full disk
    every call meets the store at once, not only once the 10 s reservation runs out."""
    from krakenbot.bot import Bot
    from krakenbot.client.nonce import NonceGenerator
    from krakenbot.config import Settings
    from krakenbot.store import Store

    store = Store(str(folder / "krakenbot.sqlite"))
    return Bot.build(Settings.from_env(_env(sim, folder)), clock=sim.clock, store=store, live_flag=True,
                     client_options={"nonce": NonceGenerator(store, block=1)})


def every_public_call(bot: Any, resting: str, sim: Any) -> dict[str, Callable[[], Any]]:
    """One call of each public method of the safety wrapper (``resting``: an order to cancel)."""
    s = bot.safety
    return {
        "allowed_endpoints": s.allowed_endpoints, "refused_endpoints": s.refused_endpoints,
        "audit_log": s.audit_log, "balances": s.balances, "call": lambda: s.call("OpenOrders"),
        "canary_order": lambda: s.canary_order("XBTEUR"),
        "candles": lambda: s.candles("XBTEUR"), "check_connection": s.check_connection,
        "check_protective_exits": s.check_protective_exits, "history": lambda: s.history("XBTEUR", 1, int(sim.clock.time()) - 3600, int(sim.clock.time())),
        "last_ticker": lambda: s.last_ticker("XBTEUR"), "market_data_age": lambda: s.market_data_age("XBTEUR"),
        "market_data_problem": lambda: s.market_data_problem("XBTEUR"), "open_orders": s.open_orders,
        "order": lambda: s.order(resting), "order_book": lambda: s.order_book("XBTEUR"),
        "pair_info": lambda: s.pair_info("XBTEUR"), "position": lambda: s.position("XBTEUR"),
        "reconcile": s.reconcile, "record_cycle": lambda: s.record_cycle(bot.orchestrator.run_once()),
        "recover": s.recover, "refresh_orders": s.refresh_orders, "set_mode": lambda: s.set_mode("live", True),
        "status": s.status, "submit_order": lambda: _buy(bot), "system_status": s.system_status,
        "ticker": lambda: s.ticker("XBTEUR"), "trade_history": lambda: s.trade_history("XBTEUR", sim.clock.time() - 60, sim.clock.time()),
        "arm_dead_mans_switch": lambda: s.arm_dead_mans_switch(60), "keep_alive": s.keep_alive,
        "disarm_dead_mans_switch": s.disarm_dead_mans_switch,
        "cancel_order": lambda: s.cancel_order(resting), "cancel_all": s.cancel_all,
        "honour_kill_file": s.honour_kill_file, "kill": lambda: s.kill("disk drill"),
        "resume": lambda: s.resume("disk drill over"), "resume_pair": lambda: s.resume_pair("XBTEUR"),
    }


def case_every_method(folder: Path, fault: str) -> dict[str, Any]:
    """Finding 8: on a full disk no public method of the safety wrapper lets a raw sqlite3 or
    StoreError out; new exposure is refused STORE_FAILURE, the cancels leave. Then the disk has room
    again: the same process places an order, no restart."""
    import inspect
    import types

    from krakenbot.safety.wrapper import SafetyWrapper

    out: dict[str, Any] = {"calls": {}}
    with _sim() as sim, _bot_saving_every_nonce(sim, folder) as bot:
        bot.safety.check_connection()
        placed = [_buy(bot) for _ in range(2)]
        assert all(o.placed for o in placed), placed
        calls = every_public_call(bot, placed[0].cl_ord_id, sim)
        public = {n for n in dir(SafetyWrapper)
                  if not n.startswith("_") and isinstance(inspect.getattr_static(SafetyWrapper, n), types.FunctionType)}
        out["not_called"] = sorted(public - set(calls))
        disk = Disk(folder, fault, bot.store)
        disk.fail()
        _attempt(out, "order_while_full", lambda: _buy(bot))
        for name, call in calls.items():
            _attempt(out["calls"], name, call)
        out["open_after"] = _open_at_exchange(sim)
        disk.mend()
        bot.safety.kill_switch.release()  # the kill above: lifted in memory (the store never took the halt)
        _attempt(out, "order_with_room", lambda: _buy(bot))
    return out


def case_no_spin(folder: Path, fault: str) -> dict[str, Any]:
    """Finding 5: on a full disk, N refused orders start no thread and cost the store the same few
    statements each (no writer retrying in a loop)."""
    out: dict[str, Any] = {}
    with _sim() as sim, _bot(sim, folder) as bot:
        bot.safety.check_connection()
        assert _buy(bot).placed
        disk = Disk(folder, fault, bot.store)
        disk.fail()
        statements: list[str] = []
        bot.store._db.set_trace_callback(statements.append)
        tasks = lambda: len(os.listdir("/proc/self/task"))  # noqa: E731 - every thread of the process
        out["threads_before"], out["tasks_before"] = threading.active_count(), tasks()
        writes, codes = [], set()
        cpu = time.process_time()
        for _ in range(60):
            before = len(statements)
            codes.update(_buy(bot).codes)
            writes.append(sum(1 for q in statements[before:] if q.split(None, 1)[0].upper() in
                              ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN", "COMMIT")))
        out["cpu_per_order_s"] = (time.process_time() - cpu) / 60
        out["threads_after"], out["tasks_after"] = threading.active_count(), tasks()
        out["writes_per_order"], out["codes"] = writes, sorted(codes)
        bot.store._db.set_trace_callback(None)
        disk.mend()
    return out


def _writes_ok(store: Any) -> bool:
    try:
        store.set_meta("probe", str(time.time()))
        return True
    except Exception:  # noqa: BLE001
        return False


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main(argv: list[str]) -> int:
    case, folder, fault = argv[0], Path(argv[1]), argv[2]
    result = CASES[case](folder, fault)
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
