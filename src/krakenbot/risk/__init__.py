"""Pre-trade risk: limits, pure checks with denial codes, the manager (trading state,
daily counters), sizing and stop-loss / take-profit."""
from krakenbot.risk.checks import Denial, DenialCode, RiskSnapshot, TradingState
from krakenbot.risk.limits import RiskLimits
from krakenbot.risk.manager import RiskDecision, RiskManager
from krakenbot.risk.protective import ProtectiveMonitor, ProtectiveSignal, levels_for
from krakenbot.risk.sizing import SizeResult, size_order, volatility

__all__ = [
    "Denial", "DenialCode", "RiskSnapshot", "TradingState", "RiskLimits", "RiskDecision",
    "RiskManager", "ProtectiveMonitor", "ProtectiveSignal", "levels_for", "SizeResult",
    "size_order", "volatility",
]
