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
from core.orders.models import CircuitBand, OrderIntent, OrderType, Side, check_market_protection
from core.orders.prices import round_to_tick
from core.risk.reasons import Denial, ReasonCode

#: Where the rule comes from (named in refusals and in the ticket's preview).
MARKET_PROTECTION_SOURCE = ("Kite Connect market protection from 1 Apr 2026 (kite.trade forum 15912, "
                            "comments 52940 and 52970; Zerodha support: market protection)")

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


def protection_base(intent: OrderIntent, ltp: Decimal | None) -> Decimal | None:
    """The price ₹ the band is applied to: the LTP for MARKET, the trigger for SL-M (Kite
    converts an SL-M when it triggers, at about the trigger price); ``None`` otherwise."""
    if intent.order_type is OrderType.SL_M:
        return intent.trigger_price
    if intent.order_type is OrderType.MARKET:
        return ltp
    return None


def intent_protection(intent: OrderIntent, ltp: Decimal | None, tick_size: Decimal,
                      day: date) -> Decimal | None:
    """The protection price ₹ ``intent`` would get at LTP ``ltp`` on ``day``: MARKET around the
    LTP, SL-M around its trigger (:func:`protection_base`); ``None`` for LIMIT/SL, before
    2026-04-01 or without a price to start from."""
    base = protection_base(intent, ltp)
    if base is None:
        return None
    return protection_price(intent.side is Side.BUY, base, tick_size, day, intent.market_protection)


def describe_protection(intent: OrderIntent, ltp: Decimal | None, tick_size: Decimal, day: date) -> str | None:
    """A line for the ticket's preview and confirmation, e.g. ``"MARKET, protected at ₹1,005.00
    (LTP ₹1,000.00 + 0.5 %, automatic)"``; ``None`` when ``intent`` is not protected on ``day``."""
    base = protection_base(intent, ltp)
    price = intent_protection(intent, ltp, tick_size, day)
    if base is None or price is None:
        return None
    percent = protection_percent(base, day, intent.market_protection)
    mode = ("automatic" if intent.market_protection is None or intent.market_protection == AUTO
            else "market_protection")
    sign = "+" if intent.side is Side.BUY else "−"
    of = "LTP" if intent.order_type is OrderType.MARKET else "trigger"
    return (f"{intent.order_type}, protected at ₹{price:,.2f} ({of} ₹{base:,.2f} {sign} "
            f"{percent.normalize():f} %, {mode})")


def clamp_auto_protection(intent: OrderIntent, protection: Decimal | None,
                          band: CircuitBand | None) -> Decimal | None:
    """Automatic protection never reaches past the day's price band: a BUY's protection price
    is at most the upper circuit, a SELL's at least the lower one (the converted LIMIT must be
    inside the band, and a LIMIT at the circuit is the furthest NSE accepts). Without this an
    automatic MARKET exit of a stock at the edge of its band — an MIS square-off on a stock
    rallying into its upper circuit — would be refused. An explicit ``market_protection`` is
    the trader's own price and is not moved (:func:`check_protection_in_band` judges it)."""
    if protection is None or band is None or intent.market_protection not in (None, AUTO):
        return protection
    if intent.side is Side.BUY:
        return min(protection, band.upper)
    return max(protection, band.lower)


def check_protection_in_band(intent: OrderIntent, protection: Decimal | None,
                             band: CircuitBand | None) -> Denial | None:
    """Refuse a MARKET/SL-M order whose protection price lies outside the day's price band.

    Rule: Kite sends a protected MARKET/SL-M order as a LIMIT at the protection price
    (:data:`MARKET_PROTECTION_SOURCE`; "its execution remains subject to the exchange-defined
    limit price protection", kite.trade comment 52940) and NSE rejects a limit price outside
    the price band (``core.risk.market_rules.check_circuit``). So a protection that reaches
    past the circuit (a large ``market_protection``, or an LTP at the band's edge) is refused:
    lower ``market_protection`` or place a LIMIT inside the band. Code ``OUTSIDE_CIRCUIT`` (the
    converted limit is outside the circuit band); ``None`` when inside, not protected or the
    band is unknown."""
    if protection is None or band is None or band.contains(protection):
        return None
    percent = "automatic" if intent.market_protection in (None, AUTO) else f"{intent.market_protection} %"
    edge = f"upper circuit ₹{band.upper:,.2f}" if protection > band.upper else f"lower circuit ₹{band.lower:,.2f}"
    return Denial(ReasonCode.OUTSIDE_CIRCUIT,
                  f"{intent.order_type} {intent.side} protected at ₹{protection:,.2f} (market_protection {percent}) "
                  f"is beyond the {edge}; allowed protection prices {band.lower}–{band.upper}. Rule: a protected "
                  f"MARKET/SL-M order is a LIMIT at the protection price and NSE rejects limits outside the "
                  f"price band ({MARKET_PROTECTION_SOURCE}; NSE price bands). Lower market_protection or "
                  f"place a LIMIT inside the band")


__all__ = [
    "AUTO",
    "MARKET_PROTECTION_SOURCE",
    "check_protection_in_band",
    "clamp_auto_protection",
    "describe_protection",
    "intent_protection",
    "protection_base",
    "PROTECTION_SCHEDULES",
    "BandRow",
    "ProtectionSchedule",
    "protection_percent",
    "protection_price",
    "schedule_on",
    "check_market_protection",
]
