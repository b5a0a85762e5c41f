"""The one set of reason codes of the gatekeeper, and the denial a rule returns.

Every rule (``core.risk.market_rules`` for the exchange's rules, ``core.risk.rules`` for the
desk's account rules) returns a :class:`Denial` or ``None`` (nautilus shape). The codes are
stable strings: they are stored on risk decisions and shown on the pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    """Why the gatekeeper (``core.gatekeeper.check``) refused an order change."""

    # the market: session, cut-off, circuit, stops, holdings, a price to judge by
    MARKET_CLOSED = "MARKET_CLOSED"
    PRE_OPEN_MATCHING = "PRE_OPEN_MATCHING"
    PRE_OPEN_ORDER_TYPE = "PRE_OPEN_ORDER_TYPE"
    POST_CLOSE_CNC_ONLY = "POST_CLOSE_CNC_ONLY"
    POST_CLOSE_MARKET_ONLY = "POST_CLOSE_MARKET_ONLY"
    PRE_OPEN_IOC = "PRE_OPEN_IOC"
    MIS_CUTOFF = "MIS_CUTOFF"
    OUTSIDE_CIRCUIT = "OUTSIDE_CIRCUIT"
    TRIGGER_THROUGH_LTP = "TRIGGER_THROUGH_LTP"
    INSUFFICIENT_HOLDINGS = "INSUFFICIENT_HOLDINGS"
    NO_MARKET_PRICE = "NO_MARKET_PRICE"
    # the account: the desk's limits and state
    HALTED = "HALTED"
    SAFE_MODE = "SAFE_MODE"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    MAX_DRAWDOWN = "MAX_DRAWDOWN"
    ORDER_NOTIONAL = "ORDER_NOTIONAL"
    ORDER_QUANTITY = "ORDER_QUANTITY"
    RISK_PER_TRADE = "RISK_PER_TRADE"
    STOP_REQUIRED = "STOP_REQUIRED"
    MAX_OPEN_POSITIONS = "MAX_OPEN_POSITIONS"
    MAX_ORDERS_PER_DAY = "MAX_ORDERS_PER_DAY"
    MAX_ORDERS_PER_SYMBOL = "MAX_ORDERS_PER_SYMBOL"
    COOLDOWN = "COOLDOWN"
    WASH_TRADE = "WASH_TRADE"
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"
    MIS_NOT_ELIGIBLE = "MIS_NOT_ELIGIBLE"


@dataclass(frozen=True, slots=True)
class Denial:
    """A rule's refusal: a machine ``code`` and a message for the trader that names the field
    and the allowed range."""

    code: ReasonCode
    message: str
