"""Risk reason codes and the denial a rule returns (nautilus shape: a reason, or ``None``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    """Why the risk gatekeeper refused an order. Stable strings: stored and shown."""

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
    MARKET_CLOSED = "MARKET_CLOSED"
    MIS_CUTOFF = "MIS_CUTOFF"
    OUTSIDE_CIRCUIT = "OUTSIDE_CIRCUIT"
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"


@dataclass(frozen=True, slots=True)
class Denial:
    """A rule's refusal: a machine ``code`` and a message for the trader."""

    code: ReasonCode
    message: str
