"""Order placement and cancellation. Nothing here is ever retried by the client.

A write that fails ambiguously (timeout, dropped connection, 5xx) may have reached the
engine; sending it again could double an order. The executor resolves it by
``cl_ord_id`` instead. Every AddOrder carries a ``deadline`` (now + ``order_deadline``
seconds by the client's clock) so a request stuck in a queue cannot execute late.

A cancel that overtook a call which can add exposure (an AddOrder waiting for its answer, see
``_client``'s docstring) is sent again once that call has ended: with a nonce window on the key
the overtaken AddOrder can land after the first cancel.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from krakenbot.client import parsing
from krakenbot.clock import Interrupted
from krakenbot.errors import DeadlineElapsedError, KrakenError, UnknownOrderError
from krakenbot.models import OrderAck, OrderRequest

if TYPE_CHECKING:
    from krakenbot.client._client import KrakenClient, Placement

log = logging.getLogger("krakenbot.client")


@dataclass(frozen=True)
class CancelAllOutcome:
    """One CancelAll, and the second one sent when the first overtook calls that can add exposure."""

    cancelled: int  # by the first CancelAll
    overtaken: tuple[str, ...] = ()  # the calls it overtook (AddOrder, ...): why a second was sent
    again: int | None = None  # by the second CancelAll, sent once they had ended (None: not sent or failed)
    problem: str = ""  # what may be left open: a second CancelAll that failed, a call past its deadline
    error: KrakenError | None = field(default=None, compare=False)  # the second CancelAll's failure

    @property
    def total(self) -> int:
        return self.cancelled + (self.again or 0)




_last_rfc3339: tuple[int, str] = (-1, "")


def rfc3339(unix_seconds: float) -> str:
    """Whole seconds, as in Kraken's own example (``2021-04-01T00:18:45Z``); the last one is memoised
    because back-to-back orders share the second and strftime is a noticeable part of a call."""
    global _last_rfc3339
    second = int(unix_seconds)
    cached = _last_rfc3339
    if cached[0] == second:
        return cached[1]
    text = datetime.fromtimestamp(second, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _last_rfc3339 = (second, text)
    return text


# Kraken refuses a deadline closer than about 2 s ahead (AddOrder reference); below this lead
# the order is not sent at all.
MIN_DEADLINE_LEAD_S = 3.0


class TradingApi:
    def __init__(self, client: KrakenClient) -> None:
        self._client = client

    def _wait_for(self, overtaken: list[Placement]) -> list[str]:
        """Wait for each overtaken call to end (at most until its call's deadline), then, for those that
        ended without Kraken's answer or not at all, until Kraken can no longer take them (their order's
        own deadline). Problems: the calls not ended in time, and a stop that cut the wait short."""
        problems = [f"{p.endpoint} had not ended by its deadline" for p in overtaken if not p.wait()]
        until = max((p.lands_until for p in overtaken if not p.answered), default=None)
        left = until - self._client.exchange_time() if until is not None else 0.0
        if left > 0:
            try:  # the client's clock: a stop request ends the wait (Wakeup), and the cancel goes now
                self._client.clock.sleep(left)
            except Interrupted:
                problems.append(f"a stop cut short the wait for the order's deadline ({left:.0f} s): it may land")
        return problems

    def _deadline(self) -> dict[str, str]:
        seconds = self._client.order_deadline
        # Exchange time: a local clock running ahead must not stretch the window we wait out.
        return {"deadline": rfc3339(self._client.exchange_time() + seconds)} if seconds else {}

    def add_order(self, order: OrderRequest) -> OrderAck:
        """Place (or with ``validate=True`` only check) one order.

        An order that carries its own ``deadline`` is sent with exactly that deadline (rounded
        down to the second: earlier, never later); if too little of it is left for Kraken to
        accept it, nothing is sent and the order is reported as not placed."""
        params: dict[str, Any] = order.as_params()
        if order.deadline is None:
            params.update(self._deadline())
        else:
            left = order.deadline - self._client.exchange_time()
            if left < MIN_DEADLINE_LEAD_S:
                raise DeadlineElapsedError(
                    f"AddOrder: not sent, only {left:.1f} s of its deadline were left",
                    ("EService:Deadline elapsed",), "AddOrder")
            params["deadline"] = rfc3339(order.deadline)
        return parsing.parse_add_order(self._client.private("AddOrder", **params),
                                       order.validate)

    def cancel_order(self, txid: str | None = None, cl_ord_id: str | None = None) -> int:
        """Cancel by txid (or userref) or by client order id; returns how many were cancelled."""
        if (txid is None) == (cl_ord_id is None):
            raise ValueError("give exactly one of txid or cl_ord_id")
        params = {"txid": txid} if txid is not None else {"cl_ord_id": cl_ord_id}
        overtaken: list[Placement] = []
        with self._client.nonces.unsaved_allowed():  # a cancel leaves even when the disk fails
            try:
                count = parsing.parse_count(self._client.cancel("CancelOrder", overtaken, **params), "CancelOrder")
            except UnknownOrderError:
                if not overtaken:
                    raise
                count = None  # not there yet, perhaps: the overtaken AddOrder may be placing it
            if not overtaken:
                return count  # type: ignore[return-value]
            late = self._wait_for(overtaken)  # then re-check: the same cancel again
            try:
                again = parsing.parse_count(self._client.cancel("CancelOrder", [], **params), "CancelOrder")
            except UnknownOrderError:
                if count is None:
                    raise
                again = 0
            except KrakenError as exc:
                if count is None:
                    raise
                log.warning("CancelOrder re-check after %s failed: %s", ", ".join(p.endpoint for p in overtaken), exc)
                again = 0
            if late:
                log.warning("CancelOrder re-sent: %s", "; ".join(late))
            return (count or 0) + again

    def cancel_all(self) -> int:
        """How many orders were cancelled (both CancelAlls, see ``cancel_all_outcome``); raises when
        a second CancelAll was needed and failed (an order may be open)."""
        outcome = self.cancel_all_outcome()
        if outcome.error is not None:
            raise outcome.error
        return outcome.total

    def cancel_all_outcome(self) -> CancelAllOutcome:
        """CancelAll; when it overtook calls that can add exposure, a second CancelAll once they have
        ended (each waited for at most until its own deadline). A failing first one raises; a failing
        second one is the outcome's ``problem``, the first one's count kept."""
        overtaken: list[Placement] = []
        with self._client.nonces.unsaved_allowed():
            cancelled = parsing.parse_count(self._client.cancel("CancelAll", overtaken), "CancelAll")
            if not overtaken:
                return CancelAllOutcome(cancelled)
            names = tuple(p.endpoint for p in overtaken)
            late = self._wait_for(overtaken)
            problem = f"when CancelAll was sent again: {'; '.join(late)}" if late else ""
            try:
                again = parsing.parse_count(self._client.cancel("CancelAll", []), "CancelAll")
            except KrakenError as exc:
                problem = (f"CancelAll overtook {', '.join(names)} and the second CancelAll, sent once it ended, "
                           f"failed ({exc}): an order may be open")
                return CancelAllOutcome(cancelled, names, None, problem, exc)
            return CancelAllOutcome(cancelled, names, again, problem)

    def cancel_all_orders_after(self, timeout: int) -> dict[str, str]:
        """Dead man's switch: cancel everything unless called again within ``timeout`` s; 0 disarms."""
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout < 86_400:
            raise ValueError("timeout must be an integer number of seconds in 0..86399")
        with self._client.nonces.unsaved_allowed():  # it protects (cancels if the bot dies): never waits on the disk
            result = self._client.private("CancelAllOrdersAfter", timeout=timeout)
        ep = "CancelAllOrdersAfter"
        return {
            "currentTime": parsing.text(parsing.field(result, "currentTime", "result", ep), "currentTime", ep),
            "triggerTime": parsing.text(parsing.field(result, "triggerTime", "result", ep), "triggerTime", ep),
        }

    def amend_order(self, txid: str | None = None, cl_ord_id: str | None = None, *,
                    order_qty: Decimal | None = None, limit_price: Decimal | None = None,
                    trigger_price: Decimal | None = None, post_only: bool | None = None) -> str:
        """Amend in place (keeps the txid); returns Kraken's ``amend_id``."""
        if (txid is None) == (cl_ord_id is None):
            raise ValueError("give exactly one of txid or cl_ord_id")
        params: dict[str, Any] = {"txid": txid} if txid is not None else {"cl_ord_id": cl_ord_id}
        for key, value in (("order_qty", order_qty), ("limit_price", limit_price), ("trigger_price", trigger_price)):
            if value is not None:
                params[key] = value  # Decimal; the wire encoder refuses floats
        if len(params) == 1:
            raise ValueError("nothing to amend")
        if post_only is not None:
            params["post_only"] = post_only
        params.update(self._deadline())
        result = self._client.private("AmendOrder", **params)
        return parsing.text(parsing.field(result, "amend_id", "result", "AmendOrder"), "amend_id", "AmendOrder")

    def edit_order(self, txid: str, pair: str, *, volume: Decimal | None = None, price: Decimal | None = None,
                   price2: Decimal | None = None) -> dict[str, Any]:
        """Legacy cancel-and-replace (new txid). Returns the raw result; prefer ``amend_order``."""
        params: dict[str, Any] = {"txid": txid, "pair": pair}
        for key, value in (("volume", volume), ("price", price), ("price2", price2)):
            if value is not None:
                params[key] = value  # Decimal; the wire encoder refuses floats
        params.update(self._deadline())
        return self._client.private("EditOrder", **params)
