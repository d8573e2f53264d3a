"""Tick to order and fill notice: the bot on its streams (MARKET_STREAM=on) against the bot
polling REST once a second, on the same simulator process, in interleaved rounds.

- Tick to order: the bench moves the price under a trigger (``sim.set_price`` in the simulator
  process); the clock runs from the exchange's time on the book update that publishes the move (a
  subscriber of the bench's own reads it) to the time the simulator logs the bot's AddOrder. The bot runs its
  own trading loop (``Orchestrator.run``) in a thread: on streams it reacts to the book's move
  (``Orchestrator.react``), polling it decides at its next 1 s cycle. The strategy is the bench's
  (buy once when the ask falls below the trigger, a resting limit far from the market, cancelled
  untimed); the path from the price to the order is the bot's. Both ends are the machine's wall
  clock, read in two processes. The move comes a random 0-2 s after the bot last read the price, so
  polling is timed at every phase of its cycle and of its price cache (2 s), not only the worst.
- The bot's own order path alone: the same order through ``SafetyWrapper.submit_order``, from the
  call to the AddOrder's arrival at the simulator (the target's yardstick: streaming p50 <= 2x it).
- Fill notice: a resting buy 1 % under the market; the bench moves the price through it and the
  clock runs from the fill's time in the simulator to the moment the bot's record says FILLED (its
  executor's order listener): on streams from the exchange's notice, polling from its 1 s refresh.
"""
from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.botkit import PAIR, VOLUME, build_bot
from bench.simproc import SimProcess
from bench.stats import summarize_ns

HIGH, LOW = Decimal("60000"), Decimal("58800")  # the move: 2 % down
PHASE_S = 2.0  # the timed event comes at a random moment of the polling bot's cycle and its price cache's life
TRIGGER = Decimal("59400")
WAIT_S = 10.0


class TriggerStrategy:
    """Buys VOLUME once per arming, when the ask falls to the trigger: a limit 5 % under the ask."""

    name = "bench-trigger"

    def __init__(self) -> None:
        self.armed = False

    def decide(self, view: Any) -> list:
        from krakenbot.models import OrderType, Side
        from krakenbot.strategy import TradeIntent

        if not self.armed or view.ask > TRIGGER:
            return []
        self.armed = False
        price = (view.ask * Decimal("0.95")).quantize(Decimal("0.1"))
        return [TradeIntent(view.pair, Side.BUY, OrderType.LIMIT, VOLUME, price, "bench trigger")]

    def acknowledge(self, intent: Any, placed: bool, now: float) -> None:
        return None


class _Publications:
    """A plain subscriber of the simulator's book (the bench's own, not the bot's): the exchange's
    time of each update it publishes (the message's ``timestamp``), so a move is timed from its
    publication, not from the bench's call into the simulator process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: Any = None
        self.stamps: list[float] = []
        self._changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        with self._changed:
            self._changed.wait_for(lambda: self.ws is not None, WAIT_S)

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(self.url, max_size=2 ** 22) as ws:
            ws.send(json.dumps({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/EUR"]}}))
            with self._changed:
                self.ws = ws
                self._changed.notify_all()
            try:
                for frame in ws:
                    message = json.loads(frame)
                    if message.get("channel") == "book" and message.get("type") == "update":
                        stamp = datetime.fromisoformat(message["data"][0]["timestamp"].replace("Z", "+00:00"))
                        with self._changed:
                            self.stamps.append(stamp.timestamp())
                            self._changed.notify_all()
            except ConnectionClosed:
                pass

    def first_after(self, count: int, not_before: float) -> float | None:
        """The publication time of the first update after the first ``count`` and not before
        ``not_before`` (the market's own moves may publish just before the bench's; waits up to WAIT_S)."""
        def found() -> float | None:
            return next((t for t in self.stamps[count:] if t >= not_before), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None, WAIT_S)
            return found()

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.thread.join(5)


class _Runner:
    """One bot and its trading loop in a thread, on streams or polling every second."""

    def __init__(self, sim: SimProcess, workdir: Path, streaming: bool) -> None:
        self.strategy = TriggerStrategy()
        self.account = f"bench-{'stream' if streaming else 'poll'}"  # its own: the other bot's fills are not its own
        key, secret = sim.call("create_key", account=self.account)
        env = {"STALE_DATA_SECONDS": "30", "KRAKEN_API_KEY": key, "KRAKEN_API_SECRET": secret}
        if streaming:
            env.update(MARKET_STREAM="on", KRAKEN_WS_URL=sim.call("ws_url"), KRAKEN_WS_AUTH_URL=sim.call("ws_auth_url"))
        self.bot = build_bot(sim, workdir, **env)
        self.bot.orchestrator.strategy = self.strategy
        self.bot.orchestrator.cycle_seconds = 1.0
        self.filled: dict[str, float] = {}  # cl_ord_id -> time.time() when the bot's record said FILLED
        self.answered = 0  # orders the exchange has answered
        self._changed = threading.Condition()
        self.bot.safety.executor.order_listeners.append(self._listen)
        if streaming:
            from krakenbot.stream.connection import Backoff

            self.bot.start_streams(backoff=Backoff(first_s=0.05, cap_s=0.5))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.bot.orchestrator.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def _listen(self, order: Any, was: str) -> None:
        if was == "PENDING_SUBMIT":  # the exchange answered an order: it has arrived there
            with self._changed:
                self.answered += 1
                self._changed.notify_all()
        if order.status == "FILLED" and order.cl_ord_id not in self.filled:
            self.filled[order.cl_ord_id] = time.time()
            with self._changed:
                self._changed.notify_all()

    def wait_answered(self, count: int) -> bool:
        """Until the bot has had more than ``count`` orders answered (no polling of the simulator meanwhile:
        it would take the CPU the measured path needs)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.answered > count, WAIT_S)

    def wait_filled(self, cl_ord_id: str) -> float | None:
        with self._changed:
            self._changed.wait_for(lambda: cl_ord_id in self.filled, WAIT_S)
        return self.filled.get(cl_ord_id)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.bot.close()


def _order_arrival(sim: SimProcess, mark: int) -> Any:
    """The first AddOrder the simulator logged after ``mark``."""
    return next((r for r in sim.call("access_log_since", mark) if r.endpoint == "AddOrder"), None)


def _settle(sim: SimProcess, runner: _Runner) -> None:
    """Untimed: cancel what the last round left, the price back up, the trigger armed once it is seen."""
    runner.bot.safety.cancel_all(origin="bench")
    sim.call("set_price", PAIR, HIGH)
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        ticker = runner.bot.safety.last_ticker(PAIR)
        if ticker is not None and ticker.ask > TRIGGER:
            break
        threading.Event().wait(0.01)
    runner.strategy.armed = True


def _tick_to_order(sim: SimProcess, runner: _Runner, phase: float, feed: _Publications) -> int | None:
    _settle(sim, runner)
    threading.Event().wait(phase)
    mark = len(sim.call("access_log"))
    published, before, answered = len(feed.stamps), time.time(), runner.answered
    sim.call("set_price", PAIR, LOW)
    record = _order_arrival(sim, mark) if runner.wait_answered(answered) else None
    runner.strategy.armed = False
    start = feed.first_after(published, before)
    return None if record is None or start is None else int((record.time - start) * 1e9)


def _order_path(sim: SimProcess, runner: _Runner, phase: float, feed: _Publications) -> int | None:
    """The same resting order placed through the wrapper directly: call to arrival."""
    runner.bot.safety.cancel_all(origin="bench")
    mark = len(sim.call("access_log"))
    start = time.time()
    outcome = runner.bot.safety.submit_order(PAIR, "buy", "limit", VOLUME, Decimal("55000"), origin="bench")
    record = _order_arrival(sim, mark) if outcome.placed else None
    return None if record is None else int((record.time - start) * 1e9)


def _fill_notice(sim: SimProcess, runner: _Runner, phase: float, feed: _Publications) -> int | None:
    runner.bot.safety.cancel_all(origin="bench")
    sim.call("set_price", PAIR, HIGH)
    outcome = runner.bot.safety.submit_order(PAIR, "buy", "limit", VOLUME, HIGH * Decimal("0.99"), origin="bench")
    if not outcome.placed:
        return None
    threading.Event().wait(phase)
    sim.call("set_price", PAIR, LOW)
    seen = runner.wait_filled(outcome.cl_ord_id)
    order = runner.bot.store.get_order(outcome.cl_ord_id)
    trades = [t for t in sim.call("trades", runner.account) if t.get("ordertxid") == order.txid] if order else []
    if seen is None or not trades:
        return None
    return int((seen - max(float(t["time"]) for t in trades)) * 1e9)


def measure(rounds: int = 30, quick: bool = False) -> dict:
    rounds = 3 if quick else rounds
    samples: dict[str, list[int]] = {k: [] for k in ("tick_stream", "tick_poll", "order_path", "fill_stream",
                                                       "fill_poll")}
    missed: dict[str, int] = {k: 0 for k in samples}
    rng = random.Random(23)
    with SimProcess() as sim, tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        runners = {}
        feed = _Publications(sim.call("ws_url"))
        for name, streaming in (("stream", True), ("poll", False)):
            (Path(tmp) / name).mkdir()
            runners[name] = _Runner(sim, Path(tmp) / name, streaming)
        try:
            for _ in range(rounds):  # interleaved: both bots see the same machine load
                for key, fn, runner in (("tick_stream", _tick_to_order, runners["stream"]),
                                        ("tick_poll", _tick_to_order, runners["poll"]),
                                        ("order_path", _order_path, runners["stream"]),
                                        ("fill_stream", _fill_notice, runners["stream"]),
                                        ("fill_poll", _fill_notice, runners["poll"])):
                    value = fn(sim, runner, rng.uniform(0, 0.01 if quick else PHASE_S), feed)
                    if value is None:
                        missed[key] += 1
                    else:
                        samples[key].append(value)
        finally:
            feed.close()
            for runner in runners.values():
                runner.close()
    out = {key: summarize_ns(values).as_dict() for key, values in samples.items()}
    out["missed"] = missed
    out["rounds"] = rounds
    stream, path = out["tick_stream"]["p50"], out["order_path"]["p50"]
    out["tick_stream_to_order_path"] = stream / path if path and path == path else None
    return out
