"""The order ticket's widget values as an ``OrderIntent`` (exact ``Decimal`` rupees), its
market-protection preview line, and the order book's protection cell."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from core.errors import ValidationError
from core.market_protection import AUTO, describe_protection, schedule_on
from core.orders import OrderIntent, OrderType, Product, Side, Validity, tick_size_for
from core.timeutil import to_ist

#: The ticket's market-protection choices (Kite: ``-1`` automatic, or a percent 0 < p <= 100).
PROTECTION_MODES = ("Automatic", "Percent")


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
    protection_mode: str = "Automatic",
    protection_percent: float | None = None,
) -> OrderIntent:
    """Build the ticket's ``OrderIntent`` from widget values (0 or ``None`` price = not set).

    Prices the order type does not take are dropped, so a MARKET ticket with a stale price in
    the LIMIT box stays valid. ``protection_mode`` ``"Automatic"`` sends Kite's
    ``market_protection = -1``; ``"Percent"`` sends ``protection_percent`` (0 < p <= 100, to
    0.01 %) — on MARKET and SL-M only (Kite ignores it on LIMIT/SL, so it is dropped there).
    Raises ``ValidationError`` (from ``OrderIntent``) for bad input: zero quantity, a LIMIT
    without a price, an SL trigger on the wrong side, a market protection of 0 or above 100 %
    (naming the rule and its source) …
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
        market_protection=(ticket_protection(protection_mode, protection_percent)
                           if kind in (OrderType.MARKET, OrderType.SL_M) else None),
    )


def ticket_protection(mode: str, percent: float | None) -> Decimal:
    """Kite's ``market_protection`` from the ticket: ``-1`` for ``"Automatic"``, else the percent
    as an exact ``Decimal`` to 0.01 % (0 stays 0, so ``OrderIntent`` refuses it as Kite does).
    Raises ``ValidationError`` for an unknown mode or a missing percent."""
    if mode == "Automatic":
        return AUTO
    if mode != "Percent":
        raise ValidationError(f"market protection must be one of {', '.join(PROTECTION_MODES)}, was {mode!r}")
    if percent is None:
        raise ValidationError("market protection 'Percent' needs a percent 0 < p <= 100 (e.g. 1.5)")
    return Decimal(str(round(float(percent), 2))).normalize() if percent else Decimal(0)


def protection_preview(intent: OrderIntent, instrument: Any, ltp: Decimal | None, now: datetime) -> str | None:
    """The ticket's preview line for a MARKET/SL-M ``intent`` at market time ``now`` (tz-aware)
    and LTP ``ltp`` ₹, e.g. ``"MARKET, protected at ₹1,005.00 (LTP ₹1,000.00 + 0.5 %,
    automatic)"``: the same ``core.market_protection`` rule the paper exchange fills by; a note
    when the date has no protection (before 2026-04-01) or no LTP is cached; ``None`` for
    LIMIT/SL."""
    if not intent.is_market:
        return None
    day = to_ist(now).date()
    if schedule_on(day) is None:
        return f"{intent.order_type}: no market protection on {day} (Kite's rule starts 1 Apr 2026); fills at the market"
    line = describe_protection(intent, ltp, tick_size_for(instrument, day), day)
    if line is None:
        return f"{intent.order_type}: protection price set at placement, from the LTP (no tick cached yet)"
    return line


def protection_text(market_protection: Decimal | None, protection_price: Decimal | None) -> str:
    """The order book's protection cell: ``"₹1,005.00 (auto)"``, ``"₹1,030.00 (3 %)"``, or
    ``""`` when the order is not protected."""
    if protection_price is None:
        return ""
    mode = "auto" if market_protection is None or market_protection == AUTO else f"{market_protection:f} %"
    return f"₹{protection_price:,.2f} ({mode})"


def to_decimal(value: float | None) -> Decimal | None:
    """A widget's float rupees as exact ``Decimal`` rounded to the paisa (0/None → ``None``)."""
    if value is None or value == 0:
        return None
    return Decimal(str(round(float(value), 2)))
