"""The simulator in its own process, so its CPU never shares the measuring process's GIL.

A ``multiprocessing`` (spawn) child builds a ``KrakenSimulator`` on a free loopback port and
answers a tiny RPC over a pipe (``create_key``, ``reset``, ``orders``...), so the bench can
make keys and inspect state without importing the simulator into the timed process.
"""
from __future__ import annotations

import importlib
import multiprocessing
import os
from typing import Any

def _load(factory: str):
    module, _, name = factory.partition(":")
    return getattr(importlib.import_module(module), name)


def _lift_trading_counter(sim: Any) -> bool:
    """Make the per-pair trading-engine counter unreachable (``rate_limits=False`` only turns
    off the per-key API counter): the bench places thousands of orders a minute on one pair."""
    counter = getattr(getattr(sim, "exchange", None), "counter", None)
    if counter is None or not hasattr(counter, "threshold"):
        return False
    counter.threshold = float("inf")
    return True


def _serve(conn, factory: str, kwargs: dict, trading_counter: bool) -> None:
    """Child process body: run the simulator until told to stop."""
    sim_cls = _load(factory)
    sim = sim_cls(**kwargs)
    if not trading_counter:
        _lift_trading_counter(sim)
    with sim:
        conn.send(("ready", {"url": sim.url, "api_key": sim.api_key, "api_secret": sim.api_secret}))
        while True:
            try:
                msg = conn.recv()
            except EOFError:
                break
            if msg is None:
                break
            name, args, kw = msg
            try:
                attr = getattr(sim, name)
                result = attr(*args, **kw) if callable(attr) else attr
                conn.send(("ok", result))
            except Exception as exc:  # the bench reports it; the child must keep serving
                conn.send(("err", f"{type(exc).__name__}: {exc}"))
    conn.close()


class SimProcess:
    """Handle on a simulator running in a child process (context manager)."""

    def __init__(self, factory: str = "krakensim:KrakenSimulator", *, trading_counter: bool = False,
                 **sim_kwargs: Any) -> None:
        self.factory = factory
        self.trading_counter = trading_counter
        self.sim_kwargs = {"seed": 42, "rate_limits": False, **sim_kwargs}
        self._ctx = multiprocessing.get_context("spawn")
        self._conn = None
        self._proc = None
        self.url = ""
        self.api_key = ""
        self.api_secret = ""

    def start(self) -> "SimProcess":
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=_serve, args=(child, self.factory, self.sim_kwargs, self.trading_counter), daemon=True, name="krakensim-bench"
        )
        self._proc.start()
        child.close()
        if not parent.poll(60):
            self.stop()
            raise RuntimeError("simulator process did not start within 60 s")
        try:
            status, info = parent.recv()
        except EOFError:
            self.stop()
            raise RuntimeError("simulator process died while starting") from None
        self._conn = parent
        self.url, self.api_key, self.api_secret = info["url"], info["api_key"], info["api_secret"]
        return self

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``sim.<name>(*args, **kwargs)`` in the child (or read the attribute)."""
        assert self._conn is not None, "simulator not started"
        self._conn.send((name, args, kwargs))
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"simulator {name}: {value}")
        return value

    def new_key(self, permissions: set[str] | None = None) -> tuple[str, str]:
        """A fresh key (own nonce high-water mark and counter); the simulator's demo permissions by default."""
        if permissions is None:
            return tuple(self.call("create_key"))
        return tuple(self.call("create_key", permissions=set(permissions)))

    def rss_kib(self) -> int | None:
        """The simulator process's resident set (KiB), for the record."""
        if self._proc is None or self._proc.pid is None:
            return None
        return rss_kib(self._proc.pid)

    def stop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)
            self._proc = None

    def __enter__(self) -> "SimProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rss_kib(pid: int | str = "self") -> int | None:
    """VmRSS of a process in KiB from /proc (Linux only; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_count() -> int:
    return os.cpu_count() or 1
