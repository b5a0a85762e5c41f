"""Same-day CNC netting: which part of a scrip-day's CNC trades is intraday and what it costs.

Money is ``Decimal`` rupees; quantities are shares. Pure: the caller passes the day's legs and
the dated ``core.charges.ChargeSchedule`` in force.

Rules (``../shared/docs/indian-market.md`` §3, "Rules that change the arithmetic"):

1. **Matched quantity is intraday.** On one trading day, for one scrip, the CNC quantity that is
   both bought and sold, ``m = min(CNC bought, CNC sold)``, is an intraday trade; only the rest
   is delivery. It does not matter which came first (shares bought and sold, or held shares
   sold and bought back). Source: support.zerodha.com, "Why was the brokerage charged on
   delivery trades?" (brokerage-charged-for-partial-delivery).
2. **Brokerage.** On such a day every CNC order of the scrip pays intraday brokerage (0.03 % or
   ₹20 per executed order, whichever is lower) on its whole turnover, "regardless of the
   quantity bought back" (same article).
3. **STT and stamp** are charged per class at that class's rates on the day's average price ×
   quantity: the matched ``m`` shares at intraday rates (STT 0.025 % on the sell side, stamp
   0.003 % on the buy side), the rest at delivery rates (STT 0.1 % both sides, stamp 0.015 %).
   STT is rounded half-up to the rupee per scrip-day class (support.zerodha.com, "How is the
   STT calculated?"); stamp to the paisa.
4. Exchange transaction charge, SEBI fee and IPFT are on the day's total turnover whatever the
   class (each rounded to the paisa); GST 18 % on brokerage + txn + SEBI (+ IPFT).

MIS legs of the same scrip are not part of this netting (they are intraday already) and are
left out of :func:`scrip_day_charges`; pass CNC legs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core.charges import Charges, ChargeSchedule, ProductRates
from core.errors import ValidationError
from core.orders import ZERO, Side, round_to_paisa

_RUPEE = Decimal(1)

#: The source of rules 1–2, for refusal and ledger memos.
NETTING_SOURCE = "support.zerodha.com, 'Why was the brokerage charged on delivery trades?' (partial delivery)"


@dataclass(frozen=True, slots=True)
class ScripDayLeg:
    """One CNC fill (or a day's aggregate of one side): ``quantity`` shares of
    ``instrument_token`` for ``turnover`` rupees on order ``order_id``."""

    order_id: str
    instrument_token: int
    side: Side
    quantity: int
    turnover: Decimal

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity <= 0:
            raise ValidationError(f"quantity must be a positive whole number of shares, was {self.quantity!r}")
        if not isinstance(self.turnover, Decimal) or not self.turnover.is_finite() or self.turnover <= 0:
            raise ValidationError(f"turnover must be positive Decimal rupees, was {self.turnover!r}")


@dataclass(frozen=True, slots=True)
class ScripDaySplit:
    """One scrip-day's CNC trades split into intraday (matched) and delivery, shares and rupees
    at the day's average buy and sell prices."""

    intraday_quantity: int
    intraday_buy_value: Decimal
    intraday_sell_value: Decimal
    delivery_buy_quantity: int
    delivery_buy_value: Decimal
    delivery_sell_quantity: int
    delivery_sell_value: Decimal

    @property
    def netted(self) -> bool:
        """True when some quantity was bought and sold the same day (rule 1)."""
        return self.intraday_quantity > 0


def split_scrip_day(buy_quantity: int, buy_value: Decimal, sell_quantity: int, sell_value: Decimal) -> ScripDaySplit:
    """Rule 1: the matched ``min(buy_quantity, sell_quantity)`` shares are intraday, valued at the
    day's average prices (``buy_value / buy_quantity``, ``sell_value / sell_quantity``).

    Raises ``ValidationError`` for a negative quantity or value, or a value without shares.
    """
    for name, qty, value in (("buy", buy_quantity, buy_value), ("sell", sell_quantity, sell_value)):
        if qty < 0 or value < 0 or (qty == 0) != (value == 0):
            raise ValidationError(f"{name}_quantity and {name}_value must be >= 0 and zero together, "
                                  f"was {qty} shares for ₹{value}")
    m = min(buy_quantity, sell_quantity)
    in_buy = buy_value if m == buy_quantity else buy_value * m / buy_quantity
    in_sell = sell_value if m == sell_quantity else sell_value * m / sell_quantity
    return ScripDaySplit(m, in_buy, in_sell, buy_quantity - m, buy_value - in_buy,
                         sell_quantity - m, sell_value - in_sell)


def _stt(value: Decimal, rate: Decimal) -> Decimal:
    return (value * rate).quantize(_RUPEE, rounding=ROUND_HALF_UP)


def _brokerage(rates: ProductRates, turnover: Decimal) -> Decimal:
    return round_to_paisa(min(turnover * rates.brokerage_rate, rates.brokerage_cap))


def scrip_day_charges(legs: Iterable[ScripDayLeg], schedule: ChargeSchedule, *, include_ipft: bool = True,
                      netting: bool = True) -> Charges:
    """The contract-note charges of one day's CNC legs, scrip by scrip, with same-day netting
    (rules 1–4 of the module docstring). ``netting=False`` charges every leg as delivery (what
    the desk did before issue 13), for comparison. ``include_ipft`` as in
    ``core.charges.equity_charges`` (no effect from 1 Mar 2026: IPFT is in the txn rate).

    Raises ``ValidationError`` (from :class:`ScripDayLeg`) for a bad leg.
    """
    by_token: dict[int, list[ScripDayLeg]] = {}
    for leg in legs:
        by_token.setdefault(leg.instrument_token, []).append(leg)
    intraday, delivery = schedule.intraday, schedule.delivery
    brokerage = stt = stamp = total = ZERO
    for token_legs in by_token.values():
        split = split_scrip_day(*_totals(token_legs))
        if not netting:
            split = ScripDaySplit(0, ZERO, ZERO, split.intraday_quantity + split.delivery_buy_quantity,
                                  split.intraday_buy_value + split.delivery_buy_value,
                                  split.intraday_quantity + split.delivery_sell_quantity,
                                  split.intraday_sell_value + split.delivery_sell_value)
        rates = intraday if split.netted else delivery
        per_order: dict[str, Decimal] = {}
        for g in token_legs:
            per_order[g.order_id] = per_order.get(g.order_id, ZERO) + g.turnover
            total += g.turnover
        brokerage += sum((_brokerage(rates, t) for t in per_order.values()), ZERO)
        stt += (_stt(split.intraday_sell_value, intraday.stt_sell_rate)
                + _stt(split.intraday_buy_value, intraday.stt_buy_rate)
                + _stt(split.delivery_buy_value, delivery.stt_buy_rate)
                + _stt(split.delivery_sell_value, delivery.stt_sell_rate))
        stamp += split.intraday_buy_value * intraday.stamp_buy_rate + split.delivery_buy_value * delivery.stamp_buy_rate
    txn = round_to_paisa(total * schedule.exchange_txn_rate)
    sebi = round_to_paisa(total * schedule.sebi_rate)
    ipft = round_to_paisa(total * schedule.ipft_rate) if include_ipft else ZERO
    return Charges(brokerage=brokerage, stt=round_to_paisa(stt), exchange_txn=txn, sebi=sebi, ipft=ipft,
                   stamp=round_to_paisa(stamp),
                   gst=round_to_paisa((brokerage + txn + sebi + ipft) * schedule.gst_rate))


def netting_adjustment(prior: Sequence[ScripDayLeg], leg: ScripDayLeg, schedule: ChargeSchedule, *,
                       booked_prior: Decimal | None = None, booked_now: Decimal = ZERO) -> Decimal:
    """Rupees the ledger adds (``> 0``) or gives back (``< 0``) when CNC ``leg`` joins the day's
    earlier CNC legs ``prior`` of the same scrip. The paper broker charges each fill as delivery
    (it cannot know the day); this adjustment makes the scrip-day's booked charges the netted
    contract-note figure of :func:`scrip_day_charges`.

    * 0 while the day is not netted (nothing both bought and sold yet);
    * with ``booked_prior`` (rupees already booked for ``prior``, adjustments included) and
      ``booked_now`` (``leg``'s own fill charges): ``netted(prior + leg) − booked_prior −
      booked_now``, so the day's ledger total is the netted figure to the paisa;
    * without it (the earlier bookings are not known): the change in the netting effect
      ``netted − as delivery``, exact up to the per-fill paisa rounding of the fills.
    """
    after = (*prior, leg)
    if not split_scrip_day(*_totals(after)).netted:
        return ZERO
    if booked_prior is not None:
        return scrip_day_charges(after, schedule).total - booked_prior - booked_now

    def effect(legs: Sequence[ScripDayLeg]) -> Decimal:
        if not legs:
            return ZERO
        return scrip_day_charges(legs, schedule).total - scrip_day_charges(legs, schedule, netting=False).total

    return effect(after) - effect(prior)


def _totals(legs: Iterable[ScripDayLeg]) -> tuple[int, Decimal, int, Decimal]:
    bq = sq = 0
    bv = sv = ZERO
    for g in legs:
        if g.side is Side.BUY:
            bq, bv = bq + g.quantity, bv + g.turnover
        else:
            sq, sv = sq + g.quantity, sv + g.turnover
    return bq, bv, sq, sv


__all__ = [
    "NETTING_SOURCE",
    "ScripDayLeg",
    "ScripDaySplit",
    "netting_adjustment",
    "scrip_day_charges",
    "split_scrip_day",
]
