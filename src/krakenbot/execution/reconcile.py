"""Does the bot's memory agree with Kraken? And, after a crash, make it agree.

``reconcile()`` reads Balance, OpenOrders, TradesHistory and QueryOrders and lists every
difference precisely (kind, key, bot value, exchange value); it changes nothing in the
bot's orders or fills, so an operator (or the kill switch) decides what a drift means.

It is incremental: a clean pass persists a high-water mark (newest trade time and id, plus
a digest of every fill older than the mark minus an overlap), and the next pass fetches
only trades from ``mark - OVERLAP_S`` on (a late trade Kraken shows with an earlier time is
still read; trades dedupe by id) and queries only the orders that can still change or did
change since (each TradesHistory page costs +2 on the API counter: paging the whole day on
every pass meant minutes of pacing). Balances are still compared against baseline + every
recorded fill. If the store's old fills no longer match the digest, or ``full=True``, the
pass goes back to the baseline, so a lost or altered fill is named precisely. ``recover()`` is for start-up:
it settles every order whose outcome the bot never learnt (PENDING_SUBMIT, UNKNOWN) by
``cl_ord_id`` - never by re-sending -, brings active orders up to date, adopts open
orders carrying this bot's id prefix that the store lost, and imports missing fills.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from krakenbot.clock import Clock, SystemClock
from krakenbot.execution.executor import (
    TRADE_LOOKBACK_S, Executor, exchange_now, names_another_order, query_orders_isolating,
)
from krakenbot.execution.fills import AccountFees, fee_discrepancy, fetch_trades
from krakenbot.execution.order_state import EXCHANGE_STATUS_FOR_EVENT, OrderStatus, event_for_exchange_status
from krakenbot.models import OrderInfo, TradeInfo
from krakenbot.positions import Discrepancy, PositionManager, ReconciliationReport
from krakenbot.store import FillRecord, OrderRecord, Store, utc_day_bounds

if TYPE_CHECKING:
    from krakenbot.market_data import PairRules

__all__ = ["Reconciler", "RecoveryReport", "MARK_KEY", "OVERLAP_S"]

MARK_KEY = "reconcile.mark"  # meta key of the high-water mark
_CLOSED_PAGE = 50  # ClosedOrders answers at most this many per page
OVERLAP_S = 60.0  # re-read this much before the mark: Kraken can show a trade late, with an earlier time
# Discrepancies a windowed pass may not see again once the mark passes them: while any is
# reported the mark stays put. (Balances, open orders and fees are always compared whole.)
_WINDOWED_KINDS = frozenset({"fill_missing", "foreign_fill", "fill_mismatch", "fill_not_on_exchange",
                             "order_mismatch", "order_not_on_exchange", "order_fills_incomplete"})
_CHECKED_STATUSES = (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value, OrderStatus.PENDING_CANCEL.value,
                     OrderStatus.PENDING_SUBMIT.value, OrderStatus.UNKNOWN.value)


def _fills_digest(fills: list[FillRecord], before: float) -> tuple[str, int]:
    """A fingerprint of the fills older than ``before``: what a windowed pass takes on trust."""
    h, n = hashlib.sha256(), 0
    for f in sorted((f for f in fills if f.time < before), key=lambda f: f.trade_id):
        h.update("|".join((f.trade_id, f.txid, f.pair, f.side, str(f.price), str(f.volume), str(f.cost),
                           str(f.fee), repr(f.time), str(f.maker))).encode() + b"\n")
        n += 1
    return h.hexdigest(), n


@dataclass(frozen=True)
class RecoveryReport:
    resolved: list[str] = field(default_factory=list)       # cl_ord_ids whose outcome is now known
    still_unknown: list[str] = field(default_factory=list)  # lookups failed or deadline not yet passed
    adopted: list[str] = field(default_factory=list)        # open at Kraken with our prefix, missing locally
    imported_fills: int = 0


class Reconciler:
    def __init__(self, client: Any, store: Store, positions: PositionManager, *,
                 executor: Executor | None = None, clock: Clock | None = None,
                 pair_rules: PairRules | None = None,
                 balance_tolerance: Decimal = Decimal("0.00000001"), lookback_s: float = 86_400.0) -> None:
        self.client = client
        self.store = store
        self.positions = positions
        self.clock = clock or (executor.clock if executor else SystemClock())
        self.pair_rules = pair_rules or (executor.pair_rules if executor else positions.pair_rules)
        self.executor = executor
        self.balance_tolerance = balance_tolerance
        self.lookback_s = lookback_s
        self.fees = executor.fees if executor else AccountFees(client, store, self.clock)

    def _executor(self) -> Executor:
        if self.executor is None:
            if self.pair_rules is None:
                raise ValueError("recover() needs an executor or pair_rules")
            self.executor = Executor(self.client, self.store, self.clock, self.pair_rules, wait_for_unknown=False)
            self.executor.fees = self.fees  # one reading of the account's rates for both
        return self.executor

    def _trades_since(self) -> float | None:
        baseline = self.positions.store.get_meta(PositionManager.BASELINE_KEY)
        orders = self.store.orders()
        if baseline is not None:
            import json
            return float(json.loads(baseline).get("as_of") or 0.0) or None
        if orders:
            return min(o.created_at for o in orders) - 1
        return None

    def _mark(self) -> dict | None:
        raw = self.store.get_meta(MARK_KEY)
        return None if raw is None else json.loads(raw)

    def _window(self, fills: list[FillRecord], full: bool) -> tuple[float | None, dict | None]:
        """Where this pass's trade window starts, and the mark it rests on (None: from the
        baseline). The mark is trusted only for the same baseline and an unchanged fill digest."""
        base = self._trades_since()
        mark = None if full else self._mark()
        if mark is None or mark.get("base") != base:
            return base, None
        if _fills_digest(fills, mark["cutoff"]) != (mark["digest"], mark["count"]):
            return base, None  # an old fill vanished or changed: look at everything again
        return (mark["cutoff"] if base is None else max(base, mark["cutoff"])), mark

    def _advance_mark(self, fills: list[FillRecord], trades: dict[str, TradeInfo], previous: dict | None,
                      now: float) -> None:
        base = self._trades_since()
        newest = max(trades.values(), key=lambda t: (t.time, t.trade_id), default=None)
        candidates = [(t.time, t.trade_id) for t in (newest,) if t is not None]
        candidates += [(previous["time"], previous["trade_id"])] if previous is not None else []
        if not candidates:
            if base is None:
                return
            candidates = [(base, "")]  # nothing traded since the baseline: the mark starts there
        top, top_id = max(candidates)
        cutoff = top - OVERLAP_S
        digest, count = _fills_digest(fills, cutoff)
        self.store.set_meta(MARK_KEY, json.dumps({"base": base, "time": top, "trade_id": top_id, "cutoff": cutoff,
                                                  "digest": digest, "count": count, "checked_at": now}))

    def _fetch_trades(self, since: float | None, own_from: float | None = None) -> dict[str, TradeInfo]:
        """The exchange's trades from ``since`` on, and the bot's own from ``own_from`` (``_own_from``):
        one of the bot's trades is its business whenever it is timed, another's only from ``since`` (one
        before the baseline is in the baseline's balances)."""
        if since is None:
            return fetch_trades(self.client.account, None)
        start = since if own_from is None else min(since, own_from)
        # Kraken's start is exclusive and in whole seconds: one second earlier keeps the start itself.
        trades = fetch_trades(self.client.account, int(start) - 1)
        if start == since:
            return trades
        ours = {o.txid for o in self.store.orders() if o.txid}
        return {tid: t for tid, t in trades.items() if t.time >= since or t.order_txid in ours}

    def _own_from(self, since: float | None, mark: dict | None) -> float | None:
        """Where the bot's own trades are read from. A mark's cutoff is a trade's time and a baseline's
        time the exchange's estimate at the time it was taken: both on the exchange's clock. Without a
        baseline the window starts at the bot's first order, a time on the bot's clock, which may run up
        to the tolerated skew ahead of the exchange's: then from ``TRADE_LOOKBACK_S`` earlier."""
        if since is None or (mark is not None and since == mark["cutoff"]) \
                or self.positions.store.get_meta(PositionManager.BASELINE_KEY) is not None:
            return since
        return since - TRADE_LOOKBACK_S

    def _exchange_now(self) -> float:
        """A baseline's time is compared with trade times: the exchange's."""
        return exchange_now(self.client, self.clock)

    # -- baseline -----------------------------------------------------------------------------
    def set_baseline(self) -> dict[str, Decimal]:
        """Take the exchange balances as the starting point for balance checks. Call when the
        store holds every fill so far (e.g. right after ``recover()``)."""
        balances = self.client.account.balance()
        self.positions.set_baseline(balances, as_of=self._exchange_now())
        return balances

    # -- reconcile ----------------------------------------------------------------------------
    def reconcile(self, full: bool = False) -> ReconciliationReport:
        """Compare with the exchange; ``full`` ignores the mark and re-reads from the baseline."""
        now = self.clock.time()
        fills = self.store.fills()  # before the fetch: a fill recorded meanwhile is not in the digest
        since, mark = self._window(fills, full)
        balances = self.client.account.balance()
        open_orders = self.client.account.open_orders()
        own_from = self._own_from(since, mark)
        trades = self._fetch_trades(since, own_from)
        ours = {o.txid for o in self.store.orders() if o.txid}
        if self.positions.baseline() is None and not self.store.fills() \
                and not any(t.order_txid in ours for t in trades.values()):
            # Nothing traded by the bot yet: today's balances are a sound starting point.
            self.positions.set_baseline(balances, as_of=self._exchange_now())
        # A record of the bot's own trade from ``own_from`` on that the exchange does not have is wrong.
        report = self.positions.reconcile(balances, open_orders, trades, trades_since=own_from,
                                          balance_tolerance=self.balance_tolerance, now=now)
        report = report + self._check_orders(now, mark, open_orders, trades) + self._check_fees()
        if not report.kinds() & _WINDOWED_KINDS:
            self._advance_mark(fills, trades, mark, now)
        return report + ReconciliationReport(counts={"full": int(mark is None)})

    def _check_orders(self, now: float, mark: dict | None = None, open_orders: dict | None = None,
                      trades: dict[str, TradeInfo] | None = None) -> ReconciliationReport:
        """Our orders against QueryOrders: status, executed volume, fee. Without a mark, every
        order updated within ``lookback_s``; with one, only those that can still change (active,
        in flight, open at Kraken, traded in the window) or changed since the last pass."""
        if mark is None:
            mine = [o for o in self.store.orders() if o.txid and o.updated_at >= now - self.lookback_s]
        else:
            txids = set(open_orders or ()) | {t.order_txid for t in (trades or {}).values()}
            since = mark["checked_at"] - OVERLAP_S
            by_cid = {o.cl_ord_id: o for o in self.store.orders(statuses=_CHECKED_STATUSES) if o.txid}
            for txid in txids:
                o = self.store.order_by_txid(txid)
                if o is not None:
                    by_cid[o.cl_ord_id] = o
            by_cid.update({o.cl_ord_id: o for o in self.store.orders() if o.txid and o.updated_at >= since})
            mine = sorted(by_cid.values(), key=lambda o: o.created_at)
        out: list[Discrepancy] = []
        for i in range(0, len(mine), 50):
            chunk = mine[i:i + 50]
            infos, _unknown = query_orders_isolating(self.client.account, [o.txid for o in chunk])
            for o in chunk:
                info = infos.get(o.txid)
                if info is None:
                    out.append(Discrepancy("order_not_on_exchange", o.cl_ord_id, o.status, None, f"txid {o.txid}"))
                    continue
                if names_another_order(o, info):  # the txid is another order's: not comparable
                    out.append(Discrepancy("order_mismatch", f"{o.cl_ord_id}.cl_ord_id", o.cl_ord_id, info.cl_ord_id,
                                           f"txid {o.txid} is another order's at the exchange"))
                    continue
                theirs = EXCHANGE_STATUS_FOR_EVENT[event_for_exchange_status(info.status, info.volume_executed, info.volume)]
                ours = OrderStatus(o.status)
                if ours is not theirs and not (ours is OrderStatus.PENDING_CANCEL and theirs in (
                        OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)):
                    out.append(Discrepancy("order_mismatch", f"{o.cl_ord_id}.status", ours.value, theirs.value))
                for name, a, b in (("volume_executed", o.volume_executed, info.volume_executed),
                                   ("fee", o.fee, info.fee), ("cost", o.cost, info.cost)):
                    if a != b:
                        out.append(Discrepancy("order_mismatch", f"{o.cl_ord_id}.{name}", str(a), str(b)))
                recorded = sum((f.volume for f in self.store.fills(txid=o.txid)), Decimal(0))
                if recorded != info.volume_executed:
                    out.append(Discrepancy("order_fills_incomplete", o.cl_ord_id, str(recorded),
                                           str(info.volume_executed), "sum of recorded fills vs vol_exec"))
        return ReconciliationReport(tuple(out), now, {"orders": len(mine)})

    def _check_fees(self) -> ReconciliationReport:
        if self.pair_rules is None:
            return ReconciliationReport()
        out = []
        for f in self.store.fills():
            try:
                info = self.pair_rules.pair_info(f.pair)
            except Exception:  # noqa: BLE001
                continue
            rates = self.fees.rates(f, info)
            found = None if rates is None else fee_discrepancy(f, info, rates)
            if found is not None:
                out.append(found)
        return ReconciliationReport(tuple(out))

    # -- recovery after a crash ---------------------------------------------------------------
    def recover(self, full: bool = False, adopt_prefix: str | None = None) -> RecoveryReport:
        """Fills are imported from the reconcile mark on (or the baseline: ``full``, or when
        the store's old fills no longer match the mark's digest). Open orders whose client id starts
        with ``adopt_prefix`` (default: this bot's id head) and that the store lacks are adopted."""
        executor = self._executor()
        resolved, unknown, adopted = [], [], []
        for o in self.store.orders(statuses=[OrderStatus.PENDING_SUBMIT.value, OrderStatus.UNKNOWN.value]):
            after = executor.resolve_unknown(o.cl_ord_id, wait=False)
            (unknown if after.status == OrderStatus.UNKNOWN.value else resolved).append(o.cl_ord_id)
        executor.refresh()
        prefix = adopt_prefix or executor.id_head  # this bot's own ids only: another bot keeps its orders
        for txid, info in self.client.account.open_orders().items():
            cid = info.cl_ord_id
            if cid and cid.startswith(prefix) and self.store.get_order(cid) is None \
                    and self.store.order_by_txid(txid) is None:
                now = self.clock.time()
                status = EXCHANGE_STATUS_FOR_EVENT[event_for_exchange_status(info.status, info.volume_executed, info.volume)]
                self.store.upsert_order(OrderRecord(
                    cl_ord_id=cid, txid=txid, pair=self._pair_id(info.pair), side=info.side.value,
                    ordertype=info.ordertype, volume=info.volume, price=info.limit_price or None,
                    status=status.value, created_at=info.opened_at or now, updated_at=now,
                    volume_executed=info.volume_executed, cost=info.cost, fee=info.fee,
                    intent={"adopted": True}, reason="adopted at recovery: open at Kraken, missing locally"))
                self.store.append_audit({"time": now, "actor": "reconciler", "action": "order_adopted",
                                         "outcome": status.value, "detail": {"cl_ord_id": cid, "txid": txid}})
                adopted.append(cid)
        since, mark = self._window(self.store.fills(), full)
        imported = executor.import_trades(self._fetch_trades(since, self._own_from(since, mark)))
        return RecoveryReport(resolved, unknown, adopted, imported)

    def orders_of(self, prefix: str) -> tuple[dict[str, OrderInfo], dict[str, OrderInfo]]:
        """The exchange's orders whose client id starts with ``prefix``: (open now, opened today UTC).

        Opened today is what the daily trade count counts (every order the exchange accepted, sells
        and cancelled ones included). Closed orders are paged from the start of the day (each page
        +2 on the call counter; Kraken's ``start`` also admits orders closed today, filtered here)."""
        day_start = utc_day_bounds(self.clock.time())[0]
        account = self.client.account

        def mine(info: OrderInfo) -> bool:
            return bool(info.cl_ord_id) and info.cl_ord_id.startswith(prefix)

        open_now = {txid: i for txid, i in account.open_orders().items() if mine(i)}
        today = {txid: i for txid, i in open_now.items() if i.opened_at >= day_start}
        offset = 0
        while True:
            page = account.closed_orders(start=int(day_start) - 1, ofs=offset)
            today.update((txid, i) for txid, i in page.items() if mine(i) and i.opened_at >= day_start)
            if len(page) < _CLOSED_PAGE:
                return open_now, today
            offset += len(page)

    def latest_closed_of(self, prefix: str) -> dict[str, OrderInfo]:
        """The exchange's newest page of closed orders (50, any day), those whose client id starts with
        ``prefix``. Start-up on a lost store: any such order means this bot traded before (its fills,
        and so its positions, are gone from the store), not only today's. One page only (+2 on the
        call counter): older activity buried under more than 50 later closed orders is not seen."""
        return {txid: i for txid, i in self.client.account.closed_orders().items()
                if i.cl_ord_id and i.cl_ord_id.startswith(prefix)}

    def _pair_id(self, altname: str) -> str:
        if self.pair_rules is not None:
            try:
                return self.pair_rules.pair_info(altname).name
            except Exception:  # noqa: BLE001
                pass
        return altname
