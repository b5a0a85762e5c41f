"""Money and price helpers for orders: exact ``Decimal`` rupees, the paisa and the tick.

Money is ``Decimal`` rupees quantized to the paisa; no float arithmetic on prices.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from core.errors import ValidationError

PAISA = Decimal("0.01")
ZERO = Decimal("0.00")


def round_to_paisa(amount: Decimal) -> Decimal:
    """Round ``amount`` (rupees) half-up to the paisa; returns rupees. The one rounding rule for money."""
    return amount.quantize(PAISA, ROUND_HALF_UP)  # positional: the keyword costs ~2x in _decimal


def price_from_float(value: float) -> Decimal:
    """Convert a float rupee price from a tick to exact ``Decimal`` rupees via whole paise.

    ``round(value * 100)`` paise, then ``/ 100``; e.g. ``1234.549999`` → ``Decimal("1234.55")``.
    Raises ``ValidationError`` for NaN or infinity.
    """
    if value != value or value == _INF or value == -_INF:
        raise ValidationError(f"price must be a finite number of rupees, was {value!r}")
    return Decimal(round(value * 100)).scaleb(-2)  # whole paise → rupees with two places, exactly


_INF = float("inf")


def round_to_tick(price: Decimal, tick_size: Decimal, *, up: bool) -> Decimal:
    """Round ``price`` to a multiple of ``tick_size`` (both rupees): up (ceiling) or down (floor)."""
    if tick_size <= 0:
        raise ValidationError(f"tick_size must be positive rupees, was {tick_size}")
    steps = (price / tick_size).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return round_to_paisa(steps * tick_size)


def is_tick_multiple(price: Decimal, tick_size: Decimal) -> bool:
    """True when ``price`` is an exact multiple of ``tick_size`` (Decimal arithmetic)."""
    return tick_size > 0 and price % tick_size == 0
