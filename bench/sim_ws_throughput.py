"""How many book updates per second the simulator pushes to one WebSocket v2 subscriber.

``python -m bench.sim_ws_throughput [--seconds 3] [--windows 3]``. The simulator runs in its own
process; a driver there changes the BTC/EUR book as fast as it can, and one ``websockets`` client in
this process, subscribed to the depth-10 book, counts the updates it receives, after checking
Kraken's checksum on the first ones of each window (so a fast but wrong stream cannot pass).

Four rows: the change is the level sizes switching back and forth (every message moves all 20
levels: the cheapest engine change, so the figure is the stream's) or the price moving a tick
(the ladder, the tape and the matcher too); the driver runs on the WebSocket server's event loop
(as the clock's ticks and WS orders do: the push path alone) or in a thread of its own, spinning
(as a REST connection thread would, at its worst: every system call of the loop hands the GIL to
the driver and back). Each row is the median of ``windows`` interleaved windows.
Target: >= 10,000 updates/s for the size changes driven on the loop, on 2 cores.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import threading
import time
import zlib
from decimal import Decimal

TARGET_UPDATES_PER_S = 10_000.0
CHECKED = 200  # updates of each window whose checksum the client verifies before counting at full speed
ROWS = (("loop", "sizes"), ("thread", "sizes"), ("loop", "price"), ("thread", "price"))
_SIZES = (Decimal("0.5"), Decimal("0.75"))
_PRICES = (Decimal("60000.0"), Decimal("60000.1"))


def _serve(conn) -> None:
    """Child process: a simulator; per window, the asked driver changing the book until told to halt."""
    from krakensim import KrakenSimulator

    with KrakenSimulator(seed=1, rate_limits=False, trading_limits=False) as sim:
        changes = {"sizes": lambda i: sim.set_liquidity("XBTEUR", _SIZES[i & 1]),
                   "price": lambda i: sim.set_price("XBTEUR", _PRICES[i & 1])}
        conn.send(sim.ws_url)
        while (asked := conn.recv()) != "stop":
            driver, change = asked
            stop = threading.Event()
            done = _drive_on_loop(sim, changes[change], stop) if driver == "loop" else \
                _drive_in_thread(changes[change], stop)
            conn.send("driving")
            conn.recv()  # halt
            stop.set()
            done()
            sim.reset()  # the next window starts from the same book
            conn.send("halted")


def _drive_on_loop(sim, change, stop: threading.Event):
    async def drive() -> None:
        i = 0
        while not stop.is_set():
            change(i)
            i += 1
            await asyncio.sleep(0)  # one change per pass of the loop: its publish and send run in between
    future = asyncio.run_coroutine_threadsafe(drive(), sim.ws.loop)
    return lambda: future.result(5)


def _drive_in_thread(change, stop: threading.Event):
    def drive() -> None:
        i = 0
        while not stop.is_set():
            change(i)
            i += 1
            time.sleep(0)  # hand the GIL over: a busy driver would otherwise hold it for the whole switch interval
    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    return lambda: thread.join(5)


def _crc(book: dict, pp: int = 1, qp: int = 8) -> int:
    def f(v: Decimal, n: int) -> str:
        return f"{v:.{n}f}".replace(".", "").lstrip("0")
    a = sorted(book["asks"].items())[:10]
    b = sorted(book["bids"].items(), reverse=True)[:10]
    return zlib.crc32("".join(f(p, pp) + f(q, qp) for p, q in a + b).encode()) & 0xFFFFFFFF


def _apply(book: dict, data: dict) -> None:
    for side in ("asks", "bids"):
        levels = book[side]
        for level in data[side]:
            if level["qty"] == 0:
                levels.pop(level["price"], None)
            else:
                levels[level["price"]] = level["qty"]
        for price in sorted(levels, reverse=side == "bids")[10:]:
            del levels[price]


def _book_message(ws) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=10), parse_float=Decimal)
        if message.get("channel") == "book":
            return message


def _window(ws, parent, driver: str, change: str, seconds: float) -> dict:
    """Subscribe (snapshot), start the driver, check the first updates' checksums, count for ``seconds``."""
    ws.send(json.dumps({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/EUR"]}}))
    book: dict = {"asks": {}, "bids": {}}
    _apply(book, _book_message(ws)["data"][0])
    parent.send((driver, change))
    parent.recv()  # driving
    checked = mismatches = updates = 0
    try:
        while checked < CHECKED:  # correctness first: every checksum of the first updates
            data = _book_message(ws)["data"][0]
            _apply(book, data)
            checked += 1
            mismatches += _crc(book) != data["checksum"]
        began = time.perf_counter()
        until = began + seconds
        while time.perf_counter() < until:
            if b'"channel":"book"' in ws.recv(timeout=10, decode=False):
                updates += 1
        elapsed = time.perf_counter() - began
    finally:
        parent.send("halt")
        parent.recv()  # halted
    ws.send(json.dumps({"method": "unsubscribe", "params": {"channel": "book", "symbol": ["BTC/EUR"]}}))
    while b'"method":"unsubscribe"' not in ws.recv(timeout=10, decode=False):
        pass  # the updates still on their way
    return {"updates_per_s": updates / elapsed, "updates": updates, "checked": checked, "mismatches": mismatches}


def measure(seconds: float = 3.0, windows: int = 3, rows: tuple[tuple[str, str], ...] = ROWS) -> dict:
    """Each row runs ``windows`` windows of ``seconds / windows``, interleaved with the other rows'; the
    row's figure is its median window (a burst of load from elsewhere hits one window, not the figure)."""
    from websockets.sync.client import connect

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    url = parent.recv()
    runs: dict[tuple[str, str], list[dict]] = {row: [] for row in rows}
    try:
        with connect(url, compression=None, max_queue=None) as ws:
            for _ in range(windows):
                for driver, change in rows:
                    runs[(driver, change)].append(_window(ws, parent, driver, change, seconds / windows))
    finally:
        parent.send("stop")
        proc.join(10)
    out = []
    for (driver, change), got in runs.items():
        rates = [w["updates_per_s"] for w in got]
        out.append({"driver": driver, "change": change, "updates_per_s": statistics.median(rates),
                    "best_updates_per_s": max(rates), "windows_updates_per_s": [round(r) for r in rates],
                    "checked": sum(w["checked"] for w in got), "mismatches": sum(w["mismatches"] for w in got)})
    judged = next((r for r in out if (r["driver"], r["change"]) == ("loop", "sizes")), None)
    return {"rows": out, "target": TARGET_UPDATES_PER_S, "seconds_per_row": seconds, "windows": windows,
            "met": judged is not None and judged["updates_per_s"] >= TARGET_UPDATES_PER_S
            and not any(r["mismatches"] for r in out),
            "how": ("bench/sim_ws_throughput: one websockets client, depth-10 BTC/EUR book; the driver in the "
                    "simulator's process changes the level sizes or moves the price a tick, on the server's event "
                    f"loop or from a thread of its own; checksums checked on the first {CHECKED} updates of each "
                    f"window; median of {windows} interleaved windows")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per row, split into the windows")
    parser.add_argument("--windows", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"machine load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          "(figures are only meaningful on a quiet machine)")
    r = measure(args.seconds, args.windows)
    for row in r["rows"]:
        print(f"sim WS book  driver={row['driver']:6s} change={row['change']:5s} {row['updates_per_s']:8.0f} "
              f"updates/s to one subscriber (windows {row['windows_updates_per_s']})  "
              f"checksums checked={row['checked']} mismatches={row['mismatches']}")
    print(f"target >= {TARGET_UPDATES_PER_S:.0f} updates/s (size changes driven on the loop): "
          f"{'met' if r['met'] else 'NOT met'}")
    return 0 if r["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
