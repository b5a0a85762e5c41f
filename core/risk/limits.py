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


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The desk's limits. Every cap must be >= 0; a cap of 0 refuses every entry it governs.

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
    * ``square_off_cutoff`` IST: no fresh MIS entries at/after it (Zerodha 15:20).

    Raises ``ValidationError`` naming the field when a value is negative or of the wrong type.
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
            value = getattr(self, f.name)
            if f.name in ("require_stop", "square_off_cutoff"):
                continue
            if f.type in ("Decimal",):
                if not isinstance(value, Decimal) or not value.is_finite():
                    raise ValidationError(f"RiskLimits.{f.name} must be a Decimal, was {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(f"RiskLimits.{f.name} must be a whole number, was {value!r}")
            if value < 0:
                raise ValidationError(f"RiskLimits.{f.name} must be >= 0, was {value}")
        if not isinstance(self.require_stop, bool):
            raise ValidationError(f"RiskLimits.require_stop must be a bool, was {self.require_stop!r}")
        if not isinstance(self.square_off_cutoff, time):
            raise ValidationError("RiskLimits.square_off_cutoff must be a datetime.time (IST)")


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
