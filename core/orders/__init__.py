"""Orders: vocabulary and models (``core.orders.models``), money and tick helpers
(``core.orders.prices``), NSE's dated tick regimes (``core.orders.ticks``), bad-input validation (``core.orders.validation``) and pure
modify/cancel (``core.orders.changes``). Business refusals live in ``core.gatekeeper``.
"""

from core.orders.changes import apply_modify, cancel_order, modified_intent, modify_order, require_open
from core.orders.models import (
    CircuitBand,
    FrozenMap,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Product,
    Side,
    Validity,
    initial_status,
    reduces_position,
)
from core.orders.prices import PAISA, ZERO, is_tick_multiple, price_from_float, round_to_paisa, round_to_tick
from core.orders.ticks import TICK_REGIMES, TickRegime, regime_for, tick_size_for
from core.orders.validation import session_phase, validate_intent

__all__ = [
    "PAISA",
    "TICK_REGIMES",
    "ZERO",
    "CircuitBand",
    "FrozenMap",
    "Order",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "Product",
    "Side",
    "TickRegime",
    "Validity",
    "apply_modify",
    "cancel_order",
    "initial_status",
    "is_tick_multiple",
    "modified_intent",
    "modify_order",
    "price_from_float",
    "reduces_position",
    "regime_for",
    "require_open",
    "round_to_paisa",
    "round_to_tick",
    "session_phase",
    "tick_size_for",
    "validate_intent",
]
