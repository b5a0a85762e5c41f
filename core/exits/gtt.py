"""GTT (Good Till Triggered) exits for CNC positions, with Kite's semantics.

Kite Connect's GTT API (kite.trade/docs/connect/v3/gtt): a trigger watches the **LTP** and, when
it is met, places its **LIMIT** order; it then stays ``triggered`` (it never fires twice).

* ``single``: one trigger value and one order. It fires when the LTP reaches the trigger from the
  side it was created on (a stop below the LTP at creation fires at LTP <= trigger; a target above
  it at LTP >= trigger).
* ``two-leg`` (OCO): trigger values ``[lower, upper]`` around the LTP at creation, one order each;
  LTP <= lower fires the lower leg, LTP >= upper the upper leg; only one leg ever fires.
* **Validity one year**: an untriggered GTT expires 365 days after it was created (Kite: "GTTs
  are valid for one year").
* States used here: ``active``, ``triggered``, ``cancelled``, ``expired`` (Kite's names).

Prices ``Decimal`` rupees; times tz-aware. The desk places the triggered order through its one
gatekeeper; bad input raises ``ValidationError`` and creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from core.errors import ValidationError
from core.orders import OrderIntent, OrderType, Product, Side, is_tick_multiple
from core.timeutil import require_aware

#: Kite: a GTT is valid for one year from creation.
GTT_VALIDITY = timedelta(days=365)


class GttType(StrEnum):
    SINGLE = "single"
    OCO = "two-leg"


class GttStatus(StrEnum):
    ACTIVE = "active"
    TRIGGERED = "triggered"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class GttLeg:
    """One trigger: ``trigger`` ₹ on the LTP, then a LIMIT order at ``price`` ₹."""

    trigger: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class Gtt:
    """A GTT of ``quantity`` shares, ``side`` the orders' side; ``legs`` sorted by trigger
    (lower first); ``last_price`` ₹ the LTP at creation; ``triggered_leg`` the index that fired."""

    gtt_id: str
    kind: GttType
    instrument_token: int
    tradingsymbol: str
    side: Side
    quantity: int
    legs: tuple[GttLeg, ...]
    last_price: Decimal
    created_at: datetime
    expires_at: datetime
    status: GttStatus = GttStatus.ACTIVE
    triggered_leg: int | None = None
    trace_id: str = ""

    def order_for(self, leg: int, tag: str) -> OrderIntent:
        """The CNC LIMIT order leg ``leg`` places."""
        return OrderIntent(self.instrument_token, self.tradingsymbol, self.side, self.quantity, Product.CNC,
                           OrderType.LIMIT, price=self.legs[leg].price, tag=tag, trace_id=self.trace_id)


def create_gtt(gtt_id: str, *, instrument_token: int, tradingsymbol: str, side: Side, quantity: int,
               legs: tuple[GttLeg, ...], last_price: Decimal, tick_size: Decimal, created_at: datetime,
               trace_id: str = "") -> Gtt:
    """A new ``active`` GTT, single (one leg) or two-leg (two), expiring a year after ``created_at``.

    Raises ``ValidationError``: no or more than two legs, a quantity not > 0, prices not positive
    or off ``tick_size``, a trigger equal to ``last_price`` (it would fire at once), two legs not
    on both sides of ``last_price``, or a naive ``created_at``.
    """
    require_aware(created_at, "created_at")
    if not isinstance(side, Side):
        raise ValidationError(f"side must be BUY or SELL, was {side!r:.40}")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValidationError(f"a GTT's quantity must be a positive whole number of shares, was {quantity!r:.40}")
    if len(legs) not in (1, 2):
        raise ValidationError(f"a GTT has one trigger (single) or two (two-leg OCO), was {len(legs)}")
    if not isinstance(last_price, Decimal) or last_price <= 0:
        raise ValidationError(f"last_price must be positive Decimal rupees, was {last_price!r:.40}")
    for leg in legs:
        for name in ("trigger", "price"):
            value = getattr(leg, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ValidationError(f"a GTT {name} must be positive Decimal rupees, was {value!r:.40}")
            if not is_tick_multiple(value, tick_size):
                raise ValidationError(f"GTT {name} {value} is not a multiple of the tick size {tick_size}")
        if leg.trigger == last_price:
            raise ValidationError(f"a GTT trigger {leg.trigger} equal to the LTP would fire at once; move it")
    ordered = tuple(sorted(legs, key=lambda g: g.trigger))
    if len(ordered) == 2 and not ordered[0].trigger < last_price < ordered[1].trigger:
        raise ValidationError(f"a two-leg GTT needs its triggers on both sides of the LTP {last_price}: "
                              f"lower {ordered[0].trigger}, upper {ordered[1].trigger}")
    kind = GttType.SINGLE if len(ordered) == 1 else GttType.OCO
    return Gtt(gtt_id, kind, instrument_token, tradingsymbol, side, quantity, ordered, last_price, created_at,
               created_at + GTT_VALIDITY, trace_id=trace_id)


def fired_leg(gtt: Gtt, ltp: Decimal) -> int | None:
    """The index of the leg ``ltp`` (₹) fires, or ``None``."""
    if gtt.kind is GttType.OCO:
        if ltp <= gtt.legs[0].trigger:
            return 0
        if ltp >= gtt.legs[1].trigger:
            return 1
        return None
    trigger = gtt.legs[0].trigger
    below = trigger < gtt.last_price  # created under the price: fires on a fall
    return 0 if (ltp <= trigger if below else ltp >= trigger) else None


def evaluate(gtt: Gtt, ltp: Decimal, now: datetime) -> tuple[Gtt, int | None]:
    """Judge an ``active`` GTT on one LTP at ``now``: ``(gtt, leg)`` with ``leg`` the index that
    fired (the GTT is then ``triggered``), ``None`` otherwise; at/after ``expires_at`` it is
    ``expired`` and fires nothing. Any other status is returned as it is."""
    require_aware(now, "now")
    if gtt.status is not GttStatus.ACTIVE:
        return gtt, None
    if now >= gtt.expires_at:
        return replace(gtt, status=GttStatus.EXPIRED), None
    leg = fired_leg(gtt, ltp)
    if leg is None:
        return gtt, None
    return replace(gtt, status=GttStatus.TRIGGERED, triggered_leg=leg), leg


def cancel_gtt(gtt: Gtt) -> Gtt:
    """Cancel an ``active`` GTT. Raises ``ValidationError`` for one that is over."""
    if gtt.status is not GttStatus.ACTIVE:
        raise ValidationError(f"GTT {gtt.gtt_id} is {gtt.status}; only an active GTT can be cancelled")
    return replace(gtt, status=GttStatus.CANCELLED)


def resize_gtt(gtt: Gtt, quantity: int) -> Gtt:
    """The same GTT for ``quantity`` shares (> 0). Raises ``ValidationError`` when it is not active."""
    if gtt.status is not GttStatus.ACTIVE:
        raise ValidationError(f"GTT {gtt.gtt_id} is {gtt.status}; only an active GTT can be changed")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValidationError(f"a GTT's quantity must be a positive whole number of shares, was {quantity!r:.40}")
    return replace(gtt, quantity=quantity)


__all__ = ["GTT_VALIDITY", "Gtt", "GttLeg", "GttStatus", "GttType", "cancel_gtt", "create_gtt", "evaluate",
           "fired_leg", "resize_gtt"]
