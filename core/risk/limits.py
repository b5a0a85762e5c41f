"""Risk limits (configuration) and the risk state snapshot (facts), both immutable.

Money ``Decimal`` rupees; percentages are ``Decimal`` percent (``Decimal("1")`` = 1 %).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, time
from decimal import Decimal

from core.errors import ValidationError
from core.orders import ZERO, FrozenMap, Product, Side
from core.sessions import MIS_SQUARE_OFF


#: The session a MIS cut-off must lie inside: after the open, before the close (IST).
CUTOFF_AFTER = time(9, 15)
CUTOFF_BEFORE = time(15, 30)
_CRORE = Decimal(10_000_000)


@dataclass(frozen=True, slots=True)
class LimitBound:
    """The allowed range of one limit: ``kind`` is ``"money"`` (``Decimal`` ₹), ``"percent"``
    (``Decimal`` %), ``"count"`` (``int``), ``"bool"`` or ``"time"`` (IST wall clock);
    ``low``/``high`` inclusive (``None`` for bool and time); ``unit`` names what is counted."""

    kind: str
    low: Decimal | int | None = None
    high: Decimal | int | None = None
    unit: str = ""

    @property
    def allowed(self) -> str:
        """The range as a trader reads it, e.g. ``">= 0 and <= 100 (% of capital)"``."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "time":
            return (f"an IST time HH:MM inside the session and before the close: after "
                    f"{CUTOFF_AFTER:%H:%M} and before {CUTOFF_BEFORE:%H:%M} (Zerodha's is {MIS_SQUARE_OFF:%H:%M})")
        high = f"₹{int(self.high / _CRORE)} crore" if self.kind == "money" else f"{int(self.high):,}"
        return f">= {self.low} and <= {high} ({self.unit})"


#: Every limit's allowed range (the editor's bounds; ``RiskLimits`` refuses anything outside).
LIMIT_BOUNDS: dict[str, LimitBound] = {
    "max_order_notional": LimitBound("money", Decimal(0), 100 * _CRORE, "rupees per order"),
    "max_order_quantity": LimitBound("count", 0, 10_000_000, "shares per order"),
    "risk_per_trade_pct": LimitBound("percent", Decimal(0), Decimal(100), "% of capital"),
    "require_stop": LimitBound("bool"),
    "max_open_positions": LimitBound("count", 0, 1_000, "positions"),
    "max_orders_per_day": LimitBound("count", 0, 100_000, "orders a day"),
    "max_orders_per_symbol_per_day": LimitBound("count", 0, 100_000, "orders a day in one symbol"),
    "daily_loss_limit": LimitBound("money", Decimal(0), 100 * _CRORE, "rupees a day"),
    "max_drawdown_pct": LimitBound("percent", Decimal(0), Decimal(100), "% from peak equity"),
    "max_consecutive_losses": LimitBound("count", 0, 1_000, "losing trades in a row"),
    "cooldown_minutes": LimitBound("count", 0, 1_440, "minutes, up to one day"),
    "wash_trade_minutes": LimitBound("count", 0, 1_440, "minutes, up to one day"),
    "square_off_cutoff": LimitBound("time"),
}


def cutoff_in_session(value: time) -> bool:
    """Whether a MIS cut-off lies inside the session and before the close (a whole minute,
    strictly after 09:15 and strictly before 15:30 IST). A cut-off at or before the open
    would block MIS entries all day and square positions off as soon as they open."""
    return CUTOFF_AFTER < value < CUTOFF_BEFORE and not value.second and not value.microsecond and value.tzinfo is None


def show_value(value: object, limit: int = 40) -> str:
    """``repr`` of a bad value, cut to ``limit`` characters (a pasted megabyte stays short)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The desk's limits. A cap of 0 refuses every entry it governs.

    * ``max_order_notional`` ₹ per order (quantity × price);
    * ``max_order_quantity`` shares per order;
    * ``risk_per_trade_pct`` % of capital that ``|entry − stop| × quantity`` may risk;
      ``require_stop``: refuse entries without ``stop_loss``;
    * ``max_open_positions`` instruments/products with a non-zero position;
    * ``max_orders_per_day`` and ``max_orders_per_symbol_per_day`` entry orders;
    * ``daily_loss_limit`` ₹: when the day's P&L (after charges) is at or below ``−limit`` the
      desk enters safe mode (exits only);
    * ``max_drawdown_pct`` % from peak equity at which entries stop;
    * ``max_consecutive_losses`` losing trades in a row that start a cooldown of
      ``cooldown_minutes`` from the last loss;
    * ``wash_trade_minutes``: no opposite-side entry in a symbol within this many minutes of
      its last fill;
    * ``square_off_cutoff`` IST: no fresh MIS entries at/after it, and the MIS square-off
      starts then (Zerodha 15:20); inside the session and before the close.

    Every value must lie in its ``LIMIT_BOUNDS`` range (percentages 0–100, counts whole
    numbers, money finite ``Decimal``). Raises ``ValidationError`` naming the field, the bad
    value (cut short) and the allowed range. Editor input (strings, numbers) goes through
    ``core.risk.limits_input.limits_from_input`` first.
    """

    max_order_notional: Decimal = Decimal("200000")
    max_order_quantity: int = 5000
    risk_per_trade_pct: Decimal = Decimal("1")
    require_stop: bool = False
    max_open_positions: int = 5
    max_orders_per_day: int = 50
    max_orders_per_symbol_per_day: int = 10
    daily_loss_limit: Decimal = Decimal("20000")
    max_drawdown_pct: Decimal = Decimal("10")
    max_consecutive_losses: int = 3
    cooldown_minutes: int = 30
    wash_trade_minutes: int = 5
    square_off_cutoff: time = MIS_SQUARE_OFF

    def __post_init__(self) -> None:
        for f in fields(self):
            check_limit(f.name, getattr(self, f.name), prefix="RiskLimits.")


def check_limit(name: str, value: object, *, prefix: str = "risk limit ") -> None:
    """Raise ``ValidationError`` unless ``value`` is of limit ``name``'s type and inside its
    ``LIMIT_BOUNDS`` range. The message reads ``"<prefix><name> must be …, was <value>"``."""
    bound = LIMIT_BOUNDS[name]
    shown = show_value(value)
    if bound.kind == "bool":
        if not isinstance(value, bool):
            raise ValidationError(f"{prefix}{name} must be a bool (true or false), was {shown}")
        return
    if bound.kind == "time":
        if not isinstance(value, time):
            raise ValidationError(f"{prefix}{name} must be a datetime.time (IST), {bound.allowed}; was {shown}")
        if not cutoff_in_session(value):
            raise ValidationError(f"{prefix}{name} must be {bound.allowed}; "
                                  f"was {value.strftime('%H:%M:%S' if value.second else '%H:%M')}")
        return
    if bound.kind in ("money", "percent"):
        if not isinstance(value, Decimal):
            raise ValidationError(f"{prefix}{name} must be a Decimal ({bound.unit}), was {shown}")
        if not value.is_finite():
            raise ValidationError(f"{prefix}{name} must be a finite number, not NaN or infinity; "
                                  f"allowed {bound.allowed}; was {shown}")
    elif isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{prefix}{name} must be a whole number ({bound.unit}), was {shown}")
    if not bound.low <= value <= bound.high:
        raise ValidationError(f"{prefix}{name} must be {bound.allowed}, was {value}")


@dataclass(frozen=True, slots=True)
class LastFill:
    """The latest fill in a symbol: its ``side`` and time (tz-aware)."""

    side: Side
    at: datetime


def _frozen(mapping: Mapping) -> Mapping:
    return FrozenMap(mapping)


@dataclass(frozen=True, slots=True)
class RiskState:
    """What risk needs to know now; the app builds it from the portfolio and the order log.

    * ``capital`` ₹ (for risk per trade), ``equity`` ₹ now and ``equity_peak`` ₹ (drawdown);
    * ``day_pnl`` ₹ realized + unrealized − charges today (``core.portfolio.pnl(...).day``);
    * ``orders_today`` / ``orders_today_by_symbol`` orders placed today (by tradingsymbol);
    * ``positions`` signed shares by ``(instrument_token, product)``, open ones only;
    * ``consecutive_losses`` and ``last_loss_at`` for the cooldown;
    * ``last_fills`` by tradingsymbol, for the wash-trade rule;
    * ``halted`` (kill switch) and ``safe_mode`` (daily loss) flags;
    * ``available_margin`` ₹ (``core.portfolio.funds``) or ``None`` to skip the margin check;
      ``mis_leverage`` for MIS margin.
    """

    capital: Decimal
    equity: Decimal
    equity_peak: Decimal
    day_pnl: Decimal = ZERO
    orders_today: int = 0
    orders_today_by_symbol: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    positions: Mapping[tuple[int, Product], int] = field(default_factory=lambda: _frozen({}))
    consecutive_losses: int = 0
    last_loss_at: datetime | None = None
    last_fills: Mapping[str, LastFill] = field(default_factory=lambda: _frozen({}))
    halted: bool = False
    safe_mode: bool = False
    available_margin: Decimal | None = None
    mis_leverage: Decimal = Decimal(5)

    def __post_init__(self) -> None:
        for name in ("capital", "equity", "equity_peak", "day_pnl"):
            if not isinstance(getattr(self, name), Decimal):
                raise ValidationError(f"RiskState.{name} must be Decimal rupees")
        if self.capital <= 0:
            raise ValidationError(f"RiskState.capital must be positive rupees, was {self.capital}")
        if self.orders_today < 0 or self.consecutive_losses < 0:
            raise ValidationError("RiskState counts (orders_today, consecutive_losses) must be >= 0")
        if self.last_loss_at is not None and self.last_loss_at.tzinfo is None:
            raise ValidationError("RiskState.last_loss_at must be timezone-aware")
        if self.mis_leverage < 1:
            raise ValidationError(f"RiskState.mis_leverage must be >= 1, was {self.mis_leverage}")
