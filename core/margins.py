"""Equity margins at Zerodha: what an order blocks, per stock, from a dated margin table. Pure.

Money is ``Decimal`` rupees; percentages are ``Decimal`` percent of the order value.

Rules
-----
1. **MIS entry** blocks ``max(floor, VaR + ELM + ad hoc, 100 / max_leverage) %`` of
   ``quantity × price`` for the stock (SEBI peak-margin rules, zerodha.com/marketintel/bulletin/249809;
   Zerodha support "What are the margins for intraday equity (MIS)?"). The floor is SEBI's 20 %;
   "5×" is the ceiling that floor implies, not the rule. ``max_leverage`` (the desk's
   ``DESK_MIS_LEVERAGE``) may only raise the margin above the floor, never lower it.
2. **MIS only on the eligible list** (Zerodha support, same article): an MIS entry on a stock
   that the table does not mark ``mis_eligible`` is refused with ``MIS_NOT_ELIGIBLE``. Exits
   are never refused by this rule.
3. **CNC buy** blocks 100 % of the order value (Zerodha: delivery needs full funds).
4. **Exits and CNC sells** block nothing.
5. **With a real Kite account** the exact figure comes from Kite's ``order_margins``: pass it as
   ``MarginRules.exact`` (a port; ``None`` or a ``None`` answer falls back to the table).
6. **The price margin is judged at** (:func:`margin_price`): the limit price; for a MARKET or
   SL-M order from 1 Apr 2026 its *protection price* (LTP ± the band, the trigger ± the band
   for SL-M; ``core.market_protection``), the worst price it can fill at: Kite converts the
   order into a LIMIT there and blocks margin for that LIMIT (Kite Connect market protection,
   kite.trade forum 15912 / comment 52940). Before then a MARKET order is judged at the LTP.
   A resting order (:func:`open_order_price`) keeps the protection price it was given.

The table (``MarginTable``) is data, not constants: the desk bundles a dated, derived one
(``app/data/nse/margins_*.csv``, built by ``tools/build_margins.py``, its ``source`` says how).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from core.errors import ValidationError
from core.market_protection import intent_protection
from core.orders import ZERO, FrozenMap, Order, OrderIntent, Product, Side, reduces_position, round_to_paisa
from core.risk.reasons import Denial, ReasonCode
from core.timeutil import to_ist

#: Where rules 1 and 2 come from (named in every refusal).
MIS_MARGIN_SOURCE = ("Zerodha support 'What are the margins for intraday equity (MIS)?' "
                     "(SEBI peak-margin rules, zerodha.com/marketintel/bulletin/249809)")
#: SEBI's minimum MIS margin, percent of the order value.
SEBI_MIS_FLOOR_PCT = Decimal(20)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class MarginRow:
    """One stock's margin figures, percent: ``var_pct`` (NSE VaR), ``elm_pct`` (extreme loss
    margin), ``adhoc_pct`` (exchange ad hoc margin); ``mis_eligible`` on the broker's MIS list."""

    tradingsymbol: str
    var_pct: Decimal
    elm_pct: Decimal
    adhoc_pct: Decimal = ZERO
    mis_eligible: bool = True

    def __post_init__(self) -> None:
        for name in ("var_pct", "elm_pct", "adhoc_pct"):
            v = getattr(self, name)
            if not isinstance(v, Decimal) or not v.is_finite() or not ZERO <= v <= _HUNDRED:
                raise ValidationError(f"{self.tradingsymbol} {name} must be Decimal percent from 0 to 100, was {v!r}")

    @property
    def total_pct(self) -> Decimal:
        """VaR + ELM + ad hoc, percent."""
        return self.var_pct + self.elm_pct + self.adhoc_pct


@dataclass(frozen=True, slots=True)
class MarginTable:
    """The margin list in force from ``as_of`` (IST date), by tradingsymbol, with its ``source``."""

    as_of: date
    source: str
    rows: Mapping[str, MarginRow] = field(default_factory=lambda: FrozenMap({}))
    floor_pct: Decimal = SEBI_MIS_FLOOR_PCT

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise ValidationError("a MarginTable needs its source (where the figures come from)")
        if not isinstance(self.floor_pct, Decimal) or not ZERO <= self.floor_pct <= _HUNDRED:
            raise ValidationError(f"floor_pct must be Decimal percent from 0 to 100, was {self.floor_pct!r}")
        object.__setattr__(self, "rows", FrozenMap(dict(self.rows)))

    def row(self, tradingsymbol: str) -> MarginRow | None:
        return self.rows.get(tradingsymbol)


#: Kite's ``order_margins`` as a port: (intent, price) → rupees, or ``None`` when it has no answer.
ExactMargin = Callable[[OrderIntent, Decimal], "Decimal | None"]


@dataclass(frozen=True, slots=True)
class MarginRules:
    """The margin rules of the desk: the ``table`` (``None``: no per-stock data, every stock at
    the floor and eligible), ``max_leverage`` (MIS margin never below ``100 / max_leverage`` %),
    and optionally Kite's exact ``order_margins`` figure (rule 5)."""

    table: MarginTable | None = None
    max_leverage: Decimal = Decimal(5)
    exact: ExactMargin | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_leverage, Decimal) or not self.max_leverage >= 1:
            raise ValidationError(f"max_leverage must be a Decimal >= 1 (5 = SEBI's 20 % floor), was {self.max_leverage!r}")

    def mis_pct(self, tradingsymbol: str) -> Decimal:
        """MIS margin of ``tradingsymbol``, percent of the order value (rule 1)."""
        floor = max(self.table.floor_pct if self.table else SEBI_MIS_FLOOR_PCT, _HUNDRED / self.max_leverage)
        row = self.table.row(tradingsymbol) if self.table else None
        return max(floor, row.total_pct) if row is not None else floor

    def mis_eligible(self, tradingsymbol: str) -> bool:
        """True when MIS is allowed on ``tradingsymbol`` (rule 2); always without a table."""
        if self.table is None:
            return True
        row = self.table.row(tradingsymbol)
        return row is not None and row.mis_eligible

    def required(self, intent: OrderIntent, price: Decimal, position_quantity: int = 0) -> Decimal:
        """Rupees ``intent`` blocks at ``price`` (₹ per share, the expected fill) when the
        signed open quantity of its instrument and product is ``position_quantity`` (rules 1,
        3, 4, 5), rounded half-up to the paisa."""
        if reduces_position(intent, position_quantity) or (intent.product is Product.CNC and intent.side is Side.SELL):
            return ZERO
        notional = price * intent.quantity
        if intent.product is not Product.MIS:
            return round_to_paisa(notional)
        if self.exact is not None:
            quoted = self.exact(intent, price)
            if quoted is not None:
                return round_to_paisa(quoted)
        return round_to_paisa(notional * self.mis_pct(intent.tradingsymbol) / _HUNDRED)

    def position_margin(self, tradingsymbol: str, cost: Decimal) -> Decimal:
        """Rupees an open MIS position of signed ``cost`` (₹) keeps blocked (rule 1)."""
        return round_to_paisa(abs(cost) * self.mis_pct(tradingsymbol) / _HUNDRED)


def check_mis_eligible(is_exit: bool, intent: OrderIntent, rules: MarginRules) -> Denial | None:
    """Refuse an MIS entry on a stock off the eligible list (rule 2); exits always pass."""
    if is_exit or intent.product is not Product.MIS or rules.mis_eligible(intent.tradingsymbol):
        return None
    table = rules.table
    listed = f"the MIS list of {table.as_of} ({table.source})" if table else "the MIS list"
    return Denial(ReasonCode.MIS_NOT_ELIGIBLE,
                  f"product MIS is not allowed on {intent.tradingsymbol}: it is not on {listed}; "
                  f"rule: MIS only on the broker's eligible list, {MIS_MARGIN_SOURCE}. Use CNC")


def margin_price(intent: OrderIntent, ltp: Decimal | None, tick_size: Decimal, day: date) -> Decimal | None:
    """₹ per share ``intent``'s margin (and notional) is judged at on ``day`` (IST) with the LTP
    ``ltp`` (rule 6): the limit ``price``; else the protection price of a MARKET/SL-M order
    from 2026-04-01 (``tick_size`` ₹ is the order's tick); else the LTP (``None`` without one).

    Example (Zerodha's 0.5 % band above ₹500): MARKET BUY at LTP ₹1,000.00, tick ₹0.10 →
    ₹1,005.00, so 10 shares CNC block ₹10,050.00, not ₹10,000.00."""
    if intent.price is not None:
        return intent.price
    return margin_price_given(intent, ltp, intent_protection(intent, ltp, tick_size, day))


def margin_price_given(intent: OrderIntent, ltp: Decimal | None, protection: Decimal | None) -> Decimal | None:
    """:func:`margin_price` when the caller already has ``intent``'s protection price ₹
    (``core.market_protection.intent_protection``, ``None`` for none): the limit ``price``,
    else ``protection``, else ``ltp``."""
    if intent.price is not None:
        return intent.price
    return protection if protection is not None else ltp


def open_order_price(order: Order) -> Decimal | None:
    """₹ per share a *resting* order blocks margin at (rule 6): the limit price, else the
    protection price it was given (a protected MARKET/SL-M resting as a LIMIT), else for an
    SL-M waiting for its trigger the protection around the trigger (from 2026-04-01, the day
    it was placed), else the trigger price; ``None`` for an unprotected MARKET order (it fills
    on the next tick)."""
    intent = order.intent
    if intent.price is not None:
        return intent.price
    if order.protection_price is not None:
        return order.protection_price
    protection = intent_protection(intent, None, order.tick_size, to_ist(order.placed_at).date())
    return protection if protection is not None else intent.trigger_price


def open_orders_margin(orders: Iterable[tuple[OrderIntent, Decimal]],
                       position_quantity: Callable[[int, Product], int], rules: MarginRules) -> Decimal:
    """Rupees blocked by open orders: each ``(intent, price)`` is the order's *unfilled* part and
    the price it is judged at (limit, else trigger), against the signed open quantity
    ``position_quantity(instrument_token, product)``. The one function the Funds view and the
    gatekeeper's ``reserved_margin`` both use."""
    return sum((rules.required(intent, price, position_quantity(intent.instrument_token, intent.product))
                for intent, price in orders), ZERO)


__all__ = ["MIS_MARGIN_SOURCE", "SEBI_MIS_FLOOR_PCT", "ExactMargin", "MarginRow", "MarginRules", "MarginTable",
           "check_mis_eligible", "margin_price", "margin_price_given", "open_order_price", "open_orders_margin"]
