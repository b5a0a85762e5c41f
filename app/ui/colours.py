"""The desk's profit/loss colours: one constant each, used by every table and chart.

Profit is green and loss is red everywhere (Kite's and Console's convention); a zero or missing
value is neutral grey. Charts take the hex strings, markdown the Streamlit colour names.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

#: A profit (a value > 0), as a chart colour.
PROFIT = "#16a34a"
#: A loss (a value < 0), as a chart colour.
LOSS = "#dc2626"
#: Zero or no value.
NEUTRAL = "#9ca3af"
#: The same, as Streamlit markdown colour names (``:green[...]``).
PROFIT_NAME, LOSS_NAME, NEUTRAL_NAME = "green", "red", "gray"


def _sign(value: Any) -> int:
    if value is None:
        return 0
    try:
        x = float(value) if not isinstance(value, Decimal) else value
    except (TypeError, ValueError):
        return 0
    if isinstance(x, float) and math.isnan(x):
        return 0
    return (x > 0) - (x < 0)


def pnl_colour(value: Any) -> str:
    """``PROFIT`` for a value > 0, ``LOSS`` for < 0, ``NEUTRAL`` for 0, ``None``, NaN or text."""
    return {1: PROFIT, -1: LOSS}.get(_sign(value), NEUTRAL)


def pnl_colour_name(value: Any) -> str:
    """As :func:`pnl_colour`, the Streamlit markdown colour name."""
    return {1: PROFIT_NAME, -1: LOSS_NAME}.get(_sign(value), NEUTRAL_NAME)


def pnl_style(value: Any) -> str:
    """A pandas ``Styler`` CSS for a P&L cell: ``"color: <PROFIT|LOSS>"``, ``""`` when neutral."""
    sign = _sign(value)
    return f"color: {PROFIT if sign > 0 else LOSS}" if sign else ""
