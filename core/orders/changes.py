"""Modify and cancel: pure changes to an open order (bad input raises ``ValidationError``).

A modify is built in two steps so the gatekeeper can judge the order *as it would become*
before anything changes: :func:`modified_intent` returns the new intent, the gatekeeper
(``core.gatekeeper.check`` with ``ChangeKind.MODIFY``) decides, and only then
:func:`apply_modify` returns the modified order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from core.errors import ValidationError
from core.models import Instrument
from core.orders.models import Order, OrderIntent, OrderStatus, OrderType, initial_status
from core.orders.validation import validate_intent
from core.timeutil import require_aware, to_ist


def require_open(order: Order, action: str) -> None:
    """Raise ``ValidationError`` unless ``order`` is OPEN or TRIGGER PENDING."""
    if not order.is_open:
        raise ValidationError(
            f"cannot {action} order {order.order_id}: it is {order.status}; only OPEN or "
            "TRIGGER PENDING orders can be changed"
        )


def modified_intent(
    order: Order,
    instrument: Instrument,
    *,
    quantity: int | None = None,
    price: Decimal | None = None,
    trigger_price: Decimal | None = None,
    order_type: OrderType | None = None,
) -> OrderIntent:
    """The intent ``order`` would have after the change (only the fields given change).

    Changing ``order_type`` clears prices the new type does not take (e.g. LIMIT → MARKET
    drops ``price``). The new quantity must exceed what has already filled.

    Raises
    ------
    ValidationError
        The order is not open (COMPLETE, CANCELLED, REJECTED), nothing would change, the new
        quantity is not above ``filled_quantity``, or the new intent is invalid for
        ``instrument`` (lot, tick, prices that do not fit the order type).
    """
    require_open(order, "modify")
    if quantity is None and price is None and trigger_price is None and order_type is None:
        raise ValidationError("modify needs at least one of quantity, price, trigger_price, order_type")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0):
        raise ValidationError(f"quantity must be a positive whole number of shares, was {quantity!r}")
    new_type = order_type or order.intent.order_type
    new_price = price if price is not None else order.intent.price
    new_trigger = trigger_price if trigger_price is not None else order.intent.trigger_price
    if new_type in (OrderType.MARKET, OrderType.SL_M):
        new_price = price
    if new_type in (OrderType.MARKET, OrderType.LIMIT):
        new_trigger = trigger_price
    new_qty = quantity if quantity is not None else order.intent.quantity
    if new_qty <= order.filled_quantity:
        raise ValidationError(
            f"new quantity {new_qty} must exceed the {order.filled_quantity} shares already filled"
        )
    intent = replace(
        order.intent, quantity=new_qty, price=new_price, trigger_price=new_trigger, order_type=new_type
    )
    validate_intent(intent, instrument, on=to_ist(order.placed_at).date())  # the order day's tick regime
    return intent


def apply_modify(order: Order, intent: OrderIntent, *, now: datetime) -> Order:
    """``order`` carrying ``intent`` (from :func:`modified_intent`), updated at ``now``.

    A TRIGGER PENDING order, or one whose type changes, restarts in the new type's initial
    status; an SL order that has already triggered keeps status OPEN. A change of type drops
    the protection price (a new MARKET/SL-M one is set from the LTP on the next tick, Kite's
    market protection; ``core.market_protection``); otherwise it is kept, as Kite keeps the
    protection of a modified MARKET order (kite.trade forum comment 52331).
    """
    require_aware(now, "now")
    status = order.status
    protection = order.protection_price
    if order.status is OrderStatus.TRIGGER_PENDING or intent.order_type != order.intent.order_type:
        status = initial_status(intent.order_type)
    if intent.order_type != order.intent.order_type:
        protection = None
    return replace(order, intent=intent, status=status, updated_at=now, protection_price=protection)


def modify_order(
    order: Order,
    instrument: Instrument,
    *,
    now: datetime,
    quantity: int | None = None,
    price: Decimal | None = None,
    trigger_price: Decimal | None = None,
    order_type: OrderType | None = None,
) -> Order:
    """:func:`modified_intent` then :func:`apply_modify` (no gatekeeper: callers that must
    refuse business rules call ``core.gatekeeper.check`` in between)."""
    require_aware(now, "now")
    intent = modified_intent(
        order, instrument, quantity=quantity, price=price, trigger_price=trigger_price, order_type=order_type
    )
    return apply_modify(order, intent, now=now)


def cancel_order(order: Order, *, now: datetime, message: str = "cancelled by user") -> Order:
    """Return ``order`` CANCELLED. Raises ``ValidationError`` if it is not open."""
    require_open(order, "cancel")
    require_aware(now, "now")
    return replace(order, status=OrderStatus.CANCELLED, updated_at=now, status_message=message)
