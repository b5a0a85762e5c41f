"""The gatekeeper: one pure function that every order change passes.

``check(change, context) -> Decision`` judges an :class:`OrderChange` — a place (manual
ticket), a strategy's proposal, an approve (single or bulk) or a modify (quantity, price,
trigger, order type) — against the market's rules (``core.risk.market_rules``: session,
MIS cut-off, circuit on price *and* trigger, stops through the LTP, CNC holdings) and, when
the context carries the account (``state`` and ``limits``), the desk's account rules
(``core.risk.rules``: halt, safe mode, loss, drawdown, notional, quantity, risk per trade,
positions, order counts, cooldown, wash trades, margin). Every reason comes from the one
:class:`~core.risk.reasons.ReasonCode` enum; every rule runs and every reason is collected
(an exit skips only the account rules, each of which passes an exit: the same verdict).

* **Bad input raises** ``ValidationError`` (lot, tick, token, a naive time); a **business
  refusal returns** a :class:`Decision` with ``approved=False``.
* A **modify** is judged as the order it would become (``change.intent``), with the open
  order itself (``change.current``) not counted twice: it is not a new order for the daily
  order counts, and its own margin is not in ``context.reserved_margin``.
* Only the desk's own exits are **exempt** (``Exemption.MIS_SQUARE_OFF``,
  ``Exemption.KILL_SWITCH_FLATTEN``): the decision is approved, says ``exempt`` and lists the
  codes it ``waived``. There is no other override: nothing a caller passes relaxes a limit.

Pure: no I/O, no clock; ``context.now`` is the market time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum

from core.calendar import Holiday
from core.errors import ValidationError
from core.margins import MarginRules, check_mis_eligible, margin_price_given
from core.market_protection import check_protection_in_band, clamp_auto_protection, intent_protection
from core.models import Instrument
from core.orders import (
    ZERO,
    CircuitBand,
    FrozenMap,
    Order,
    OrderIntent,
    reduces_position,
    tick_size_for,
    validate_intent,
)
from core.risk import market_rules, rules
from core.risk.limits import RiskLimits, RiskState
from core.risk.reasons import Denial, ReasonCode
from core.sessions import MIS_SQUARE_OFF, SessionPhase
from core.timeutil import require_aware, to_ist

#: Tags of the orders the desk places itself; they are not counted against order limits.
SYSTEM_TAGS = ("SQUAREOFF", "KILLSWITCH")


class ChangeKind(StrEnum):
    """What is being done to the order book."""

    PLACE = "PLACE"
    PROPOSE = "PROPOSE"
    APPROVE = "APPROVE"
    MODIFY = "MODIFY"


class Exemption(StrEnum):
    """The desk's own exits, the only orders the gatekeeper waves through."""

    MIS_SQUARE_OFF = "MIS_SQUARE_OFF"
    KILL_SWITCH_FLATTEN = "KILL_SWITCH_FLATTEN"


@dataclass(frozen=True, slots=True)
class OrderChange:
    """``intent`` is the order as it would stand after the change; ``current`` the open order
    a MODIFY changes (required for MODIFY, refused otherwise); ``exempt`` only for the desk's
    own exits (a PLACE). Raises ``ValidationError`` for an inconsistent combination."""

    kind: ChangeKind
    intent: OrderIntent
    current: Order | None = None
    exempt: Exemption | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ChangeKind):
            raise ValidationError(f"kind must be a ChangeKind ({', '.join(ChangeKind)}), was {self.kind!r}")
        if not isinstance(self.intent, OrderIntent):
            raise ValidationError("intent must be a core.orders.OrderIntent")
        if (self.kind is ChangeKind.MODIFY) != (self.current is not None):
            raise ValidationError("current (the open order) is required for MODIFY and only for MODIFY")
        if self.exempt is not None and (self.kind is not ChangeKind.PLACE or not isinstance(self.exempt, Exemption)):
            raise ValidationError(f"exempt must be one of {', '.join(Exemption)} on a PLACE, was {self.exempt!r}")


@dataclass(frozen=True, slots=True)
class GateContext:
    """The facts the gatekeeper judges by, gathered by the caller at ``now`` (tz-aware).

    * ``phase`` the session phase at ``now`` (CLOSED on a holiday); ``holiday`` the
      calendar's entry for a holiday (named with its source in the refusal); ``ltp`` ₹ or ``None``;
    * ``circuit`` the day's band, if known; ``square_off_cutoff`` IST;
    * ``holding_quantity`` settled CNC shares that may be sold; ``position_quantity`` the
      signed open quantity of the same instrument and product (tells exits from entries);
    * ``state`` and ``limits`` the account (both or neither: without them only the market's
      rules run, as the paper exchange does); ``reserved_margin`` ₹ blocked by *other* open
      orders (for a modify, without the order being modified); ``margin_rules`` the per-stock
      margin table and MIS list (``core.margins``; ``None``: a flat ``state.mis_leverage``).
    """

    instrument: Instrument
    now: datetime
    phase: SessionPhase
    ltp: Decimal | None = None
    circuit: CircuitBand | None = None
    holding_quantity: int = 0
    position_quantity: int = 0
    square_off_cutoff: time = MIS_SQUARE_OFF
    state: RiskState | None = None
    limits: RiskLimits | None = None
    reserved_margin: Decimal = ZERO
    margin_rules: MarginRules | None = None
    holiday: Holiday | None = None

    def __post_init__(self) -> None:
        require_aware(self.now, "now")
        if (self.state is None) != (self.limits is None):
            raise ValidationError("state and limits go together: pass both (the desk) or neither (the exchange)")
        if self.holding_quantity < 0:
            raise ValidationError(f"holding_quantity must be >= 0 shares, was {self.holding_quantity}")
        if self.ltp is not None and (not isinstance(self.ltp, Decimal) or not self.ltp.is_finite() or self.ltp <= 0):
            raise ValidationError(f"ltp must be positive Decimal rupees or None, was {self.ltp!r}")
        if not isinstance(self.reserved_margin, Decimal) or self.reserved_margin < 0:
            raise ValidationError(f"reserved_margin must be Decimal rupees >= 0, was {self.reserved_margin!r}")


@dataclass(frozen=True, slots=True)
class Decision:
    """The gatekeeper's answer. ``approved`` iff ``reasons`` is empty (or the change is exempt).

    ``messages`` one per reason (for an exempt change: one line saying so); ``waived`` the
    codes an exempt exit would otherwise have been refused for; ``expected_price`` ₹ per share
    the notional and margin were judged at (the limit price, else the LTP); ``notional`` ₹;
    ``required_margin`` ₹, judged at ``margin_price`` ₹ per share (``core.margins.margin_price``:
    the protection price of a MARKET/SL-M order from 1 Apr 2026, the worst price it can fill
    at); ``protection_price`` ₹ that price, ``None`` when not protected; ``queued_for_open``
    accepted in pre-open; ``enter_safe_mode`` the daily loss limit is hit and the caller
    should persist safe mode.
    """

    kind: ChangeKind
    approved: bool
    reasons: tuple[ReasonCode, ...] = ()
    messages: tuple[str, ...] = ()
    is_exit: bool = False
    exempt: Exemption | None = None
    waived: tuple[ReasonCode, ...] = ()
    expected_price: Decimal | None = None
    notional: Decimal | None = None
    required_margin: Decimal | None = None
    margin_price: Decimal | None = None
    protection_price: Decimal | None = None
    queued_for_open: bool = False
    enter_safe_mode: bool = False


def check(change: OrderChange, context: GateContext) -> Decision:
    """Judge ``change`` in ``context``; see the module docstring.

    Raises
    ------
    ValidationError
        Bad input: the intent does not fit the instrument (token, index, lot, tick).
    """
    intent, ctx = change.intent, context
    day = to_ist(ctx.now).date()
    validate_intent(intent, ctx.instrument, on=day)  # the date's NSE tick regime
    is_exit = reduces_position(intent, ctx.position_quantity)
    expected = intent.price if intent.price is not None else ctx.ltp
    tick = tick_size_for(ctx.instrument, day)
    protection = intent_protection(intent, ctx.ltp, tick, day)  # core.market_protection
    at = margin_price_given(intent, ctx.ltp, protection)  # core.margins rule 6: the worst fill price
    current = change.current
    if (current is not None and current.protection_price is not None and intent.price is None
            and current.intent.order_type is intent.order_type):
        protection = at = current.protection_price  # a modified protected order keeps its price (Kite)
    elif protection is not None:
        clamped = clamp_auto_protection(intent, protection, ctx.circuit)  # automatic: inside the band
        if clamped != protection:
            protection = at = clamped
    margin = None
    circuit = market_rules.check_circuit(intent, expected, ctx.circuit)
    denials = [
        market_rules.check_session(intent, ctx.phase, ctx.holiday),
        market_rules.check_mis_cutoff(intent, is_exit, ctx.now, ctx.square_off_cutoff),
        circuit,
        market_rules.check_trigger_vs_ltp(intent, ctx.ltp),
        market_rules.check_holdings(intent, ctx.holding_quantity),
    ]
    if circuit is None:  # a price outside the band is reported once, by check_circuit
        denials.append(check_protection_in_band(intent, protection, ctx.circuit))
    if ctx.state is not None and ctx.limits is not None:
        denials.append(market_rules.check_market_price(intent, ctx.ltp))
        margin = _required_margin(intent, at, ctx) if expected is not None and at is not None else None
        if not is_exit:  # every account rule passes an exit (core.risk.rules): nothing to collect
            denials.extend(_account_denials(change, ctx, expected, margin))
    found = [d for d in denials if d is not None]
    codes = tuple([d.code for d in found])
    notional = expected * intent.quantity if expected is not None else None
    queued = ctx.phase is SessionPhase.PRE_OPEN
    if change.exempt is not None:
        note = f"exempt: {change.exempt} (the desk's own exit)"
        if codes:
            note += f"; waived {', '.join(codes)}"
        return Decision(kind=change.kind, approved=True, messages=(note,), is_exit=is_exit, exempt=change.exempt,
                        waived=codes, expected_price=expected, notional=notional, required_margin=margin,
                        margin_price=at, protection_price=protection, queued_for_open=queued)
    return Decision(kind=change.kind, approved=not found, reasons=codes, messages=tuple([d.message for d in found]),
                    is_exit=is_exit, expected_price=expected, notional=notional, required_margin=margin,
                    margin_price=at, protection_price=protection, queued_for_open=queued,
                    enter_safe_mode=ReasonCode.DAILY_LOSS_LIMIT in codes and ctx.state is not None
                    and not ctx.state.safe_mode)


def _required_margin(intent: OrderIntent, expected: Decimal, ctx: GateContext) -> Decimal:
    assert ctx.state is not None
    if ctx.margin_rules is not None:
        return ctx.margin_rules.required(intent, expected, ctx.position_quantity)
    # core.portfolio imports the broker's events, and the broker imports this module: import late.
    from core.portfolio import required_margin

    return required_margin(intent, expected, ctx.state.mis_leverage, ctx.position_quantity)


def _account_denials(change: OrderChange, ctx: GateContext, expected: Decimal | None,
                     margin: Decimal | None) -> list[Denial | None]:
    """The account rules of an entry (``core.risk.rules``), in the order their reasons are listed."""
    state, limits, intent, now = ctx.state, ctx.limits, change.intent, ctx.now
    assert state is not None and limits is not None
    orders_today, by_symbol = _order_counts(change, state, now)
    out: list[Denial | None] = [
        rules.check_kill_switch(False, state.halted),
        rules.check_safe_mode(False, state.safe_mode),
        rules.check_daily_loss(False, state.day_pnl, limits.daily_loss_limit),
        rules.check_max_drawdown(False, state.equity, state.equity_peak, limits.max_drawdown_pct),
        rules.check_order_quantity(False, intent, limits.max_order_quantity),
        rules.check_open_positions(intent, state.positions, limits.max_open_positions),
        rules.check_orders_per_day(False, orders_today, limits.max_orders_per_day),
        rules.check_orders_per_symbol(False, intent, by_symbol, limits.max_orders_per_symbol_per_day),
        rules.check_cooldown(False, state.consecutive_losses, state.last_loss_at, now,
                             limits.max_consecutive_losses, limits.cooldown_minutes),
        rules.check_wash_trade(False, intent, state.last_fills, now, limits.wash_trade_minutes),
        check_mis_eligible(False, intent, ctx.margin_rules) if ctx.margin_rules is not None else None,
    ]
    if expected is not None:
        available = None if state.available_margin is None else state.available_margin - ctx.reserved_margin
        out += [
            rules.check_order_notional(False, intent, expected, limits.max_order_notional),
            rules.check_risk_per_trade(False, intent, expected, state.capital, limits.risk_per_trade_pct,
                                       limits.require_stop),
            rules.check_margin(False, margin if margin is not None else ZERO, available),
        ]
    return out


def _order_counts(change: OrderChange, state: RiskState, now: datetime) -> tuple[int, FrozenMap]:
    """Orders today, without the modified order itself when it was counted (placed today)."""
    order = change.current
    if order is None or order.intent.tag in SYSTEM_TAGS or to_ist(order.placed_at).date() != to_ist(now).date():
        return state.orders_today, state.orders_today_by_symbol
    symbol = order.intent.tradingsymbol
    by_symbol = dict(state.orders_today_by_symbol)
    by_symbol[symbol] = max(0, by_symbol.get(symbol, 0) - 1)
    return max(0, state.orders_today - 1), FrozenMap(by_symbol)


__all__ = ["SYSTEM_TAGS", "ChangeKind", "Decision", "Exemption", "GateContext", "OrderChange", "check"]
