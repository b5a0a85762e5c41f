"""Zerodha brokerage and statutory charges for NSE cash equity: intraday (MIS) and delivery (CNC).

Money is ``Decimal`` rupees; rates are fractions (``Decimal("0.00025")`` is 0.025 %). Rates
change over time, so they live in a dated table of :class:`ChargeSchedule` rows, each with its
``source``, and :func:`schedule_for` picks the row in force on a trade date. No rate appears
in a formula.

Rounding
--------
* Brokerage, exchange txn, SEBI, IPFT and stamp are rounded **half-up to the paisa** once,
  where they are computed; GST is 18 % of the *rounded* taxable components.
* **STT** is computed per scrip per day on the day's turnover (average price × quantity) of
  one (product, side) class and rounded **half-up to the rupee** (support.zerodha.com, "How is
  the STT calculated?"). The ledger sees it fill by fill: a fill's STT is the increment
  ``R(prior + turnover) − R(prior)`` (``R`` = rate, then round to the rupee) where ``prior`` is
  the turnover of the same scrip, product and side already filled that day
  (:func:`scrip_day_stt`). The fills of a scrip-day therefore always sum to the rupee-rounded
  day total, i.e. to the contract note's STT, and a small fill may carry ₹0 STT.

IPFT
----
NSE's Investor Protection Fund Trust levy is handled per row (field ``ipft_rate``):

* 1 Jan 2021 – 28 Feb 2026: ₹10/crore (0.0001 %) levied *on top of* the transaction charge,
  charged by default (``include_ipft=True``) because Zerodha passes it on; pass
  ``include_ipft=False`` for the "IPFT excluded" figures of indian-market.md §3;
* from 1 Mar 2026: ``exchange_txn_rate`` 0.00307 % *includes* IPFT (₹306.99 + ₹0.01 per crore),
  so ``ipft_rate`` is 0 and ``include_ipft`` changes nothing.

Two granularities:

* :func:`equity_charges` — one fill (what the paper broker attaches to each fill). Brokerage
  is "per executed order" (₹20 cap per order, not per fill), so a later fill of the same
  order passes ``prior_order_turnover`` and pays only the increment up to the cap; STT takes
  ``prior_day_turnover`` likewise (see Rounding).
* :func:`contract_note_charges` — a day's fills aggregated like Zerodha's calculator and
  contract note: turnover-based components on the day's total turnover, rounded once; STT
  per scrip-day class to the rupee; GST on the totals. Per-fill charges can differ from it by
  a paisa per paisa-rounded component per fill (worked example: ₹82.44 summed per order vs
  ₹82.45 aggregated, Oct 2024 rates without IPFT); STT never differs.

Sources (see ``../shared/docs/indian-market.md`` §3; each row's ``source`` names its own):

* brokerage: support.zerodha.com, "What is the brokerage at Zerodha for equity" (0.03 % or
  ₹20 per executed order, whichever is lower, intraday; ₹0 delivery);
* STT: cleartax.in/s/securities-transaction-tax-stt (0.025 % sell intraday; 0.1 % buy and
  sell delivery); rounding: support.zerodha.com, "How is the STT calculated?";
* NSE transaction charge and IPFT: NSE circulars 46730 (0.00345 % from 1 Jan 2021), 56129
  (0.00325 % from 1 Apr 2023), 61137 (0.00322 % from 1 Apr 2024), the 1 Oct 2024 circular
  (0.00297 %, SEBI's uniform "true to label" charges) and FA73061 of 27 Feb 2026 (₹307/crore
  incl. IPFT from 1 Mar 2026; Zerodha's charges page shows 0.00307 %);
* SEBI turnover fee ₹10/crore and stamp duty (0.003 % intraday, 0.015 % delivery, buy side):
  nseindia.com, first-time-investor SEBI turnover fees, STT and other levies;
* GST 18 % on brokerage + exchange + SEBI (+ IPFT) charges; MIS auto square-off ₹50 + GST per
  order, Zerodha squaring off at most 30,000 shares per order (support.zerodha.com, intraday
  auto square-off timings);
* DP charge per scrip per day when shares are debited from the demat account (a CNC sell of
  holdings), posted on the ledger, not the contract note: ₹13.50 + 18 % GST before Oct 2024,
  ₹13 + GST from 1 Oct 2024 (support.zerodha.com, "What do DP charges mean?" and "DP charges
  for BTST trades").
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from core.errors import ValidationError
from core.orders import ZERO, Product, Side, round_to_paisa

_RUPEE = Decimal(1)


@dataclass(frozen=True, slots=True)
class ProductRates:
    """Rates that differ between intraday (MIS) and delivery (CNC). Fractions; cap in rupees."""

    brokerage_rate: Decimal  # fraction of the order's turnover ...
    brokerage_cap: Decimal  # ... capped at this many rupees per executed order
    stt_buy_rate: Decimal
    stt_sell_rate: Decimal
    stamp_buy_rate: Decimal  # stamp duty, buy side only

    def stt_rate(self, side: Side) -> Decimal:
        return self.stt_buy_rate if side is Side.BUY else self.stt_sell_rate


@dataclass(frozen=True, slots=True)
class ChargeSchedule:
    """NSE equity charge rates in force from ``effective_from`` (inclusive), with their source."""

    effective_from: date
    exchange_txn_rate: Decimal  # NSE transaction charge, both sides (incl. IPFT from 2026-03-01)
    sebi_rate: Decimal  # SEBI turnover fee, both sides
    ipft_rate: Decimal  # NSE IPFT levied on top of exchange_txn_rate, both sides (0 when included)
    gst_rate: Decimal  # on brokerage + exchange txn + SEBI (+ IPFT)
    square_off_fee: Decimal  # rupees per order auto squared off by the broker (+ GST)
    dp_charge: Decimal  # rupees per scrip per day sold from demat holdings (+ GST), CDSL + Zerodha
    intraday: ProductRates
    delivery: ProductRates
    source: str = ""
    square_off_max_quantity: int = 30_000  # shares per square-off order (larger positions: more orders)

    def rates(self, product: Product) -> ProductRates:
        return self.intraday if product is Product.MIS else self.delivery


_INTRADAY = ProductRates(
    brokerage_rate=Decimal("0.0003"),
    brokerage_cap=Decimal(20),
    stt_buy_rate=Decimal(0),
    stt_sell_rate=Decimal("0.00025"),
    stamp_buy_rate=Decimal("0.00003"),
)
_DELIVERY = ProductRates(
    brokerage_rate=Decimal(0),
    brokerage_cap=Decimal(0),
    stt_buy_rate=Decimal("0.001"),
    stt_sell_rate=Decimal("0.001"),
    stamp_buy_rate=Decimal("0.00015"),
)


def _row(effective_from: date, txn: str, ipft: str, dp: str, source: str) -> ChargeSchedule:
    return ChargeSchedule(
        effective_from=effective_from,
        exchange_txn_rate=Decimal(txn),
        sebi_rate=Decimal("0.000001"),
        ipft_rate=Decimal(ipft),
        gst_rate=Decimal("0.18"),
        square_off_fee=Decimal(50),
        dp_charge=Decimal(dp),
        intraday=_INTRADAY,
        delivery=_DELIVERY,
        source=source,
    )


#: Zerodha NSE equity schedules, oldest first. Add a row when a rate changes.
NSE_EQUITY_SCHEDULES: tuple[ChargeSchedule, ...] = (
    _row(date(2021, 1, 1), "0.0000345", "0.000001", "13.50",
         "NSE circular 46730: txn 0.00345% from 1 Jan 2021; IPFT ₹10/cr on top; DP ₹13.50 (Zerodha)"),
    _row(date(2023, 4, 1), "0.0000325", "0.000001", "13.50",
         "NSE circular 56129: txn 0.00325% from 1 Apr 2023; IPFT ₹10/cr on top; DP ₹13.50 (Zerodha)"),
    _row(date(2024, 4, 1), "0.0000322", "0.000001", "13.50",
         "NSE circular 61137: txn 0.00322% from 1 Apr 2024; IPFT ₹10/cr on top; DP ₹13.50 (Zerodha)"),
    _row(date(2024, 10, 1), "0.0000297", "0.000001", "13",
         "NSE circular effective 1 Oct 2024 (SEBI true-to-label): txn ₹2.97/lakh = 0.00297%; IPFT ₹10/cr "
         "on top; DP ₹13 + GST (support.zerodha.com, DP charges for BTST trades)"),
    _row(date(2026, 3, 1), "0.0000307", "0", "13",
         "NSE circular FA73061 (27 Feb 2026): ₹306.99/cr + ₹0.01/cr IPFT = ₹307/cr = 0.00307% incl. IPFT "
         "from 1 Mar 2026 (Zerodha charges page); DP ₹13 + GST"),
)


def backfilled_schedules(schedules: Sequence[ChargeSchedule] = NSE_EQUITY_SCHEDULES) -> tuple[ChargeSchedule, ...]:
    """``schedules`` with the earliest one also covering every earlier date: replayed 2016
    sessions and backtests on them predate the first dated schedule (1 Jan 2021), so they are
    charged at the earliest schedule's rates rather than refused; the row's ``source`` says
    "(back-filled)"."""
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
    checked = _CHECKED.get(id(schedules))
    if checked is None or checked[0] is not schedules:
        checked = _checked_table(schedules)
    dates = checked[1]
    k = bisect_right(dates, day)
    if k == 0:
        raise ValidationError(f"no charge schedule in force on {day}; the first starts {dates[0]}")
    return schedules[k - 1]


#: Tables already checked by :func:`schedule_for`, by ``id`` (the entry holds the table, so the
#: id stays its own): every fill asks, and a run uses one or two tables.
_CHECKED: dict[int, tuple[Sequence[ChargeSchedule], list[date]]] = {}


def _checked_table(schedules: Sequence[ChargeSchedule]) -> tuple[Sequence[ChargeSchedule], list[date]]:
    if not schedules:
        raise ValidationError("schedules is empty; pass at least one ChargeSchedule")
    dates = [s.effective_from for s in schedules]
    if any(a >= b for a, b in pairwise(dates)):
        raise ValidationError("schedules must be sorted by effective_from with no duplicate dates")
    if isinstance(schedules, tuple):  # immutable: safe to remember
        if len(_CHECKED) >= 64:
            _CHECKED.clear()
        _CHECKED[id(schedules)] = (schedules, dates)
    return schedules, dates


@dataclass(frozen=True, slots=True)
class Charges:
    """Charges in rupees, each rounded half-up to the paisa (STT to the rupee per scrip-day).
    Never negative."""

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
        for value in (self.brokerage, self.stt, self.exchange_txn, self.sebi, self.ipft, self.stamp,
                      self.square_off_fee, self.dp, self.gst):
            if not isinstance(value, Decimal) or value < 0:
                name = next(n for n in _CHARGE_FIELDS if getattr(self, n) is value)
                raise ValidationError(f"charge {name} must be a non-negative Decimal, was {value!r}")

    @property
    def total(self) -> Decimal:
        """Sum of every component, rupees."""
        return (ZERO + self.brokerage + self.stt + self.exchange_txn + self.sebi + self.ipft + self.stamp
                + self.square_off_fee + self.dp + self.gst)

    def __add__(self, other: Charges) -> Charges:
        return Charges(**{name: getattr(self, name) + getattr(other, name) for name in _CHARGE_FIELDS})


_CHARGE_FIELDS = tuple(f.name for f in fields(Charges))  # looked up once: Charges are made on every fill
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


def _stt_day_total(turnover: Decimal, rate: Decimal) -> Decimal:
    return (turnover * rate).quantize(_RUPEE, ROUND_HALF_UP)


def scrip_day_stt(prior_day_turnover: Decimal, turnover: Decimal, rate: Decimal) -> Decimal:
    """STT of one fill as the ledger books it: ``R(prior + turnover) − R(prior)`` rupees, where
    ``R(x)`` is ``x × rate`` rounded half-up to the rupee and ``prior_day_turnover`` is the
    rupees of the same scrip, product and side filled earlier the same day. The day's fills
    sum to ``R(day turnover)``: Zerodha's per scrip-day STT (support.zerodha.com, "How is the
    STT calculated?"). Returned with two decimals (e.g. ``Decimal("25.00")``).

    Raises ``ValidationError`` if ``prior_day_turnover`` is negative.
    """
    if not isinstance(prior_day_turnover, Decimal) or prior_day_turnover < 0:
        raise ValidationError(f"prior_day_turnover must be Decimal rupees >= 0, was {prior_day_turnover!r}")
    if not prior_day_turnover:  # the day's first fill of the class: R(turnover) − R(0) = R(turnover)
        return round_to_paisa(_stt_day_total(turnover, rate))
    increment = _stt_day_total(prior_day_turnover + turnover, rate) - _stt_day_total(prior_day_turnover, rate)
    return round_to_paisa(increment)


def equity_charges(
    side: Side,
    product: Product,
    quantity: int,
    price: Decimal,
    schedule: ChargeSchedule,
    *,
    include_ipft: bool = True,
    prior_order_turnover: Decimal = ZERO,
    prior_day_turnover: Decimal = ZERO,
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
        Add the row's separately levied NSE IPFT (₹10/crore before 1 Mar 2026) and its GST.
        On by default, as Zerodha charges it; no effect from 1 Mar 2026 (included in the txn rate).
    prior_order_turnover : Decimal
        Rupees already filled on the *same order*; brokerage is capped per executed order, so
        this fill pays ``brokerage(prior + turnover) - brokerage(prior)``.
    prior_day_turnover : Decimal
        Rupees of the same scrip, product and side already filled *today* (any order); STT is
        the scrip-day increment (:func:`scrip_day_stt`). 0 for the day's first such fill.

    Returns
    -------
    Charges
        Each component in rupees, rounded half-up to the paisa (STT to the rupee, see above);
        GST on the rounded components.

    Raises
    ------
    ValidationError
        ``quantity``/``price`` not positive, or a ``prior_*`` turnover negative.
    """
    _check(quantity, price)
    if prior_order_turnover < 0:
        raise ValidationError(f"prior_order_turnover must be >= 0 rupees, was {prior_order_turnover}")
    rates = schedule.rates(product)
    turnover = price * quantity
    brokerage = (_brokerage(rates, prior_order_turnover + turnover) - _brokerage(rates, prior_order_turnover)
                 if prior_order_turnover else _brokerage(rates, turnover))  # the order's first fill: b(t) − b(0) = b(t)
    txn = round_to_paisa(turnover * schedule.exchange_txn_rate)
    sebi = round_to_paisa(turnover * schedule.sebi_rate)
    ipft = round_to_paisa(turnover * schedule.ipft_rate) if include_ipft else ZERO
    return Charges(
        brokerage=brokerage,
        stt=scrip_day_stt(prior_day_turnover, turnover, rates.stt_rate(side)),
        exchange_txn=txn,
        sebi=sebi,
        ipft=ipft,
        stamp=round_to_paisa(turnover * rates.stamp_buy_rate) if side is Side.BUY else ZERO,
        gst=_gst(schedule, brokerage, txn, sebi, ipft),
    )


def restate_stt(charges: Charges, side: Side, product: Product, turnover: Decimal, schedule: ChargeSchedule,
                prior_day_turnover: Decimal) -> Charges:
    """``charges`` of one fill of ``turnover`` rupees with STT restated as the scrip-day
    increment (:func:`scrip_day_stt`); every other component unchanged (STT bears no GST).
    The ledger (``core.portfolio.apply_fill``) uses it, as only the ledger knows the day's
    turnover of the scrip across orders. ``charges`` itself when its STT is already that."""
    stt = scrip_day_stt(prior_day_turnover, turnover, schedule.rates(product).stt_rate(side))
    return charges if stt == charges.stt else replace(charges, stt=stt)


@dataclass(frozen=True, slots=True)
class ChargeLeg:
    """One fill for :func:`contract_note_charges`: ``quantity`` shares of ``instrument_token``
    at ``price`` rupees."""

    order_id: str
    side: Side
    product: Product
    quantity: int
    price: Decimal
    instrument_token: int = 0


def contract_note_charges(
    legs: Iterable[ChargeLeg], schedule: ChargeSchedule, *, include_ipft: bool = True
) -> Charges:
    """A day's charges aggregated as on a contract note / Zerodha's brokerage calculator.

    Brokerage is capped per ``order_id``; STT per scrip-day class ``(instrument_token,
    product, side)`` on its turnover, rounded half-up to the rupee, then summed; stamp on the
    day's buy turnover per product; exchange txn, SEBI and IPFT on the day's total turnover;
    each paisa component rounded once (half-up); GST on the rounded brokerage + txn + SEBI
    (+ IPFT). ``include_ipft`` as in :func:`equity_charges`.

    Raises ``ValidationError`` for a non-positive quantity or price in any leg.
    """
    per_order: dict[str, tuple[Product, Decimal]] = {}
    stt = stamp = turnover_all = ZERO
    by_class: dict[tuple[int, Product, Side], Decimal] = {}
    for leg in legs:
        _check(leg.quantity, leg.price)
        turnover = leg.price * leg.quantity
        product, so_far = per_order.get(leg.order_id, (leg.product, ZERO))
        per_order[leg.order_id] = (product, so_far + turnover)
        key = (leg.instrument_token, leg.product, leg.side)
        by_class[key] = by_class.get(key, ZERO) + turnover
        turnover_all += turnover
    for (_, product, side), turnover in by_class.items():
        rates = schedule.rates(product)
        stt += _stt_day_total(turnover, rates.stt_rate(side))
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


def square_off_orders(quantity: int, schedule: ChargeSchedule) -> int:
    """How many orders Zerodha's auto square-off of ``quantity`` shares takes: it squares off
    at most ``schedule.square_off_max_quantity`` (30,000) shares per order, so 70,000 shares
    are 3 orders (support.zerodha.com, intraday auto square-off; indian-market.md §3).

    Raises ``ValidationError`` unless ``quantity`` is a positive whole number of shares.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValidationError(f"square-off quantity must be a positive whole number of shares, was {quantity!r}")
    return -(-quantity // schedule.square_off_max_quantity)


def square_off_charge(schedule: ChargeSchedule, quantity: int = 1) -> Charges:
    """Zerodha's fee for auto squaring off a ``quantity``-share MIS position: ``square_off_fee``
    (₹50) + 18 % GST (₹9) per order, one order per ``square_off_max_quantity`` (30,000) shares
    (:func:`square_off_orders`): 70,000 shares → 3 × ₹59 = ₹177. Source:
    support.zerodha.com, intraday auto square-off timings."""
    fee = round_to_paisa(schedule.square_off_fee)
    n = square_off_orders(quantity, schedule)
    return Charges(square_off_fee=fee * n, gst=round_to_paisa(fee * schedule.gst_rate) * n)


def dp_charge(schedule: ChargeSchedule) -> Charges:
    """The depository charge for one scrip sold from demat holdings on one day, whatever the
    quantity (see :func:`core.portfolio.dp_due`): ``dp_charge`` + 18 % GST — ₹13.50 + ₹2.43 =
    ₹15.93 before 1 Oct 2024, ₹13 + ₹2.34 = ₹15.34 from then (support.zerodha.com, "DP charges
    for BTST trades")."""
    fee = round_to_paisa(schedule.dp_charge)
    return Charges(dp=fee, gst=round_to_paisa(fee * schedule.gst_rate))
