"""Risk: limits validation, one test per account rule through the gatekeeper, kill switch plan."""

from __future__ import annotations

import inspect
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from core.errors import ValidationError
from core.orders import CircuitBand, Order, OrderIntent, OrderStatus, OrderType, Product, Side
from core.portfolio import Position
from core.gatekeeper import ChangeKind, GateContext, OrderChange
from core.gatekeeper import check as gate_check
from core.orders import session_phase
from core.risk import LastFill, ReasonCode, RiskLimits, RiskState, flatten_plan
from core.risk import rules
from core.sessions import SessionPhase
from core.timeutil import IST
from tests.factories import INFY

D = Decimal
NOW = datetime(2025, 1, 6, 11, 0, tzinfo=IST)
PRICE = D("1500.00")


def intent(**kw) -> OrderIntent:
    base = dict(
        instrument_token=408065,
        tradingsymbol="INFY",
        side=Side.BUY,
        quantity=10,
        product=Product.MIS,
        order_type=OrderType.MARKET,
    )
    base.update(kw)
    return OrderIntent(**base)


def state(**kw) -> RiskState:
    base = dict(capital=D("1000000"), equity=D("1000000"), equity_peak=D("1000000"))
    base.update(kw)
    return RiskState(**base)


LONG_INFY = {(408065, Product.MIS): 10}


def check(i: OrderIntent = None, s: RiskState = None, limits: RiskLimits = RiskLimits(), now=NOW, *,
          price=PRICE, phase: SessionPhase | None = None, circuit: CircuitBand | None = None):
    """The gatekeeper on a PLACE of ``i`` with the account ``s`` at LTP ``price``."""
    i, s = i or intent(), s or state()
    ctx = GateContext(INFY, now, phase or session_phase(now), ltp=price, circuit=circuit,
                      position_quantity=s.positions.get((i.instrument_token, i.product), 0),
                      square_off_cutoff=limits.square_off_cutoff, state=s, limits=limits)
    return gate_check(OrderChange(ChangeKind.PLACE, i), ctx)


# ---- limits


def test_default_limits_are_valid_and_approve_a_plain_order():
    d = check()
    assert d.approved and d.reasons == () and not d.is_exit


@pytest.mark.parametrize("name", ["max_order_notional", "max_order_quantity", "daily_loss_limit", "cooldown_minutes"])
def test_negative_limit_raises_naming_the_field(name):
    value = D("-1") if name in ("max_order_notional", "daily_loss_limit") else -1
    with pytest.raises(ValidationError, match=f"RiskLimits.{name} must be >= 0"):
        RiskLimits(**{name: value})


def test_float_money_limit_raises():
    with pytest.raises(ValidationError, match="max_order_notional must be a Decimal"):
        RiskLimits(max_order_notional=1000.0)


def test_gatekeeper_has_no_override_parameter():
    params = {**inspect.signature(gate_check).parameters, **inspect.signature(GateContext).parameters}
    assert not any("override" in p or "llm" in p for p in params)


# ---- one test per rule


def test_notional_over_cap_refused():
    assert check(intent(quantity=200)).reasons == (ReasonCode.ORDER_NOTIONAL,)  # ₹3,00,000 > ₹2,00,000


def test_quantity_over_cap_refused():
    d = check(intent(quantity=60), limits=RiskLimits(max_order_quantity=50))
    assert d.reasons == (ReasonCode.ORDER_QUANTITY,)


def test_risk_per_trade_over_pct_of_capital_refused():
    # |1500 − 1400| × 101 = ₹10,100 > 1 % of ₹10,00,000 = ₹10,000
    d = check(intent(quantity=101, stop_loss=D("1400.00")), limits=RiskLimits(max_order_notional=D("1e9")))
    assert d.reasons == (ReasonCode.RISK_PER_TRADE,)


def test_risk_per_trade_at_exactly_pct_approved():
    d = check(intent(quantity=100, stop_loss=D("1400.00")), limits=RiskLimits(max_order_notional=D("1e9")))
    assert d.approved


def test_stop_required_refuses_entry_without_stop():
    assert check(limits=RiskLimits(require_stop=True)).reasons == (ReasonCode.STOP_REQUIRED,)


def test_max_open_positions_refuses_new_instrument():
    positions = {(1, Product.MIS): 5, (2, Product.MIS): -3}
    d = check(s=state(positions=positions), limits=RiskLimits(max_open_positions=2))
    assert d.reasons == (ReasonCode.MAX_OPEN_POSITIONS,)


def test_max_open_positions_allows_adding_to_existing():
    d = check(s=state(positions=LONG_INFY), limits=RiskLimits(max_open_positions=1))
    assert d.approved


def test_max_orders_per_day_refused():
    assert check(s=state(orders_today=50)).reasons == (ReasonCode.MAX_ORDERS_PER_DAY,)


def test_max_orders_per_symbol_refused():
    assert check(s=state(orders_today_by_symbol={"INFY": 10})).reasons == (ReasonCode.MAX_ORDERS_PER_SYMBOL,)


def test_daily_loss_limit_refuses_entry_and_asks_for_safe_mode():
    d = check(s=state(day_pnl=D("-20000")))
    assert d.reasons == (ReasonCode.DAILY_LOSS_LIMIT,) and d.enter_safe_mode


def test_safe_mode_refuses_entry():
    assert check(s=state(safe_mode=True)).reasons == (ReasonCode.SAFE_MODE,)


def test_safe_mode_allows_exit():
    d = check(intent(side=Side.SELL), s=state(safe_mode=True, day_pnl=D("-50000"), positions=LONG_INFY))
    assert d.approved and d.is_exit


def test_max_drawdown_refuses_entry():
    d = check(s=state(equity=D("900000"), equity_peak=D("1000000")))
    assert d.reasons == (ReasonCode.MAX_DRAWDOWN,)


def test_cooldown_after_consecutive_losses_refuses_entry():
    s = state(consecutive_losses=3, last_loss_at=NOW - timedelta(minutes=29))
    assert check(s=s).reasons == (ReasonCode.COOLDOWN,)


def test_cooldown_elapsed_approves():
    s = state(consecutive_losses=3, last_loss_at=NOW - timedelta(minutes=30))
    assert check(s=s).approved


def test_wash_trade_opposite_side_within_window_refused():
    s = state(last_fills={"INFY": LastFill(Side.SELL, NOW - timedelta(minutes=4))})
    assert check(s=s).reasons == (ReasonCode.WASH_TRADE,)


def test_wash_trade_same_side_approved():
    s = state(last_fills={"INFY": LastFill(Side.BUY, NOW - timedelta(minutes=1))})
    assert check(s=s).approved


def test_trading_hours_closed_refused():
    assert check(phase=SessionPhase.CLOSED).reasons == (ReasonCode.MARKET_CLOSED,)


def test_pre_open_matching_refused():
    assert check(now=datetime(2025, 1, 6, 9, 10, tzinfo=IST)).reasons == (ReasonCode.PRE_OPEN_MATCHING,)


def test_mis_entry_after_cutoff_refused():
    assert check(now=datetime(2025, 1, 6, 15, 21, tzinfo=IST)).reasons == (ReasonCode.MIS_CUTOFF,)


def test_mis_exit_after_cutoff_approved():
    d = check(intent(side=Side.SELL), s=state(positions=LONG_INFY), now=datetime(2025, 1, 6, 15, 21, tzinfo=IST))
    assert d.approved


def test_price_outside_circuit_refused():
    d = check(circuit=CircuitBand(D("1350.00"), D("1450.00")))
    assert d.reasons == (ReasonCode.OUTSIDE_CIRCUIT,)


def test_insufficient_margin_refused():
    # MIS 10 × 1500 / 5 = ₹3,000 needed
    assert check(s=state(available_margin=D("2999.99"))).reasons == (ReasonCode.INSUFFICIENT_MARGIN,)


def test_kill_switch_refuses_entry():
    assert check(s=state(halted=True)).reasons == (ReasonCode.HALTED,)


def test_kill_switch_allows_flattening_exit():
    assert check(intent(side=Side.SELL), s=state(halted=True, positions=LONG_INFY)).approved


def test_flip_is_not_an_exit():
    d = check(intent(side=Side.SELL, quantity=20), s=state(halted=True, positions=LONG_INFY))
    assert not d.is_exit and d.reasons == (ReasonCode.HALTED,)


def test_gatekeeper_collects_every_reason_market_first():
    s = state(halted=True, orders_today=99)
    d = check(intent(quantity=300), s=s, phase=SessionPhase.CLOSED)
    assert d.reasons == (
        ReasonCode.MARKET_CLOSED,
        ReasonCode.HALTED,
        ReasonCode.MAX_ORDERS_PER_DAY,
        ReasonCode.ORDER_NOTIONAL,
    )
    assert len(d.messages) == 4


def test_float_ltp_raises():
    with pytest.raises(ValidationError, match="ltp"):
        check(price=1500.0)


def test_rule_returns_none_when_passing():
    assert rules.check_order_quantity(False, intent(), 10) is None


# ---- kill switch plan


def test_flatten_plan_cancels_open_orders_and_closes_positions():
    o = Order("o2", intent(order_type=OrderType.LIMIT, price=D("1400.00")), OrderStatus.OPEN, NOW, NOW, D("0.05"))
    done = replace(o, order_id="o1", status=OrderStatus.COMPLETE)
    positions = [
        Position(408065, "INFY", Product.MIS, quantity=10, cost=D("15000")),
        Position(2885, "RELIANCE", Product.CNC, quantity=5, cost=D("6000")),
        Position(1, "FLAT", Product.MIS),
    ]
    plan = flatten_plan([o, done], positions, trace_id="kill-1")
    assert plan.cancel_order_ids == ("o2",)
    assert [(i.tradingsymbol, i.side, i.quantity, i.product) for i in plan.orders] == [
        ("RELIANCE", Side.SELL, 5, Product.CNC),
        ("INFY", Side.SELL, 10, Product.MIS),
    ]


def test_flatten_plan_short_position_buys_back():
    plan = flatten_plan([], [Position(1, "X", Product.MIS, quantity=-7, cost=D("-700"))])
    assert (plan.orders[0].side, plan.orders[0].quantity) == (Side.BUY, 7)
