"""Positions, cost basis and PnL, derived from the fills in the store.

Why derive instead of keeping running totals: fills are the one fact both the bot
and Kraken record (by trade id), so replaying them gives a position that can be
checked against the exchange and that a crash cannot half-update.

Accounting (spot, average cost): a buy adds ``cost + fee`` to the cost basis, so the
average entry includes the entry fee; a sell realises ``(cost - fee) - average_entry
* volume``. Selling more than the bot bought (coins held before the bot started)
realises nothing for the uncovered part; it is counted in ``uncovered_sell_volume``.
Fees are taken in the quote currency (Kraken's default for our orders, no ``fcib``).
"""
from __future__ import annotations

import json
import threading
from bisect import bisect_left
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from krakenbot.models import OrderInfo, PairInfo, TradeInfo
from krakenbot.store import FillRecord, Store

if TYPE_CHECKING:
    from krakenbot.market_data import PairRules

__all__ = ["Position", "PositionManager", "Discrepancy", "ReconciliationReport", "split_pair"]

ZERO = Decimal(0)


def split_pair(pair: str) -> tuple[str, str]:
    """Fallback base/quote split of a Kraken pair id when no PairInfo is at hand
    (``XXBTZEUR`` -> ``XXBT``, ``ZEUR``; ``SOLEUR`` -> ``SOL``, ``EUR``)."""
    if len(pair) == 8:
        return pair[:4], pair[4:]
    return pair[:-3], pair[-3:]


@dataclass
class Position:
    pair: str
    base: str
    quote: str
    volume: Decimal = ZERO            # base the bot holds from its own fills
    cost_basis: Decimal = ZERO        # quote paid for ``volume`` incl. entry fees
    realised_pnl: Decimal = ZERO      # net of all fees
    fees_paid: Decimal = ZERO
    uncovered_sell_volume: Decimal = ZERO

    @property
    def average_entry(self) -> Decimal | None:
        return self.cost_basis / self.volume if self.volume > 0 else None


@dataclass(frozen=True)
class Discrepancy:
    kind: str               # fill_missing, fill_not_on_exchange, fill_mismatch, foreign_fill,
                            # order_unknown_to_bot, order_not_on_exchange, order_mismatch, balance_mismatch, fee_mismatch
    key: str                # trade id, cl_ord_id/txid or asset
    bot_value: str | None
    exchange_value: str | None
    detail: str = ""


@dataclass(frozen=True)
class ReconciliationReport:
    discrepancies: tuple[Discrepancy, ...] = ()
    checked_at: float = 0.0
    counts: Mapping[str, int] = field(default_factory=dict)  # what was compared

    @property
    def clean(self) -> bool:
        return not self.discrepancies

    def kinds(self) -> set[str]:
        return {d.kind for d in self.discrepancies}

    def __add__(self, other: "ReconciliationReport") -> "ReconciliationReport":
        counts = dict(self.counts)
        for k, v in other.counts.items():
            counts[k] = counts.get(k, 0) + v
        return ReconciliationReport(self.discrepancies + other.discrepancies,
                                    max(self.checked_at, other.checked_at), counts)


class PositionManager:
    """Positions and balances as the bot believes them, from its own fills."""

    BASELINE_KEY = "positions.baseline"

    def __init__(self, store: Store, pair_rules: PairRules | None = None) -> None:
        self.store = store
        self.pair_rules = pair_rules
        # Incremental replay: fills arrive in time order almost always, so the replay is kept
        # and extended with the fills after the last seen ``seq`` (the risk check reads it on
        # every order; a full replay grew linearly with the history). A fill older than the
        # last replayed one changes the order, so it forces a full replay.
        self._lock = threading.Lock()
        self._cache_positions: dict[str, Position] = {}
        self._cache_seq = 0
        self._cache_last: tuple[float, int] = (float("-inf"), 0)  # (time, seq) of the last replayed fill
        self._cache_times: list[float] = []      # per replayed fill, in replay order
        self._cache_realised: list[Decimal] = []  # realised PnL per replayed fill
        # The last all-pairs window asked for, (lo, hi, sum): the risk check asks for today's window
        # before every order, and it only grows at its end, so the sum is extended, not redone. Added
        # in the same order as a fresh sum, so the Decimal result is the same to the last digit.
        self._window: tuple[int, int, Decimal] | None = None
        self._baseline_seen = False  # a recorded baseline is never removed: once seen, not read again

    def _assets(self, pair: str) -> tuple[str, str]:
        if self.pair_rules is not None:
            try:
                info = self.pair_rules.pair_info(pair)
                return info.base, info.quote
            except Exception:  # noqa: BLE001 - unknown pair: fall back to the id's shape
                pass
        return split_pair(pair)

    # -- positions ---------------------------------------------------------------------------
    def _apply_fill(self, positions: dict[str, Position], f: FillRecord) -> Decimal:
        """Apply one fill to ``positions`` (average cost); return the PnL it realised."""
        pos = positions.get(f.pair)
        if pos is None:
            base, quote = self._assets(f.pair)
            pos = positions[f.pair] = Position(f.pair, base, quote)
        pos.fees_paid += f.fee
        realised = ZERO
        if f.side == "buy":
            pos.volume += f.volume
            pos.cost_basis += f.cost + f.fee
        else:
            covered = min(f.volume, pos.volume)
            if covered > 0:
                avg = pos.cost_basis / pos.volume
                basis_out = avg * covered if covered < pos.volume else pos.cost_basis
                proceeds = (f.cost - f.fee) * covered / f.volume
                realised = proceeds - basis_out
                pos.cost_basis -= basis_out
                pos.volume -= covered
            pos.uncovered_sell_volume += f.volume - covered
            pos.realised_pnl += realised
        return realised

    def _caught_up(self) -> None:
        """Extend the cached replay with the store's new fills (caller holds ``_lock``)."""
        new = self.store.fills(after_seq=self._cache_seq)
        if not new:
            return
        if (new[0].time, new[0].seq or 0) < self._cache_last:
            # A fill older than one already replayed: the order changed, replay everything.
            self._cache_positions, self._cache_times, self._cache_realised = {}, [], []
            self._window = None
            new = self.store.fills()
        for f in new:
            realised = self._apply_fill(self._cache_positions, f)
            self._cache_times.append(f.time)
            self._cache_realised.append(realised)
            self._cache_seq = max(self._cache_seq, f.seq or 0)
            self._cache_last = (f.time, f.seq or 0)

    def positions(self) -> dict[str, Position]:
        with self._lock:
            self._caught_up()
            return {pair: replace(pos) for pair, pos in self._cache_positions.items()}

    def position(self, pair: str) -> Position:
        with self._lock:
            self._caught_up()
            found = self._cache_positions.get(pair)
            if found is not None:
                return replace(found)  # a copy of the one asked for (the risk check's, every order)
        base, quote = self._assets(pair)
        return Position(pair, base, quote)

    def realised_pnl(self, since: float | None = None, until: float | None = None) -> Decimal:
        """Realised PnL (net of fees), all pairs, of sells whose fill time is in ``[since, until)``: the risk
        check's question before every order, so no walk over the day's fills."""
        with self._lock:
            self._caught_up()
            lo = 0 if since is None else bisect_left(self._cache_times, since)
            hi = len(self._cache_times) if until is None else bisect_left(self._cache_times, until)
            total, start = ZERO, lo
            if self._window is not None and self._window[0] == lo and self._window[1] <= hi:
                start, total = self._window[1], self._window[2]
            for realised in self._cache_realised[start:hi]:
                total += realised
            self._window = (lo, hi, total)
            return total

    def realisations(self) -> list[tuple[FillRecord, Decimal]]:
        """Every fill with the PnL it realised (net of fees; zero for a buy), in replay order: the
        history's per-day and per-trade figures, from the same replay as ``realised_pnl``."""
        positions: dict[str, Position] = {}
        return [(f, self._apply_fill(positions, f)) for f in self.store.fills()]

    # -- balances ---------------------------------------------------------------------------------
    def set_baseline(self, balances: Mapping[str, Decimal], as_of: float = 0.0) -> None:
        """Remember the exchange balances at a moment when every earlier fill is in the store;
        the bot's expected balances are this plus every fill recorded afterwards."""
        self.store.set_meta(self.BASELINE_KEY, json.dumps({
            "balances": {k: str(v) for k, v in balances.items()},
            "fill_seq": self.store.last_fill_seq(),
            "as_of": as_of,
        }))

    def has_baseline(self) -> bool:
        """Asked before every real order; once yes, always yes (no baseline is ever removed)."""
        if not self._baseline_seen:
            self._baseline_seen = self.store.get_meta(self.BASELINE_KEY) is not None
        return self._baseline_seen

    def baseline(self) -> tuple[dict[str, Decimal], int] | None:
        raw = self.store.get_meta(self.BASELINE_KEY)
        if raw is None:
            return None
        data = json.loads(raw)
        return {k: Decimal(v) for k, v in data["balances"].items()}, int(data["fill_seq"])

    def balances(self) -> dict[str, Decimal] | None:
        """Expected total balances (None until a baseline is set)."""
        base = self.baseline()
        if base is None:
            return None
        balances, seq = dict(base[0]), base[1]
        for f in self.store.fills(after_seq=seq):
            b, q = self._assets(f.pair)
            sign = 1 if f.side == "buy" else -1
            balances[b] = balances.get(b, ZERO) + sign * f.volume
            balances[q] = balances.get(q, ZERO) - sign * f.cost - f.fee
        return balances

    # -- reconciliation ----------------------------------------------------------------------------
    def reconcile(
        self,
        exchange_balances: Mapping[str, Decimal] | None,
        exchange_open_orders: Mapping[str, OrderInfo],
        exchange_trades: Mapping[str, TradeInfo],
        *,
        trades_since: float | None = None,
        balance_tolerance: Decimal = Decimal("0.00000001"),
        now: float = 0.0,
    ) -> ReconciliationReport:
        """Compare the bot's fills, open orders and balances with the exchange's.

        ``exchange_trades`` must cover every trade since ``trades_since`` (None = all
        time); bot fills older than that are not expected in it.
        """
        out: list[Discrepancy] = []
        fills = {f.trade_id: f for f in self.store.fills()}
        known_txids = {o.txid for o in self.store.orders() if o.txid}

        for trade_id, t in exchange_trades.items():
            mine = fills.get(trade_id)
            if mine is None:
                kind = "fill_missing" if t.order_txid in known_txids else "foreign_fill"
                out.append(Discrepancy(kind, trade_id, None, f"{t.side.value} {t.volume} @ {t.price} fee {t.fee}",
                                       f"order {t.order_txid}"))
                continue
            for name, ours, theirs in (("price", mine.price, t.price), ("volume", mine.volume, t.volume),
                                       ("cost", mine.cost, t.cost), ("fee", mine.fee, t.fee),
                                       ("side", mine.side, t.side.value), ("txid", mine.txid, t.order_txid)):
                if ours != theirs:
                    out.append(Discrepancy("fill_mismatch", f"{trade_id}.{name}", str(ours), str(theirs)))
        for trade_id, f in fills.items():
            if trade_id not in exchange_trades and (trades_since is None or f.time >= trades_since):
                out.append(Discrepancy("fill_not_on_exchange", trade_id, f"{f.side} {f.volume} @ {f.price}", None))

        active = {"OPEN", "PARTIALLY_FILLED", "PENDING_CANCEL"}
        by_txid = {o.txid: o for o in self.store.orders() if o.txid}
        for txid, info in exchange_open_orders.items():
            mine = by_txid.get(txid)
            if mine is None:
                out.append(Discrepancy("order_unknown_to_bot", txid, None,
                                       f"{info.status} {info.side.value} {info.volume} {info.pair}",
                                       f"cl_ord_id {info.cl_ord_id}"))
                continue
            if mine.status not in active:
                out.append(Discrepancy("order_mismatch", f"{mine.cl_ord_id}.status", mine.status, info.status))
            if mine.volume_executed != info.volume_executed:
                out.append(Discrepancy("order_mismatch", f"{mine.cl_ord_id}.volume_executed",
                                       str(mine.volume_executed), str(info.volume_executed)))
        for o in self.store.orders(statuses=active):
            if o.txid is None or o.txid not in exchange_open_orders:
                out.append(Discrepancy("order_not_on_exchange", o.cl_ord_id, o.status, None, f"txid {o.txid}"))

        expected = self.balances()
        compared_assets = 0
        if expected is not None and exchange_balances is not None:
            for asset in sorted(set(expected) | set(exchange_balances)):
                ours = expected.get(asset, ZERO)
                theirs = Decimal(exchange_balances.get(asset, ZERO))
                compared_assets += 1
                if abs(ours - theirs) > balance_tolerance:
                    out.append(Discrepancy("balance_mismatch", asset, str(ours), str(theirs),
                                           f"difference {theirs - ours}"))
        counts = {"trades": len(exchange_trades), "fills": len(fills), "open_orders": len(exchange_open_orders),
                  "assets": compared_assets}
        return ReconciliationReport(tuple(out), now, counts)
