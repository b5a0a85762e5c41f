"""Risk gatekeeper: limits, state, one small rule per check, the engine and the kill switch.

``evaluate(intent, price, state, limits, now) -> RiskDecision`` runs every rule in
``core.risk.rules`` and collects all reasons. There is no override parameter anywhere.
"""

from core.risk.engine import RiskDecision, evaluate
from core.risk.killswitch import FlattenPlan, flatten_plan
from core.risk.limits import LastFill, RiskLimits, RiskState
from core.risk.reasons import Denial, ReasonCode

__all__ = [
    "Denial",
    "FlattenPlan",
    "LastFill",
    "ReasonCode",
    "RiskDecision",
    "RiskLimits",
    "RiskState",
    "evaluate",
    "flatten_plan",
]
