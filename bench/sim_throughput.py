"""How many signed private requests per second the simulator sustains.

``python -m bench.sim_throughput [--seconds 3] [--threads 1 4] [--flow-rate 10]``. The simulator
runs in its own process (so the client's GIL does not slow it down); each client
thread is a raw ``http.client`` keep-alive connection with its own key, signing
``Balance`` calls by hand. Prints req/s and p50/p99 latency per thread count.
The simulator must sustain >= 1,500 req/s with one client thread, also with other traders'
orders arriving (``--flow-rate``: per second on each pair; ``FLOW_RATE`` in ``make bench``).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import statistics
import threading
import time

TARGET_ONE_THREAD = 1500.0
FLOW_RATE = 10.0  # other traders' orders a second on each pair for the flow-on line: a busy book


def _serve(conn, keys: int, flow_rate: float) -> None:
    """Child process: a simulator with rate limits off, ``keys`` extra keys, until told to stop."""
    from krakensim import KrakenSimulator

    with KrakenSimulator(seed=1, rate_limits=False, flow_rate=flow_rate) as sim:
        creds = [sim.create_key() for _ in range(keys)]
        conn.send((sim.host, sim.port, creds))
        conn.recv()


def _sign(secret: bytes, path: bytes, nonce: str, body: bytes) -> str:
    inner = hashlib.sha256(nonce.encode() + body).digest()
    return base64.b64encode(hmac.new(secret, path + inner, hashlib.sha512).digest()).decode()


def _client(host: str, port: int, key: str, secret_b64: str, until: float, latencies: list[float],
            failures: list[str]) -> None:
    secret = base64.b64decode(secret_b64)
    path = b"/0/private/Balance"
    conn = http.client.HTTPConnection(host, port, timeout=10)
    nonce = 0  # microseconds, strictly increasing: keys are reused across runs
    try:
        while True:
            start = time.perf_counter()
            if start >= until:
                break
            nonce = max(time.time_ns() // 1000, nonce + 1)
            body = f"nonce={nonce}".encode()
            headers = {"API-Key": key, "API-Sign": _sign(secret, path, str(nonce), body),
                       "Content-Type": "application/x-www-form-urlencoded"}
            conn.request("POST", "/0/private/Balance", body, headers)
            payload = conn.getresponse().read()
            latencies.append(time.perf_counter() - start)
            if b'"error":[]' not in payload:
                failures.append(json.loads(payload)["error"][0])
    finally:
        conn.close()


def run(threads: int, creds: list[tuple[str, str]], host: str, port: int, seconds: float) -> dict:
    per_thread: list[list[float]] = [[] for _ in range(threads)]
    failures: list[str] = []
    until = time.perf_counter() + seconds
    workers = [threading.Thread(target=_client, args=(host, port, *creds[i], until, per_thread[i], failures))
               for i in range(threads)]
    began = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    latencies = sorted(x for lst in per_thread for x in lst)
    count = len(latencies)
    return {
        "threads": threads,
        "requests": count,
        "req_per_s": count / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(count - 1, int(count * 0.99))] if latencies else float("nan"),
        "failures": len(failures),
        "sample": failures[0] if failures else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--flow-rate", type=float, default=0.0,
                        help=f"other traders' orders a second on each pair (make bench also runs {FLOW_RATE:g})")
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, max(args.threads), args.flow_rate), daemon=True)
    proc.start()
    host, port, creds = parent.recv()
    ok = True
    print(f"machine load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          "(figures are only meaningful on a quiet machine)")
    try:
        for threads in args.threads:
            r = run(threads, creds, host, port, args.seconds)
            print(f"sim Balance  flow={args.flow_rate:g}/s  threads={r['threads']}  {r['req_per_s']:8.0f} req/s  "
                  f"p50={r['p50_ms']:.3f} ms  p99={r['p99_ms']:.3f} ms  requests={r['requests']}  "
                  f"failures={r['failures']}")
            if threads == 1 and r["req_per_s"] < TARGET_ONE_THREAD:
                ok = False
            if r["failures"]:
                ok = False
                print(f"  first failure: {r['sample']}")
    finally:
        parent.send("stop")
        proc.join(5)
    print(f"target >= {TARGET_ONE_THREAD:.0f} req/s with one client thread: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
