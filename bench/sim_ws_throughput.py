"""How many book updates per second the simulator pushes to one WebSocket v2 subscriber.

``python -m bench.sim_ws_throughput [--seconds 3]``. The simulator runs in its own process with a
thread that changes the BTC/EUR book's level sizes back and forth as fast as it can (every change
moves all 20 levels of a depth-10 book: the cheapest engine change, so the figure is the stream's);
one ``websockets`` client in this process subscribes to the book and
counts the updates it receives, checking Kraken's checksum on the first ones (so a fast but wrong
stream cannot pass). Target: >= 10,000 updates/s on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import threading
import time
import zlib
from decimal import Decimal

TARGET_UPDATES_PER_S = 10_000.0
CHECKED = 200  # updates whose checksum the client verifies before counting at full speed


def _serve(conn) -> None:
    """Child process: a simulator and a driver thread moving the price until told to stop."""
    from krakensim import KrakenSimulator

    with KrakenSimulator(seed=1, rate_limits=False, trading_limits=False) as sim:
        stop = threading.Event()

        def drive() -> None:
            sizes = (Decimal("0.5"), Decimal("0.75"))
            i = 0
            while not stop.is_set():
                sim.set_liquidity("XBTEUR", sizes[i & 1])
                time.sleep(0)  # hand the GIL over: a busy driver would otherwise hold it for the whole switch interval
                i += 1
        conn.send(sim.ws_url)
        conn.recv()  # the client is subscribed
        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        conn.recv()
        stop.set()
        driver.join(5)


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


def measure(seconds: float = 3.0) -> dict:
    from websockets.sync.client import connect

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    url = parent.recv()
    book: dict = {"asks": {}, "bids": {}}
    checked = mismatches = updates = 0
    try:
        with connect(url, compression=None, max_queue=None) as ws:
            ws.send(json.dumps({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/EUR"]}}))
            while True:
                message = json.loads(ws.recv(timeout=10), parse_float=Decimal)
                if message.get("channel") == "book":
                    _apply(book, message["data"][0])
                    break
            parent.send("go")
            while checked < CHECKED:  # correctness first: every checksum of the first updates
                message = json.loads(ws.recv(timeout=10), parse_float=Decimal)
                if message.get("channel") == "book":
                    _apply(book, message["data"][0])
                    checked += 1
                    mismatches += _crc(book) != message["data"][0]["checksum"]
            began = time.perf_counter()
            until = began + seconds
            while time.perf_counter() < until:
                if b'"channel":"book"' in ws.recv(timeout=10, decode=False):
                    updates += 1
            elapsed = time.perf_counter() - began
    finally:
        parent.send("stop")
        proc.join(10)
    rate = updates / elapsed
    return {"updates": updates, "seconds": elapsed, "updates_per_s": rate, "checked": checked,
            "mismatches": mismatches, "target": TARGET_UPDATES_PER_S,
            "met": rate >= TARGET_UPDATES_PER_S and mismatches == 0,
            "how": "bench/sim_ws_throughput: a driver thread in the simulator's process changes the level sizes "
                   "back and forth; one websockets client counts depth-10 book updates (20 levels each)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    print(f"machine load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          "(figures are only meaningful on a quiet machine)")
    r = measure(args.seconds)
    print(f"sim WS book  {r['updates_per_s']:8.0f} updates/s to one subscriber  updates={r['updates']}  "
          f"checksums checked={r['checked']} mismatches={r['mismatches']}")
    print(f"target >= {TARGET_UPDATES_PER_S:.0f} updates/s: {'met' if r['met'] else 'NOT met'}")
    return 0 if r["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
