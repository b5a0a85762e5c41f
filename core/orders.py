"""Orders: the vocabulary (Kite Connect names), the immutable intent and order, and admission.

Money is ``Decimal`` rupees quantized to the paisa; quantities are shares; times are tz-aware.

Three outcomes (DESIGN.md §3):

* **bad input raises** :class:`~core.errors.ValidationError` (``OrderIntent`` construction,
  :func:`validate_intent`, :func:`modify_order`, :func:`cancel_order`);
* **a business refusal returns** an :class:`Admission` with :class:`OrderReason` codes
  (:func:`admit`: session phase, MIS cut-off, circuit band, CNC holdings);
* nothing here mutates: every function returns a new value.

Rules (sources in ``../shared/docs/indian-market.md``):

* quantity is a positive multiple of ``lot_size``; prices are positive multiples of
  ``tick_size`` (Decimal arithmetic, never float) — NSE tick sizes §4;
* LIMIT needs ``price``; SL needs ``price`` and ``trigger_price``; SL-M needs ``trigger_price``
  only; MARKET takes neither;
* stop-loss direction (Kite's rule): a **BUY** SL triggers on a rise, so ``trigger_price <=
  price``; a **SELL** SL triggers on a fall, so ``trigger_price >= price``. When the LTP is
  known, a BUY stop's trigger must be above the LTP and a SELL stop's below it (else it would
  trigger at once; Kite rejects it);
* prices (limit and trigger) must lie inside the day's circuit band (§4 price bands);
* indices are not tradable (``Instrument.tradable``);
* CNC SELL needs holdings (no short delivery); MIS may go short;
* pre-open order entry 09:00–09:08 queues MARKET/LIMIT orders to fill at the open; SL/SL-M
  are not accepted in pre-open; nothing is accepted during pre-open matching (09:08–09:15),
  closing (15:30–15:40) or when closed; post-close (15:40–16:00) accepts CNC only (§1);
* no fresh MIS entry at or after the square-off cut-off (Zerodha: 15:20 IST for equity,
  configurable); exits (orders that reduce an open MIS position) stay allowed (§2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

from core.errors import ValidationError
from core.models import Instrument
from core.calendar import regular_session
from core.sessions import MIS_SQUARE_OFF, SessionPhase
from core.timeutil import require_aware, to_ist

PAISA = Decimal("0.01")
ZERO = Decimal("0.00")


# --------------------------------------------------------------------------- money helpers


def paise(amount: Decimal) -> Decimal:
    """Round ``amount`` (rupees) half-up to the paisa. The one rounding rule for money."""
    return amount.quantize(PAISA, rounding=ROUND_HALF_UP)


def price_from_float(value: float) -> Decimal:
    """Convert a float rupee price from a tick to exact ``Decimal`` rupees via whole paise.

    ``round(value * 100)`` paise, then ``/ 100``; e.g. ``1234.549999`` → ``Decimal("1234.55")``.
    Raises ``ValidationError`` for NaN or infinity.
    """
    if value != value or value in (float("inf"), float("-inf")):
        raise ValidationError(f"price must be a finite number of rupees, was {value!r}")
    return (Decimal(round(value * 100)) / 100).quantize(PAISA)


def round_to_tick(price: Decimal, tick_size: Decimal, *, up: bool) -> Decimal:
    """Round ``price`` to a multiple of ``tick_size`` (both rupees): up (ceiling) or down (floor)."""
    if tick_size <= 0:
        raise ValidationError(f"tick_size must be positive rupees, was {tick_size}")
    steps = (price / tick_size).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return paise(steps * tick_size)


def on_tick(price: Decimal, tick_size: Decimal) -> bool:
    """True when ``price`` is an exact multiple of ``tick_size`` (Decimal arithmetic)."""
    return tick_size > 0 and price % tick_size == 0


class FrozenMap(dict):
    """A read-only ``dict`` for immutable state (picklable and deep-copyable, unlike
    ``MappingProxyType``). Mutating methods raise ``TypeError``; build a new one instead."""

    __slots__ = ()

    def _readonly(self, *args: object, **kwargs: object) -> None:
        raise TypeError("FrozenMap is immutable; build a new mapping instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _readonly  # type: ignore[assignment]

    def __reduce__(self):  # type: ignore[override]
        return (FrozenMap, (dict(self),))


# --------------------------------------------------------------------------- vocabulary


class Side(StrEnum):
    """Kite ``transaction_type``."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL (signed quantities: long positive)."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class Product(StrEnum):
    """Kite ``product``: MIS intraday (auto square-off, may short) or CNC delivery."""

    MIS = "MIS"
    CNC = "CNC"


class OrderType(StrEnum):
    """Kite ``order_type``."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"
    SL_M = "SL-M"


class Validity(StrEnum):
    """Kite ``validity``: DAY, or IOC (cancel any remainder after the first tick seen)."""

    DAY = "DAY"
    IOC = "IOC"


class OrderStatus(StrEnum):
    """Kite order ``status`` values used by the paper broker."""

    OPEN = "OPEN"
    TRIGGER_PENDING = "TRIGGER PENDING"
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING)


class OrderReason(StrEnum):
    """Why :func:`admit` refused an order (a business refusal, not bad input)."""

    MARKET_CLOSED = "MARKET_CLOSED"
    PRE_OPEN_MATCHING = "PRE_OPEN_MATCHING"
    PRE_OPEN_ORDER_TYPE = "PRE_OPEN_ORDER_TYPE"
    POST_CLOSE_CNC_ONLY = "POST_CLOSE_CNC_ONLY"
    MIS_CUTOFF = "MIS_CUTOFF"
    OUTSIDE_CIRCUIT = "OUTSIDE_CIRCUIT"
    INSUFFICIENT_HOLDINGS = "INSUFFICIENT_HOLDINGS"


@dataclass(frozen=True, slots=True)
class CircuitBand:
    """The day's price band for one instrument: ``lower`` and ``upper`` circuit limits, rupees."""

    lower: Decimal
    upper: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.lower, Decimal) or not isinstance(self.upper, Decimal):
            raise ValidationError("circuit limits must be Decimal rupees")
        if not ZERO < self.lower <= self.upper:
            raise ValidationError(f"circuit band needs 0 < lower <= upper, was {self.lower}..{self.upper}")

    def contains(self, price: Decimal) -> bool:
        return self.lower <= price <= self.upper


# --------------------------------------------------------------------------- intent and order


def _check_price(name: str, value: Decimal | None) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError(f"{name} must be a finite Decimal in rupees, was {value!r}")
    if value <= 0:
        raise ValidationError(f"{name} must be positive rupees, was {value}")


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a trader or strategy wants to place; immutable and self-consistent.

    ``quantity`` shares (> 0); ``price``/``trigger_price``/``stop_loss``/``target`` rupees.
    ``stop_loss``/``target`` are the planned exit levels used by risk (risk per trade); they
    do not place bracket orders. ``trace_id`` follows the work from scan to fill.

    Raises ``ValidationError`` on construction when a field has the wrong type or sign, or the
    prices do not fit ``order_type`` (see the module docstring for the rules).
    """

    instrument_token: int
    tradingsymbol: str
    side: Side
    quantity: int
    product: Product
    order_type: OrderType
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    validity: Validity = Validity.DAY
    stop_loss: Decimal | None = None
    target: Decimal | None = None
    tag: str = ""
    strategy: str = ""
    trace_id: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.instrument_token, int) or self.instrument_token <= 0:
            raise ValidationError(f"instrument_token must be a positive int, was {self.instrument_token!r}")
        if not self.tradingsymbol:
            raise ValidationError("tradingsymbol is required (e.g. 'INFY')")
        for name, enum in (
            ("side", Side),
            ("product", Product),
            ("order_type", OrderType),
            ("validity", Validity),
        ):
            if not isinstance(getattr(self, name), enum):
                raise ValidationError(f"{name} must be a {enum.__name__}, was {getattr(self, name)!r}")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity <= 0:
            raise ValidationError(f"quantity must be a positive whole number of shares, was {self.quantity!r}")
        for name in ("price", "trigger_price", "stop_loss", "target"):
            _check_price(name, getattr(self, name))
        _check_type_prices(self.side, self.order_type, self.price, self.trigger_price)

    @property
    def is_stop(self) -> bool:
        return self.order_type in (OrderType.SL, OrderType.SL_M)


def _check_type_prices(
    side: Side, order_type: OrderType, price: Decimal | None, trigger: Decimal | None
) -> None:
    needs_price = order_type in (OrderType.LIMIT, OrderType.SL)
    needs_trigger = order_type in (OrderType.SL, OrderType.SL_M)
    if needs_price and price is None:
        raise ValidationError(f"{order_type} orders need a price (rupees)")
    if not needs_price and price is not None:
        raise ValidationError(f"{order_type} orders take no price; drop it or use LIMIT/SL")
    if needs_trigger and trigger is None:
        raise ValidationError(f"{order_type} orders need a trigger_price (rupees)")
    if not needs_trigger and trigger is not None:
        raise ValidationError(f"{order_type} orders take no trigger_price; drop it or use SL/SL-M")
    if order_type is OrderType.SL and price is not None and trigger is not None:
        if side is Side.BUY and trigger > price:
            raise ValidationError(
                f"BUY SL needs trigger_price <= price (trigger {trigger} > price {price}); lower the trigger"
            )
        if side is Side.SELL and trigger < price:
            raise ValidationError(
                f"SELL SL needs trigger_price >= price (trigger {trigger} < price {price}); raise the trigger"
            )


@dataclass(frozen=True, slots=True)
class Order:
    """An order in the paper order book.

    ``filled_quantity`` shares; ``filled_turnover`` exact rupees (Σ qty × price of fills);
    ``average_price`` rupees (``None`` until the first fill); ``fill_count`` is the number of
    fills so far (the next fill's sequence is ``fill_count + 1``). ``queued_for_open`` marks a
    pre-open order waiting for the open. ``tick_size`` is copied from the instrument.
    """

    order_id: str
    intent: OrderIntent
    status: OrderStatus
    placed_at: datetime
    updated_at: datetime
    tick_size: Decimal
    filled_quantity: int = 0
    filled_turnover: Decimal = ZERO
    fill_count: int = 0
    queued_for_open: bool = False
    status_message: str = ""

    @property
    def pending_quantity(self) -> int:
        return self.intent.quantity - self.filled_quantity

    @property
    def average_price(self) -> Decimal | None:
        if not self.filled_quantity:
            return None
        return paise(self.filled_turnover / self.filled_quantity)

    @property
    def is_open(self) -> bool:
        return self.status.is_open


def initial_status(order_type: OrderType) -> OrderStatus:
    """TRIGGER PENDING for SL/SL-M, OPEN otherwise (Kite)."""
    return OrderStatus.TRIGGER_PENDING if order_type in (OrderType.SL, OrderType.SL_M) else OrderStatus.OPEN


# --------------------------------------------------------------------------- validation


def validate_intent(intent: OrderIntent, instrument: Instrument, ltp: Decimal | None = None) -> None:
    """Check ``intent`` against ``instrument`` (and the LTP when given); raise on bad input.

    Raises
    ------
    ValidationError
        Token/symbol mismatch, an index (not tradable), quantity not a multiple of
        ``lot_size``, a price or trigger off ``tick_size``, or (with ``ltp``) a stop whose
        trigger is already through the LTP.
    """
    if intent.instrument_token != instrument.instrument_token:
        raise ValidationError(
            f"intent is for token {intent.instrument_token} but instrument is "
            f"{instrument.instrument_token} ({instrument.tradingsymbol})"
        )
    if not instrument.tradable:
        raise ValidationError(f"{instrument.tradingsymbol} is an index and cannot be traded; pick a stock")
    if instrument.lot_size <= 0 or intent.quantity % instrument.lot_size:
        raise ValidationError(
            f"quantity {intent.quantity} must be a multiple of lot_size {instrument.lot_size}"
        )
    for name in ("price", "trigger_price"):
        value = getattr(intent, name)
        if value is not None and not on_tick(value, instrument.tick_size):
            raise ValidationError(
                f"{name} {value} is not a multiple of tick_size {instrument.tick_size}; "
                f"use {round_to_tick(value, instrument.tick_size, up=False)} or "
                f"{round_to_tick(value, instrument.tick_size, up=True)}"
            )
    if ltp is not None and intent.trigger_price is not None:
        if intent.side is Side.BUY and intent.trigger_price <= ltp:
            raise ValidationError(
                f"BUY stop trigger_price {intent.trigger_price} must be above the LTP {ltp}"
            )
        if intent.side is Side.SELL and intent.trigger_price >= ltp:
            raise ValidationError(
                f"SELL stop trigger_price {intent.trigger_price} must be below the LTP {ltp}"
            )


def session_phase(now: datetime) -> SessionPhase:
    """The NSE equity phase at ``now`` on a *regular* trading day (09:15–15:30 IST).

    A convenience for callers without a calendar: it assumes ``now`` is on a trading day. For
    holidays and special sessions use ``core.calendar.NseCalendar.session(day).phase(now)``.
    Raises ``ValidationError`` for a naive time.
    """
    return regular_session(to_ist(now).date()).phase(now)


@dataclass(frozen=True, slots=True)
class Admission:
    """Result of :func:`admit`: accepted or refused with reason codes and messages.

    ``queued_for_open`` is True when accepted in pre-open (fills at the open).
    """

    accepted: bool
    reasons: tuple[OrderReason, ...] = ()
    messages: tuple[str, ...] = ()
    queued_for_open: bool = False


def reduces_position(intent: OrderIntent, position_quantity: int) -> bool:
    """True when ``intent`` only reduces the signed ``position_quantity`` (shares) toward zero."""
    if position_quantity == 0 or intent.side.sign == (1 if position_quantity > 0 else -1):
        return False
    return intent.quantity <= abs(position_quantity)


def admit(
    intent: OrderIntent,
    instrument: Instrument,
    *,
    now: datetime,
    phase: SessionPhase,
    circuit: CircuitBand | None = None,
    holding_quantity: int = 0,
    position_quantity: int = 0,
    square_off_cutoff: time = MIS_SQUARE_OFF,
    ltp: Decimal | None = None,
) -> Admission:
    """Validate ``intent`` and decide whether the exchange session would accept it now.

    Parameters
    ----------
    now : datetime
        tz-aware; compared with ``square_off_cutoff`` on the IST wall clock.
    phase : SessionPhase
        The session phase at ``now`` (:func:`session_phase`, or CLOSED on a holiday).
    circuit : CircuitBand, optional
        The day's band; limit and trigger prices outside it are refused.
    holding_quantity : int
        Shares available to sell from holdings (CNC SELL needs ``quantity <= holding_quantity``).
    position_quantity : int
        Signed open quantity of the same instrument and product (long > 0), to tell exits
        (allowed after the MIS cut-off) from fresh entries.

    Raises
    ------
    ValidationError
        Bad input (see :func:`validate_intent`), a naive ``now``, or negative holdings.
    """
    require_aware(now, "now")
    validate_intent(intent, instrument, ltp)
    if holding_quantity < 0:
        raise ValidationError(f"holding_quantity must be >= 0 shares, was {holding_quantity}")
    reasons: list[OrderReason] = []
    messages: list[str] = []

    def refuse(code: OrderReason, message: str) -> None:
        reasons.append(code)
        messages.append(message)

    queued = False
    if phase is SessionPhase.PRE_OPEN:
        queued = True
        if intent.is_stop:
            refuse(OrderReason.PRE_OPEN_ORDER_TYPE, "pre-open accepts only MARKET and LIMIT orders")
    elif phase is SessionPhase.PRE_OPEN_MATCHING:
        refuse(OrderReason.PRE_OPEN_MATCHING, "pre-open matching (09:08–09:15 IST): orders are not accepted")
    elif phase in (SessionPhase.CLOSED, SessionPhase.CLOSING):
        refuse(OrderReason.MARKET_CLOSED, f"market is not accepting orders ({phase})")
    elif phase is SessionPhase.POST_CLOSE and intent.product is not Product.CNC:
        refuse(OrderReason.POST_CLOSE_CNC_ONLY, "post-close session (15:40–16:00 IST) accepts CNC only")

    is_exit = reduces_position(intent, position_quantity)
    if intent.product is Product.MIS and not is_exit and to_ist(now).time() >= square_off_cutoff:
        refuse(
            OrderReason.MIS_CUTOFF,
            f"no fresh MIS entries at or after {square_off_cutoff:%H:%M} IST; use CNC or exit only",
        )
    if circuit is not None:
        for name in ("price", "trigger_price"):
            value = getattr(intent, name)
            if value is not None and not circuit.contains(value):
                refuse(
                    OrderReason.OUTSIDE_CIRCUIT,
                    f"{name} {value} is outside the circuit band {circuit.lower}–{circuit.upper}",
                )
    if intent.product is Product.CNC and intent.side is Side.SELL and intent.quantity > holding_quantity:
        refuse(
            OrderReason.INSUFFICIENT_HOLDINGS,
            f"CNC sell of {intent.quantity} needs holdings; only {holding_quantity} available "
            "(short selling is MIS only)",
        )
    if reasons:
        return Admission(False, tuple(reasons), tuple(messages))
    return Admission(True, queued_for_open=queued)


# --------------------------------------------------------------------------- modify / cancel


def _require_open(order: Order, action: str) -> None:
    if not order.is_open:
        raise ValidationError(
            f"cannot {action} order {order.order_id}: it is {order.status}; only OPEN or "
            "TRIGGER PENDING orders can be changed"
        )


def modify_order(
    order: Order,
    instrument: Instrument,
    *,
    now: datetime,
    quantity: int | None = None,
    price: Decimal | None = None,
    trigger_price: Decimal | None = None,
    order_type: OrderType | None = None,
) -> Order:
    """Return ``order`` with new quantity/price/trigger/order type (only fields given change).

    Changing ``order_type`` clears prices the new type does not take (e.g. LIMIT → MARKET
    drops ``price``). The new quantity must exceed what has already filled. An SL order that
    has already triggered keeps status OPEN.

    Raises
    ------
    ValidationError
        The order is not open (COMPLETE, CANCELLED, REJECTED), nothing would change, the new
        quantity is not above ``filled_quantity``, or the new intent is invalid for
        ``instrument``.
    """
    _require_open(order, "modify")
    require_aware(now, "now")
    if quantity is None and price is None and trigger_price is None and order_type is None:
        raise ValidationError("modify needs at least one of quantity, price, trigger_price, order_type")
    new_type = order_type or order.intent.order_type
    new_price = price if price is not None else order.intent.price
    new_trigger = trigger_price if trigger_price is not None else order.intent.trigger_price
    if new_type in (OrderType.MARKET, OrderType.SL_M):
        new_price = None if price is None else price
    if new_type in (OrderType.MARKET, OrderType.LIMIT):
        new_trigger = None if trigger_price is None else trigger_price
    new_qty = quantity if quantity is not None else order.intent.quantity
    if new_qty <= order.filled_quantity:
        raise ValidationError(
            f"new quantity {new_qty} must exceed the {order.filled_quantity} shares already filled"
        )
    intent = replace(
        order.intent, quantity=new_qty, price=new_price, trigger_price=new_trigger, order_type=new_type
    )
    validate_intent(intent, instrument)
    status = order.status
    if order.status is OrderStatus.TRIGGER_PENDING or new_type != order.intent.order_type:
        status = initial_status(new_type)
    return replace(order, intent=intent, status=status, updated_at=now)


def cancel_order(order: Order, *, now: datetime, message: str = "cancelled by user") -> Order:
    """Return ``order`` CANCELLED. Raises ``ValidationError`` if it is not open."""
    _require_open(order, "cancel")
    require_aware(now, "now")
    return replace(order, status=OrderStatus.CANCELLED, updated_at=now, status_message=message)
