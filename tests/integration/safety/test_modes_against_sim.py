"""The safety wrapper against the simulator over HTTP: what reaches the exchange in each mode."""
from __future__ import annotations

from decimal import Decimal

import pytest

from krakenbot.errors import CircuitOpenError, EndpointNotAllowed
from krakenbot.safety.modes import LiveTradingRefused, TradingMode



def endpoints(records) -> list[str]:
    return [r.endpoint for r in records]


def order_waiting_at_the_gate(bot):
    """An order that has passed the wrapper's first check (kill switch, trading state) and now waits for
    the order gate, held here as by another thread's order in flight; ``release()`` lets it on and
    returns its outcome."""
    import threading

    gate = bot.safety._order_gate
    gate.acquire()
    waiting, outcome = threading.Event(), {}
    real_blocker = bot.safety._order_blocker

    def first_check():
        reason = real_blocker()
        waiting.set()
        return reason

    bot.safety._order_blocker = first_check
    worker = threading.Thread(target=lambda: outcome.setdefault("o", bot.safety.submit_order(
        "XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))))
    worker.start()
    assert waiting.wait(10)
    bot.safety._order_blocker = real_blocker  # the guard's check at the send is the real one

    def release():
        gate.release()
        worker.join(10)
        return outcome["o"]

    return release


def test_read_only_order_never_reaches_the_exchange(sim, make_bot):
    bot = make_bot("read-only")
    start = len(sim.access_log)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert not outcome.accepted and not outcome.placed
    assert outcome.codes == ["MODE"]
    with pytest.raises(EndpointNotAllowed):
        bot.safety.call("AddOrder", pair="XBTEUR", type="buy", ordertype="market", volume="0.01")
    assert "AddOrder" not in endpoints(sim.access_log_since(start))
    refused = [r for r in bot.safety.audit_log() if r["allowed"] is False]
    assert {r["action"] for r in refused} >= {"order", "endpoint"}
    assert all(r["mode"] == "read-only" for r in refused)


def test_read_only_still_reads_balances(sim, make_bot):
    bot = make_bot("read-only")
    report = bot.safety.check_connection()
    assert report.online and report.authenticated and report.error is None
    assert report.balances["ZEUR"] == Decimal("10000")
    rows = [r for r in bot.safety.audit_log() if r["endpoint"] == "Balance"]
    assert rows and rows[-1]["allowed"] is True


@pytest.mark.parametrize("mode", ["read-only", "paper", "canary", "live"])
def test_withdraw_refused_and_absent_from_access_log(sim, make_bot, mode):
    bot = make_bot(mode, live_flag=True)
    assert bot.safety.mode is TradingMode.parse(mode)
    start = len(sim.access_log)
    before = sim.balances()
    with pytest.raises(EndpointNotAllowed, match="funding"):
        bot.safety.call("Withdraw", asset="XBT", key="my-wallet", amount="0.5")
    assert "Withdraw" not in endpoints(sim.access_log_since(start))
    assert sim.balances() == before
    [row] = [r for r in bot.safety.audit_log() if r["endpoint"] == "Withdraw"]
    assert row["allowed"] is False and row["mode"] == mode


def test_every_refused_endpoint_stays_inside_the_bot(sim, make_bot):
    bot = make_bot("read-only")
    start = len(sim.access_log)
    refused = bot.safety.refused_endpoints()
    assert "AddOrder" in refused and "Withdraw" in refused and "Balance" not in refused
    for endpoint in refused:
        with pytest.raises(EndpointNotAllowed):
            bot.safety.call(endpoint)
    assert sim.access_log_since(start) == []
    audited = {r["endpoint"] for r in bot.safety.audit_log() if r["allowed"] is False}
    assert audited >= set(refused)


def test_live_needs_env_and_flag(sim, make_bot):
    with pytest.raises(LiveTradingRefused, match="--live"):
        make_bot("live", live_flag=False)
    bot = make_bot("read-only")
    with pytest.raises(LiveTradingRefused, match="KRAKEN_LIVE_TRADING"):
        bot.safety.set_mode(TradingMode.LIVE, live_flag=True)
    assert bot.safety.mode is TradingMode.READ_ONLY
    bot.safety.set_mode(TradingMode.LIVE, live_flag=True, env={"KRAKEN_LIVE_TRADING": "yes"})
    assert bot.safety.mode is TradingMode.LIVE


def test_open_breaker_sends_nothing(sim, make_bot):
    bot = make_bot("live", live_flag=True)
    bot.safety.breaker.trip("test")
    start = len(sim.access_log)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert outcome.codes == ["CIRCUIT_OPEN"] and not outcome.placed
    with pytest.raises(CircuitOpenError):
        bot.safety.balances()
    assert sim.access_log_since(start) == []
    assert any(r["action"] == "breaker" and r["outcome"] == "open" for r in bot.safety.audit_log())


def test_kill_file_blocks_orders_before_anything_is_sent(sim, make_bot, tmp_path):
    bot = make_bot("live", live_flag=True)
    (tmp_path / "KILL").write_text("stop now\n")
    start = len(sim.access_log)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "market", Decimal("0.01"))
    assert outcome.codes == ["HALTED"] and "stop now" in outcome.reason
    assert sim.access_log_since(start) == []
    with pytest.raises(Exception, match="remove it first"):
        bot.safety.resume()


def test_the_kill_command_given_during_an_order_still_stops_it_at_the_send(sim, make_bot, monkeypatch):
    """The guard skips only the kill *file*, already looked for at the start of the same decision;
    a kill command given meanwhile (another thread, the dead man's switch) stops the order at the send."""
    bot = make_bot("live", live_flag=True)
    bot.safety.check_connection()
    real_check = bot.safety.risk.check

    def check_then_kill(*args, **kwargs):
        decision = real_check(*args, **kwargs)
        bot.safety.kill_switch.engage("operator pressed kill mid-order")
        return decision

    monkeypatch.setattr(bot.safety.risk, "check", check_then_kill)
    start = len(sim.access_log)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))
    assert not outcome.placed and "operator pressed kill mid-order" in outcome.reason
    assert outcome.codes == ["HALTED"]  # named as the gate names it, not an exchange error
    assert "AddOrder" not in [r.endpoint for r in sim.access_log_since(start)] and sim.orders() == []


def test_a_kill_file_created_while_an_order_waits_for_the_order_gate_stops_it(sim, make_bot, tmp_path):
    """Another order in flight holds the gate; the operator creates the file meanwhile. The waiting order
    passed its own first check before the file existed: the guard's check at the send stops it."""
    bot = make_bot("live", live_flag=True)
    bot.safety.check_connection()
    real_snapshot = bot.safety._snapshot

    def snapshot(*args, **kwargs):  # runs once the gate is ours: the file appears before the send
        (tmp_path / "KILL").write_text("operator: stop everything\n")
        return real_snapshot(*args, **kwargs)

    bot.safety._snapshot = snapshot
    release = order_waiting_at_the_gate(bot)  # it passed its first check without a file
    start = len(sim.access_log)
    outcome = {"o": release()}
    assert not outcome["o"].placed and "operator: stop everything" in outcome["o"].reason
    assert outcome["o"].codes == ["HALTED"]
    assert "AddOrder" not in [r.endpoint for r in sim.access_log_since(start)] and sim.orders() == []


@pytest.mark.parametrize("first_order", [False, True], ids=["intent", "baseline before the first order"])
def test_an_order_the_store_cannot_record_is_refused_as_store_failure_and_not_sent(sim, make_bot, first_order):
    """The database turns read-only under the bot (a disk remounted read-only): the order is refused
    with its own code, nothing is sent, and nothing is raised at the caller (the trading loop)."""
    bot = make_bot("live", live_flag=True)
    bot.safety.check_connection()
    if not first_order:
        assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000")).placed
    bot.store._db.execute("PRAGMA query_only=ON")
    start = len(sim.access_log)
    try:
        outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))
    finally:
        bot.store._db.execute("PRAGMA query_only=OFF")
    assert outcome.codes == ["STORE_FAILURE"] and not outcome.placed and "readonly" in outcome.reason, outcome
    assert "AddOrder" not in endpoints(sim.access_log_since(start))


def test_a_pair_halted_while_an_order_waits_for_the_order_gate_stops_it(sim, make_bot):
    """An order passes the pair-halt check, then waits for the gate (another order in flight); meanwhile a
    concurrent placement or refresh finds a contradiction and halts the pair: the order is refused, unsent."""
    import threading

    from krakenbot.risk.manager import halt_pair

    bot = make_bot("live", live_flag=True)
    bot.safety.check_connection()
    gate = bot.safety._order_gate
    gate.acquire()  # stands for another thread's order in flight
    checked, outcome = threading.Event(), {}
    real_halted = bot.safety.risk.halted_pairs

    def first_check():  # the check before the gate: the pair is not halted yet
        halts = real_halted()
        checked.set()
        return halts

    bot.safety.risk.halted_pairs = first_check
    worker = threading.Thread(target=lambda: outcome.setdefault("o", bot.safety.submit_order(
        "XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))))
    worker.start()
    assert checked.wait(10)
    bot.safety.risk.halted_pairs = real_halted
    halt_pair(bot.store, sim.clock, "XXBTZEUR", "exchange answer contradicted order kbx", actor="executor")
    start = len(sim.access_log)
    gate.release()
    worker.join(10)
    assert outcome["o"].codes == ["PAIR_HALTED"] and not outcome["o"].placed, outcome["o"]  # before: placed
    assert "AddOrder" not in endpoints(sim.access_log_since(start)) and sim.orders() == []


def test_trading_halted_while_an_order_waits_for_the_order_gate_is_judged_by_the_risk_check(sim, make_bot):
    """An order passes the gate's look at the trading state, then waits for the order gate; meanwhile the
    operator halts trading: the risk check under the gate judges the state as it is then, so the order
    is denied TRADING_HALTED before any intent is recorded (not left to the guard at the send)."""
    bot = make_bot("live", live_flag=True)
    bot.safety.check_connection()
    release = order_waiting_at_the_gate(bot)  # it saw trading ACTIVE
    bot.safety.risk.halt("operator: halt", actor="operator")
    start = len(sim.access_log)
    outcome = {"o": release()}
    assert outcome["o"].codes == ["TRADING_HALTED"] and not outcome["o"].placed, outcome["o"]
    assert bot.store.orders() == []  # denied before the intent
    assert "AddOrder" not in endpoints(sim.access_log_since(start)) and sim.orders() == []


def test_an_order_whose_nonce_cannot_be_saved_says_it_was_not_sent(sim, make_bot):
    """The disk fills between the order's intent and the request's nonce reservation: nothing leaves, and
    the refusal cannot be recorded either. The answer must not claim the order was sent."""
    import sqlite3

    bot = make_bot("live", live_flag=True)
    bot.safety.check_connection()
    store, full = bot.store, []
    real_intent, real_save, real_update = store.record_intent, store.save_nonce, store.update_order

    def record_intent(*args, **kwargs):
        written = real_intent(*args, **kwargs)
        full.append(True)
        bot.client.nonces._reserved = 0  # the next request needs a new reservation (a write)
        return written

    def failing(real):
        def write(*args, **kwargs):
            if full:
                raise sqlite3.OperationalError("database or disk is full")
            return real(*args, **kwargs)
        return write

    store.record_intent, store.save_nonce, store.update_order = record_intent, failing(real_save), failing(real_update)
    start = len(sim.access_log)
    outcome = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000"))
    assert "AddOrder" not in endpoints(sim.access_log_since(start))
    assert outcome.codes == ["STORE_FAILURE"] and not outcome.placed, outcome
    assert "not sent" in outcome.reason and " sent, its outcome unknown" not in outcome.reason, outcome.reason


def test_code_holding_the_client_directly_is_stopped_by_the_kill_file(sim, make_bot, tmp_path):
    from krakenbot.models import OrderRequest, OrderType, Side

    bot = make_bot("live", live_flag=True)
    bot.safety.check_connection()
    assert bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.001"), Decimal("59000")).placed
    (tmp_path / "KILL").write_text("stop now\n")
    start = len(sim.access_log)
    with pytest.raises(EndpointNotAllowed, match="stop now"):
        bot.client.trading.add_order(OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, Decimal("0.001"),
                                                  Decimal("59000"), cl_ord_id="direct-1"))
    assert sim.access_log_since(start) == []


def test_audit_never_holds_the_secret_or_full_key(sim, make_bot):
    bot = make_bot("paper")
    bot.safety.check_connection()
    with pytest.raises(EndpointNotAllowed):
        bot.safety.call("Withdraw", asset="XBT", amount="0.5")
    text = repr(bot.safety.audit_log())
    assert sim.api_secret not in text and sim.api_key not in text


@pytest.mark.parametrize("mode", ["canary", "live"])
def test_raw_order_calls_cannot_skip_the_risk_checks(sim, make_bot, mode):
    bot = make_bot(mode, live_flag=True)
    start = len(sim.access_log)
    for endpoint in ("AddOrder", "AmendOrder"):
        with pytest.raises(EndpointNotAllowed):
            bot.safety.call(endpoint, pair="XXBTZEUR", type="buy", ordertype="market", volume="5")
    assert sim.access_log_since(start) == []


def test_no_secret_in_logs_exceptions_or_audit_during_a_session(sim, make_bot, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    bot = make_bot("live", live_flag=True)
    bot.safety.check_connection()
    placed = bot.safety.submit_order("XBTEUR", "buy", "limit", Decimal("0.01"), Decimal("59000"))
    bot.safety.cancel_order(placed.cl_ord_id)
    sim.faults.inject(endpoint="Balance", kind="error", error="EAPI:Invalid key", times=5)
    failed = bot.safety.check_connection()
    with pytest.raises(EndpointNotAllowed) as refused:
        bot.safety.call("Withdraw", asset="XBT", amount="1")
    bot.safety.kill("end of session")
    texts = [r.getMessage() for r in caplog.records] + [str(failed), str(refused.value), repr(bot.safety.audit_log()),
                                                        repr(bot.settings), repr(bot.client)]
    for text in texts:
        assert sim.api_secret not in text and sim.api_key not in text
    assert not failed.authenticated and "Invalid key" in failed.error
