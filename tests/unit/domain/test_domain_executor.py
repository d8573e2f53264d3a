"""Executor decisions that need a misbehaving exchange: a small fake client (pure logic).

The happy paths and the simulator's faults are covered over HTTP in
tests/integration/domain; here we script answers krakensim cannot easily give.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from domain_helpers import XBTEUR, pair_rules

from krakenbot.errors import (
    CircuitOpenError,
    ConnectionFailed,
    DeadlineElapsedError,
    InsufficientFundsError,
    KrakenError,
    MarketModeError,
    MalformedResponse,
    RequestTimeout,
    ServiceUnavailableError,
    UnknownOrderError,
)
from krakenbot.execution import Executor, OrderStatus, UnknownOrderOutstanding
from krakenbot.execution.executor import is_ambiguous
from krakenbot.models import OrderAck, OrderInfo, OrderRequest, OrderType, Side, TradeInfo, TradeVolume

D = Decimal


def info(txid, cid, status="open", vol_exec="0", cost="0", fee="0"):
    return OrderInfo(txid, status, "XBTEUR", Side.BUY, "limit", D("0.001"), D(vol_exec), D(cost), D(fee), D(0),
                     D("59000"), 1.0, cl_ord_id=cid)


@dataclass
class FakeExchange:
    """Scripted answers; records every call so tests can assert what was (not) sent."""

    add_results: list = field(default_factory=list)     # OrderAck or exception per AddOrder
    orders: dict = field(default_factory=dict)           # txid -> OrderInfo (what Kraken knows)
    trades: dict = field(default_factory=dict)
    ignore_cl_ord_id_filter: bool = False
    lookup_error: Exception | None = None
    cancel_error: Exception | None = None
    calls: list = field(default_factory=list)
    order_deadline: float = 15.0

    @property
    def trading(self):
        return self

    @property
    def account(self):
        return self

    def add_order(self, req: OrderRequest) -> OrderAck:
        self.calls.append(("AddOrder", req.cl_ord_id))
        result = self.add_results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result

    def _matching(self, statuses, cl_ord_id):
        self.calls.append(("lookup", cl_ord_id))
        if self.lookup_error:
            raise self.lookup_error
        return {t: i for t, i in self.orders.items() if i.status in statuses
                and (cl_ord_id is None or self.ignore_cl_ord_id_filter or i.cl_ord_id == cl_ord_id)}

    def open_orders(self, cl_ord_id=None, **_):
        return self._matching(("open", "pending"), cl_ord_id)

    def closed_orders(self, cl_ord_id=None, ofs=None, **_):
        """One page of 50, newest first, as Kraken pages ClosedOrders."""
        found = list(self._matching(("closed", "canceled", "expired"), cl_ord_id).items())[::-1]
        return dict(found[(ofs or 0):(ofs or 0) + 50])

    def query_orders(self, txids, trades=False):
        self.calls.append(("QueryOrders", tuple(txids)))
        return {t: self.orders[t] for t in txids if t in self.orders}

    def trades_history(self, start=None, ofs=None, **_):
        self.calls.append(("TradesHistory", start))
        return dict(self.trades)

    def trade_volume(self, pair=None):
        """The account at Kraken's first tier: 0.40 % taker, 0.25 % maker."""
        self.calls.append(("TradeVolume", pair))
        return TradeVolume("ZUSD", D(0), {pair: D("0.40")}, {pair: D("0.25")})

    def cancel_order(self, txid=None, cl_ord_id=None):
        self.calls.append(("CancelOrder", txid or cl_ord_id))
        if self.cancel_error:
            raise self.cancel_error
        return 1

    def sent(self, name):
        return [c for c in self.calls if c[0] == name]


REQ = OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, D("0.001"), price=D("59000"))


@pytest.fixture
def fake():
    return FakeExchange()


@pytest.fixture
def ex(fake, store, clock):
    return Executor(fake, store, clock, pair_rules, sync_after_place=False)


@pytest.mark.parametrize(("error", "ambiguous"), [
    (RequestTimeout("t"), True), (ConnectionFailed("c"), True), (MalformedResponse("m"), True),
    (ServiceUnavailableError("EService:Unavailable"), True), (KrakenError("EWeird:Thing"), True),
    (RuntimeError("bug"), True),
    (MarketModeError("cancel_only"), False), (DeadlineElapsedError("late"), False),
    (InsufficientFundsError("funds"), False), (CircuitOpenError("open"), False),
])
def test_which_failures_are_ambiguous(error, ambiguous):
    assert is_ambiguous(error) is ambiguous


def test_cl_ord_ids_are_short_ascii_and_unique(ex):
    ids = {ex.new_cl_ord_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) <= 18 and i.isascii() and i.isalnum() for i in ids)


def test_intent_is_recorded_before_the_request_leaves(fake, ex, store):
    seen = {}

    def add(req):
        seen["status_at_send"] = store.get_order(req.cl_ord_id).status
        return OrderAck(("OTX-1",), "buy")

    fake.add_order = add
    result = ex.place(REQ)
    assert seen["status_at_send"] == "PENDING_SUBMIT"
    assert result.status is OrderStatus.OPEN and store.get_order(result.cl_ord_id).txid == "OTX-1"


def test_definite_rejection_is_final_and_sent_once(fake, ex):
    fake.add_results = [InsufficientFundsError("EOrder:Insufficient funds")]
    result = ex.place(REQ)
    assert result.status is OrderStatus.REJECTED and "Insufficient" in result.reason
    assert len(fake.sent("AddOrder")) == 1 and fake.sent("lookup") == []


def test_deadline_elapsed_means_not_placed(fake, ex):
    fake.add_results = [DeadlineElapsedError("EService:Deadline elapsed")]
    assert ex.place(REQ).status is OrderStatus.REJECTED


def test_timeout_then_found_adopts_txid_status_and_fills(fake, ex, store):
    def landed(req):
        fake.orders["OTX-9"] = info("OTX-9", req.cl_ord_id, "closed", "0.001", "59", "0.236")
        fake.trades["T-1"] = TradeInfo("T-1", "OTX-9", "XXBTZEUR", Side.BUY, "limit", D("59000"), D("0.001"), D("59"),
                                       D("0.236"), 1.0, False)
        raise RequestTimeout("read timed out")

    fake.add_order = landed
    result = ex.place(REQ)
    assert result.status is OrderStatus.FILLED and result.txid == "OTX-9" and result.placed
    assert [f.trade_id for f in store.fills()] == ["T-1"] and ex.fee_mismatches == []


def test_scans_when_the_exchange_ignores_the_cl_ord_id_filter(fake, ex):
    fake.ignore_cl_ord_id_filter = True
    fake.orders["OTHER"] = info("OTHER", "someone-else")

    def landed(req):
        fake.orders["OTX-2"] = info("OTX-2", req.cl_ord_id)
        raise ConnectionFailed("reset")

    fake.add_order = landed
    result = ex.place(REQ)
    assert result.txid == "OTX-2" and result.status is OrderStatus.OPEN


def test_lookups_failing_leave_the_order_unknown_and_block_the_pair(fake, ex, clock):
    fake.add_results = [RequestTimeout("t")]
    fake.lookup_error = ServiceUnavailableError("EService:Unavailable")
    result = ex.place(REQ)
    assert result.status is OrderStatus.UNKNOWN and not result.placed
    assert ex.unknown_pairs() == {"XXBTZEUR"}
    from krakenbot.execution import UnknownOrderOutstanding
    with pytest.raises(UnknownOrderOutstanding):
        ex.place(REQ)
    assert len(fake.sent("AddOrder")) == 1
    fake.lookup_error = None                               # exchange back, order was never placed
    clock.advance(60)
    assert ex.refresh()[0].status == "REJECTED"
    assert ex.unknown_pairs() == frozenset()


def test_interrupt_mid_send_leaves_unknown_for_recovery(fake, ex, store):
    fake.add_results = [KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        ex.place(REQ)
    [order] = store.orders()
    assert order.status == "UNKNOWN"


def test_cancel_that_loses_the_race_to_a_fill_ends_filled(fake, ex):
    fake.add_results = [OrderAck(("OTX-3",), "buy")]
    placed = ex.place(REQ)
    fake.orders["OTX-3"] = info("OTX-3", placed.cl_ord_id, "closed", "0.001", "59", "0.1475")
    fake.cancel_error = UnknownOrderError("EOrder:Unknown order")
    assert ex.cancel(placed.cl_ord_id).status == "FILLED"


def test_cancel_with_ambiguous_failure_stays_pending_cancel_until_read(fake, ex):
    fake.add_results = [OrderAck(("OTX-4",), "buy")]
    placed = ex.place(REQ)
    fake.cancel_error = RequestTimeout("t")
    fake.lookup_error = None
    fake.query_orders = lambda txids, trades=False: (_ for _ in ()).throw(RequestTimeout("still down"))
    assert ex.cancel(placed.cl_ord_id).status == "PENDING_CANCEL"


def test_fee_that_does_not_match_the_schedule_is_flagged(fake, ex, store):
    fake.add_results = [OrderAck(("OTX-5",), "buy")]
    placed = ex.place(REQ)
    fake.orders["OTX-5"] = info("OTX-5", placed.cl_ord_id, "closed", "0.001", "59", "0.5")
    fake.trades["T-5"] = TradeInfo("T-5", "OTX-5", "XXBTZEUR", Side.BUY, "limit", D("59000"), D("0.001"), D("59"),
                                   D("0.5"), 1.0, True)   # maker 0.25 % of 59 is 0.1475, not 0.5
    ex.sync_order(placed.cl_ord_id)
    [d] = ex.fee_mismatches
    assert (d.kind, d.key, d.bot_value, d.exchange_value) == ("fee_mismatch", "T-5", "0.1475", "0.5")
    assert store.audit_rows("fee_mismatch")[0]["detail"]["charged"] == "0.5"


def test_fills_are_recorded_once_however_often_we_sync(fake, ex, store):
    fake.add_results = [OrderAck(("OTX-6",), "buy")]
    placed = ex.place(REQ)
    fake.orders["OTX-6"] = info("OTX-6", placed.cl_ord_id, "closed", "0.001", "59", "0.1475")
    fake.trades["T-6"] = TradeInfo("T-6", "OTX-6", "XXBTZEUR", Side.BUY, "limit", D("59000"), D("0.001"), D("59"),
                                   D("0.1475"), 1.0, True)
    for _ in range(3):
        ex.sync_order(placed.cl_ord_id)
    assert len(store.fills()) == 1


def test_status_changes_are_audited(fake, ex, store):
    fake.add_results = [OrderAck(("OTX-7",), "buy")]
    placed = ex.place(REQ)
    rows = [r for r in store.audit_rows("order_status") if r["detail"]["cl_ord_id"] == placed.cl_ord_id]
    assert [(r["detail"]["from"], r["outcome"]) for r in rows] == [("PENDING_SUBMIT", "OPEN")]


def test_refresh_settles_a_pending_submit_left_far_past_its_deadline(fake, ex, store, clock):
    from krakenbot.store import OrderRecord

    store.record_intent(OrderRecord("kbstale", "XXBTZEUR", "buy", "limit", D("0.001"), D("59000"), "PENDING_SUBMIT",
                                    clock.time(), clock.time(), intent={"deadline": clock.time() + 15}))
    assert ex.refresh() == []                      # young: assumed in flight, left alone
    clock.advance(20)
    [order] = ex.refresh()
    assert order.status == "REJECTED" and fake.sent("AddOrder") == []


def test_fee_check_allows_the_exchange_rounding_but_not_a_wrong_rate():
    from krakenbot.execution.fills import fee_discrepancy
    from krakenbot.store import FillRecord

    def fill(cost, fee, maker=False):
        return FillRecord("T-9", "OTX-9", "XXBTZEUR", "buy", D("60012.3"), D("0.0001"), D(cost), D(fee), 1.0, maker)

    taker, maker = (D("0.40"),), (D("0.25"),)
    assert fee_discrepancy(fill("7.4085", "0.0296"), XBTEUR, taker) is None          # 0.029634 rounded to 4 decimals
    assert fee_discrepancy(fill("59.2712", "0.2371"), XBTEUR, taker) is None         # 0.2370848 rounded up
    assert fee_discrepancy(fill("7.4085", "0.0296", maker=True), XBTEUR, maker).kind == "fee_mismatch"  # 0.0185
    assert fee_discrepancy(fill("0.5", "0.0013"), XBTEUR, taker).kind == "fee_mismatch"  # 0.26 % instead of 0.40 %
    assert fee_discrepancy(fill("0.5", "0.0013"), XBTEUR, (D("0.26"), D("0.40"))) is None  # either of two tiers


def test_an_order_left_in_flight_by_a_dead_process_blocks_its_pair(fake, store, clock):
    """PENDING_SUBMIT written by a process that died mid-send: its AddOrder may have landed."""
    first = Executor(fake, store, clock, pair_rules, sync_after_place=False)
    fake.add_results = [SystemExit()]                 # the process dies with the request out
    with pytest.raises(SystemExit):
        first.place(REQ)
    store.update_order(store.orders()[0].cl_ord_id, status="PENDING_SUBMIT")   # as a hard kill leaves it
    restarted = Executor(fake, store, clock, pair_rules, sync_after_place=False)
    assert restarted.unknown_pairs() == {"XXBTZEUR"}
    with pytest.raises(UnknownOrderOutstanding):
        restarted.place(REQ)
    assert len(fake.sent("AddOrder")) == 1
    clock.advance(60)                                 # past its deadline, not found at Kraken: not placed
    assert restarted.refresh()[0].status == "REJECTED"
    fake.add_results = [OrderAck(("OTX-7",), "buy")]
    assert restarted.place(REQ).txid == "OTX-7"


def test_concurrent_orders_on_one_pair_do_not_block_each_other(fake, ex):
    """An AddOrder this executor is sending right now is not an unknown outcome."""
    seen = []

    def add(req):
        seen.append(ex.unknown_pairs())
        return OrderAck((f"OTX-{len(seen)}",), "buy")

    fake.add_order = add
    assert ex.place(REQ).txid == "OTX-1"
    assert seen == [frozenset()] and ex.unknown_pairs() == frozenset()


def test_a_float_volume_is_refused_before_anything_is_recorded_or_sent(fake, ex, store):
    """Decimal(0.3) is 0.2999999999999999888...: truncated to lot decimals it would send 0.29999999."""
    with pytest.raises(TypeError, match="float"):
        ex.place(OrderRequest("XBTEUR", Side.SELL, OrderType.MARKET, 0.3))
    with pytest.raises(TypeError, match="float"):
        ex.place(OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, D("0.001"), price=59000.1))
    assert store.orders() == [] and fake.calls == []


@pytest.mark.parametrize("volume", [D("NaN"), D("Infinity"), "abc"])
def test_a_volume_that_is_not_a_finite_number_is_refused(volume):
    with pytest.raises(ValueError):
        OrderRequest("XBTEUR", Side.SELL, OrderType.MARKET, volume)


def test_string_and_int_amounts_become_exact_decimals():
    req = OrderRequest("XBTEUR", Side.BUY, OrderType.LIMIT, "0.3", price=59000)
    assert (req.volume, req.price) == (D("0.3"), D("59000")) and isinstance(req.price, Decimal)


def test_the_scan_pages_through_closed_orders_before_declaring_an_order_not_placed(fake, ex, clock):
    """Filter ignored and 60 orders closed after ours: ours is on ClosedOrders' second page.
    Declaring it not placed would unblock the pair for a second, doubled order."""
    fake.ignore_cl_ord_id_filter = True

    def landed(req):
        fake.orders["OTX-MINE"] = info("OTX-MINE", req.cl_ord_id, "closed", "0.001", "59", "0.236")
        for i in range(60):
            fake.orders[f"OTX-{i}"] = info(f"OTX-{i}", f"someone-else-{i}", "canceled")
        raise RequestTimeout("t")

    fake.add_order = landed
    result = ex.place(REQ)
    assert result.txid == "OTX-MINE" and result.status is OrderStatus.FILLED


def test_a_validate_only_order_the_exchange_placed_anyway_is_tracked_as_placed(fake, ex):
    fake.add_results = [OrderAck(("OTX-V",), "buy", validated_only=False)]
    from dataclasses import replace as _replace

    result = ex.place(_replace(REQ, validate=True))
    assert result.placed and result.txid == "OTX-V" and result.status is OrderStatus.OPEN
    assert ex.open_orders()[0].txid == "OTX-V"


def test_per_order_locks_do_not_accumulate_over_a_long_run(fake, ex):
    """One lock per order ever placed, kept forever, is a slow leak in a bot that runs for months."""
    fake.add_results = [OrderAck((f"OTX-L{i}",), "buy") for i in range(300)]
    for _ in range(300):
        ex.place(REQ)
    assert len(ex._order_locks) < 10


def test_an_answer_with_our_client_id_is_followed_as_is(fake, ex, store):
    fake.add_results = [OrderAck(("OTX-11",), "buy")]
    placed = ex.place(REQ)
    fake.orders["OTX-11"] = info("OTX-11", placed.cl_ord_id, "canceled")
    assert ex.sync_order(placed.cl_ord_id).status == "CANCELED"
    assert ex.contradictions == [] and store.audit_rows("exchange_contradiction") == []


def test_an_answer_without_a_client_id_is_about_an_order_placed_by_hand_not_ours(fake, ex, store):
    """Every order the bot sends carries its client id and Kraken lists it: an order listed without
    one (a person's, named by a replayed answer) is someone else's."""
    fake.add_results = [OrderAck(("OTX-11",), "buy")]
    placed = ex.place(REQ)
    fake.orders["OTX-11"] = info("OTX-11", None, "canceled")
    fake.orders["OTX-14"] = info("OTX-14", placed.cl_ord_id, "open")
    order = ex.sync_order(placed.cl_ord_id)
    assert (order.status, order.txid) == ("OPEN", "OTX-14")
    assert [d.kind for d in ex.contradictions] == ["txid_of_another_order"]


def test_an_answer_about_another_client_id_is_looked_up_by_our_own(fake, ex, store):
    fake.add_results = [OrderAck(("OTX-12",), "buy")]   # a replayed answer: another order's txid
    placed = ex.place(REQ)
    fake.orders["OTX-12"] = info("OTX-12", "kbsomeoneelse0001", "canceled")
    fake.orders["OTX-13"] = info("OTX-13", placed.cl_ord_id, "open")

    for follow in (ex.sync_order, lambda cid: ex.refresh()[0]):
        store.update_order(placed.cl_ord_id, txid="OTX-12")
        order = follow(placed.cl_ord_id)
        assert (order.status, order.txid) == ("OPEN", "OTX-13")  # before the fix: CANCELED, OTX-12
    assert [d.kind for d in ex.contradictions] == ["txid_of_another_order"] * 2
    assert "XXBTZEUR" in {row["detail"]["pair"] for row in store.audit_rows("exchange_contradiction")}
