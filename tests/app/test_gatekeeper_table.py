"""The gatekeeper's decision table on the real desk (TradingService, SQLite store, Redis ticks).

For each ``ReasonCode``: place, approve and modify all refuse the same order, and the order
book (the open order included, field for field), the ledger and the funds are unchanged.
Then the modify specifics (quantity, price, trigger against notional, margin, circuit and
trigger-through-LTP; the issue's 200,000-share SBIN modify), bad modifies, and the desk's
exits that are exempt and say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from core.errors import ValidationError
from core.margins import MarginRow, MarginTable
from core.orders import OrderIntent, OrderType, Product, Side, Validity
from core.risk import ReasonCode
from core.timeutil import IST, to_utc
from tests.factories import INFY, SBIN, intent
from tests.fixtures_trading import T0, desk  # noqa: F401

D = Decimal
TOKEN = INFY.instrument_token
NEXT_DAY = datetime(2016, 8, 18, 10, 0, tzinfo=IST)  # T+1, a trading day


def at(hh: int, mm: int, day: datetime = T0) -> datetime:
    return day.replace(hour=hh, minute=mm)


def resting_limit(**kw) -> OrderIntent:
    return intent(INFY, order_type=OrderType.LIMIT, price=D("990.0"), **kw)


def _limits(**values) -> Callable:
    return lambda d, now: d.svc.save_risk_limits(values, user="risk", now=now)


def _desk_state(**values) -> Callable:
    return lambda d, now: d.store.set_desk_state({**values, "updated_at": to_utc(now)})


def _fill(*orders: tuple[Side, int]) -> Callable:
    def run(d, now):
        for i, (side, qty) in enumerate(orders):
            assert d.svc.place_manual(intent(INFY, side=side, qty=qty), user="setup", now=now + timedelta(seconds=i)).ok
    return run


def _extra_order(d, now) -> None:
    assert d.svc.place_manual(intent(INFY, qty=1, order_type=OrderType.LIMIT, price=D("980.0")), user="setup",
                              now=now).ok


def _both(*steps: Callable) -> Callable:
    def run(d, now):
        for step in steps:
            step(d, now)
    return run


def _no_ticks(d, now) -> None:
    d.ticks.client.flushall()


def _cnc_holding(d, now) -> None:  # bought on T0, held (settled) on T+1
    assert d.svc.place_manual(intent(INFY, qty=5, product=Product.CNC), user="setup", now=T0 + timedelta(seconds=1)).ok


def _off_the_mis_list(d, now) -> None:  # Zerodha revises its MIS list: INFY drops off after the order rests
    row = MarginRow("INFY", D("7.50"), D("3.50"), mis_eligible=False)
    table = MarginTable(as_of=T0.date(), source="test list: INFY not MIS-eligible", rows={"INFY": row})
    d.svc._engine.config = replace(d.svc._engine.config, margins=table)


@dataclass(frozen=True)
class Case:
    code: ReasonCode
    change: dict  # modify keyword arguments: quantity / price / trigger_price / order_type
    now: datetime = T0 + timedelta(minutes=10)
    resting: OrderIntent = field(default_factory=resting_limit)
    rest_at: datetime = T0 + timedelta(seconds=5)
    setup: Callable | None = None  # after the resting order, before the snapshot
    before: Callable | None = None  # before the resting order


CASES = [
    Case(ReasonCode.MARKET_CLOSED, dict(price=D("995.0")), now=at(16, 30),
         resting=resting_limit(product=Product.CNC)),
    Case(ReasonCode.PRE_OPEN_MATCHING, dict(price=D("995.0")), now=at(9, 10, NEXT_DAY)),
    Case(ReasonCode.PRE_OPEN_ORDER_TYPE, dict(order_type=OrderType.SL_M, trigger_price=D("1010.0")),
         now=at(9, 3, NEXT_DAY)),
    Case(ReasonCode.POST_CLOSE_CNC_ONLY, dict(price=D("995.0")), now=at(15, 45)),
    Case(ReasonCode.POST_CLOSE_MARKET_ONLY, dict(price=D("995.0")), now=at(15, 45),
         resting=resting_limit(product=Product.CNC)),  # NSE post-close: CNC MARKET only
    Case(ReasonCode.PRE_OPEN_IOC, dict(price=D("995.0")), now=at(9, 3, NEXT_DAY),
         resting=resting_limit(validity=Validity.IOC)),  # NSE pre-open: no IOC
    Case(ReasonCode.MIS_CUTOFF, dict(price=D("995.0")), now=at(15, 21)),
    Case(ReasonCode.OUTSIDE_CIRCUIT, dict(price=D("1200.0"))),  # band 900–1100
    Case(ReasonCode.TRIGGER_THROUGH_LTP, dict(trigger_price=D("995.0")),
         resting=intent(INFY, order_type=OrderType.SL_M, trigger_price=D("1010.0"))),
    Case(ReasonCode.INSUFFICIENT_HOLDINGS, dict(quantity=20), now=NEXT_DAY + timedelta(minutes=10),
         resting=intent(INFY, side=Side.SELL, qty=5, product=Product.CNC, order_type=OrderType.LIMIT,
                        price=D("1050.0")), rest_at=NEXT_DAY, before=_cnc_holding),
    Case(ReasonCode.NO_MARKET_PRICE, dict(price=D("995.0")), setup=_no_ticks),
    Case(ReasonCode.HALTED, dict(price=D("995.0")), setup=_desk_state(halted=True, halted_by="risk")),
    Case(ReasonCode.SAFE_MODE, dict(price=D("995.0")),
         setup=_desk_state(safe_mode=True, safe_mode_day=T0.date())),
    Case(ReasonCode.DAILY_LOSS_LIMIT, dict(price=D("995.0")), setup=_limits(daily_loss_limit="0")),
    Case(ReasonCode.MAX_DRAWDOWN, dict(price=D("995.0")), setup=_limits(max_drawdown_pct="0")),
    Case(ReasonCode.ORDER_NOTIONAL, dict(quantity=300)),  # ₹2,97,000 > ₹2,00,000
    Case(ReasonCode.ORDER_QUANTITY, dict(price=D("995.0")), setup=_limits(max_order_quantity=5)),
    Case(ReasonCode.RISK_PER_TRADE, dict(price=D("995.0")), resting=resting_limit(stop_loss=D("980.0")),
         setup=_limits(risk_per_trade_pct="0.001")),  # ₹150 at risk > ₹10
    Case(ReasonCode.STOP_REQUIRED, dict(price=D("995.0")), setup=_limits(require_stop=True)),
    Case(ReasonCode.MAX_OPEN_POSITIONS, dict(price=D("995.0")), setup=_limits(max_open_positions=0)),
    Case(ReasonCode.MAX_ORDERS_PER_DAY, dict(price=D("995.0")),
         setup=_both(_extra_order, _limits(max_orders_per_day=1))),
    Case(ReasonCode.MAX_ORDERS_PER_SYMBOL, dict(price=D("995.0")),
         setup=_both(_extra_order, _limits(max_orders_per_symbol_per_day=1))),
    Case(ReasonCode.COOLDOWN, dict(price=D("995.0")),  # bought at the ask, sold at the bid: a loss
         setup=_both(_fill((Side.BUY, 10), (Side.SELL, 10)), _limits(max_consecutive_losses=1))),
    Case(ReasonCode.WASH_TRADE, dict(price=D("995.0")), setup=_fill((Side.SELL, 5))),
    Case(ReasonCode.INSUFFICIENT_MARGIN, dict(quantity=1100), resting=resting_limit(product=Product.CNC),
         setup=_limits(max_order_notional="1000000000", max_order_quantity=1000000)),  # ₹10.89 lakh > ₹10 lakh
    Case(ReasonCode.MIS_NOT_ELIGIBLE, dict(price=D("995.0")), setup=_off_the_mis_list),
]


def test_every_reason_code_has_a_row_in_the_table():
    assert {c.code for c in CASES} == set(ReasonCode)


def _snapshot(d, now: datetime) -> tuple:
    orders = tuple(sorted((o.order_id, o.status, o.quantity, o.price, o.trigger_price, o.order_type, o.updated_at,
                           o.filled_quantity) for o in d.svc.order_book()))
    return orders, d.ledger_snapshot(), d.svc.funds(now)


def _target(case: Case) -> OrderIntent:
    change = dict(case.change)
    if change.get("order_type") in (OrderType.MARKET, OrderType.SL_M):
        change.setdefault("price", None)
    return replace(case.resting, **change)


@pytest.mark.parametrize("case", CASES, ids=[str(c.code) for c in CASES])
def test_place_modify_and_approve_refuse_the_same_order_and_nothing_changes(desk, case):  # noqa: F811
    desk.tick(TOKEN, 1000.0, at=T0, close=1000.0)
    if case.before:
        case.before(desk, T0)
    for when in sorted({case.rest_at, case.now}):
        desk.tick(TOKEN, 1000.0, at=when, close=1000.0)
    rest = desk.svc.place_manual(case.resting, user="trader", now=case.rest_at)
    assert rest.ok, rest.messages
    order_id = rest.order_id
    assert desk.store.get_order(order_id)["status"] in ("OPEN", "TRIGGER PENDING")
    if case.setup:
        case.setup(desk, case.rest_at + timedelta(seconds=10))
    target = _target(case)
    proposal = desk.svc.propose(target, signal_price=D("1000"), reason="table", now=case.now)
    before = _snapshot(desk, case.now)
    row_before = desk.store.get_order(order_id)

    placed = desk.svc.place_manual(target, user="trader", now=case.now)
    approved = desk.svc.approve(proposal.approval_id, user="trader", now=case.now)
    modified = desk.svc.modify_order(order_id, **case.change, user="trader", now=case.now)

    for out in (placed, approved, modified):
        assert not out.ok and str(case.code) in out.reasons, (out.action, out.reasons, out.messages)
        assert len(out.messages) == len(out.reasons) and all(out.messages)
    assert _snapshot(desk, case.now) == before
    assert desk.store.get_order(order_id) == row_before
    assert desk.svc.approval(proposal.approval_id).status == "PENDING"


# ---- modify specifics


def _open_limit(desk, token=TOKEN, symbol_inst=INFY, **kw) -> str:  # noqa: F811
    out = desk.svc.place_manual(intent(symbol_inst, order_type=OrderType.LIMIT, **kw), user="trader", now=T0)
    assert out.ok
    return out.order_id


def test_the_issue_modify_to_200000_sbin_is_refused_and_nothing_fills(desk):  # noqa: F811
    desk.tick(SBIN.instrument_token, 234.0, close=234.0)
    order_id = _open_limit(desk, symbol_inst=SBIN, qty=10, product=Product.CNC, price=D("230.00"))
    before = _snapshot(desk, T0)
    out = desk.svc.modify_order(order_id, quantity=200_000, user="trader", now=T0 + timedelta(seconds=1))
    assert not out.ok
    assert {"ORDER_NOTIONAL", "ORDER_QUANTITY", "INSUFFICIENT_MARGIN"} <= set(out.reasons)
    assert any("200000" in m and "5000" in m for m in out.messages)  # the field and the allowed limit
    desk.tick(SBIN.instrument_token, 229.0, at=T0 + timedelta(seconds=2), close=234.0)  # crosses the limit
    desk.svc.match_open_orders(T0 + timedelta(seconds=3))
    [order] = desk.svc.order_book()
    assert order.quantity == 10 and order.filled_quantity == 10  # the original order filled, as it was
    [trade] = desk.svc.trade_book()
    assert trade.quantity == 10 and before[0][0][2] == 10


def test_modify_slm_trigger_through_the_ltp_is_refused_and_does_not_fill(desk):  # noqa: F811
    desk.tick(TOKEN, 1000.0, close=1000.0)
    out = desk.svc.place_manual(intent(INFY, order_type=OrderType.SL_M, trigger_price=D("1010.0")),
                                user="trader", now=T0)
    refused = desk.svc.modify_order(out.order_id, trigger_price=D("990.0"), user="trader", now=T0 + timedelta(seconds=1))
    assert refused.reasons == ("TRIGGER_THROUGH_LTP",) and "LTP 1000.00" in refused.messages[0]
    desk.tick(TOKEN, 1000.0, at=T0 + timedelta(seconds=2), close=1000.0)
    assert desk.svc.match_open_orders(T0 + timedelta(seconds=3)) == 0
    [order] = desk.svc.order_book()
    assert order.status == "TRIGGER PENDING" and order.trigger_price == D("1010.00")


@pytest.mark.parametrize(("change", "code"), [
    (dict(quantity=250), "ORDER_NOTIONAL"),
    (dict(price=D("1150.0")), "OUTSIDE_CIRCUIT"),
    (dict(trigger_price=D("1150.0"), order_type=OrderType.SL_M), "OUTSIDE_CIRCUIT"),
    (dict(trigger_price=D("995.0"), order_type=OrderType.SL_M), "TRIGGER_THROUGH_LTP"),
], ids=["quantity_notional", "price_circuit", "trigger_circuit", "trigger_through_ltp"])
def test_modify_quantity_price_and_trigger_each_refused(desk, change, code):  # noqa: F811
    desk.tick(TOKEN, 1000.0, close=1000.0)
    order_id = _open_limit(desk, price=D("990.0"))
    out = desk.svc.modify_order(order_id, **change, user="trader", now=T0 + timedelta(seconds=1))
    assert not out.ok and code in out.reasons
    assert desk.svc.order_book()[0].price == D("990.00")


def test_modify_quantity_against_margin_counts_other_open_orders_but_not_itself(desk):  # noqa: F811
    desk.tick(TOKEN, 1000.0, close=1000.0)
    desk.svc.save_risk_limits({"max_order_notional": "100000000", "max_order_quantity": 100000}, user="risk", now=T0)
    first = _open_limit(desk, qty=500, product=Product.CNC, price=D("990.0"))  # blocks ₹4,95,000
    assert desk.svc.modify_order(first, quantity=1000, user="trader", now=T0 + timedelta(seconds=1)).ok  # ₹9,90,000
    second = desk.svc.place_manual(intent(INFY, qty=100, product=Product.CNC, order_type=OrderType.LIMIT,
                                          price=D("990.0")), user="trader", now=T0 + timedelta(seconds=2))
    assert not second.ok and second.reasons == ("INSUFFICIENT_MARGIN",)


@pytest.mark.parametrize("state", ["COMPLETE", "CANCELLED", "unknown"])
def test_modify_of_a_filled_cancelled_or_unknown_order_raises_and_writes_nothing(desk, state):  # noqa: F811
    desk.tick(TOKEN, 1000.0, close=1000.0)
    desk.svc.funds(T0)  # opens the account (the capital entry)
    if state == "COMPLETE":
        order_id = desk.svc.place_manual(intent(INFY), user="trader", now=T0).order_id
    elif state == "CANCELLED":
        order_id = _open_limit(desk, price=D("990.0"))
        desk.svc.cancel_order(order_id, user="trader", now=T0)
    else:
        order_id = "O-nope"
    before = (_snapshot(desk, T0), desk.store.audit_rows(desk.svc.order_book()[0].trace_id) if state != "unknown"
              else ())
    with pytest.raises(ValidationError, match=state if state != "unknown" else "unknown order_id"):
        desk.svc.modify_order(order_id, quantity=20, user="trader", now=T0 + timedelta(seconds=1))
    after = (_snapshot(desk, T0), desk.store.audit_rows(desk.svc.order_book()[0].trace_id) if state != "unknown"
             else ())
    assert after == before


# ---- the desk's own exits: exempt, and the decision says so


def test_square_off_and_kill_switch_flatten_are_exempt_and_say_so(desk):  # noqa: F811
    desk.tick(TOKEN, 1000.0, close=1000.0)
    desk.tick(SBIN.instrument_token, 200.0, close=200.0)
    assert desk.svc.place_manual(intent(INFY, qty=10), user="trader", now=T0).ok
    assert desk.svc.place_manual(intent(SBIN, qty=20, product=Product.CNC), user="trader", now=T0).ok
    desk.store.set_desk_state(dict(halted=True, halted_by="risk", updated_at=to_utc(T0)))  # refuses every entry
    cut = at(15, 20)
    desk.tick(TOKEN, 1001.0, at=cut, close=1000.0)
    assert desk.svc.square_off_mis(cut) == 1
    [sq] = [o for o in desk.svc.order_book() if o.origin == "square-off"]
    assert any("exempt: MIS_SQUARE_OFF" in m for m in desk.svc.audit(sq.trace_id).risk_decisions[0].messages)
    out = desk.svc.kill_switch(user="trader", now=cut + timedelta(minutes=1))
    decisions = desk.svc.audit(out.trace_id).risk_decisions
    assert decisions and all(any("exempt: KILL_SWITCH_FLATTEN" in m for m in r.messages) for r in decisions)
    assert all(p.quantity == 0 for p in desk.svc.positions(cut + timedelta(minutes=2)))
    # a manual order carrying the same tag is not exempt
    tagged = desk.svc.place_manual(intent(INFY, tag="SQUAREOFF"), user="trader", now=cut + timedelta(minutes=3))
    assert not tagged.ok and "HALTED" in tagged.reasons
