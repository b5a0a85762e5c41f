"""NSE price bands for cash equities, as dated rules: the fixed band of a non-F&O security and
the dynamic price range (operating range) of an F&O security. Pure: the day, prices and the
band list arrive as arguments.

Two kinds of band (``../shared/docs/indian-market.md`` "Stock price bands"):

* **Fixed band** (non-F&O securities): 2 %, 5 %, 10 % or 20 % of the previous close, per
  security, revised by NSE's surveillance circulars (NSE "Price Bands" list, nseindia.com
  → Market Data → Price Band Hitters / "Securities price band changes" circulars). The list
  is dated (:class:`FixedBand` rows); the row in force on the day wins.
* **Dynamic price range** (F&O securities, no fixed band): the initial range is 10 % of the
  base price (previous close); when trades reach 9.90 % of the base price the range is
  flexed by 5 % in the trend's direction (15 %, then 20 %, ...). Sources: NSE circular on
  the dummy filter / operating range for no-price-band securities (reported by Business
  Standard, 2019-02-08: "relaxed by 5 per cent in case of a market trend"), Zerodha
  tradingqna "Are there daily dynamic price bands for Futures and Options?" (t/18973), and
  from 2024-11-18 NSE circular NSE/FAOP/64995 (08-Nov-2024, after SEBI circular
  SEBI/HO/MRD/TPD-1/P/CIR/2024/58): a flex *slides* the band, the opposite limit moves by
  the same 5 % (base ₹100: ₹90–110 flexed up becomes ₹95–115).

What is not modelled: the 15-minute cooling-off period and the trade-count conditions
before a flex (50 trades, 10 UCCs, 3 members; NSE/FAOP/62241). The range is flexed from the
day's recorded high and low, so a price the market actually traded at is never outside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.errors import ValidationError
from core.orders import CircuitBand, round_to_tick

#: NSE's fixed price bands for non-F&O securities, percent of the previous close.
FIXED_BAND_PCTS = (2, 5, 10, 20)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class DynamicRangeRule:
    """The F&O dynamic price range in force from ``effective_from`` (inclusive).

    ``initial_pct`` of the base price each side; a flex of ``step_pct`` when a trade reaches
    ``initial - trigger_gap_pct`` (9.90 % for 10 %); ``sliding``: the opposite limit moves
    with a flex (NSE/FAOP/64995) instead of staying put.
    """

    effective_from: date
    initial_pct: Decimal
    step_pct: Decimal
    trigger_gap_pct: Decimal
    sliding: bool
    source: str


#: Dated rows, oldest first. Each names its source.
DYNAMIC_RANGE_RULES: tuple[DynamicRangeRule, ...] = (
    DynamicRangeRule(date(2000, 1, 1), Decimal(10), Decimal(5), Decimal("0.10"), False,
                     "NSE operating range for F&O securities (dummy filter 10 %, flexed 5 % in the trend's "
                     "direction); Zerodha tradingqna t/18973"),
    DynamicRangeRule(date(2024, 11, 18), Decimal(10), Decimal(5), Decimal("0.10"), True,
                     "NSE circular NSE/FAOP/64995 (sliding price band, from 2024-11-18)"),
)


@dataclass(frozen=True, slots=True)
class FixedBand:
    """A non-F&O security's fixed band (``band_pct`` of the previous close) from ``effective_from``."""

    symbol: str
    band_pct: int
    effective_from: date
    source: str

    def __post_init__(self) -> None:
        if self.band_pct not in FIXED_BAND_PCTS:
            raise ValidationError(f"band_pct of {self.symbol} must be one of {FIXED_BAND_PCTS} % (NSE price bands), "
                                  f"was {self.band_pct}")


def dynamic_rule_for(day: date, rules: Iterable[DynamicRangeRule] = DYNAMIC_RANGE_RULES) -> DynamicRangeRule:
    """The dynamic-range rule in force on ``day``; ``ValidationError`` before the first row."""
    found = None
    for r in rules:  # the latest in force; the first of equal dates
        if r.effective_from <= day and (found is None or r.effective_from > found.effective_from):
            found = r
    if found is None:
        raise ValidationError(f"no dynamic price range rule in force on {day}")
    return found


def fixed_band_for(symbol: str, day: date, bands: Iterable[FixedBand]) -> FixedBand | None:
    """The latest row of ``symbol`` effective on or before ``day``, or None."""
    rows = [b for b in bands if b.symbol == symbol and b.effective_from <= day]
    return max(rows, key=lambda b: b.effective_from) if rows else None


def _band(base: Decimal, low_pct: Decimal, high_pct: Decimal, tick: Decimal) -> CircuitBand:
    lower = round_to_tick(base * (1 + low_pct / _HUNDRED), tick, up=True)
    upper = round_to_tick(base * (1 + high_pct / _HUNDRED), tick, up=False)
    return CircuitBand(max(lower, tick), upper)


def fixed_band(base: Decimal, band_pct: int, tick: Decimal) -> CircuitBand:
    """Previous close ``base`` ₹ ± ``band_pct`` %, lower rounded up and upper down to ``tick``."""
    _check(base, tick)
    pct = Decimal(band_pct)
    return _band(base, -pct, pct, tick)


def dynamic_range(base: Decimal, day_high: Decimal, day_low: Decimal, tick: Decimal,
                  rule: DynamicRangeRule) -> CircuitBand:
    """The F&O dynamic price range after the day's trades so far (``day_high``/``day_low`` ₹).

    Starts at ``base`` ± ``initial_pct``; while the high reaches the upper limit less
    ``trigger_gap_pct`` the range is flexed up by ``step_pct`` (likewise down for the low).
    Sliding rule: both limits move; else only the limit in the trend's direction.
    """
    _check(base, tick)
    up = _flexes(day_high / base * _HUNDRED - _HUNDRED, rule)
    down = _flexes(_HUNDRED - day_low / base * _HUNDRED, rule)
    step, initial = rule.step_pct, rule.initial_pct
    if rule.sliding:
        shift = step * (up - down)
        return _band(base, shift - initial, shift + initial, tick)
    return _band(base, -(initial + step * down), initial + step * up, tick)


def _flexes(move_pct: Decimal, rule: DynamicRangeRule) -> int:
    n = 0
    while move_pct >= rule.initial_pct + n * rule.step_pct - rule.trigger_gap_pct:
        n += 1
    return n


def band_from_limits(lower: float | Decimal | None, upper: float | Decimal | None) -> CircuitBand | None:
    """A band from a quote's ``lower_circuit_limit``/``upper_circuit_limit`` (₹); None when absent
    (Kite sends 0 for instruments without limits, e.g. indices)."""
    if not lower or not upper:
        return None
    lo, hi = Decimal(str(lower)), Decimal(str(upper))
    if not Decimal(0) < lo <= hi:
        raise ValidationError(f"lower_circuit_limit must be > 0 and <= upper_circuit_limit, was {lo}..{hi}")
    return CircuitBand(lo, hi)


def _check(base: Decimal, tick: Decimal) -> None:
    if base <= 0:
        raise ValidationError(f"base price (previous close) must be positive rupees, was {base}")
    if tick <= 0:
        raise ValidationError(f"tick_size must be positive rupees, was {tick}")


__all__ = [
    "DYNAMIC_RANGE_RULES", "FIXED_BAND_PCTS", "DynamicRangeRule", "FixedBand", "band_from_limits",
    "dynamic_range", "dynamic_rule_for", "fixed_band", "fixed_band_for",
]
