"""The order ticket's widget values as an ``OrderIntent`` (exact ``Decimal`` rupees)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.errors import ValidationError
from core.orders import OrderIntent, OrderType, Product, Side, Validity


def ticket_intent(
    instrument: Any,
    *,
    side: str,
    quantity: int,
    product: str,
    order_type: str,
    price: float | None,
    trigger_price: float | None,
    validity: str,
    stop_loss: float | None,
    target: float | None,
    strategy: str = "manual",
) -> OrderIntent:
    """Build the ticket's ``OrderIntent`` from widget values (0 or ``None`` price = not set).

    Prices the order type does not take are dropped, so a MARKET ticket with a stale price in
    the LIMIT box stays valid. Raises ``ValidationError`` (from ``OrderIntent``) for bad input:
    zero quantity, a LIMIT without a price, an SL trigger on the wrong side …
    """
    kind = OrderType(order_type)
    takes_price = kind in (OrderType.LIMIT, OrderType.SL)
    takes_trigger = kind in (OrderType.SL, OrderType.SL_M)
    if isinstance(quantity, float):
        if quantity != int(quantity):
            raise ValidationError(f"quantity must be a whole number of shares, was {quantity}")
        quantity = int(quantity)
    return OrderIntent(
        instrument_token=instrument.instrument_token,
        tradingsymbol=instrument.tradingsymbol,
        side=Side(side),
        quantity=quantity,
        product=Product(product),
        order_type=kind,
        price=to_decimal(price) if takes_price else None,
        trigger_price=to_decimal(trigger_price) if takes_trigger else None,
        validity=Validity(validity),
        stop_loss=to_decimal(stop_loss),
        target=to_decimal(target),
        strategy=strategy,
    )


def to_decimal(value: float | None) -> Decimal | None:
    """A widget's float rupees as exact ``Decimal`` rounded to the paisa (0/None → ``None``)."""
    if value is None or value == 0:
        return None
    return Decimal(str(round(float(value), 2)))
