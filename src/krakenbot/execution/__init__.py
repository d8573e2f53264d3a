"""Order execution: the lifecycle table, the executor (place/cancel/follow, no blind
re-sends) and the reconciler (compare with Kraken, recover after a crash)."""
from krakenbot.execution.executor import Executor, PlacementResult, UnknownOrderOutstanding
from krakenbot.execution.order_state import (
    TRANSITIONS,
    InvalidTransition,
    OrderEvent,
    OrderStatus,
    apply,
)
from krakenbot.execution.reconcile import Reconciler, RecoveryReport

__all__ = [
    "Executor", "PlacementResult", "UnknownOrderOutstanding", "TRANSITIONS", "InvalidTransition", "OrderEvent",
    "OrderStatus", "apply", "Reconciler", "RecoveryReport",
]
