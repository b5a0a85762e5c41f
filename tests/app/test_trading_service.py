"""TradingService end to end on a real SQLite store and a real Redis tick cache."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from app.trading.config import TradingConfig
from core.errors import ValidationError
from core.margins import MarginRow, MarginTable
from core.orders import OrderType, Product, Side
from core.timeutil import IST
from tests.fixtures_trading import INFY, SBIN, T0, D, desk, intent, later, make_desk, pg_desk  # noqa: F401


def _propose(desk, **kw):
    return desk.svc.propose(intent(**kw), signal_price=D("1000"), reason="ORB breakout", now=T0)


def test_propose_approve_fills_once_with_charges_and_one_trace(desk):
    desk.tick(INFY, 1000.0)
    a = _propose(desk)
    assert a.status == "PENDING" and a.risk_preview.approved and a.trace_id
    out = desk.svc.approve(a.approval_id, user="trader", now=later(5))
    assert out.ok and out.order_id == f"O-{a.approval_id}"
    [order] = desk.svc.order_book()
    [trade] = desk.svc.trade_book()
    assert order.status == "COMPLETE" and order.filled_quantity == 10
    assert trade.price == D("1000.10")  # best ask
    # ₹10,001 MIS buy on 2016-08-17, charged at the back-filled 1 Jan 2021 row (NSE circular 46730):
    # brokerage 3.00 + txn 0.00345% 0.35 + IPFT 0.01 + SEBI 0.01 + stamp 0.30 + GST 18% × 3.37 = 0.61
    assert trade.charges.total == D("4.28") and trade.charges.brokerage == D("3.00")
    [pos] = desk.svc.positions(later(10))
    assert pos.quantity == 10 and pos.average_price == D("1000.10") and pos.unrealized == D("-1.00")
    chain = desk.svc.audit(a.trace_id)
    assert [e.action for e in chain.audit] == ["propose", "risk", "approve", "order", "fill"]
    assert {o.trace_id for o in chain.orders} == {f.trace_id for f in chain.fills} == {a.trace_id}


def test_approve_twice_refuses_second_and_keeps_one_order(desk):
    desk.tick(INFY, 1000.0)
    a = _propose(desk)
    assert desk.svc.approve(a.approval_id, user="trader", now=later(5)).ok
    again = desk.svc.approve(a.approval_id, user="trader", now=later(6))
    assert not again.ok and again.noop and again.reasons == ("ALREADY_DECIDED",)
    assert len(desk.svc.order_book()) == 1 and len(desk.svc.trade_book()) == 1


def test_execute_approval_rerun_is_noop(desk):
    desk.tick(INFY, 1000.0)
    a = _propose(desk)
    desk.svc.approve(a.approval_id, user="trader", now=later(5))
    before = desk.ledger_snapshot()
    desk.svc.execute_approval(a.approval_id)
    desk.svc.match_open_orders(later(20))
    assert desk.ledger_snapshot() == before


def test_reject_needs_reason_and_keeps_shadow_pnl(desk):
    desk.tick(INFY, 1000.0)
    a = _propose(desk)
    with pytest.raises(ValidationError, match="reason"):
        desk.svc.reject(a.approval_id, user="trader", reason="  ", now=later(5))
    assert desk.svc.reject(a.approval_id, user="trader", reason="spread too wide", now=later(5)).ok
    desk.tick(INFY, 1010.0, at=later(60))
    [h] = desk.svc.history()
    assert h.status == "REJECTED" and h.decision_note == "spread too wide"
    assert h.shadow_pnl == D("100.00")  # 10 × (1010 − 1000)


def test_pending_hides_overdue_approvals_and_expire_marks_them(desk):
    desk.tick(INFY, 1000.0)
    a = desk.svc.propose(intent(), signal_price=D("1000"), reason="r", ttl_seconds=60, now=T0)
    assert [p.approval_id for p in desk.svc.pending(later(30))] == [a.approval_id]
    assert desk.svc.pending(later(61)) == []
    assert desk.svc.approval(a.approval_id).status == "PENDING"  # a read writes nothing
    assert desk.svc.expire_approvals(later(61)) == 1
    assert desk.svc.approval(a.approval_id).status == "EXPIRED"
    assert desk.svc.expire_approvals(later(90)) == 0


def test_approving_an_expired_approval_is_refused_and_ledger_unchanged(desk):
    desk.tick(INFY, 1000.0)
    a = desk.svc.propose(intent(), signal_price=D("1000"), reason="r", ttl_seconds=60, now=T0)
    before = desk.ledger_snapshot()
    out = desk.svc.approve(a.approval_id, user="trader", now=later(120))
    assert not out.ok and out.reasons == ("EXPIRED",)
    assert desk.ledger_snapshot() == before and desk.svc.order_book() == []


def test_price_drift_beyond_limit_refuses_and_stays_pending(desk):
    desk.tick(INFY, 1000.0)
    a = _propose(desk)
    desk.tick(INFY, 1010.0, at=later(3))  # 100 bps > 50
    out = desk.svc.approve(a.approval_id, user="trader", now=later(5))
    assert not out.ok and out.reasons == ("PRICE_DRIFT",)
    assert desk.svc.approval(a.approval_id).status == "PENDING"
    assert desk.svc.order_book() == []


def test_manual_ticket_goes_through_the_same_gatekeeper(desk):
    desk.tick(INFY, 1000.0)
    big = desk.svc.place_manual(intent(qty=300), user="trader", now=later(1))  # ₹3 lakh > ₹2 lakh cap
    assert not big.ok and "ORDER_NOTIONAL" in big.reasons
    ok = desk.svc.place_manual(intent(qty=5), user="trader", now=later(2))
    assert ok.ok and [o.status for o in desk.svc.order_book()] == ["COMPLETE"]


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: intent(qty=0), "quantity"),
        (lambda: intent(qty=-5), "quantity"),
        (lambda: intent(order_type=OrderType.LIMIT, price=D("1000.03")), "tick_size"),  # off 2016's ₹0.05 grid
        (lambda: intent(token=999999999, symbol="NOSUCH"), "no instrument"),
    ],
    ids=["zero_qty", "negative_qty", "off_tick", "unknown_symbol"],
)
def test_bad_ticket_raises_clear_error_and_ledger_unchanged(desk, build, match):
    desk.tick(INFY, 1000.0)
    desk.svc.place_manual(intent(qty=1), user="trader", now=later(1))
    before = desk.ledger_snapshot()
    with pytest.raises(ValidationError, match=match):
        desk.svc.place_manual(build(), user="trader", now=later(2))
    assert desk.ledger_snapshot() == before


def test_price_outside_circuit_is_refused_and_ledger_unchanged(desk):
    desk.tick(INFY, 1000.0, close=1000.0)  # band 900–1100
    desk.svc.funds(T0)  # opens the account (capital entry)
    before = desk.ledger_snapshot()
    out = desk.svc.place_manual(intent(order_type=OrderType.LIMIT, price=D("1200.0")), user="trader", now=later(1))
    assert not out.ok and "OUTSIDE_CIRCUIT" in out.reasons
    assert desk.ledger_snapshot() == before


def test_fresh_mis_after_cutoff_is_refused(desk):
    at = datetime(2016, 8, 17, 15, 21, tzinfo=IST)
    desk.tick(INFY, 1000.0, at=at)
    desk.svc.funds(at)
    before = desk.ledger_snapshot()
    out = desk.svc.place_manual(intent(), user="trader", now=at)
    assert not out.ok and "MIS_CUTOFF" in out.reasons and desk.svc.order_book() == []
    assert desk.ledger_snapshot() == before


def test_modify_and_cancel_rules(desk):
    desk.tick(INFY, 1000.0)
    out = desk.svc.place_manual(intent(order_type=OrderType.LIMIT, price=D("990.0")), user="trader", now=later(1))
    order_id = out.order_id
    assert desk.svc.order_book()[0].status == "OPEN"
    assert desk.svc.modify_order(order_id, price=D("995.0"), user="trader", now=later(2)).ok
    assert desk.svc.order_book()[0].price == D("995.00")
    desk.tick(INFY, 994.0, at=later(3))  # best ask 994.10 <= 995 → fills
    assert desk.svc.match_open_orders(later(4)) == 1
    with pytest.raises(ValidationError, match="COMPLETE"):
        desk.svc.modify_order(order_id, quantity=20, user="trader", now=later(5))
    with pytest.raises(ValidationError, match="COMPLETE"):
        desk.svc.cancel_order(order_id, user="trader", now=later(5))
    out2 = desk.svc.place_manual(intent(order_type=OrderType.LIMIT, price=D("900.0")), user="trader", now=later(6))
    assert desk.svc.cancel_order(out2.order_id, user="trader", now=later(7)).ok
    assert {o.order_id: o.status for o in desk.svc.order_book()}[out2.order_id] == "CANCELLED"


def test_kill_switch_cancels_flattens_and_halts(desk):
    desk.tick(INFY, 1000.0)
    desk.tick(SBIN, 200.0)
    desk.svc.place_manual(intent(qty=10), user="trader", now=later(1))
    desk.svc.place_manual(intent(token=SBIN, symbol="SBIN", side=Side.SELL, qty=20), user="trader", now=later(2))
    desk.svc.place_manual(intent(order_type=OrderType.LIMIT, price=D("950.0"), qty=1), user="trader", now=later(3))
    out = desk.svc.kill_switch(user="trader", now=later(10))
    assert out.ok
    assert all(p.quantity == 0 for p in desk.svc.positions(later(11)))
    assert not any(o.can_cancel for o in desk.svc.order_book())
    status = desk.svc.risk_status(later(11))
    assert status.halted and status.halted_by == "trader"
    refused = desk.svc.place_manual(intent(), user="trader", now=later(12))
    assert not refused.ok and "HALTED" in refused.reasons
    assert desk.svc.resume(user="trader", now=later(13)).ok
    desk.tick(INFY, 1000.0, at=later(400))  # past the 5-minute wash-trade window
    assert desk.svc.place_manual(intent(qty=1), user="trader", now=later(400)).ok


def test_square_off_closes_mis_once_with_fee(desk):
    desk.tick(INFY, 1000.0)
    desk.svc.place_manual(intent(qty=10), user="trader", now=later(1))
    desk.svc.place_manual(intent(qty=3, product=Product.CNC), user="trader", now=later(2))
    cut = datetime(2016, 8, 17, 15, 20, tzinfo=IST)
    assert desk.svc.square_off_mis(cut - timedelta(minutes=1)) == 0
    desk.tick(INFY, 1001.0, at=cut)
    assert desk.svc.square_off_mis(cut) == 1
    snapshot = desk.ledger_snapshot()
    assert desk.svc.square_off_mis(cut + timedelta(minutes=1)) == 0
    assert desk.ledger_snapshot() == snapshot
    pos = {p.product: p.quantity for p in desk.svc.positions(cut)}
    assert pos == {"MIS": 0, "CNC": 3}
    assert desk.svc.charges_today(cut).square_off_fee == D("50.00")


def test_square_off_fee_and_fills_count_in_pnl_by_symbol_and_strategy(desk):
    desk.tick(INFY, 1000.0)
    desk.svc.place_manual(intent(qty=10), user="trader", now=later(1))
    cut = datetime(2016, 8, 17, 15, 20, tzinfo=IST)
    desk.tick(INFY, 1001.0, at=cut)
    assert desk.svc.square_off_mis(cut) == 1
    fills = desk.svc.trade_book()
    fill_charges = sum((f.charges.total for f in fills), D("0"))
    by_sym = desk.svc.pnl_by_symbol()
    assert list(by_sym["tradingsymbol"]) == ["INFY"] and by_sym.loc[0, "trades"] == 2
    assert by_sym.loc[0, "charges"] == pytest.approx(float(fill_charges + D("59.00")))  # ₹50 + 18 % GST
    by_strategy = desk.svc.pnl_by_strategy().set_index("origin")
    assert set(by_strategy.index) == {"ticket", "square-off"}  # grouped by origin: no desk exit is a strategy
    assert set(by_strategy["strategy"]) == {""}
    assert by_strategy.loc["square-off", "trades"] == 1
    square_off_fill = next(f for f in fills if f.order_id.startswith("O-SQ-"))
    assert square_off_fill.origin == "square-off"
    assert by_strategy.loc["square-off", "charges"] == pytest.approx(float(square_off_fill.charges.total + D("59.00")))
    assert by_strategy["charges"].sum() == pytest.approx(by_sym["charges"].sum())


def test_cnc_sell_from_holdings_books_one_dp_charge_per_scrip_day(desk):
    desk.tick(INFY, 1000.0)
    assert desk.svc.place_manual(intent(qty=10, product=Product.CNC), user="trader", now=later(1)).ok
    nxt = datetime(2016, 8, 18, 10, 0, tzinfo=IST)  # T+1: the shares are held
    desk.tick(INFY, 1010.0, at=nxt)
    for i, qty in enumerate((4, 6)):
        assert desk.svc.place_manual(intent(side=Side.SELL, qty=qty, product=Product.CNC), user="trader",
                                     now=nxt + timedelta(minutes=10 * i)).ok
    today = desk.svc.charges_today(nxt + timedelta(hours=1))
    assert (today.dp, today.gst - sum((t.charges.gst for t in desk.svc.trade_book() if t.filled_at.date() == nxt.date()),
                                      D("0"))) == (D("13.50"), D("2.43"))
    funds = desk.svc.funds(nxt + timedelta(hours=1))
    assert funds.reconciled and funds.charges_today == today.total
    by_sym = desk.svc.pnl_by_symbol()
    fills = sum((t.charges.total for t in desk.svc.trade_book()), D("0"))
    assert by_sym.loc[0, "charges"] == pytest.approx(float(fills + D("15.93"))) and by_sym.loc[0, "trades"] == 3
    assert desk.svc.pnl_by_strategy().loc[0, "charges"] == pytest.approx(by_sym.loc[0, "charges"])


def test_equity_curve_ends_marked_to_the_latest_ltp_while_a_position_is_open(desk):
    desk.tick(INFY, 1000.0)
    desk.svc.place_manual(intent(qty=10), user="trader", now=later(1))
    at_cost = desk.svc.equity_curve()
    desk.tick(INFY, 1020.0, at=later(60))
    marked = desk.svc.equity_curve(later(60))
    assert len(marked) == len(at_cost) + 1
    assert marked["equity"].iloc[-1] == pytest.approx(float(desk.svc.funds(later(60)).equity))
    assert marked["equity"].iloc[-1] > at_cost["equity"].iloc[-1]
    assert marked["ts"].iloc[-1] == pd.Timestamp(later(60))
    desk.svc.place_manual(intent(side=Side.SELL, qty=10), user="trader", now=later(61))
    assert len(desk.svc.equity_curve(later(62))) == len(desk.svc.equity_curve())  # flat: nothing to mark


def test_save_risk_limits_rejects_negative_cap_and_keeps_old(desk):
    with pytest.raises(ValidationError, match="max_order_notional"):
        desk.svc.save_risk_limits({"max_order_notional": "-1"}, user="risk")
    assert desk.svc.risk_limits().version == 0
    saved = desk.svc.save_risk_limits({"max_order_notional": "50000", "max_open_positions": 2}, user="risk")
    assert saved.version == 1 and saved.max_order_notional == D("50000")
    desk.tick(INFY, 1000.0)
    out = desk.svc.place_manual(intent(qty=60), user="trader", now=later(1))
    assert "ORDER_NOTIONAL" in out.reasons


def test_funds_reconcile_after_round_trip(desk):
    desk.tick(INFY, 1000.0)
    desk.svc.place_manual(intent(qty=10), user="trader", now=later(1))
    desk.tick(INFY, 1010.0, at=later(600))
    desk.svc.place_manual(intent(side=Side.SELL, qty=10), user="trader", now=later(601))
    f = desk.svc.funds(later(700))
    assert f.reconciled and f.realized == D("99.00")  # sold at bid 1010.00, bought at 1000.10
    assert f.net_pnl == f.gross_pnl - f.charges_total
    curve = desk.svc.equity_curve()
    assert list(curve.columns) == ["ts", "equity", "drawdown", "drawdown_pct"]
    by_sym = desk.svc.pnl_by_symbol()
    assert by_sym.loc[0, "tradingsymbol"] == "INFY" and by_sym.loc[0, "gross"] == pytest.approx(99.0)


def test_postgres_flow_fills_once(pg_desk):
    pg_desk.tick(INFY, 1000.0)
    a = pg_desk.svc.propose(intent(), signal_price=D("1000"), reason="r", now=T0)
    assert pg_desk.svc.approve(a.approval_id, user="trader", now=later(5)).ok
    assert not pg_desk.svc.approve(a.approval_id, user="trader", now=later(6)).ok
    assert len(pg_desk.svc.trade_book()) == 1 and pg_desk.svc.funds(later(9)).reconciled


# ---- margins and funds (issue 13: Zerodha's per-stock MIS margin, blocked per open order)

_OFF_LIST = MarginTable(as_of=date(2016, 8, 16), source="test list", rows={
    "INFY": MarginRow("INFY", D("7.50"), D("3.50"), mis_eligible=False),
    "SBIN": MarginRow("SBIN", D("30.00"), D("3.50"), D("1.50")),  # 35 % MIS margin
})


@pytest.fixture
def listed_desk(tmp_path, redis_url):
    d = make_desk(f"sqlite:///{tmp_path / 'listed.db'}", redis_url,
                  config=TradingConfig(slippage_bps=D(0), margins=_OFF_LIST))
    yield d
    d.sql.dispose()


def test_funds_margin_used_shows_an_open_cnc_limit_buy_and_releases_it_on_cancel_and_fill(desk):  # noqa: F811
    """Zerodha Funds: an open order blocks its margin (CNC 100 %) until it fills or is cancelled."""
    desk.tick(INFY, 1000.0)
    limit_buy = intent(qty=10, product=Product.CNC, order_type=OrderType.LIMIT, price=D("990.0"))
    first = desk.svc.place_manual(limit_buy, user="trader", now=later(1))
    f = desk.svc.funds(later(2))
    assert (f.margin_used, f.available) == (D("9900.00"), D("990100.00"))
    assert desk.svc.cancel_order(first.order_id, user="trader", now=later(3)).ok
    f = desk.svc.funds(later(4))
    assert (f.margin_used, f.available) == (D("0"), D("1000000.00"))
    assert desk.svc.place_manual(limit_buy, user="trader", now=later(5)).ok
    desk.tick(INFY, 989.0, at=later(6))
    assert desk.svc.match_open_orders(later(7)) == 1
    f = desk.svc.funds(later(8))
    assert f.margin_used == D("0") and f.available == f.cash < D("1000000") - D("9900")  # paid from cash


def test_mis_order_on_a_stock_off_the_mis_list_is_refused_naming_rule_and_source(listed_desk):
    """Zerodha support "What are the margins for intraday equity (MIS)?": MIS only on the eligible list."""
    d = listed_desk
    d.tick(INFY, 1000.0)
    funds_before = d.svc.funds(later(1))
    before = d.ledger_snapshot()
    out = d.svc.place_manual(intent(qty=10), user="trader", now=later(1))
    assert not out.ok and tuple(out.reasons) == ("MIS_NOT_ELIGIBLE",)
    [message] = [m for m, r in zip(out.messages, out.reasons, strict=True) if r == "MIS_NOT_ELIGIBLE"]
    assert "INFY" in message and "Zerodha support" in message and "test list" in message
    assert d.ledger_snapshot() == before and d.svc.funds(later(1)) == funds_before
    assert d.svc.place_manual(intent(qty=10, product=Product.CNC), user="trader", now=later(2)).ok  # CNC is fine


def test_order_needing_more_margin_than_free_is_refused_at_the_stocks_own_rate(listed_desk):
    """SEBI peak-margin rules via Zerodha: SBIN at VaR 30 + ELM 3.5 + ad hoc 1.5 = 35 %, not a flat 5×."""
    d = listed_desk
    d.svc.save_risk_limits({"max_order_notional": "100000000", "max_order_quantity": 100000}, user="risk")
    d.tick(SBIN, 250.0)
    funds_before = d.svc.funds(later(1))
    before = d.ledger_snapshot()
    out = d.svc.place_manual(intent(SBIN, qty=12000), user="trader", now=later(1))  # ₹30 lakh × 35 % > ₹10 lakh
    assert not out.ok and "INSUFFICIENT_MARGIN" in out.reasons
    [message] = [m for m, r in zip(out.messages, out.reasons, strict=True) if r == "INSUFFICIENT_MARGIN"]
    assert "needs ₹1,050,000.00 margin; ₹1,000,000.00 available" in message and "Zerodha support" in message
    assert d.ledger_snapshot() == before and d.svc.funds(later(1)) == funds_before
    assert d.svc.place_manual(intent(SBIN, qty=11000), user="trader", now=later(2)).ok  # ₹9.63 lakh fits
    [trade] = d.svc.trade_book()
    assert d.svc.funds(later(3)).margin_used == (11000 * trade.price * D("0.35")).quantize(D("0.01"))


def test_intraday_profit_is_not_available_until_the_next_day(desk):  # noqa: F811
    """Zerodha support "unsettled balances": a realised MIS profit is usable from T+1."""
    desk.tick(INFY, 1000.0)
    desk.svc.place_manual(intent(qty=10), user="trader", now=later(1))
    desk.tick(INFY, 1010.0, at=later(600))
    desk.svc.place_manual(intent(side=Side.SELL, qty=10), user="trader", now=later(601))
    f = desk.svc.funds(later(700))
    assert f.realized == D("99.00") and f.available == f.cash - D("99.00")
    next_day = datetime(2016, 8, 18, 10, 0, tzinfo=IST)
    assert desk.svc.funds(next_day).available == f.cash
