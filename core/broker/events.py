"""Fills and the events the paper broker emits. Immutable; money ``Decimal`` rupees.

A fill's ``fill_id`` is ``"{order_id}-{seq}"`` (``seq`` = 1, 2, … per order), so the same fill
replayed (a redelivered message, a re-run of a tick) carries the same id and consumers
(``core.portfolio.apply_fill``) ignore it the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.charges import Charges
from core.orders import Order, OrderIntent, Product, Side
from core.risk.reasons import ReasonCode


def fill_id_for(order_id: str, seq: int) -> str:
    """The idempotency key of the ``seq``-th fill (1-based) of ``order_id``."""
    return f"{order_id}-{seq}"


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution: ``quantity`` shares at ``price`` rupees, with its charges (rupees)."""

    fill_id: str
    order_id: str
    seq: int
    instrument_token: int
    tradingsymbol: str
    side: Side
    product: Product
    quantity: int
    price: Decimal
    charges: Charges
    filled_at: datetime
    trace_id: str = ""
    tag: str = ""

    @property
    def signed_quantity(self) -> int:
        """Shares, positive for BUY, negative for SELL."""
        return self.side.sign * self.quantity

    @property
    def turnover(self) -> Decimal:
        """``quantity * price``, rupees."""
        return self.price * self.quantity


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    order: Order


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """A business refusal: the book is unchanged. For a submit ``order`` has status REJECTED
    for the record; for a refused modify it is the open order, exactly as it was."""

    order: Order
    reasons: tuple[ReasonCode, ...]
    messages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderModified:
    order: Order


@dataclass(frozen=True, slots=True)
class OrderTriggered:
    """An SL/SL-M order's trigger was reached; it is now OPEN."""

    order: Order


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """``order`` is the order after the fill (COMPLETE or still OPEN when partial)."""

    order: Order
    fill: Fill


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    order: Order


@dataclass(frozen=True, slots=True)
class NoOp:
    """Nothing changed, and why (e.g. a duplicate ``order_id``)."""

    message: str
    intent: OrderIntent | None = None


BrokerEvent = OrderAccepted | OrderRejected | OrderModified | OrderTriggered | OrderFilled | OrderCancelled | NoOp
