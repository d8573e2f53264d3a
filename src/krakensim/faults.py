"""Scripted misbehaviour: the ways a real exchange and the network fail.

A fault is matched per endpoint (or ``"*"``) after a private call has passed
authentication, so an ``accept_then_drop`` AddOrder really placed its order.
Firing is driven by ``times`` or by a probability drawn from the simulator's
seeded RNG, so a failing run replays exactly.

What each kind does (see ``server.py`` for the wire side):
- ``error``: HTTP 200 ``{"error": [error]}``; nothing processed.
- ``http_status``: ``status`` (502/503/520...) with an HTML body; nothing processed.
- ``latency``: ``clock.sleep(seconds)`` (a manual clock advances, the system clock sleeps), then normal.
- ``hang``: a real wait of ``seconds``, then the connection closes with no response; nothing processed.
- ``accept_then_drop``: processed fully, then the connection closes with no response.
- ``reset``: the connection is reset (TCP RST) before processing.
- ``truncated_json`` / ``invalid_json``: processed, then a cut or garbled JSON body is sent.

Lies: the request is processed fully, then the answer contradicts what happened.
- ``replayed_answer``: the previous successful answer of that endpoint is sent again (an
  AddOrder answer naming the txid of the order before); the real answer when there was none.
- ``phantom_txid``: the answer's ``txid`` is replaced by one the exchange never issued.
- ``error_but_processed``: HTTP 200 ``{"error": [error]}`` although the request took effect
  (e.g. ``EOrder:Insufficient funds`` for an order that is on the book).

A wrong charge: the request is processed, and the exchange really charges wrongly.
- ``wrong_fee``: every fill the exchange books while processing it (an AddOrder that trades, resting
  orders filled as it catches up) is charged twice the account's fee, in the balances as in the answers.

A careless answer: the request is processed, and the answer ignores part of what was asked.
- ``filter_ignored``: an order lookup (OpenOrders, ClosedOrders, QueryOrders) answers as if no client
  order id had been given: every order of the account that the other parameters select.
- ``filter_missed``: an order lookup (OpenOrders, ClosedOrders) given a client order id answers with no
  order, though one carries it (a lagging or careless index); a lookup without one answers in full.

Stream faults (WebSocket v2, ``ws_server.py``), matched on the channel a message belongs to
(``book``, ``ticker``, ``executions``, ``heartbeat`` ...) or ``"*"``, each firing as that message
is about to go out; REST requests never see them, and streams never see REST faults:
- ``ws_drop``: the connection is dropped (no close frame) instead of sending the message.
- ``ws_silence``: for ``seconds`` the connection sends nothing at all, heartbeats included (the
  server believes it sent: a book resumes with deltas the subscriber never had).
- ``ws_corrupt``: one book update goes out with a wrong quantity; its checksum no longer matches.
- ``ws_skip``: the message is not sent (the server believes it was).
- ``ws_delay``: the message waits ``seconds`` before it goes out (and everything after it).
A maintenance is no fault: ``set_system_status`` pushes the new ``status`` to every connection.

Besides faults, an in-process caller can ask to be called when a request arrives
(``on_arrival``): something that happens in the world while the exchange is busy with that
request, e.g. the operator pulling a kill switch while the bot waits for an answer. The
action runs on the request's thread before the request is processed; not on the control API
(a callable does not travel as JSON).
"""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable

KINDS = frozenset({
    "error", "http_status", "latency", "hang", "accept_then_drop", "reset", "truncated_json", "invalid_json",
    "replayed_answer", "phantom_txid", "error_but_processed", "wrong_fee", "filter_ignored",
    "filter_missed", "ws_drop", "ws_silence", "ws_corrupt", "ws_skip", "ws_delay",
})
STREAM_KINDS = frozenset({"ws_drop", "ws_silence", "ws_corrupt", "ws_skip", "ws_delay"})
MAX_FAULT_SECONDS = 86400.0
# Kinds after which the request is still handed to the exchange.
PROCESSING_KINDS = frozenset({"latency", "accept_then_drop", "truncated_json", "invalid_json",
                              "replayed_answer", "phantom_txid", "error_but_processed", "wrong_fee",
                              "filter_ignored", "filter_missed"})
# Kinds whose answer is a Kraken error string (checked at injection).
ERROR_KINDS = frozenset({"error", "error_but_processed"})


@dataclass
class Fault:
    endpoint: str
    kind: str
    error: str | None = None
    status: int | None = None
    seconds: float = 0.0
    times: int | None = 1
    probability: float | None = None
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    """The active faults of one simulator; thread-safe."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._start_state = rng.getstate()
        self._faults: list[Fault] = []
        self._arrivals: list[list[Any]] = []  # [endpoint, action, times left]
        self._lock = threading.Lock()

    def reset(self) -> None:
        """No faults, and the RNG back at its seed: a scenario after a reset draws as if it ran first."""
        with self._lock:
            self._faults.clear()
            self._arrivals.clear()
            self._rng.setstate(self._start_state)

    def inject(self, endpoint: str = "*", kind: str = "error", *, error: str | None = None,
               status: int | None = None, seconds: float | None = None, times: int | None = None,
               probability: float | None = None) -> Fault:
        """Add a fault; ``times`` defaults to 1, or to unlimited when ``probability`` is given."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(KINDS)}")
        if not isinstance(endpoint, str) or not endpoint:
            raise ValueError("endpoint must be a method name or '*'")
        if kind in ERROR_KINDS:
            error = error or "EService:Unavailable"
            if not isinstance(error, str) or error[:1] not in ("E", "W") or ":" not in error:
                raise ValueError("error must be a Kraken error string like 'EService:Unavailable'")
        if kind == "http_status":
            status = int(status or 503)
            if not 400 <= status <= 599:
                raise ValueError("status must be an HTTP error status (400-599)")
        if kind in ("latency", "hang", "ws_silence", "ws_delay"):
            seconds = float(seconds if seconds is not None else 1.0)
            if not 0 <= seconds <= MAX_FAULT_SECONDS:  # NaN fails too: it would poison a manual clock
                raise ValueError(f"seconds must be from 0 to {MAX_FAULT_SECONDS}")
        if probability is not None:
            probability = float(probability)
            if not 0.0 <= probability <= 1.0:
                raise ValueError("probability must be between 0 and 1")
        if times is None and probability is None:
            times = 1
        if times is not None and (int(times) != times or times < 1):
            raise ValueError("times must be a positive integer")
        fault = Fault(endpoint, kind, error, status, float(seconds or 0.0),
                      None if times is None else int(times), probability)
        with self._lock:
            self._faults.append(fault)
        return fault

    def on_arrival(self, endpoint: str, action: Callable[[], None], times: int = 1) -> None:
        """Call ``action()`` when the next ``times`` requests for ``endpoint`` (or ``"*"``) arrive."""
        if not isinstance(endpoint, str) or not endpoint:
            raise ValueError("endpoint must be a method name or '*'")
        if not callable(action) or int(times) != times or times < 1:
            raise ValueError("action must be callable and times a positive integer")
        with self._lock:
            self._arrivals.append([endpoint, action, int(times)])

    def arrived(self, endpoint: str) -> None:
        """A request for ``endpoint`` arrived: run the actions waiting for it (outside the lock)."""
        if not self._arrivals:  # fast path, as in fire()
            return
        due = []
        with self._lock:
            for arrival in self._arrivals:
                if arrival[2] > 0 and arrival[0] in ("*", endpoint):
                    arrival[2] -= 1
                    due.append(arrival[1])
            self._arrivals = [a for a in self._arrivals if a[2] > 0]
        for action in due:
            action()

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._arrivals.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def fire(self, endpoint: str, stream: bool = False) -> Fault | None:
        """The first live fault for this endpoint that fires now (its ``fired`` count goes up): a REST
        fault, or with ``stream`` a stream fault for the channel ``endpoint``."""
        if not self._faults:  # fast path: no lock on the common, fault-free request
            return None
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or (fault.endpoint != "*" and fault.endpoint != endpoint) or \
                        (fault.kind in STREAM_KINDS) != stream:
                    continue
                if fault.probability is not None and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                return fault
        return None
