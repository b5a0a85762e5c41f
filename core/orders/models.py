"""Orders: the vocabulary (Kite Connect names), the immutable intent and order.

Money is ``Decimal`` rupees quantized to the paisa; quantities are shares; times are tz-aware.
Construction raises :class:`~core.errors.ValidationError` for bad input (wrong type or sign,
prices that do not fit ``order_type``, a stop-loss whose trigger is on the wrong side of its
price). Nothing here mutates: an ``Order`` changes by ``dataclasses.replace``.

Stop-loss direction (Kite's rule): a **BUY** SL triggers on a rise, so ``trigger_price <=
price``; a **SELL** SL triggers on a fall, so ``trigger_price >= price``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.errors import ValidationError
from core.orders.prices import ZERO, round_to_paisa


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
        return self is OrderStatus.OPEN or self is OrderStatus.TRIGGER_PENDING


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

#: Kite's ``market_protection = -1``: Zerodha's automatic band (``core.market_protection``).
MARKET_PROTECTION_AUTO = Decimal(-1)
_HUNDRED = Decimal(100)


def check_market_protection(value: Decimal | None) -> None:
    """``market_protection`` is ``None`` (the desk's default: automatic), ``-1`` (automatic) or a
    percent ``0 < p <= 100`` (Kite Connect, from 1 Apr 2026: kite.trade forum comment 52940 and
    52970; Kite refuses ``0``). Raises ``ValidationError`` naming the field and the allowed range."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError(f"market_protection must be a Decimal percent (-1 or 0 < p <= 100), was {value!r}")
    if value != MARKET_PROTECTION_AUTO and not Decimal(0) < value <= _HUNDRED:
        raise ValidationError(
            f"market_protection must be -1 (automatic) or a percent 0 < p <= 100, was {value} "
            "(rule: Kite refuses 0 on API MARKET/SL-M orders from 1 Apr 2026; source: Kite Connect market "
            "protection, kite.trade forum comments 52940 and 52970)"
        )


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

    ``market_protection`` is Kite's parameter for MARKET and SL-M orders (from 1 Apr 2026):
    ``-1`` automatic (Zerodha's table in ``core.market_protection``) or a percent ``0 < p <=
    100``. Kite's API refuses a MARKET/SL-M order without it; the desk instead defaults
    ``None`` to automatic, so strategies and tickets written before the rule keep trading with
    the protection Kite would apply to them. It is ignored on LIMIT/SL orders and before
    2026-04-01 (no protection then).

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
    market_protection: Decimal | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.instrument_token, int) or self.instrument_token <= 0:
            raise ValidationError(f"instrument_token must be a positive int, was {self.instrument_token!r}")
        if not self.tradingsymbol:
            raise ValidationError("tradingsymbol is required (e.g. 'INFY')")
        if not (isinstance(self.side, Side) and isinstance(self.product, Product)
                and isinstance(self.order_type, OrderType) and isinstance(self.validity, Validity)):
            for name, enum in (
                ("side", Side),
                ("product", Product),
                ("order_type", OrderType),
                ("validity", Validity),
            ):
                if not isinstance(getattr(self, name), enum):
                    raise ValidationError(f"{name} must be one of {', '.join(m.value for m in enum)}, was {getattr(self, name)!r:.60}")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity <= 0:
            raise ValidationError(f"quantity must be a positive whole number of shares, was {self.quantity!r}")
        if not (self.price is None and self.trigger_price is None and self.stop_loss is None and self.target is None):
            for name in ("price", "trigger_price", "stop_loss", "target"):
                _check_price(name, getattr(self, name))
        _check_type_prices(self.side, self.order_type, self.price, self.trigger_price)
        if self.market_protection is not None:
            check_market_protection(self.market_protection)

    @property
    def is_market(self) -> bool:
        """MARKET or SL-M: the order types Kite's market protection applies to."""
        return self.order_type in (OrderType.MARKET, OrderType.SL_M)

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
    ``protection_price`` ₹ is the worst price a protected MARKET/SL-M order may fill at (Kite
    then shows it as a LIMIT at that price; ``core.market_protection``), ``None`` when not (yet)
    protected.
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
    protection_price: Decimal | None = None

    @property
    def pending_quantity(self) -> int:
        return self.intent.quantity - self.filled_quantity

    @property
    def average_price(self) -> Decimal | None:
        if not self.filled_quantity:
            return None
        return round_to_paisa(self.filled_turnover / self.filled_quantity)

    @property
    def is_open(self) -> bool:
        return self.status.is_open


def initial_status(order_type: OrderType) -> OrderStatus:
    """TRIGGER PENDING for SL/SL-M, OPEN otherwise (Kite)."""
    return OrderStatus.TRIGGER_PENDING if order_type in (OrderType.SL, OrderType.SL_M) else OrderStatus.OPEN



def reduces_position(intent: OrderIntent, position_quantity: int) -> bool:
    """True when ``intent`` only reduces the signed ``position_quantity`` (shares) toward zero."""
    if position_quantity == 0 or intent.side.sign == (1 if position_quantity > 0 else -1):
        return False
    return intent.quantity <= abs(position_quantity)
