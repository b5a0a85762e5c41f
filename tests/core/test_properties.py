"""Property tests (hypothesis) for ledger, charges, square-off and rejection invariants."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.broker import BrokerState, Fill, OrderFilled, OrderRejected, process_tick, submit
from core.charges import ChargeLeg, contract_note_charges, equity_charges, schedule_for
from core.errors import ValidationError
from core.margins import MarginRow, MarginTable
from core.models import Instrument, Tick
from core.orders import OrderType, Product, Side, round_to_paisa
from core.portfolio import CHARGE_KINDS, apply_fill, funds, new_portfolio, pnl, reconcile, square_off
from core.sessions import SessionPhase
from core.timeutil import IST
from tests.factories import equity
from tests.factories import intent as make_intent

D = Decimal
OPEN = datetime(2025, 1, 6, 9, 0, tzinfo=IST)
T = datetime(2025, 1, 6, 10, 0, tzinfo=IST)
CUT = datetime(2025, 1, 6, 15, 20, tzinfo=IST)
SCHEDULE = schedule_for(T.date())
SETTLE = date(2025, 1, 7)


def instrument(token: int) -> Instrument:
    return equity(token, tick_size="0.01")


prices = st.integers(min_value=1, max_value=500_000).map(lambda p: D(p) / 100)  # ₹0.01 … ₹5,000.00
trades = st.tuples(
    st.integers(min_value=1, max_value=3),  # token
    st.sampled_from([Product.MIS, Product.CNC]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=500),  # quantity
    prices,
)
ltps = st.dictionaries(st.integers(min_value=1, max_value=3), prices)


def build(trade_list, *, mis_only: bool = False):
    """Apply ``trade_list`` as fills (CNC sells clipped to the shares held)."""
    p = new_portfolio(opened_at=OPEN)
    for n, (token, product, side, qty, price) in enumerate(trade_list):
        if mis_only:
            product = Product.MIS
        if product is Product.CNC and side is Side.SELL:
            qty = min(qty, p.position_quantity(token, Product.CNC))
            if qty == 0:
                continue
        charges = equity_charges(side, product, qty, price, SCHEDULE)
        fill = Fill(f"f{n}-1", f"f{n}", 1, token, f"SYM{token}", side, product, qty, price, charges,
                    T + timedelta(seconds=n))
        p = apply_fill(p, fill, settles_on=SETTLE).portfolio
    return p


@settings(max_examples=200, deadline=None)
@given(st.lists(trades, max_size=30), ltps)
def test_ledger_reconciles_with_funds_and_positions_after_any_fills(trade_list, marks):
    p = build(trade_list)
    assert reconcile(p) == ()
    f, r = funds(p, marks), pnl(p, marks)
    assert f.cash == sum((e.amount for e in p.ledger), D(0))
    assert f.equity == p.capital + r.realized + r.unrealized - r.charges


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([Product.MIS, Product.CNC]),
    st.integers(min_value=1, max_value=100_000),
    prices,
    st.integers(min_value=0, max_value=10_000_000).map(lambda p: D(p) / 100),
    st.booleans(),
)
def test_charges_are_never_negative(side, product, qty, price, prior, ipft):
    c = equity_charges(side, product, qty, price, SCHEDULE, include_ipft=ipft, prior_order_turnover=prior)
    note = contract_note_charges([ChargeLeg("o", side, product, qty, price)], SCHEDULE, include_ipft=ipft)
    for charges in (c, note):
        assert all(getattr(charges, name) >= 0 for name in charges.__dataclass_fields__)
        assert charges.total >= 0


@settings(max_examples=100, deadline=None)
@given(st.lists(trades, max_size=20), st.booleans())
def test_square_off_leaves_no_mis_position(trade_list, charge_fee):
    p = build(trade_list, mis_only=True)
    result = square_off(p, now=CUT, ltps={}, charge_fee=charge_fee)
    p, book = result.portfolio, BrokerState()
    fill_time = CUT + timedelta(seconds=1)
    for order in result.orders:
        token = order.intent.instrument_token
        book, _ = submit(book, order.intent, instrument(token), order_id=order.order_id, now=CUT,
                         phase=SessionPhase.NORMAL, position_quantity=p.position_quantity(token, Product.MIS))
        book, events = process_tick(book, Tick(token, 100.0), now=fill_time)
        for event in events:
            if isinstance(event, OrderFilled):
                p = apply_fill(p, event.fill).portfolio
    assert all(pos.quantity == 0 for pos in p.positions.values() if pos.product is Product.MIS)
    assert reconcile(p) == ()
    assert square_off(p, now=CUT, ltps={}).orders == ()


@settings(max_examples=100, deadline=None)
@given(st.lists(trades, max_size=15), st.integers(min_value=1, max_value=3), st.integers(min_value=1, max_value=1000))
def test_rejected_order_leaves_state_exactly_as_before(trade_list, token, qty):
    p = build(trade_list)
    snapshot = copy.deepcopy(p)
    book = BrokerState()
    intent = make_intent(token, f"SYM{token}", Side.SELL, qty, Product.CNC)
    held = p.position_quantity(token, Product.CNC)
    # refused by the exchange session (closed) and, when oversold, by holdings
    after, events = submit(book, intent, instrument(token), order_id="x", now=T, phase=SessionPhase.CLOSED,
                           holding_quantity=held)
    assert after == book and isinstance(events[0], OrderRejected)
    # a fill that cannot be booked (CNC oversell) raises and leaves the portfolio untouched
    oversell = Fill("bad-1", "bad", 1, token, f"SYM{token}", Side.SELL, Product.CNC, held + qty, D("10.00"),
                    equity_charges(Side.SELL, Product.CNC, held + qty, D("10.00"), SCHEDULE), T)
    with pytest.raises(ValidationError, match="CNC|holding|sell"):
        apply_fill(p, oversell)
    assert p == snapshot


# ---- margins: blocked + available = usable funds, over place / fill / cancel (issue 13)

_MARGIN_TABLE = MarginTable(as_of=date(2025, 1, 3), source="property-test list", rows={
    "SYM1": MarginRow("SYM1", D("7.50"), D("3.50")),  # floor 20 %
    "SYM2": MarginRow("SYM2", D("30.00"), D("3.50"), D("1.50")),  # 35 %
    "SYM3": MarginRow("SYM3", D("12.00"), D("3.50")),
})
_PCT = {1: D(20), 2: D(35), 3: D(20)}
margin_ops = st.lists(st.tuples(
    st.sampled_from(["place", "fill", "cancel"]),
    st.integers(min_value=0, max_value=5),  # which open order (fill / cancel)
    trades,
), max_size=25)


@settings(max_examples=200, deadline=None)
@given(margin_ops, ltps)
def test_margin_blocked_plus_available_equals_usable_funds_at_all_times(ops, marks):
    """Zerodha funds: margin used (open MIS positions at max(20 %, VaR + ELM + ad hoc), open orders'
    unfilled parts) + available = cash + usable credits, where a day's MIS profit is not usable
    until T+1 (support.zerodha.com "unsettled balances"). The reference is rebuilt from the fills."""
    p = new_portfolio(opened_at=OPEN, margins=_MARGIN_TABLE)
    open_orders: list[tuple] = []
    cnc_spend, n = D(0), 0
    for op, pick, (token, product, side, qty, price) in ops:
        if op == "place":
            open_orders.append((make_intent(token, f"SYM{token}", side=side, qty=qty, product=product,
                                            order_type=OrderType.LIMIT, price=price), price))
        elif open_orders:
            order, limit = open_orders.pop(pick % len(open_orders))
            held = p.position_quantity(order.instrument_token, Product.CNC)
            if op == "fill" and not (order.product is Product.CNC and order.side is Side.SELL and order.quantity > held):
                n += 1
                charges = equity_charges(order.side, order.product, order.quantity, limit, SCHEDULE)
                fill = Fill(f"m{n}", f"mo{n}", 1, order.instrument_token, order.tradingsymbol, order.side,
                            order.product, order.quantity, limit, charges, T + timedelta(seconds=n))
                p = apply_fill(p, fill, settles_on=SETTLE).portfolio
                if order.product is Product.CNC:
                    cnc_spend += order.side.sign * order.quantity * limit
        f = funds(p, marks, open_orders)
        charges_paid = -sum((e.amount for e in p.ledger if e.kind in CHARGE_KINDS), D(0))
        mis = [q for q in p.open_positions() if q.product is Product.MIS]
        unreal = sum((q.quantity * marks[q.instrument_token] - q.cost for q in mis if q.instrument_token in marks),
                     D(0))
        usable = (p.capital - charges_paid - cnc_spend + min(D(0), p.mis_realized_today) + min(D(0), unreal)
                  - p.btst_proceeds_today)
        assert f.used_margin + f.available_margin == usable
        blocked_positions = sum((round_to_paisa(abs(q.cost) * _PCT[q.instrument_token] / 100) for q in mis), D(0))
        assert f.position_margin == blocked_positions and f.order_margin >= 0
        assert f.used_margin == f.position_margin + f.order_margin
