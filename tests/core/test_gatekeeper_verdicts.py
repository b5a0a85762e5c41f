"""The gatekeeper's shortcuts give the verdicts of running every rule: an exit skips the
account rules (each passes an exit, ``core.risk.rules``) and a price already outside the
circuit is not judged again for its protection. Property test over random orders (entries and
exits, MARKET/LIMIT/SL/SL-M, MIS/CNC) and random account states (halted, safe mode, losses,
drawdown, full books, order counts, cooldown, wash fills, margin), against a reference that runs
every rule and keeps every reason in the gatekeeper's order."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core.gatekeeper import ChangeKind, Decision, GateContext, OrderChange, check
from core.margins import MarginRules, check_mis_eligible, margin_price
from core.market_protection import check_protection_in_band, clamp_auto_protection, intent_protection
from core.orders import CircuitBand, FrozenMap, OrderType, Product, Side, reduces_position, tick_size_for
from core.risk import RiskLimits, RiskState, market_rules, rules
from core.risk.limits import LastFill
from core.sessions import SessionPhase
from core.timeutil import IST
from tests.factories import INFY, intent

D = Decimal
AT = (datetime(2025, 1, 6, 9, 5, tzinfo=IST), datetime(2025, 1, 6, 12, 0, tzinfo=IST),
      datetime(2025, 1, 6, 15, 25, tzinfo=IST), datetime(2026, 4, 6, 12, 0, tzinfo=IST))  # the last: protected
PHASES = (SessionPhase.PRE_OPEN, SessionPhase.NORMAL, SessionPhase.NORMAL, SessionPhase.NORMAL)
OTHER = FrozenMap({(1000 + n, Product.CNC): 10 for n in range(60)})  # other instruments' open positions


@st.composite
def cases(draw) -> tuple[OrderChange, GateContext]:
    """A random order change and the desk's context around it (prices on INFY's ₹0.10 tick)."""
    k = draw(st.integers(0, 3))
    ltp = D(draw(st.integers(10_000, 20_000))) / 10
    kind = draw(st.sampled_from([OrderType.MARKET, OrderType.LIMIT, OrderType.SL, OrderType.SL_M]))
    side = draw(st.sampled_from(Side))
    price = ltp + D(draw(st.integers(-300, 300))) / 10 if kind in (OrderType.LIMIT, OrderType.SL) else None
    trigger = ltp + D(draw(st.integers(-300, 300))) / 10 if kind in (OrderType.SL, OrderType.SL_M) else None
    if kind is OrderType.SL and trigger is not None and price is not None:
        trigger = price
    stop = ltp - D(draw(st.integers(1, 500))) / 10 if draw(st.booleans()) else None
    product = draw(st.sampled_from([Product.MIS, Product.CNC]))
    qty = draw(st.integers(1, 400))
    held = draw(st.sampled_from([0, 0, qty, -qty, 2 * qty, qty // 2 or 1]))  # flat, exit, partial, reversal
    order = intent(INFY, side=side, qty=qty, product=product, order_type=kind, price=price, trigger_price=trigger,
                   stop_loss=stop)
    now = AT[k]
    positions = dict(OTHER) if draw(st.booleans()) else {}
    if held:
        positions[(INFY.instrument_token, product)] = held
    last = (FrozenMap({"INFY": LastFill(draw(st.sampled_from(Side)), now - timedelta(minutes=draw(st.integers(1, 9))))})
            if draw(st.booleans()) else FrozenMap())
    equity = D(draw(st.integers(500_000, 1_000_000)))
    state = RiskState(
        capital=D(1_000_000), equity=equity, equity_peak=D(1_000_000), day_pnl=D(draw(st.integers(-40_000, 5_000))),
        orders_today=draw(st.integers(0, 40)), orders_today_by_symbol=FrozenMap({"INFY": draw(st.integers(0, 12))}),
        positions=FrozenMap(positions), consecutive_losses=draw(st.integers(0, 4)),
        last_loss_at=now - timedelta(minutes=draw(st.integers(1, 60))), last_fills=last,
        halted=draw(st.booleans()), safe_mode=draw(st.booleans()),
        available_margin=D(draw(st.integers(0, 600_000))) if draw(st.booleans()) else None)
    limits = RiskLimits(max_open_positions=draw(st.sampled_from([5, 50, 100])),
                        require_stop=draw(st.booleans()), max_order_quantity=draw(st.sampled_from([100, 1000])))
    band = CircuitBand(ltp - D(draw(st.integers(1, 200))) / 10, ltp + D(draw(st.integers(1, 200))) / 10) \
        if draw(st.booleans()) else None
    context = GateContext(INFY, now, PHASES[k], ltp=ltp if draw(st.integers(0, 9)) else None, circuit=band,
                          holding_quantity=max(0, held), position_quantity=held, state=state, limits=limits,
                          margin_rules=MarginRules() if draw(st.booleans()) else None,
                          reserved_margin=D(draw(st.integers(0, 100_000))))
    return OrderChange(draw(st.sampled_from([ChangeKind.PLACE, ChangeKind.PROPOSE, ChangeKind.APPROVE])), order), \
        context


def every_rule(change: OrderChange, ctx: GateContext) -> list:
    """Every rule's denial or None, in the gatekeeper's order, none skipped (the reference)."""
    i, day, state, limits = change.intent, ctx.now.astimezone(IST).date(), ctx.state, ctx.limits
    is_exit = reduces_position(i, ctx.position_quantity)
    expected = i.price if i.price is not None else ctx.ltp
    tick = tick_size_for(ctx.instrument, day)
    protection = intent_protection(i, ctx.ltp, tick, day)
    at = margin_price(i, ctx.ltp, tick, day)
    if protection is not None and clamp_auto_protection(i, protection, ctx.circuit) != protection:
        protection = at = clamp_auto_protection(i, protection, ctx.circuit)
    out = [market_rules.check_session(i, ctx.phase, ctx.holiday),
           market_rules.check_mis_cutoff(i, is_exit, ctx.now, ctx.square_off_cutoff),
           market_rules.check_circuit(i, expected, ctx.circuit),
           market_rules.check_trigger_vs_ltp(i, ctx.ltp),
           market_rules.check_holdings(i, ctx.holding_quantity)]
    if not any(d is not None and d.code == "OUTSIDE_CIRCUIT" for d in out):
        out.append(check_protection_in_band(i, protection, ctx.circuit))
    out.append(market_rules.check_market_price(i, ctx.ltp))
    margin = None
    if expected is not None and at is not None:
        margin = (ctx.margin_rules or MarginRules(None, state.mis_leverage)).required(i, at, ctx.position_quantity)
    out += [rules.check_kill_switch(is_exit, state.halted),
            rules.check_safe_mode(is_exit, state.safe_mode),
            rules.check_daily_loss(is_exit, state.day_pnl, limits.daily_loss_limit),
            rules.check_max_drawdown(is_exit, state.equity, state.equity_peak, limits.max_drawdown_pct),
            rules.check_order_quantity(is_exit, i, limits.max_order_quantity),
            None if is_exit else rules.check_open_positions(i, state.positions, limits.max_open_positions),
            rules.check_orders_per_day(is_exit, state.orders_today, limits.max_orders_per_day),
            rules.check_orders_per_symbol(is_exit, i, state.orders_today_by_symbol,
                                          limits.max_orders_per_symbol_per_day),
            rules.check_cooldown(is_exit, state.consecutive_losses, state.last_loss_at, ctx.now,
                                 limits.max_consecutive_losses, limits.cooldown_minutes),
            rules.check_wash_trade(is_exit, i, state.last_fills, ctx.now, limits.wash_trade_minutes),
            check_mis_eligible(is_exit, i, ctx.margin_rules) if ctx.margin_rules is not None else None]
    if expected is not None:
        available = None if state.available_margin is None else state.available_margin - ctx.reserved_margin
        out += [rules.check_order_notional(is_exit, i, expected, limits.max_order_notional),
                rules.check_risk_per_trade(is_exit, i, expected, state.capital, limits.risk_per_trade_pct,
                                           limits.require_stop),
                rules.check_margin(is_exit, margin if margin is not None else D(0), available)]
    return [d for d in out if d is not None]


@settings(max_examples=300, deadline=None)
@given(cases())
def test_gatekeeper_verdict_equals_every_rule_run(case):
    change, ctx = case
    found = every_rule(change, ctx)
    decision: Decision = check(change, ctx)
    assert decision.reasons == tuple(d.code for d in found)
    assert decision.messages == tuple(d.message for d in found)
    assert decision.approved is not found


@settings(max_examples=150, deadline=None)
@given(cases())
def test_an_exit_is_never_refused_by_an_account_rule(case):
    change, ctx = case
    decision = check(change, ctx)
    if decision.is_exit:
        market = {"MARKET_CLOSED", "PRE_OPEN_MATCHING", "PRE_OPEN_ORDER_TYPE", "POST_CLOSE_CNC_ONLY",
                  "POST_CLOSE_MARKET_ONLY", "PRE_OPEN_IOC", "MIS_CUTOFF", "OUTSIDE_CIRCUIT", "TRIGGER_THROUGH_LTP",
                  "INSUFFICIENT_HOLDINGS", "NO_MARKET_PRICE"}
        assert set(decision.reasons) <= market
