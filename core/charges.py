"""Zerodha brokerage and statutory charges for NSE cash equity: intraday (MIS) and delivery (CNC).

Money is ``Decimal`` rupees; rates are fractions (``Decimal("0.00025")`` is 0.025 %). Rates
change over time, so they live in a dated table of :class:`ChargeSchedule` rows and
:func:`schedule_for` picks the row in force on a trade date. No rate appears in a formula.

Rounding: every component is rounded **half-up to the paisa** once, where it is computed.
GST is 18 % of the *rounded* taxable components (brokerage + exchange txn + SEBI [+ IPFT]),
rounded half-up to the paisa.

Two granularities:

* :func:`equity_charges` — one fill (what the paper broker attaches to each fill). Brokerage
  is "per executed order" (₹20 cap per order, not per fill), so a later fill of the same
  order passes ``prior_order_turnover`` and pays only the increment up to the cap.
* :func:`contract_note_charges` — a day's fills aggregated like Zerodha's calculator and
  contract note: turnover-based components are computed on the day's total turnover and
  rounded once, and GST on the totals. Per-fill charges can differ from it by a paisa per
  component per fill (worked example: ₹82.44 summed per order vs ₹82.45 aggregated).

Sources (see ``../shared/docs/indian-market.md`` §3):

* brokerage: support.zerodha.com, "What is the brokerage at Zerodha for equity" (0.03 % or
  ₹20 per executed order, whichever is lower, intraday; ₹0 delivery);
* STT: cleartax.in/s/securities-transaction-tax-stt (0.025 % sell intraday; 0.1 % buy and
  sell delivery);
* NSE transaction charge: NSE circular effective 1 Oct 2024, ₹2.97 per lakh = 0.00297 %
  (goodreturns.in, ndtvprofit.com 2024-09-27); before that 0.00322 % (Zerodha's published
  rate after NSE's cut effective 1 Apr 2023, ndtvprofit.com "NSE reduces equity and
  derivatives transaction charges"); IPFT ₹10/crore from 1 Apr 2023 (same NSE circular);
* SEBI turnover fee ₹10/crore and stamp duty (0.003 % intraday, 0.015 % delivery, buy side):
  nseindia.com, first-time-investor SEBI turnover fees, STT and other levies;
* GST 18 % on brokerage + exchange + SEBI charges; MIS auto square-off ₹50 + GST per order
  (support.zerodha.com, intraday auto square-off timings);
* DP charge ₹13.50 + 18 % GST per scrip per day when shares are debited from the demat account
  (a CNC sell of holdings), posted on the ledger, not the contract note (support.zerodha.com,
  "What do DP charges mean?").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import Decimal

from core.errors import ValidationError
from core.orders import ZERO, Product, Side, round_to_paisa


@dataclass(frozen=True, slots=True)
class ProductRates:
    """Rates that differ between intraday (MIS) and delivery (CNC). Fractions; cap in rupees."""

    brokerage_rate: Decimal  # fraction of the order's turnover ...
    brokerage_cap: Decimal  # ... capped at this many rupees per executed order
    stt_buy_rate: Decimal
    stt_sell_rate: Decimal
    stamp_buy_rate: Decimal  # stamp duty, buy side only


@dataclass(frozen=True, slots=True)
class ChargeSchedule:
    """NSE equity charge rates in force from ``effective_from`` (inclusive), with their source."""

    effective_from: date
    exchange_txn_rate: Decimal  # NSE transaction charge, both sides
    sebi_rate: Decimal  # SEBI turnover fee, both sides
    ipft_rate: Decimal  # NSE Investor Protection Fund Trust, both sides (optional)
    gst_rate: Decimal  # on brokerage + exchange txn + SEBI (+ IPFT)
    square_off_fee: Decimal  # rupees per order auto squared off by the broker (+ GST)
    dp_charge: Decimal  # rupees per scrip per day sold from demat holdings (+ GST), CDSL + Zerodha
    intraday: ProductRates
    delivery: ProductRates
    source: str = ""

    def rates(self, product: Product) -> ProductRates:
        return self.intraday if product is Product.MIS else self.delivery


_INTRADAY = ProductRates(
    brokerage_rate=Decimal("0.0003"),
    brokerage_cap=Decimal("20"),
    stt_buy_rate=Decimal("0"),
    stt_sell_rate=Decimal("0.00025"),
    stamp_buy_rate=Decimal("0.00003"),
)
_DELIVERY = ProductRates(
    brokerage_rate=Decimal("0"),
    brokerage_cap=Decimal("0"),
    stt_buy_rate=Decimal("0.001"),
    stt_sell_rate=Decimal("0.001"),
    stamp_buy_rate=Decimal("0.00015"),
)

#: Zerodha NSE equity schedules, oldest first. Add a row when a rate changes.
NSE_EQUITY_SCHEDULES: tuple[ChargeSchedule, ...] = (
    ChargeSchedule(
        effective_from=date(2023, 4, 1),
        exchange_txn_rate=Decimal("0.0000322"),
        sebi_rate=Decimal("0.000001"),
        ipft_rate=Decimal("0.000001"),
        gst_rate=Decimal("0.18"),
        square_off_fee=Decimal("50"),
        dp_charge=Decimal("13.50"),
        intraday=_INTRADAY,
        delivery=_DELIVERY,
        source="NSE txn 0.00322% after the 1 Apr 2023 cut (ndtvprofit.com); IPFT ₹10/cr same circular",
    ),
    ChargeSchedule(
        effective_from=date(2024, 10, 1),
        exchange_txn_rate=Decimal("0.0000297"),
        sebi_rate=Decimal("0.000001"),
        ipft_rate=Decimal("0.000001"),
        gst_rate=Decimal("0.18"),
        square_off_fee=Decimal("50"),
        dp_charge=Decimal("13.50"),
        intraday=_INTRADAY,
        delivery=_DELIVERY,
        source="NSE circular effective 1 Oct 2024: ₹2.97/lakh (goodreturns.in; ndtvprofit.com 2024-09-27)",
    ),
)


def backfilled_schedules(schedules: Sequence[ChargeSchedule] = NSE_EQUITY_SCHEDULES) -> tuple[ChargeSchedule, ...]:
    """``schedules`` with the earliest one also covering every earlier date: replayed 2016
    sessions and backtests on them predate the first dated schedule, so they are charged at
    the earliest schedule's rates rather than refused."""
    first = min(schedules, key=lambda s: s.effective_from)
    return (replace(first, effective_from=date(1990, 1, 1), source=f"{first.source} (back-filled)"), *schedules)


def schedule_for(day: date, schedules: Sequence[ChargeSchedule] = NSE_EQUITY_SCHEDULES) -> ChargeSchedule:
    """Return the schedule in force on ``day``: the latest ``effective_from <= day``.

    Raises
    ------
    ValidationError
        If ``schedules`` is empty or not strictly increasing by ``effective_from``, or
        ``day`` is before the first schedule.
    """
    if not schedules:
        raise ValidationError("schedules is empty; pass at least one ChargeSchedule")
    dates = [s.effective_from for s in schedules]
    if any(a >= b for a, b in zip(dates, dates[1:])):
        raise ValidationError("schedules must be sorted by effective_from with no duplicate dates")
    chosen = None
    for schedule in schedules:
        if schedule.effective_from <= day:
            chosen = schedule
    if chosen is None:
        raise ValidationError(f"no charge schedule in force on {day}; the first starts {dates[0]}")
    return chosen


@dataclass(frozen=True, slots=True)
class Charges:
    """Charges in rupees, each rounded half-up to the paisa. Never negative."""

    brokerage: Decimal = ZERO
    stt: Decimal = ZERO
    exchange_txn: Decimal = ZERO
    sebi: Decimal = ZERO
    ipft: Decimal = ZERO
    stamp: Decimal = ZERO
    square_off_fee: Decimal = ZERO
    dp: Decimal = ZERO  # depository (DP) charge: ledger only, never on a fill
    gst: Decimal = ZERO

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, Decimal) or value < 0:
                raise ValidationError(f"charge {f.name} must be a non-negative Decimal, was {value!r}")

    @property
    def total(self) -> Decimal:
        """Sum of every component, rupees."""
        return sum((getattr(self, f.name) for f in fields(self)), ZERO)

    def __add__(self, other: Charges) -> Charges:
        return Charges(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


NO_CHARGES = Charges()


def _check(quantity: int, price: Decimal) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValidationError(f"quantity must be a positive whole number of shares, was {quantity!r}")
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        raise ValidationError(f"price must be positive Decimal rupees, was {price!r}")


def _brokerage(rates: ProductRates, order_turnover: Decimal) -> Decimal:
    return round_to_paisa(min(order_turnover * rates.brokerage_rate, rates.brokerage_cap))


def _gst(schedule: ChargeSchedule, brokerage: Decimal, txn: Decimal, sebi: Decimal, ipft: Decimal) -> Decimal:
    return round_to_paisa((brokerage + txn + sebi + ipft) * schedule.gst_rate)


def equity_charges(
    side: Side,
    product: Product,
    quantity: int,
    price: Decimal,
    schedule: ChargeSchedule,
    *,
    include_ipft: bool = False,
    prior_order_turnover: Decimal = ZERO,
) -> Charges:
    """Charges for one fill of an NSE equity order.

    Parameters
    ----------
    side, product
        STT per product and side; stamp duty on buys only; brokerage per product.
    quantity : int
        Shares in this fill, > 0.
    price : Decimal
        Fill price, rupees per share, > 0.
    schedule : ChargeSchedule
        Rates in force on the trade date (:func:`schedule_for`).
    include_ipft : bool
        Add NSE IPFT (₹10/crore) and its GST. Off by default, as in the worked example.
    prior_order_turnover : Decimal
        Rupees already filled on the *same order*; brokerage is capped per executed order, so
        this fill pays ``brokerage(prior + turnover) - brokerage(prior)``.

    Returns
    -------
    Charges
        Each component in rupees, rounded half-up to the paisa; GST on the rounded components.

    Raises
    ------
    ValidationError
        ``quantity``/``price`` not positive, or ``prior_order_turnover`` negative.
    """
    _check(quantity, price)
    if prior_order_turnover < 0:
        raise ValidationError(f"prior_order_turnover must be >= 0 rupees, was {prior_order_turnover}")
    rates = schedule.rates(product)
    turnover = price * quantity
    brokerage = _brokerage(rates, prior_order_turnover + turnover) - _brokerage(rates, prior_order_turnover)
    txn = round_to_paisa(turnover * schedule.exchange_txn_rate)
    sebi = round_to_paisa(turnover * schedule.sebi_rate)
    ipft = round_to_paisa(turnover * schedule.ipft_rate) if include_ipft else ZERO
    stt_rate = rates.stt_buy_rate if side is Side.BUY else rates.stt_sell_rate
    return Charges(
        brokerage=brokerage,
        stt=round_to_paisa(turnover * stt_rate),
        exchange_txn=txn,
        sebi=sebi,
        ipft=ipft,
        stamp=round_to_paisa(turnover * rates.stamp_buy_rate) if side is Side.BUY else ZERO,
        gst=_gst(schedule, brokerage, txn, sebi, ipft),
    )


@dataclass(frozen=True, slots=True)
class ChargeLeg:
    """One fill for :func:`contract_note_charges`: ``quantity`` shares at ``price`` rupees."""

    order_id: str
    side: Side
    product: Product
    quantity: int
    price: Decimal


def contract_note_charges(
    legs: Iterable[ChargeLeg], schedule: ChargeSchedule, *, include_ipft: bool = False
) -> Charges:
    """A day's charges aggregated as on a contract note / Zerodha's brokerage calculator.

    Brokerage is capped per ``order_id``; STT and stamp are computed on the day's turnover per
    (product, side); exchange txn, SEBI and IPFT on the day's total turnover; each rounded once
    (half-up, paisa); GST on the rounded brokerage + txn + SEBI (+ IPFT).

    Raises ``ValidationError`` for a non-positive quantity or price in any leg.
    """
    per_order: dict[str, tuple[Product, Decimal]] = {}
    stt = stamp = turnover_all = ZERO
    by_bucket: dict[tuple[Product, Side], Decimal] = {}
    for leg in legs:
        _check(leg.quantity, leg.price)
        turnover = leg.price * leg.quantity
        product, so_far = per_order.get(leg.order_id, (leg.product, ZERO))
        per_order[leg.order_id] = (product, so_far + turnover)
        by_bucket[(leg.product, leg.side)] = by_bucket.get((leg.product, leg.side), ZERO) + turnover
        turnover_all += turnover
    for (product, side), turnover in by_bucket.items():
        rates = schedule.rates(product)
        stt += turnover * (rates.stt_buy_rate if side is Side.BUY else rates.stt_sell_rate)
        if side is Side.BUY:
            stamp += turnover * rates.stamp_buy_rate
    brokerage = sum((_brokerage(schedule.rates(p), t) for p, t in per_order.values()), ZERO)
    txn = round_to_paisa(turnover_all * schedule.exchange_txn_rate)
    sebi = round_to_paisa(turnover_all * schedule.sebi_rate)
    ipft = round_to_paisa(turnover_all * schedule.ipft_rate) if include_ipft else ZERO
    return Charges(
        brokerage=brokerage,
        stt=round_to_paisa(stt),
        exchange_txn=txn,
        sebi=sebi,
        ipft=ipft,
        stamp=round_to_paisa(stamp),
        gst=_gst(schedule, brokerage, txn, sebi, ipft),
    )


def square_off_charge(schedule: ChargeSchedule) -> Charges:
    """Zerodha's fee for one MIS order it squares off: ``square_off_fee`` (₹50) + 18 % GST (₹9)."""
    fee = round_to_paisa(schedule.square_off_fee)
    return Charges(square_off_fee=fee, gst=round_to_paisa(fee * schedule.gst_rate))


def dp_charge(schedule: ChargeSchedule) -> Charges:
    """The depository charge for one scrip sold from demat holdings on one day: ``dp_charge``
    (₹13.50) + 18 % GST (₹2.43) = ₹15.93, whatever the quantity (see :func:`core.portfolio.dp_due`)."""
    fee = round_to_paisa(schedule.dp_charge)
    return Charges(dp=fee, gst=round_to_paisa(fee * schedule.gst_rate))
