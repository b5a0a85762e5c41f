"""The risk gatekeeper: run every rule, collect every reason.

There is deliberately **no override parameter**: nothing a caller passes — including text or
numbers labelled as LLM output — can relax a limit. Limits change only by building a new
:class:`~core.risk.limits.RiskLimits` (configuration), never per order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.errors import ValidationError
from core.orders import CircuitBand, OrderIntent, reduces_position, session_phase
from core.portfolio import required_margin
from core.risk import rules
from core.risk.limits import RiskLimits, RiskState
from core.risk.reasons import Denial, ReasonCode
from core.sessions import SessionPhase
from core.timeutil import require_aware


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """``approved`` iff ``reasons`` is empty. ``is_exit``: the order only reduces a position.
    ``enter_safe_mode``: the daily loss limit is hit; the caller should persist safe mode."""

    approved: bool
    reasons: tuple[ReasonCode, ...]
    messages: tuple[str, ...]
    is_exit: bool
    enter_safe_mode: bool = False


def evaluate(
    intent: OrderIntent,
    price: Decimal,
    state: RiskState,
    limits: RiskLimits,
    now: datetime,
    *,
    phase: SessionPhase | None = None,
    circuit: CircuitBand | None = None,
) -> RiskDecision:
    """Check ``intent`` at expected fill ``price`` (₹, e.g. LTP) against every rule.

    ``phase`` defaults to ``core.orders.session_phase(now)`` (assumes a trading day; pass
    ``SessionPhase.CLOSED`` on holidays). ``circuit`` is the day's band, if known.

    Raises ``ValidationError`` if ``price`` is not positive Decimal rupees or ``now`` is naive.
    """
    require_aware(now, "now")
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        raise ValidationError(f"price must be positive Decimal rupees, was {price!r}")
    phase = phase if phase is not None else session_phase(now)
    position = state.positions.get((intent.instrument_token, intent.product), 0)
    is_exit = reduces_position(intent, position)
    margin = required_margin(intent, price, state.mis_leverage, position)
    results: list[Denial | None] = [
        rules.check_kill_switch(is_exit, state.halted),
        rules.check_safe_mode(is_exit, state.safe_mode),
        rules.check_daily_loss(is_exit, state.day_pnl, limits.daily_loss_limit),
        rules.check_max_drawdown(is_exit, state.equity, state.equity_peak, limits.max_drawdown_pct),
        rules.check_order_notional(is_exit, intent, price, limits.max_order_notional),
        rules.check_order_quantity(is_exit, intent, limits.max_order_quantity),
        rules.check_risk_per_trade(
            is_exit, intent, price, state.capital, limits.risk_per_trade_pct, limits.require_stop
        ),
        None if is_exit else rules.check_open_positions(intent, state.positions, limits.max_open_positions),
        rules.check_orders_per_day(is_exit, state.orders_today, limits.max_orders_per_day),
        rules.check_orders_per_symbol(
            is_exit, intent, state.orders_today_by_symbol, limits.max_orders_per_symbol_per_day
        ),
        rules.check_cooldown(
            is_exit,
            state.consecutive_losses,
            state.last_loss_at,
            now,
            limits.max_consecutive_losses,
            limits.cooldown_minutes,
        ),
        rules.check_wash_trade(is_exit, intent, state.last_fills, now, limits.wash_trade_minutes),
        rules.check_trading_hours(is_exit, intent, phase, now, limits.square_off_cutoff),
        rules.check_circuit(intent, price, circuit),
        rules.check_margin(is_exit, margin, state.available_margin),
    ]
    denials = [d for d in results if d is not None]
    codes = tuple(d.code for d in denials)
    return RiskDecision(
        approved=not denials,
        reasons=codes,
        messages=tuple(d.message for d in denials),
        is_exit=is_exit,
        enter_safe_mode=ReasonCode.DAILY_LOSS_LIMIT in codes and not state.safe_mode,
    )
