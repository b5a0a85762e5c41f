"""Paper broker: pure order book and fill rules (see ``core.broker.matching`` for the rules)."""

from core.broker.engine import BrokerConfig, BrokerState, cancel, cancel_all, modify, process_tick, submit
from core.broker.events import (
    BrokerEvent,
    Fill,
    NoOp,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderTriggered,
    fill_id_for,
)

__all__ = [
    "BrokerConfig",
    "BrokerEvent",
    "BrokerState",
    "Fill",
    "NoOp",
    "OrderAccepted",
    "OrderCancelled",
    "OrderFilled",
    "OrderModified",
    "OrderRejected",
    "OrderTriggered",
    "cancel",
    "cancel_all",
    "fill_id_for",
    "modify",
    "process_tick",
    "submit",
]
