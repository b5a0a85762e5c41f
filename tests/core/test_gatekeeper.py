"""The gatekeeper (core.gatekeeper.check): the market's rules, a modify judged as the order it
would become, the open order not counted twice, and the desk's exits exempt (and saying so)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest

from core.broker import BrokerState, OrderModified, OrderRejected, modify, submit
from core.errors import ValidationError
from core.gatekeeper import ChangeKind, Decision, Exemption, GateContext, OrderChange, check
from core.orders import CircuitBand, Order, OrderStatus, OrderType, Product, Side
from core.risk import ReasonCode, RiskLimits, RiskState
from core.sessions import SessionPhase
from core.timeutil import IST
from tests.factories import INFY, intent

D = Decimal
NOON = datetime(2025, 1, 6, 12, 0, tzinfo=IST)
LTP = D("1500.00")
BAND = CircuitBand(D("1350.00"), D("1650.00"))


def limit(**kw):
    return intent(INFY, order_type=OrderType.LIMIT, price=kw.pop("price", D("1500.00")), **kw)


def stop_m(trigger: str, side: Side = Side.BUY, **kw):
    return intent(INFY, side=side, order_type=OrderType.SL_M, trigger_price=D(trigger), **kw)


def account(**kw) -> RiskState:
    base = dict(capital=D("1000000"), equity=D("1000000"), equity_peak=D("1000000"), available_margin=D("1000000"))
    base.update(kw)
    return RiskState(**base)


def ctx(when: datetime = NOON, phase: SessionPhase = SessionPhase.NORMAL, *, desk: bool = False,
        limits: RiskLimits = RiskLimits(), **kw) -> GateContext:
    extra = dict(state=kw.pop("state", account()), limits=limits) if desk else {}
    return GateContext(INFY, when, phase, **{"ltp": LTP, "circuit": BAND, **kw, **extra})


def place(i, context: GateContext, **kw) -> Decision:
    return check(OrderChange(ChangeKind.PLACE, i, **kw), context)


def open_order(i, placed_at: datetime = NOON) -> Order:
    return Order("O-1", i, OrderStatus.OPEN if not i.is_stop else OrderStatus.TRIGGER_PENDING, placed_at, placed_at,
                 INFY.tick_size)


# ---- the market's rules, one test per code


def test_plain_limit_in_normal_session_approved_with_numbers():
    d = place(limit(), ctx(desk=True))
    assert d.approved and d.reasons == () and d.exempt is None
    assert (d.expected_price, d.notional, d.required_margin) == (D("1500.00"), D("15000.00"), D("3000.00"))


@pytest.mark.parametrize(("phase", "code"), [
    (SessionPhase.CLOSED, ReasonCode.MARKET_CLOSED),
    (SessionPhase.CLOSING, ReasonCode.MARKET_CLOSED),
    (SessionPhase.PRE_OPEN_MATCHING, ReasonCode.PRE_OPEN_MATCHING),
    (SessionPhase.POST_CLOSE, ReasonCode.POST_CLOSE_CNC_ONLY),
])
def test_session_phase_refuses_with_its_code(phase, code):
    d = place(limit(product=Product.CNC if code is ReasonCode.MARKET_CLOSED else Product.MIS),
              ctx(datetime(2025, 1, 6, 11, 0, tzinfo=IST), phase))
    assert not d.approved and d.reasons == (code,)


def test_pre_open_stop_refused_and_limit_queued_for_open():
    at = datetime(2025, 1, 6, 9, 3, tzinfo=IST)
    assert place(stop_m("1510.00"), ctx(at, SessionPhase.PRE_OPEN)).reasons == (ReasonCode.PRE_OPEN_ORDER_TYPE,)
    d = place(limit(), ctx(at, SessionPhase.PRE_OPEN))
    assert d.approved and d.queued_for_open


def test_mis_entry_at_cutoff_refused_exit_allowed_configured_cutoff_respected():
    at = datetime(2025, 1, 6, 15, 20, tzinfo=IST)
    assert place(limit(), ctx(at)).reasons == (ReasonCode.MIS_CUTOFF,)
    assert place(limit(side=Side.SELL), ctx(at, position_quantity=10)).approved
    assert place(limit(), ctx(at, square_off_cutoff=time(15, 25))).approved


@pytest.mark.parametrize("build", [
    lambda: limit(price=D("1700.00")),
    lambda: stop_m("1660.00"),
    lambda: stop_m("1340.00", side=Side.SELL, product=Product.CNC),
], ids=["price", "buy_trigger", "sell_trigger"])
def test_price_or_trigger_outside_circuit_refused_naming_the_field_and_band(build):
    d = place(build(), ctx(holding_quantity=10))
    assert d.reasons == (ReasonCode.OUTSIDE_CIRCUIT,)
    field = "price" if build().trigger_price is None else "trigger_price"
    assert field in d.messages[0] and "1350.00–1650.00" in d.messages[0]


def test_market_order_checked_at_the_ltp_against_the_band():
    assert place(intent(INFY), ctx(ltp=D("1700.00"))).reasons == (ReasonCode.OUTSIDE_CIRCUIT,)


@pytest.mark.parametrize(("side", "trigger"), [(Side.BUY, "1500.00"), (Side.BUY, "1490.00"), (Side.SELL, "1510.00")])
def test_stop_trigger_through_the_ltp_refused(side, trigger):
    d = place(stop_m(trigger, side=side), ctx(position_quantity=0))
    assert d.reasons == (ReasonCode.TRIGGER_THROUGH_LTP,) and "LTP 1500.00" in d.messages[0]


def test_cnc_sell_beyond_holdings_refused_naming_the_allowed_quantity():
    d = place(limit(side=Side.SELL, product=Product.CNC), ctx(holding_quantity=5))
    assert d.reasons == (ReasonCode.INSUFFICIENT_HOLDINGS,) and "up to 5" in d.messages[0]
    assert place(limit(side=Side.SELL, product=Product.CNC, qty=5), ctx(holding_quantity=5)).approved


def test_desk_without_ltp_refuses_no_market_price_exchange_does_not():
    assert place(limit(), ctx(desk=True, ltp=None)).reasons == (ReasonCode.NO_MARKET_PRICE,)
    assert place(limit(), ctx(ltp=None)).approved


def test_every_reason_is_collected_in_one_enum():
    d = place(limit(side=Side.SELL, product=Product.CNC, price=D("1700.00")), ctx(phase=SessionPhase.CLOSED))
    assert d.reasons == (ReasonCode.MARKET_CLOSED, ReasonCode.OUTSIDE_CIRCUIT, ReasonCode.INSUFFICIENT_HOLDINGS)
    assert all(isinstance(r, ReasonCode) for r in d.reasons) and len(d.messages) == 3


def test_bad_input_raises_not_refuses():
    with pytest.raises(ValidationError, match="tick_size"):
        place(limit(price=D("1500.05")), ctx())
    with pytest.raises(ValidationError, match="timezone-aware"):
        GateContext(INFY, datetime(2025, 1, 6, 12), SessionPhase.NORMAL)
    with pytest.raises(ValidationError, match="state and limits"):
        GateContext(INFY, NOON, SessionPhase.NORMAL, state=account())


# ---- modify: judged as the order it would become


def test_modify_requires_the_current_order_and_only_modify_takes_one():
    with pytest.raises(ValidationError, match="current"):
        OrderChange(ChangeKind.MODIFY, limit())
    with pytest.raises(ValidationError, match="current"):
        OrderChange(ChangeKind.PLACE, limit(), current=open_order(limit()))


@pytest.mark.parametrize(("new", "code"), [
    (lambda: limit(qty=200), ReasonCode.ORDER_NOTIONAL),  # ₹3,00,000 > ₹2,00,000
    (lambda: limit(qty=6000, price=D("10.00")), ReasonCode.ORDER_QUANTITY),
    (lambda: limit(qty=100), ReasonCode.INSUFFICIENT_MARGIN),  # MIS ₹30,000 needed, ₹20,000 free
    (lambda: limit(price=D("1700.00")), ReasonCode.OUTSIDE_CIRCUIT),
], ids=["quantity_notional", "quantity_cap", "quantity_margin", "price_circuit"])
def test_modify_quantity_or_price_refused_like_a_new_order(new, code):
    current = open_order(limit())
    c = ctx(desk=True, state=account(available_margin=D("20000")))
    d = check(OrderChange(ChangeKind.MODIFY, new(), current=current), c)
    assert code in d.reasons and not d.approved
    assert code in place(new(), c).reasons


@pytest.mark.parametrize(("trigger", "code"), [
    ("1490.00", ReasonCode.TRIGGER_THROUGH_LTP), ("1660.00", ReasonCode.OUTSIDE_CIRCUIT)])
def test_modify_trigger_refused_like_a_new_order(trigger, code):
    current = open_order(stop_m("1510.00"))
    d = check(OrderChange(ChangeKind.MODIFY, stop_m(trigger), current=current), ctx(desk=True))
    assert d.reasons == (code,)


def test_modify_does_not_count_the_order_itself_against_order_limits():
    current = open_order(limit())
    s = account(orders_today=1, orders_today_by_symbol={"INFY": 1})
    lim = RiskLimits(max_orders_per_day=1, max_orders_per_symbol_per_day=1)
    assert check(OrderChange(ChangeKind.MODIFY, limit(price=D("1499.00")), current=current),
                 ctx(desk=True, state=s, limits=lim)).approved
    assert place(limit(), ctx(desk=True, state=s, limits=lim)).reasons == (
        ReasonCode.MAX_ORDERS_PER_DAY, ReasonCode.MAX_ORDERS_PER_SYMBOL)


def test_modify_of_yesterdays_order_is_counted_as_today_is():
    current = open_order(limit(), placed_at=NOON - timedelta(days=1))
    s = account(orders_today=1)
    d = check(OrderChange(ChangeKind.MODIFY, limit(price=D("1499.00")), current=current),
              ctx(desk=True, state=s, limits=RiskLimits(max_orders_per_day=1)))
    assert d.reasons == (ReasonCode.MAX_ORDERS_PER_DAY,)


def test_margin_reserved_by_other_orders_counts():
    c = ctx(desk=True, state=account(available_margin=D("5000")), reserved_margin=D("2000.01"))
    assert place(limit(), c).reasons == (ReasonCode.INSUFFICIENT_MARGIN,)  # needs ₹3,000
    assert place(limit(), ctx(desk=True, state=account(available_margin=D("5000")),
                              reserved_margin=D("2000"))).approved


def test_broker_modify_refused_leaves_the_book_exactly_as_it_was():
    state, _ = submit(BrokerState(), limit(), INFY, order_id="o1", now=NOON, phase=SessionPhase.NORMAL)
    after, events = modify(state, "o1", INFY, now=NOON, price=D("1700.00"), context=ctx(desk=True))
    assert after == state and isinstance(events[0], OrderRejected)
    assert events[0].reasons == (ReasonCode.OUTSIDE_CIRCUIT,) and events[0].order == state.get("o1")
    ok, events = modify(state, "o1", INFY, now=NOON, price=D("1499.00"), context=ctx(desk=True))
    assert isinstance(events[0], OrderModified) and ok.get("o1").intent.price == D("1499.00")


# ---- exemptions: only the desk's own exits, and they say so


@pytest.mark.parametrize("exempt", list(Exemption))
def test_desk_exit_is_exempt_and_the_decision_says_what_was_waived(exempt):
    flatten = intent(INFY, side=Side.SELL, tag="SQUAREOFF")
    at = datetime(2025, 1, 6, 15, 25, tzinfo=IST)
    d = place(flatten, ctx(at, desk=True, ltp=D("1700.00"), state=account(halted=True)), exempt=exempt)
    assert d.approved and d.exempt is exempt and d.reasons == ()
    assert ReasonCode.OUTSIDE_CIRCUIT in d.waived and exempt in d.messages[0]


def test_exemption_only_on_a_place_and_never_from_a_tag():
    with pytest.raises(ValidationError, match="exempt"):
        OrderChange(ChangeKind.APPROVE, limit(), exempt=Exemption.KILL_SWITCH_FLATTEN)
    tagged = intent(INFY, tag="KILLSWITCH")
    assert place(tagged, ctx(desk=True, state=account(halted=True))).reasons == (ReasonCode.HALTED,)
