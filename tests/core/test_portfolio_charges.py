"""Portfolio charge application (issue 13): STT per scrip-day to the rupee on the ledger, and
the auto square-off split into orders of at most 30,000 shares, one fee each.

Sources: support.zerodha.com "How is the STT calculated?" (per scrip per day on the average
price, rounded to the rupee) and "intraday auto square-off timings" (₹50 + GST per order;
Zerodha squares off at most 30,000 shares per order; indian-market.md §3).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.broker import Fill
from core.charges import ChargeLeg, contract_note_charges, equity_charges, schedule_for
from core.orders import Product, Side
from core.portfolio import LedgerKind, apply_fill, new_portfolio, reconcile, square_off
from core.timeutil import IST

D = Decimal
OPEN = datetime(2025, 1, 6, 9, 0, tzinfo=IST)
T = datetime(2025, 1, 6, 10, 0, tzinfo=IST)
CUT = datetime(2025, 1, 6, 15, 20, tzinfo=IST)
SCHEDULE = schedule_for(T.date())


def _fill(fid: str, side: Side, qty: int, price: str, *, token: int = 1) -> Fill:
    """A fill carrying the broker's per-fill charges (STT rounded per fill, no day context)."""
    c = equity_charges(side, Product.MIS, qty, D(price), SCHEDULE)
    return Fill(fid, fid, 1, token, f"SYM{token}", side, Product.MIS, qty, D(price), c, T)


def _book(*fills: Fill):
    p, booked = new_portfolio(opened_at=OPEN), []
    for f in fills:
        applied = apply_fill(p, f, schedule=SCHEDULE)
        p = applied.portfolio
        booked.append(applied.fill)
    return p, booked


def test_three_sells_of_one_scrip_book_the_day_stt_rounded_once():
    """Buy ₹4,200 then three MIS sells of ₹1,400: each alone is 0.35 → ₹0 STT, but the
    scrip-day sell turnover ₹4,200 × 0.025% = 1.05 → ₹1. The ledger books ₹0 + ₹1 + ₹0."""
    sells = [_fill(f"s{i}", Side.SELL, 14, "100") for i in range(3)]
    assert [f.charges.stt for f in sells] == [D("0.00")] * 3  # what the broker attaches per fill
    _p, booked = _book(_fill("b", Side.BUY, 42, "100"), *sells)
    assert [f.charges.stt for f in booked[1:]] == [D("0.00"), D("1.00"), D("0.00")]
    legs = [ChargeLeg(f.fill_id, f.side, f.product, f.quantity, f.price, f.instrument_token) for f in booked]
    assert sum((f.charges.stt for f in booked), D(0)) == contract_note_charges(legs, SCHEDULE).stt == D("1.00")


def test_restated_stt_is_what_the_ledger_debits():
    """The CHARGES entry of each fill equals the booked fill's total, and the books reconcile."""
    p, booked = _book(_fill("b", Side.BUY, 42, "100"), *[_fill(f"s{i}", Side.SELL, 14, "100") for i in range(3)])
    debits = {e.reference: -e.amount for e in p.ledger if e.kind is LedgerKind.CHARGES}
    assert debits == {f.fill_id: f.charges.total for f in booked}
    assert p.charges_today == sum((f.charges.total for f in booked), D(0))
    assert reconcile(p) == ()


def test_stt_classes_are_per_scrip():
    """Two scrips with one ₹2,200 MIS sell each: 0.55 → ₹1 per scrip, ₹2 in all."""
    _, booked = _book(_fill("a", Side.SELL, 22, "100", token=1), _fill("b", Side.SELL, 22, "100", token=2))
    assert [f.charges.stt for f in booked] == [D("1.00"), D("1.00")]


def test_without_schedule_the_fill_is_booked_as_it_is():
    f = _fill("s", Side.SELL, 14, "100")
    applied = apply_fill(new_portfolio(opened_at=OPEN), f)
    assert applied.fill is f


def _long(qty: int):
    p, _ = _book(_fill("b", Side.BUY, qty, "10"))
    return p


def test_square_off_of_70000_shares_is_three_orders_with_three_fees():
    """70,000 shares → orders of 30,000, 30,000 and 10,000; 3 × (₹50 + ₹9 GST) = ₹177 debited."""
    before = _long(70_000)
    result = square_off(before, now=CUT, ltps={}, charge_fee=True)
    assert [(o.order_id, o.intent.quantity) for o in result.orders] == [
        ("SQ-20250106-1", 30_000), ("SQ-20250106-1-2", 30_000), ("SQ-20250106-1-3", 10_000)]
    fees = [-e.amount for e in result.portfolio.ledger if e.kind is LedgerKind.SQUARE_OFF_CHARGE]
    assert fees == [D("59.00")] * 3
    assert result.portfolio.charges_today - before.charges_today == D("177.00")


def test_square_off_of_30000_shares_is_one_order():
    result = square_off(_long(30_000), now=CUT, ltps={}, charge_fee=True)
    assert [(o.order_id, o.intent.quantity) for o in result.orders] == [("SQ-20250106-1", 30_000)]


def test_split_square_off_is_idempotent():
    first = square_off(_long(70_000), now=CUT, ltps={}, charge_fee=True)
    again = square_off(first.portfolio, now=CUT, ltps={}, charge_fee=True)
    assert again.orders == () and again.portfolio == first.portfolio
