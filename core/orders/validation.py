"""Bad-input checks of an order against its instrument, and the session phase of a regular day.

Rules (sources in ``../shared/docs/indian-market.md``): quantity is a positive multiple of
``lot_size``; prices are positive multiples of the date's tick (``core.orders.ticks``: NSE's
three dated regimes, each with its circular); indices are not tradable. Breaking one is bad input: :func:`validate_intent` raises ``ValidationError``
with a message that says what to fix. Business refusals (session, circuit, trigger through
the LTP, holdings, risk) are the gatekeeper's (``core.gatekeeper.check``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from core.calendar import regular_session
from core.errors import ValidationError
from core.models import Instrument
from core.orders.models import OrderIntent
from core.orders.prices import is_tick_multiple, round_to_tick
from core.orders.ticks import tick_rule, tick_size_for
from core.sessions import SessionPhase
from core.timeutil import to_ist


def validate_intent(intent: OrderIntent, instrument: Instrument, *, on: date | None = None,
                    reference_price: Decimal | None = None) -> None:
    """Check ``intent`` against ``instrument`` on trading date ``on`` (IST); raise on bad input.

    The tick is ``core.orders.ticks.tick_size_for(instrument, on, reference_price)`` (the date's
    NSE regime); without ``on``, the instrument's listed ``tick_size`` (the current dump).

    Raises
    ------
    ValidationError
        Token mismatch, an index (not tradable), quantity not a multiple of ``lot_size``, or a
        price or trigger off the tick grid (the message names the tick, the regime and its
        source, and the two nearest valid prices).
    """
    if intent.instrument_token != instrument.instrument_token:
        raise ValidationError(
            f"intent is for token {intent.instrument_token} but instrument is "
            f"{instrument.instrument_token} ({instrument.tradingsymbol})"
        )
    if not instrument.tradable:
        raise ValidationError(f"{instrument.tradingsymbol} is an index and cannot be traded; pick a stock")
    if instrument.lot_size <= 0 or intent.quantity % instrument.lot_size:
        raise ValidationError(
            f"quantity {intent.quantity} must be a multiple of lot_size {instrument.lot_size}"
        )
    tick = instrument.tick_size if on is None else tick_size_for(instrument, on, reference_price)
    for name in ("price", "trigger_price"):
        value = getattr(intent, name)
        if value is not None and not is_tick_multiple(value, tick):
            rule = "listed tick_size" if on is None else f"{tick_rule(instrument, on)} on {on.isoformat()}"
            raise ValidationError(
                f"{name} {value} is not a multiple of tick_size {tick} ({rule}); "
                f"use {round_to_tick(value, tick, up=False)} or {round_to_tick(value, tick, up=True)}"
            )


def session_phase(now: datetime) -> SessionPhase:
    """The NSE equity phase at ``now`` on a *regular* trading day (09:15–15:30 IST).

    A convenience for callers without a calendar: it assumes ``now`` is on a trading day. For
    holidays and special sessions use ``core.calendar.NseCalendar.session(day).phase(now)``.
    Raises ``ValidationError`` for a naive time.
    """
    return regular_session(to_ist(now).date()).phase(now)
