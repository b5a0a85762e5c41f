"""Risk: limits and state, the account rules, the market's rules, reason codes and the kill
switch. The gatekeeper that runs the rules is ``core.gatekeeper.check``; there is no override
parameter anywhere.
"""

from core.risk.killswitch import FlattenPlan, flatten_plan
from core.risk.limits import LastFill, RiskLimits, RiskState
from core.risk.reasons import Denial, ReasonCode

__all__ = [
    "Denial",
    "FlattenPlan",
    "LastFill",
    "ReasonCode",
    "RiskLimits",
    "RiskState",
    "flatten_plan",
]
