"""MIS auto square-off of a position above 30,000 shares: several orders of at most 30,000.

Source: Zerodha, intraday auto square-off (support.zerodha.com, intraday auto square-off
timings; ``../shared/docs/indian-market.md`` §2): the broker squares off in orders of at most
30,000 shares (``core.charges.ChargeSchedule.square_off_max_quantity``) and charges ₹50 + 18 %
GST per order. A real ``TradingService`` on SQLite with real Redis ticks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from app.trading import square_off
from core.orders import Product
from core.risk import RiskLimits
from core.timeutil import IST
from tests.fixtures_trading import INFY, T0, D, desk, intent, later, pg_desk  # noqa: F401

CUT = datetime(2016, 8, 17, 15, 20, tzinfo=IST)


def test_split_quantity_caps_each_order_at_30000_shares():
    """Zerodha: at most 30,000 shares per square-off order."""
    assert square_off.split_quantity(70_000, 30_000) == [30_000, 30_000, 10_000]
    assert square_off.split_quantity(60_000, 30_000) == [30_000, 30_000]
    assert square_off.split_quantity(30_000, 30_000) == [30_000]
    assert square_off.split_quantity(7, 30_000) == [7]
    assert square_off.split_quantity(0, 30_000) == []
    with pytest.raises(ValueError, match="max_quantity"):
        square_off.split_quantity(10, 0)


def test_part_ids_follow_the_attempt_ids():
    """First order of an attempt keeps the attempt's id; the others are -P2, -P3 ..."""
    trace = square_off.trace_id(CUT.date(), INFY)
    assert [square_off.part_id(trace, 0, k) for k in range(3)] == [trace, f"{trace}-P2", f"{trace}-P3"]
    assert square_off.part_id(trace, 1, 1) == f"{trace}-R1-P2"


def _big_position(desk, qty: int) -> None:  # noqa: F811
    desk.svc.save_risk_limits(RiskLimits(max_order_quantity=100_000, max_order_notional=Decimal("10000000")),
                              user="trader", now=T0)
    desk.tick(INFY, 10.0)
    out = desk.svc.place_manual(intent(qty=qty), user="trader", now=later(1))
    assert out.ok, out.messages
    assert {p.product: p.quantity for p in desk.svc.positions(later(2))} == {"MIS": qty}


def test_square_off_of_70000_shares_is_three_orders_three_fees(desk):  # noqa: F811
    """Zerodha: 70,000 shares → orders of 30,000 + 30,000 + 10,000, each charged ₹50 + GST."""
    _big_position(desk, 70_000)
    desk.tick(INFY, 10.5, at=CUT)
    assert desk.svc.square_off_mis(CUT) == 3
    trace = square_off.trace_id(CUT.date(), INFY)
    orders = [o for o in desk.svc.order_book() if o.tag == "SQUAREOFF"]
    assert sorted((o.order_id, o.quantity, o.status) for o in orders) == [
        (f"O-{trace}", 30_000, "COMPLETE"), (f"O-{trace}-P2", 30_000, "COMPLETE"),
        (f"O-{trace}-P3", 10_000, "COMPLETE")]
    fills = [f for f in desk.svc.trade_book() if f.order_id.startswith("O-SQ-")]
    assert sorted(f.quantity for f in fills) == [10_000, 30_000, 30_000]
    fees = [e for e in desk.store.ledger_entries() if e["kind"] == "SQUARE_OFF_CHARGE"]
    assert sorted(e["reference"] for e in fees) == sorted(o.order_id for o in orders)
    assert all(D(e["amount"]) == D("-59.00") for e in fees)  # ₹50 + 18 % GST each
    assert desk.svc.charges_today(CUT).square_off_fee == D("150.00")
    assert {p.product: p.quantity for p in desk.svc.positions(CUT)} == {"MIS": 0}
    # the next run finds the position flat: nothing placed, nothing charged again
    snapshot = desk.ledger_snapshot()
    assert desk.svc.square_off_mis(CUT + timedelta(seconds=30)) == 0
    assert desk.ledger_snapshot() == snapshot
    assert desk.svc.square_off_refusals(CUT.date()) == []


def test_square_off_up_to_30000_shares_is_one_order_one_fee(desk):  # noqa: F811
    """Zerodha: a position of at most 30,000 shares is one square-off order, one ₹50 + GST."""
    _big_position(desk, 30_000)
    desk.tick(INFY, 10.5, at=CUT)
    assert desk.svc.square_off_mis(CUT) == 1
    assert [o.quantity for o in desk.svc.order_book() if o.tag == "SQUAREOFF"] == [30_000]
    assert desk.svc.charges_today(CUT).square_off_fee == D("50.00")
    assert desk.svc.positions(CUT)[0].product == "MIS" and desk.svc.positions(CUT)[0].quantity == 0


def test_a_short_position_is_bought_back_in_parts(desk):  # noqa: F811
    """The split applies to short MIS positions too (BUY orders of at most 30,000)."""
    from core.orders import Side

    desk.svc.save_risk_limits(RiskLimits(max_order_quantity=100_000, max_order_notional=Decimal("10000000")),
                              user="trader", now=T0)
    desk.tick(INFY, 10.0)
    assert desk.svc.place_manual(intent(qty=45_000, side=Side.SELL, product=Product.MIS), user="trader",
                                 now=later(1)).ok
    desk.tick(INFY, 9.5, at=CUT)
    assert desk.svc.square_off_mis(CUT) == 2
    parts = sorted((o.side, o.quantity) for o in desk.svc.order_book() if o.tag == "SQUAREOFF")
    assert parts == [("BUY", 15_000), ("BUY", 30_000)]
    assert desk.svc.charges_today(CUT).square_off_fee == D("100.00")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_desk(request):  # noqa: F811
    return request.getfixturevalue("desk" if request.param == "sqlite" else "pg_desk")


def test_square_off_fee_lost_to_a_killed_run_is_written_once_by_the_next_run(any_desk, monkeypatch):
    """The run that fills the square-off dies before its fee is written (a worker killed between
    the fill and the fee): the next run finds the position flat, writes the ₹50 + GST fee with its
    deterministic entry id, and later runs write nothing more. Both stores."""
    d = any_desk
    _big_position(d, 40_000)  # two orders: 30,000 + 10,000
    d.tick(INFY, 10.5, at=CUT)
    record = d.store.record_square_off

    def killed(*args, **kwargs):
        raise RuntimeError("worker killed between the fill and the fee write")

    monkeypatch.setattr(d.store, "record_square_off", killed)
    with pytest.raises(RuntimeError, match="worker killed"):
        d.svc.square_off_mis(CUT)
    assert {p.product: p.quantity for p in d.svc.positions(CUT)} == {"MIS": 0}  # filled: both orders
    fees = lambda: sorted((e["entry_id"], D(e["amount"])) for e in d.store.ledger_entries()  # noqa: E731
                          if e["kind"] == "SQUARE_OFF_CHARGE")
    assert fees() == []

    monkeypatch.setattr(d.store, "record_square_off", record)
    assert d.svc.square_off_mis(CUT + timedelta(seconds=30)) == 0  # flat: nothing placed again
    trace = square_off.trace_id(CUT.date(), INFY)
    assert fees() == [(f"{trace}-P2/fee", D("-59.00")), (f"{trace}/fee", D("-59.00"))]
    assert d.svc.charges_today(CUT).square_off_fee == D("100.00")  # ₹50 × 2 (their GST is in the GST line)
    snapshot = d.ledger_snapshot()
    assert d.svc.square_off_mis(CUT + timedelta(seconds=60)) == 0
    assert d.ledger_snapshot() == snapshot and len(fees()) == 2
    assert d.svc.funds(CUT + timedelta(seconds=90)).reconciled


def test_record_square_off_adds_only_what_is_missing(any_desk):
    """Two runs writing the same deterministic rows (one saw 1 of 2 parts placed): each fee once,
    one square-off mark per position and day."""
    d = any_desk
    day = CUT.date()
    fee = lambda aid: dict(entry_id=f"{aid}/fee", at=CUT, day=day, kind="SQUARE_OFF_CHARGE",  # noqa: E731
                           amount=D("-59.00"), reference=f"O-{aid}", instrument_token=INFY, trace_id="SQ", memo="")
    mark = dict(day=day, instrument_token=INFY, product="MIS", order_id="O-A", at=CUT)
    d.store.record_square_off(mark, [fee("A")])
    d.store.record_square_off(mark, [fee("A"), fee("A-P2")])
    d.store.record_square_off(mark, [fee("A"), fee("A-P2")])
    assert d.store.ledger_entry_ids(day, "SQUARE_OFF_CHARGE") == {"A/fee", "A-P2/fee"}
    assert sum(1 for e in d.store.ledger_entries() if e["kind"] == "SQUARE_OFF_CHARGE") == 2
