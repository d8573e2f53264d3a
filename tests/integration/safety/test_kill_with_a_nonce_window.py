"""The kill switch while an order is on its way (issue #20 review): the kill's CancelAll overtakes
an AddOrder waiting for its answer. With a nonce window on the key (Kraken suggests 10-15 s,
auth-and-errors.md §2.2) that AddOrder is accepted *after* the CancelAll, so the kill must send a
second CancelAll once the AddOrder's call has ended; without a window it is refused
``EAPI:Invalid nonce`` and the second CancelAll finds nothing.

A loopback proxy between the bot and the simulator holds the next AddOrder until the CancelAll's
answer has passed back to the bot (so the simulator sees CancelAll, then AddOrder; the test checks
that order in the simulator's access log, so a proxy that let the AddOrder through early fails as
such). No sleeps: every wait is an event wait or a join with a timeout."""
from __future__ import annotations

import re
import socket
import threading
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from krakenbot.bot import Bot
from krakenbot.clock import SystemClock
from krakenbot.config import Settings
from krakensim import DEMO_PERMISSIONS, KrakenSimulator

WINDOW_15_S = 15_000_000  # the bot's nonces are microseconds
_REQUEST_LINE = re.compile(rb"(?:GET|POST) /0/(?:public|private)/(\w+)")


class HoldingProxy:
    """Forwards bytes both ways; once ``armed``, the next AddOrder request waits (at most 5 s) until
    a CancelAll's answer has gone back to the client.

    Each connection's ``last`` names the request it carries now (public ones too). One request at a
    time per connection, so an answer belongs to the request named when its bytes arrive: ``_down``
    reads the name before it forwards them, since once the client has an answer it may send its next
    request at once (the kill's SystemStatus read, then its CancelAll on the same connection)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.armed, self.holding, self.cancel_answered = threading.Event(), threading.Event(), threading.Event()
        self.released_after_cancel: bool | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            last = {"endpoint": b""}
            threading.Thread(target=self._up, args=(client, upstream, last), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client, last), daemon=True).start()

    def _up(self, src: socket.socket, dst: socket.socket, last: dict) -> None:
        try:
            while data := src.recv(65536):
                _note_request(data, last)
                if last["endpoint"] == b"AddOrder" and self.armed.is_set() and not self.holding.is_set():
                    self.holding.set()
                    self.released_after_cancel = self.cancel_answered.wait(5)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _shut(src, dst)

    def _down(self, src: socket.socket, dst: socket.socket, last: dict) -> None:
        try:
            while data := src.recv(65536):
                answering = last["endpoint"]
                dst.sendall(data)
                if answering == b"CancelAll":
                    self.cancel_answered.set()
        except OSError:
            pass
        finally:
            _shut(src, dst)

    def close(self) -> None:
        self.sock.close()


def _note_request(data: bytes, last: dict) -> None:
    """A request's first bytes name its endpoint: the connection's current request from here on."""
    if match := _REQUEST_LINE.search(data):
        last["endpoint"] = match.group(1)


def _shut(*socks: socket.socket) -> None:
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@pytest.mark.parametrize("window", [WINDOW_15_S, 0], ids=["nonce-window", "no-window"])
def test_kill_covers_an_order_its_cancel_all_overtook(sim, tmp_path, window):
    key, secret = sim.create_key(DEMO_PERMISSIONS, nonce_window=window)
    proxy = HoldingProxy((sim.host, sim.port))
    env = {"KRAKEN_API_KEY": key, "KRAKEN_API_SECRET": secret, "API_DOMAIN": proxy.url, "TRADING_MODE": "live",
           "KRAKEN_LIVE_TRADING": "yes", "KILL_SWITCH_FILE": str(tmp_path / "KILL"), "STORE_PATH": ":memory:",
           "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "MAX_OPEN_ORDERS": "10"}
    bot = Bot.build(Settings.from_env(env), clock=sim.clock, store_path=":memory:", live_flag=True)
    try:
        assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000")).placed
        mark = len(sim.access_log)
        proxy.armed.set()
        outcome: dict = {}
        order = threading.Thread(target=lambda: outcome.setdefault("o", bot.safety.submit_order(
            "XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59400"))), daemon=True)
        order.start()
        assert proxy.holding.wait(5), "the second AddOrder never reached the proxy"
        report = bot.safety.kill("operator stop")
        order.join(10)
        assert not order.is_alive()
        assert proxy.released_after_cancel, "the CancelAll waited for the AddOrder's answer instead of overtaking it"
        seen = _orders_and_cancels(sim, mark)
        assert seen[:1] == [("CancelAll", "ok")], f"the AddOrder reached the exchange before the CancelAll: {seen}"
        still_open = [o["cl_ord_id"] for o in sim.orders() if o["status"] == "open"]
        assert still_open == [], f"open at the exchange after the kill: {still_open} ({report})"
        assert report.halted and report.problems == ()
        if window:  # the AddOrder landed after the first CancelAll: a second one followed and took it
            assert seen == [("CancelAll", "ok"), ("AddOrder", "ok"), ("CancelAll", "ok")]
            assert outcome["o"].placed
            assert (report.cancelled, report.cancelled_again) == (2, 1), report
        else:  # refused for its nonce: nothing was placed, the second CancelAll finds nothing
            assert seen == [("CancelAll", "ok"), ("AddOrder", "EAPI:Invalid nonce"), ("CancelAll", "ok")]
            assert not outcome["o"].placed and "Invalid nonce" in outcome["o"].reason
            assert (report.cancelled, report.cancelled_again) == (1, 0)
    finally:
        bot.close()
        proxy.close()


def _orders_and_cancels(sim: KrakenSimulator, mark: int) -> list[tuple[str, str]]:
    """The AddOrders and CancelAlls the exchange took since ``mark``, in its order, each with its error
    or "ok": the kill's product rule is that no AddOrder is accepted after its last CancelAll."""
    return [(r.endpoint, r.error or "ok") for r in sim.access_log_since(mark)
            if r.endpoint in ("AddOrder", "CancelAll")]


class DelayingProxy(HoldingProxy):
    """Once ``armed``, holds the next AddOrder for ``hold_s`` of real time, then forwards it: a request
    the network delays past its call's timeout, yet within the order's own deadline."""

    def __init__(self, target: tuple[str, int], hold_s: float) -> None:
        super().__init__(target)
        self.hold_s = hold_s
        self.forwarded = threading.Event()

    def _up(self, src: socket.socket, dst: socket.socket, last: dict) -> None:
        try:
            while data := src.recv(65536):
                _note_request(data, last)
                held = last["endpoint"] == b"AddOrder" and self.armed.is_set() and not self.holding.is_set()
                if held:
                    self.holding.set()
                    threading.Event().wait(self.hold_s)
                dst.sendall(data)
                if held:
                    self.forwarded.set()
        except OSError:
            pass
        finally:
            _shut(src, dst)


@contextmanager
def _bot_whose_next_order_the_network_delays(tmp_path, read_timeout: str = "1", clock: Any = None):
    """Real time (the exchange judges a late request's deadline by its own clock while the bot waits): a
    key with a 15 s nonce window, calls cut at 1.5 s, orders valid 4 s, and a proxy that delays the
    second AddOrder 2.5 s: past its call's timeout, within its order's deadline."""
    with KrakenSimulator(seed=42) as sim:
        sim.set_price("XBTEUR", "60000")
        key, secret = sim.create_key(DEMO_PERMISSIONS, nonce_window=WINDOW_15_S)
        proxy = DelayingProxy((sim.host, sim.port), hold_s=2.5)
        env = {"KRAKEN_API_KEY": key, "KRAKEN_API_SECRET": secret, "API_DOMAIN": proxy.url, "TRADING_MODE": "live",
               "KRAKEN_LIVE_TRADING": "yes", "KILL_SWITCH_FILE": str(tmp_path / "KILL"), "STORE_PATH": ":memory:",
               "MAX_ORDER_EUR": "1000", "TOTAL_BTC": "0.1", "MAX_OPEN_ORDERS": "10",
               "KRAKEN_CONNECT_TIMEOUT": "0.5", "KRAKEN_READ_TIMEOUT": read_timeout, "KRAKEN_TOTAL_TIMEOUT": "1.5"}
        bot = Bot.build(Settings.from_env(env), clock=clock or sim.clock, store_path=":memory:", live_flag=True,
                        client_options={"order_deadline": 4.0})
        try:
            assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000")).placed
            proxy.armed.set()
            yield sim, bot, proxy
        finally:
            bot.close()
            proxy.close()


def _open_at_the_exchange(sim: KrakenSimulator) -> list[str]:
    return [o["cl_ord_id"] for o in sim.orders() if o["status"] == "open"]


@pytest.mark.parametrize("read_timeout", ["1", "1.5"], ids=["read-timeout", "cut-at-the-total-deadline"])
def test_the_kill_waits_out_the_deadline_of_an_order_whose_call_timed_out_before_cancelling_again(
        tmp_path, read_timeout):
    """Review of issue 20: the second CancelAll went out when the overtaken AddOrder's *call* ended (a
    1.5 s timeout), but Kraken takes that request until the order's own deadline (4 s): one delayed in
    the network landed after both CancelAlls and stayed open. Now what ended without an answer, or was
    cut at its call's deadline (read timeout = total timeout), is waited for until that deadline."""
    with _bot_whose_next_order_the_network_delays(tmp_path, read_timeout) as (sim, bot, proxy):
        order = threading.Thread(target=lambda: bot.safety.submit_order(
            "XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59400")), daemon=True)
        order.start()
        assert proxy.holding.wait(5), "the second AddOrder never reached the proxy"
        report = bot.safety.kill("operator stop")
        assert proxy.forwarded.is_set()
        assert _open_at_the_exchange(sim) == [], report
        assert report.cancelled_again == 1, report


class KillAtTheFirstWait(SystemClock):
    """`krakenbot run`'s SIGUSR1: the kill runs at the bot's next wait (the CLI's safe point)."""

    def __init__(self) -> None:
        super().__init__()
        self.kill: Any = None
        self.report: Any = None

    def sleep(self, seconds: float) -> None:
        kill, self.kill = self.kill, None
        if kill is not None:
            self.report = kill()
        super().sleep(seconds)


def test_a_kill_after_an_order_call_timed_out_still_covers_that_order_until_its_deadline(tmp_path):
    """Re-review of issue 20: once the AddOrder's call had timed out it was forgotten, so a kill in the
    wait that follows (the CLI runs SIGUSR1's kill there) sent one CancelAll, and the delayed request
    landed after it. A call that ended without an answer stays registered until its order's deadline."""
    clock = KillAtTheFirstWait()
    with _bot_whose_next_order_the_network_delays(tmp_path, clock=clock) as (sim, bot, proxy):
        clock.kill = lambda: bot.safety.kill("operator stop (SIGUSR1)")
        bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59400"))
        assert proxy.forwarded.wait(5) and clock.report is not None and clock.report.halted
        assert _open_at_the_exchange(sim) == [], clock.report
        assert clock.report.cancelled_again == 1, clock.report
