"""Text formatting for the desk's pages: ₹ with Indian digit grouping, percentages, IST times.

Formatting only: nothing here computes P&L, risk or charges.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.timeutil import IST, UTC


def indian_group(digits: str) -> str:
    """Group a string of integer digits the Indian way: ``"1000000"`` → ``"10,00,000"``."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join(groups) + "," + tail


def inr(amount: Decimal | float | int | str | None, *, sign: bool = False, decimals: int = 2) -> str:
    """Rupees with Indian grouping: ``inr(Decimal("1000000"))`` → ``"₹10,00,000.00"``.

    Negative amounts are ``"-₹1,234.50"``; ``sign=True`` also prefixes ``+`` on positives
    (for P&L). ``None``/NaN/unparseable → ``"—"``. Rounds half-up to ``decimals`` places.
    """
    if amount is None:
        return "—"
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return "—"
    if not value.is_finite():
        return "—"
    quantum = Decimal(1).scaleb(-decimals) if decimals > 0 else Decimal(1)
    value = value.quantize(quantum, rounding=ROUND_HALF_UP)
    negative = value < 0
    text = f"{abs(value):.{decimals}f}"
    whole, _, frac = text.partition(".")
    body = "₹" + indian_group(whole) + (f".{frac}" if frac else "")
    if negative:
        return "-" + body
    if sign and value > 0:
        return "+" + body
    return body


def pct(value: Decimal | float | None, decimals: int = 2) -> str:
    """``12.345`` → ``"12.35 %"``; ``None`` → ``"—"``."""
    if value is None:
        return "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if v != v:
        return "—"
    text = f"{v:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")  # no "-0.00 %"
    return f"{text} %"


def ist(when: datetime | None, with_date: bool = True) -> str:
    """``"16 Aug 2016 09:15:03 IST"`` (or ``"—"``). Naive times are taken as UTC."""
    if when is None:
        return "—"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    local = when.astimezone(IST)
    return local.strftime("%d %b %Y %H:%M:%S IST" if with_date else "%H:%M:%S IST")


def countdown(remaining: timedelta) -> str:
    """``timedelta(minutes=4, seconds=5)`` → ``"4:05"``; ``"1:02:03"`` past an hour; ≤ 0 → ``"expired"``."""
    total = int(remaining.total_seconds())
    if total <= 0:
        return "expired"
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def reason_codes_text(codes: Sequence[str]) -> str:
    """``("ORDER_NOTIONAL", "MIS_CUTOFF")`` → ``"[ORDER_NOTIONAL, MIS_CUTOFF]"``."""
    return f"[{', '.join(codes)}]" if codes else ""
