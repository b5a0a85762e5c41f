"""Market protection for MARKET and SL-M orders: the dated table of Zerodha's bands and the
protection price. Pure; prices ``Decimal`` rupees, percentages ``Decimal`` percent.

Source: Kite Connect API, from 1 Apr 2026 (kite.trade forum discussion 15912 and comment 52940;
Zerodha's market-protection support article; ``../shared/docs/indian-market.md`` §3b). API
MARKET and SL-M orders must carry ``market_protection``: ``-1`` for automatic protection
(Zerodha's equity bands: 2% below ₹100, 1% from ₹100 to ₹500, 0.5% above ₹500), or a
percentage ``0 < p <= 100``. Kite *refuses* an API order without it (or with ``0``) and
converts an accepted one into a LIMIT order at the protection price, LTP ± the band; an
unfilled rest stays open as that LIMIT.

Rounding (the desk's choice, documented): the protection price is the LTP moved against the
trader by the band and then rounded to the tick *back toward the LTP* (BUY down, SELL up), so
a fill is never worse than the band. Before 2026-04-01 there is no protection (the 2016 replay
and older backtests fill MARKET orders as before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.errors import ValidationError
from core.orders.models import MARKET_PROTECTION_AUTO as AUTO
from core.orders.models import check_market_protection
from core.orders.prices import round_to_tick

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class BandRow:
    """One row: LTPs up to ``upper`` ₹ (``inclusive`` or not; ``None`` = no upper bound), above
    the previous row's bound, get ``percent`` protection."""

    upper: Decimal | None
    percent: Decimal
    inclusive: bool = False

    def covers(self, ltp: Decimal) -> bool:
        if self.upper is None:
            return True
        return ltp <= self.upper if self.inclusive else ltp < self.upper


@dataclass(frozen=True, slots=True)
class ProtectionSchedule:
    """The automatic bands in force from ``effective_from`` (IST date), with the ``source``."""

    effective_from: date
    rows: tuple[BandRow, ...]
    source: str

    def percent_for(self, ltp: Decimal) -> Decimal:
        """The band (percent) for an LTP of ``ltp`` ₹ under this schedule."""
        for row in self.rows:
            if row.covers(ltp):
                return row.percent
        raise ValidationError(f"no protection band for LTP {ltp}")  # pragma: no cover - last row is open


#: Zerodha's automatic equity bands for Kite API MARKET/SL-M orders, by date.
#: Boundaries: ₹99.95 → 2%; ₹100 and ₹500 → 1%; ₹500.05 → 0.5% ("₹100–500" is inclusive).
PROTECTION_SCHEDULES: tuple[ProtectionSchedule, ...] = (
    ProtectionSchedule(
        date(2026, 4, 1),
        (BandRow(Decimal(100), Decimal(2)), BandRow(Decimal(500), Decimal(1), inclusive=True),
         BandRow(None, Decimal("0.5"))),
        "Kite Connect market protection from 1 Apr 2026 (kite.trade forum 15912, comment 52940; "
        "Zerodha support: market protection)",
    ),
)


def schedule_on(day: date, schedules: tuple[ProtectionSchedule, ...] = PROTECTION_SCHEDULES) -> ProtectionSchedule | None:
    """The schedule in force on ``day`` (IST), or ``None`` before the first one (no protection)."""
    current = None
    for schedule in sorted(schedules, key=lambda s: s.effective_from):
        if schedule.effective_from <= day:
            current = schedule
    return current


def protection_percent(ltp: Decimal, day: date, market_protection: Decimal | None = None,
                       schedules: tuple[ProtectionSchedule, ...] = PROTECTION_SCHEDULES) -> Decimal | None:
    """The band (percent) for a MARKET/SL-M order at LTP ``ltp`` ₹ on ``day``, or ``None``
    before 2026-04-01. ``market_protection`` ``None`` or ``-1`` uses the automatic table
    (the desk defaults to automatic where Kite's API would refuse the order, so a strategy
    written before the rule still trades, protected); a positive value is used as given."""
    check_market_protection(market_protection)
    schedule = schedule_on(day, schedules)
    if schedule is None:
        return None
    if market_protection is None or market_protection == AUTO:
        return schedule.percent_for(ltp)
    return market_protection


def protection_price(buy: bool, ltp: Decimal, tick_size: Decimal, day: date,
                     market_protection: Decimal | None = None,
                     schedules: tuple[ProtectionSchedule, ...] = PROTECTION_SCHEDULES) -> Decimal | None:
    """The worst price (₹) a MARKET/SL-M order may fill at on ``day``: BUY ``LTP × (1 + p/100)``
    rounded down to ``tick_size``, SELL ``LTP × (1 − p/100)`` rounded up; ``None`` before
    2026-04-01. A SELL band of 100% would reach ₹0: the price is floored at one tick."""
    percent = protection_percent(ltp, day, market_protection, schedules)
    if percent is None:
        return None
    factor = 1 + (percent if buy else -percent) / _HUNDRED
    price = round_to_tick(ltp * factor, tick_size, up=not buy)
    return max(price, tick_size)


__all__ = [
    "AUTO",
    "PROTECTION_SCHEDULES",
    "BandRow",
    "ProtectionSchedule",
    "protection_percent",
    "protection_price",
    "schedule_on",
    "check_market_protection",
]
