"""Kill switch: what to do when the desk halts — cancel every open order, flatten every position.

While halted, ``core.risk.rules.check_kill_switch`` refuses everything except exits; this
module computes the exits. Pure: the caller places the cancels and orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.orders import Order, OrderIntent, OrderType, Side

if TYPE_CHECKING:  # core.portfolio imports the broker's events, which import the reason codes
    from core.portfolio import Position


@dataclass(frozen=True, slots=True)
class FlattenPlan:
    """Order ids to cancel (open orders, sorted) and MARKET orders that flatten each position."""

    cancel_order_ids: tuple[str, ...]
    orders: tuple[OrderIntent, ...]


def flatten_plan(open_orders: Iterable[Order], positions: Iterable[Position], *, trace_id: str = "") -> FlattenPlan:
    """Cancel every open order and close every non-zero position (MIS and CNC) at MARKET.

    Each closing order keeps the position's product, takes the opposite side and the absolute
    quantity, and is tagged ``KILLSWITCH``. Closed or cancelled orders and flat positions are
    ignored, so a second run after everything is flat returns an empty plan.
    """
    cancels = tuple(sorted(o.order_id for o in open_orders if o.is_open))
    intents = tuple(
        OrderIntent(
            instrument_token=p.instrument_token,
            tradingsymbol=p.tradingsymbol,
            side=Side.SELL if p.quantity > 0 else Side.BUY,
            quantity=abs(p.quantity),
            product=p.product,
            order_type=OrderType.MARKET,
            tag="KILLSWITCH",
            trace_id=trace_id,
        )
        for p in sorted(positions, key=lambda p: (p.instrument_token, p.product))
        if p.quantity
    )
    return FlattenPlan(cancels, intents)
