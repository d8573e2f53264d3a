"""The endpoint guard the client calls before any request leaves the process.

Why a separate object from the wrapper: the client must be built with its guard
(``KrakenClient(..., guard=guard)``) and the wrapper needs the client, so the guard
comes first and the wrapper switches its mode. Every call, allowed or refused, is
audited here, so even code that holds the client directly cannot reach Kraken unseen.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

from krakenbot.client import endpoints
from krakenbot.errors import EndpointNotAllowed
from krakenbot.safety.allowlist import check, normalise
from krakenbot.safety.audit import AuditLog
from krakenbot.safety.modes import CurrentMode, TradingMode

ORDER_PLACING = endpoints.names(effect=endpoints.Effect.PLACE)  # AddOrder, AmendOrder, ...


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


class EndpointGuard:
    """``guard(endpoint, params=None, local=False)``: raises ``EndpointNotAllowed`` or lets the call go.
    ``local``: the client answers it from the mode's local venue (a dry run), not the exchange."""

    def __init__(self, audit: AuditLog, mode: TradingMode | CurrentMode = TradingMode.READ_ONLY,
                 order_blocker: Callable[[], str | None] | None = None) -> None:
        self.audit = audit
        self.current = mode if isinstance(mode, CurrentMode) else CurrentMode(mode)
        # Set by the wrapper: a reason (kill switch) that stops any order-placing call.
        self.order_blocker = order_blocker
        self._local = threading.local()

    @property
    def mode(self) -> TradingMode:
        return self.current.mode

    @mode.setter
    def mode(self, mode: TradingMode) -> None:
        self.current.mode = mode

    @contextmanager
    def validate_only(self) -> Iterator[None]:
        """The wrapper declares that the AddOrder about to leave carries validate=true.

        Why: the client calls ``guard(endpoint)`` without the parameters, so in paper mode
        the guard admits AddOrder only inside this block, which the wrapper opens only
        around a request it built with ``validate=True``.
        """
        previous = getattr(self._local, "validate_only", False)
        self._local.validate_only = True
        try:
            yield
        finally:
            self._local.validate_only = previous

    def verdict(self, endpoint: str, params: Mapping[str, Any] | None = None,
                local: bool = False) -> tuple[bool, str]:
        name = normalise(endpoint)
        verdict = check(self.mode, name, local)
        if not verdict.allowed:
            return False, verdict.reason
        if name in ORDER_PLACING:
            if params is not None:  # a caller that shows the parameters is judged by them
                declared = _truthy(params.get("validate"))
            else:
                declared = getattr(self._local, "validate_only", False)
            if self.mode is TradingMode.PAPER and not declared:
                # Paper: only validate-only orders the wrapper built itself.
                return False, f"{name} without validate=true is not allowed in paper mode"
            blocked = self.order_blocker() if self.order_blocker else None
            if blocked:
                return False, f"{name} refused: {blocked}"
        return True, ""

    def __call__(self, endpoint: str, params: Mapping[str, Any] | None = None, local: bool = False) -> None:
        name = normalise(endpoint)
        allowed, reason = self.verdict(name, params, local)
        outcome = ("local" if local else "sent") if allowed else "refused"
        self.audit.record("endpoint", endpoint=name, allowed=allowed, outcome=outcome, reason=reason, params=params)
        if not allowed:
            raise EndpointNotAllowed(reason, (), name)
