"""The executions stream over a real WebSocket on loopback, its token taken from the simulator over
the bot's REST client: events delivered exactly (Decimal quantities, fees), every reason to
reconcile over REST said (a new subscription, a sequence gap, a drop), fills never delivered
twice, and the token never in a log."""
from __future__ import annotations

import logging
import random
from decimal import Decimal

import pytest

import krakensim
from krakenbot.client import KrakenClient, Timeouts
from krakenbot.clock import ManualClock
from krakenbot.safety.allowlist import check
from krakenbot.safety.modes import TradingMode
from krakenbot.stream.executions import ExecutionsStream
from tests.integration.stream.wsserver import ScriptedServer

WAIT = 10.0
ORDER = "OK4GJX-KSTLS-7DZZO5"
OPEN_ORDER = {"order_id": "OPEN11-AAAAA-BBBBBB", "cl_ord_id": "kb-open-1", "symbol": "BTC/EUR", "side": "buy",
              "order_status": "new", "order_qty": 0.5, "limit_price": 25000.0, "cum_qty": 0.0}
PAST_FILL = {"order_id": "OLD111-AAAAA-BBBBBB", "exec_id": "TOLD11-AAAAA-BBBBBB", "exec_type": "trade",
             "symbol": "BTC/EUR", "side": "sell", "last_qty": 0.1, "last_price": 26000.0, "cum_qty": 0.1,
             "fees": [{"asset": "EUR", "qty": 6.76}]}
PENDING = {"order_id": ORDER, "cl_ord_id": "kb-1", "exec_type": "pending_new", "order_status": "pending_new",
           "symbol": "BTC/EUR", "side": "buy", "order_qty": 0.01, "limit_price": 26600.0, "cum_qty": 0.0}
NEW = {"order_id": ORDER, "exec_type": "new", "order_status": "new", "timestamp": "2026-01-01T00:00:01.000000Z"}
FILL = {"order_id": ORDER, "cl_ord_id": "kb-1", "exec_id": "TGBB7L-HT5LX-J3BZ4A", "exec_type": "trade",
        "symbol": "BTC/EUR", "side": "buy", "last_qty": 0.005, "last_price": 26599.9, "cost": 132.9995,
        "order_status": "partially_filled", "cum_qty": 0.005, "cum_cost": 132.9995, "avg_price": 26599.9,
        "fees": [{"asset": "EUR", "qty": 0.3458}]}
FILLED = {"order_id": ORDER, "exec_type": "filled", "order_status": "filled", "cum_qty": 0.01}


def message(kind: str, data: list[dict], sequence: int) -> dict:
    return {"channel": "executions", "type": kind, "data": data, "sequence": sequence}


@pytest.fixture
def sim():
    with krakensim.KrakenSimulator(seed=42, clock=ManualClock(), tier="starter") as simulator:
        yield simulator


@pytest.fixture
def rest(sim):
    """The bot's REST client, its guard the read-only allowlist (the most restrictive mode)."""
    asked: list[str] = []

    def guard(endpoint: str, params=None) -> None:
        asked.append(endpoint)
        verdict = check(TradingMode.READ_ONLY, endpoint)
        if not verdict.allowed:
            raise PermissionError(verdict.reason)

    client = KrakenClient(sim.url, sim.api_key, sim.api_secret, clock=ManualClock(), guard=guard,
                          timeouts=Timeouts(connect=1.0, read=2.0), rng=random.Random(7))
    client.asked = asked
    yield client
    client.close()


class Executions:
    def __init__(self, url: str, rest: KrakenClient, left: frozenset = frozenset()) -> None:
        self.events = []
        self.left = set(left)  # exec_ids the bot leaves (to REST) the first time they come
        self.clock = ManualClock()
        self.stream = ExecutionsStream(url, rest.account.websockets_token, self._take, clock=self.clock,
                                       poll_s=0.02, pause=self.clock.sleep, rng=random.Random(3))

    def _take(self, event):
        self.events.append(event)
        if event.exec_id in self.left:
            self.left.discard(event.exec_id)
            return None
        return event  # taken: its fill counts as seen

    def __enter__(self) -> ExecutionsStream:
        self.stream.start()
        self.stream.events = self.events  # what on_event received, in order
        return self.stream

    def __exit__(self, *exc: object) -> None:
        self.stream.stop()


def feed(sim, *messages: dict | str, then: str = "heartbeats", tokens: list | None = None, before: str | None = None):
    async def script(session):
        request = await session.request("subscribe", "executions")
        token = request["params"]["token"]
        assert sim.redeem_ws_token(token) == sim.api_key  # a real token, from the simulator, for this key
        if tokens is not None:
            tokens.append(token)
        if before is not None:
            await session.server.event(before).wait()
        await session.answer(request)
        for sent in messages:
            if isinstance(sent, str):  # a gate: wait until the test releases it
                await session.server.event(sent).wait()
            else:
                await session.send(sent)
        if then == "close":
            await session.ws.close()
        else:
            await session.heartbeats()
    return script


def test_events_arrive_exact_and_the_first_subscription_asks_for_reconciliation(sim, rest):
    script = feed(sim, message("snapshot", [OPEN_ORDER, PAST_FILL], 1), message("update", [PENDING], 2),
                  message("update", [NEW], 3), message("update", [FILL], 4), message("update", [FILLED], 5))
    with ScriptedServer(script) as server, Executions(server.url, rest) as stream:
        assert stream.wait_for(lambda: len(stream.events) == 6, WAIT)
        events = stream.events
        assert [(e.exec_type, e.snapshot) for e in events] == [
            ("snapshot", True), ("trade", True), ("pending_new", False), ("new", False), ("trade", False),
            ("filled", False)]
        fill = events[4]
        assert (fill.order_id, fill.cl_ord_id, fill.exec_id) == (ORDER, "kb-1", "TGBB7L-HT5LX-J3BZ4A")
        assert fill.cum_qty == Decimal("0.005") and fill.last_price == Decimal("26599.9")
        assert fill.fees == (("EUR", Decimal("0.3458")),) and fill.sequence == 4
        assert events[5].cum_qty == Decimal("0.01")
        assert stream.needs_reconciliation and "subscribed" in stream.reconcile_reason
        assert stream.reconciled(stream.epoch) and not stream.needs_reconciliation
        (_, request), = server.requests("subscribe", "executions")
        assert request["params"]["snap_orders"] is True and request["params"]["snap_trades"] is True
    assert rest.asked == ["GetWebSocketsToken"]  # through the guarded client, allowed even in read-only


def test_a_fill_the_bot_left_to_rest_is_offered_again_when_repeated(sim, rest):
    script = feed(sim, message("snapshot", [], 1), message("update", [FILL], 2), message("update", [FILL], 3),
                  message("update", [FILL], 4))
    with ScriptedServer(script) as server, Executions(server.url, rest, {FILL["exec_id"]}) as stream:
        assert stream.wait_for(lambda: stream.sequence == 4, WAIT)
        assert [e.sequence for e in stream.events if e.exec_id == FILL["exec_id"]] == [2, 3]


def test_a_sequence_gap_asks_for_reconciliation_again(sim, rest):
    script = feed(sim, message("snapshot", [], 1), message("update", [PENDING], 2), "gap",
                  message("update", [FILL], 4))
    with ScriptedServer(script) as server, Executions(server.url, rest) as stream:
        assert stream.wait_for(lambda: stream.sequence == 2, WAIT)
        epoch = stream.epoch
        assert stream.reconciled(epoch)
        server.release("gap")
        assert stream.wait_for(lambda: stream.sequence == 4, WAIT)
        assert stream.needs_reconciliation and stream.reconcile_reason == "sequence gap: 2 then 4"
        assert not stream.reconciled(epoch)  # a reconciliation that began before the gap does not clear it


def test_after_a_drop_a_fresh_token_a_reconciliation_and_no_fill_twice(sim, rest):
    tokens: list[str] = []
    first = feed(sim, message("snapshot", [], 1), message("update", [FILL], 2), "drop", then="close", tokens=tokens)
    second = feed(sim, message("snapshot", [FILL, PAST_FILL], 1), message("update", [FILLED], 2), tokens=tokens,
                  before="answer")
    with ScriptedServer(first, second) as server, Executions(server.url, rest) as stream:
        assert stream.wait_for(lambda: stream.sequence == 2, WAIT) and stream.reconciled(stream.epoch)
        server.release("drop")
        assert server.wait_for(lambda: len(server.requests("subscribe", "executions")) == 2)
        assert stream.needs_reconciliation and "connection lost" in stream.reconcile_reason
        assert not stream.reconciled(stream.epoch)  # not subscribed yet: nothing to trust
        server.release("answer")
        assert stream.wait_for(lambda: server.connections == 2 and stream.sequence == 2 and stream.subscribed
                               and len(stream.events) == 3, WAIT)
        kinds = [(e.exec_type, e.exec_id) for e in stream.events]
        assert kinds == [("trade", FILL["exec_id"]), ("trade", PAST_FILL["exec_id"]), ("filled", None)]
        assert stream.needs_reconciliation and len(tokens) == 2 and tokens[0] != tokens[1]
        assert len(rest.asked) == 2


def test_the_token_is_never_logged_and_no_order_can_leave(sim, rest, caplog):
    tokens: list[str] = []

    async def script(session):
        request = await session.request("subscribe", "executions")
        tokens.append(request["params"]["token"])
        await session.answer(request, success=False, error=f"EAPI:Invalid token {request['params']['token']}")
        await session.heartbeats()

    caplog.set_level(logging.DEBUG)
    with ScriptedServer(script) as server, Executions(server.url, rest) as stream:
        assert stream.wait_for(lambda: stream.connects >= 2, WAIT)
        with pytest.raises(PermissionError):
            stream._send("add_order", {"order_type": "market", "side": "buy", "order_qty": 1, "symbol": "BTC/EUR"})
        assert "Invalid token" in caplog.text and "<token>" in stream.last_problem
    assert tokens and not any(token in caplog.text or token in repr(stream.__dict__.get("last_problem"))
                              for token in tokens)
    assert not server.requests("add_order")
