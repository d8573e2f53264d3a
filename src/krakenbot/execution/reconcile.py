"""Does the bot's memory agree with Kraken? And, after a crash, make it agree.

``reconcile()`` reads Balance, OpenOrders, TradesHistory and QueryOrders and lists every
difference precisely (kind, key, bot value, exchange value); it changes nothing, so an
operator (or the kill switch) decides what a drift means. ``recover()`` is for start-up:
it settles every order whose outcome the bot never learnt (PENDING_SUBMIT, UNKNOWN) by
``cl_ord_id`` - never by re-sending -, brings active orders up to date, adopts open
orders carrying this bot's id prefix that the store lost, and imports missing fills.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from krakenbot.clock import Clock, SystemClock
from krakenbot.execution.executor import Executor
from krakenbot.execution.fills import fee_discrepancy, fetch_trades
from krakenbot.execution.order_state import EXCHANGE_STATUS_FOR_EVENT, OrderStatus, event_for_exchange_status
from krakenbot.models import PairInfo, TradeInfo
from krakenbot.positions import Discrepancy, PositionManager, ReconciliationReport
from krakenbot.store import OrderRecord, Store

__all__ = ["Reconciler", "RecoveryReport"]


@dataclass(frozen=True)
class RecoveryReport:
    resolved: list[str] = field(default_factory=list)       # cl_ord_ids whose outcome is now known
    still_unknown: list[str] = field(default_factory=list)  # lookups failed or deadline not yet passed
    adopted: list[str] = field(default_factory=list)        # open at Kraken with our prefix, missing locally
    imported_fills: int = 0


class Reconciler:
    def __init__(self, client: Any, store: Store, positions: PositionManager, *,
                 executor: Executor | None = None, clock: Clock | None = None,
                 pair_rules: Callable[[str], PairInfo] | None = None,
                 balance_tolerance: Decimal = Decimal("0.00000001"), lookback_s: float = 86_400.0) -> None:
        self.client = client
        self.store = store
        self.positions = positions
        self.clock = clock or (executor.clock if executor else SystemClock())
        self.pair_rules = pair_rules or (executor.pair_rules if executor else positions.pair_rules)
        self.executor = executor
        self.balance_tolerance = balance_tolerance
        self.lookback_s = lookback_s

    def _executor(self) -> Executor:
        if self.executor is None:
            if self.pair_rules is None:
                raise ValueError("recover() needs an executor or pair_rules")
            self.executor = Executor(self.client, self.store, self.clock, self.pair_rules, wait_for_unknown=False)
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

    def _fetch_trades(self, since: float | None) -> dict[str, TradeInfo]:
        # Kraken's start is exclusive and in whole seconds: one second earlier keeps ``since`` itself.
        return fetch_trades(self.client.account, None if since is None else int(since) - 1)

    # -- baseline -----------------------------------------------------------------------------
    def set_baseline(self) -> dict[str, Decimal]:
        """Take the exchange balances as the starting point for balance checks. Call when the
        store holds every fill so far (e.g. right after ``recover()``)."""
        balances = self.client.account.balance()
        self.positions.set_baseline(balances, as_of=self.clock.time())
        return balances

    # -- reconcile ----------------------------------------------------------------------------
    def reconcile(self) -> ReconciliationReport:
        now = self.clock.time()
        since = self._trades_since()
        balances = self.client.account.balance()
        open_orders = self.client.account.open_orders()
        trades = self._fetch_trades(since)
        ours = {o.txid for o in self.store.orders() if o.txid}
        if self.positions.baseline() is None and not self.store.fills() \
                and not any(t.order_txid in ours for t in trades.values()):
            # Nothing traded by the bot yet: today's balances are a sound starting point.
            self.positions.set_baseline(balances, as_of=now)
        report = self.positions.reconcile(balances, open_orders, trades, trades_since=since,
                                          balance_tolerance=self.balance_tolerance, now=now)
        return report + self._check_orders(now) + self._check_fees()

    def _check_orders(self, now: float) -> ReconciliationReport:
        """Our orders (with a txid, recent) against QueryOrders: status, executed volume, fee."""
        mine = [o for o in self.store.orders() if o.txid and o.updated_at >= now - self.lookback_s]
        out: list[Discrepancy] = []
        for i in range(0, len(mine), 50):
            chunk = mine[i:i + 50]
            infos = self.client.account.query_orders([o.txid for o in chunk])
            for o in chunk:
                info = infos.get(o.txid)
                if info is None:
                    out.append(Discrepancy("order_not_on_exchange", o.cl_ord_id, o.status, None, f"txid {o.txid}"))
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
                info = self.pair_rules(f.pair)
            except Exception:  # noqa: BLE001
                continue
            found = fee_discrepancy(f, info)
            if found is not None:
                out.append(found)
        return ReconciliationReport(tuple(out))

    # -- recovery after a crash ---------------------------------------------------------------
    def recover(self) -> RecoveryReport:
        executor = self._executor()
        resolved, unknown, adopted = [], [], []
        for o in self.store.orders(statuses=[OrderStatus.PENDING_SUBMIT.value, OrderStatus.UNKNOWN.value]):
            after = executor.resolve_unknown(o.cl_ord_id, wait=False)
            (unknown if after.status == OrderStatus.UNKNOWN.value else resolved).append(o.cl_ord_id)
        executor.refresh()
        prefix = executor.id_head  # this bot's own ids only: another bot on the account keeps its orders
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
        imported = executor.import_trades(self._fetch_trades(self._trades_since()))
        return RecoveryReport(resolved, unknown, adopted, imported)

    def _pair_id(self, altname: str) -> str:
        if self.pair_rules is not None:
            try:
                return self.pair_rules(altname).name
            except Exception:  # noqa: BLE001
                pass
        return altname
