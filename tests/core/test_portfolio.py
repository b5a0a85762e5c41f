"""Portfolio: positions, P&L, funds, T+1 holdings, ledger reconciliation, MIS square-off."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from core.broker import Fill
from core.charges import NO_CHARGES, Charges, equity_charges, schedule_for
from core.errors import ValidationError
from core.orders import OrderType, Product, Side
from core.portfolio import (
    LedgerKind,
    apply_fill,
    dp_due,
    funds,
    holdings,
    new_portfolio,
    pnl,
    reconcile,
    required_margin,
    roll_day,
    square_off,
)
from core.timeutil import IST
from tests.factories import equity, intent

D = Decimal
OPEN = datetime(2025, 1, 6, 9, 0, tzinfo=IST)
T = datetime(2025, 1, 6, 10, 0, tzinfo=IST)
CUT = datetime(2025, 1, 6, 15, 20, tzinfo=IST)


def fill(fid: str, side: Side, qty: int, price: str, *, product=Product.MIS, token=1, charges: Charges = NO_CHARGES,
         at: datetime = T) -> Fill:
    return Fill(fid, fid.split("-")[0], 1, token, f"SYM{token}", side, product, qty, D(price), charges, at)


def book(*fills: Fill, settles_on: date | None = None):
    p = new_portfolio(opened_at=OPEN)
    for f in fills:
        p = apply_fill(p, f, settles_on=settles_on).portfolio
    return p


def test_new_portfolio_default_capital_is_ten_lakh():
    p = new_portfolio(opened_at=OPEN)
    assert p.cash == D("1000000.00") and p.ledger[0].kind is LedgerKind.CAPITAL


def test_new_portfolio_negative_capital_raises():
    with pytest.raises(ValidationError, match="capital"):
        new_portfolio(opened_at=OPEN, capital=D("-1"))


def test_buy_opens_long_with_average_price():
    pos = book(fill("a-1", Side.BUY, 10, "100"), fill("b-1", Side.BUY, 10, "110")).position(1, Product.MIS)
    assert (pos.quantity, pos.average_price) == (20, D("105.00"))


def test_sell_closes_long_and_realizes_pnl():
    p = book(fill("a-1", Side.BUY, 10, "100"), fill("b-1", Side.SELL, 10, "110.50"))
    pos = p.position(1, Product.MIS)
    assert (pos.quantity, pos.realized_pnl, p.realized_today) == (0, D("105.00"), D("105.00"))


def test_partial_close_realizes_against_weighted_average():
    # avg (100×1 + 101×2)/3 = 100.666…; close 1 at 102: removed cost 302 × 1/3 = 100.67, realized 1.33
    p = book(fill("a-1", Side.BUY, 1, "100"), fill("b-1", Side.BUY, 2, "101"), fill("c-1", Side.SELL, 1, "102"))
    pos = p.position(1, Product.MIS)
    assert (pos.quantity, pos.cost, pos.realized_pnl) == (2, D("201.33"), D("1.33"))


def test_mis_short_then_cover_realizes_pnl():
    pos = book(fill("a-1", Side.SELL, 10, "200"), fill("b-1", Side.BUY, 10, "190")).position(1, Product.MIS)
    assert (pos.quantity, pos.realized_pnl) == (0, D("100.00"))


def test_flip_long_to_short_opens_remainder_at_fill_price():
    pos = book(fill("a-1", Side.BUY, 10, "100"), fill("b-1", Side.SELL, 15, "105")).position(1, Product.MIS)
    assert (pos.quantity, pos.average_price, pos.realized_pnl) == (-5, D("105.00"), D("50.00"))


def test_unrealized_pnl_marked_to_ltp():
    p = book(fill("a-1", Side.BUY, 10, "100"))
    assert pnl(p, {1: D("103.50")}).unrealized == D("35.00")


def test_pnl_net_is_gross_minus_charges():
    c = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), schedule_for(T.date()))
    p = book(fill("a-1", Side.BUY, 100, "1000", charges=c))
    r = pnl(p, {1: D("1010")})
    assert (r.gross, r.charges, r.net, r.day) == (D("1000.00"), c.total, D("1000.00") - c.total, D("1000.00") - c.total)


def test_charges_debited_to_ledger_and_counted_today():
    """₹1,00,000 MIS buy, Oct 2024 rates: 20 + txn 2.97 + IPFT 0.10 (charged by default, NSE
    ₹10/crore) + SEBI 0.10 + stamp 3 + GST 18% × 23.17 = 4.17 → ₹30.34."""
    c = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), schedule_for(T.date()))
    p = book(fill("a-1", Side.BUY, 100, "1000", charges=c))
    assert p.charges_today == D("30.34") and p.cash == D("1000000.00") - D("100000") - D("30.34")


def test_replayed_fill_is_reported_noop():
    p = book(fill("a-1", Side.BUY, 10, "100"))
    result = apply_fill(p, fill("a-1", Side.BUY, 10, "100"))
    assert not result.applied and result.portfolio is p


def test_fill_on_other_day_raises():
    with pytest.raises(ValidationError, match="roll_day"):
        book(fill("a-1", Side.BUY, 10, "100", at=datetime(2025, 1, 7, 10, tzinfo=IST)))


def test_cnc_buy_without_settlement_date_raises():
    with pytest.raises(ValidationError, match="settles_on"):
        book(fill("a-1", Side.BUY, 10, "100", product=Product.CNC))


def test_cnc_sell_beyond_holding_raises():
    p = book(fill("a-1", Side.BUY, 10, "100", product=Product.CNC), settles_on=date(2025, 1, 7))
    with pytest.raises(ValidationError, match="exceeds the 10 shares held"):
        apply_fill(p, fill("b-1", Side.SELL, 11, "100", product=Product.CNC))


def test_cnc_buy_is_todays_position_on_the_trade_date():
    """Shares bought today are a position, not yet a holding (NSE T+1; indian-market.md §1)."""
    p = book(fill("a-1", Side.BUY, 10, "100", product=Product.CNC), settles_on=date(2025, 1, 7))
    h = holdings(p, date(2025, 1, 6))[0]
    assert (h.today_quantity, h.quantity, h.t1_quantity, h.sellable) == (10, 0, 0, 10)


def test_cnc_buy_is_t1_on_its_settlement_date():
    """On T+1 the shares are T1: credited to the demat at the end of the day, sellable as BTST
    (support.zerodha.com, "DP charges for BTST trades")."""
    p = roll_day(book(fill("a-1", Side.BUY, 10, "100", product=Product.CNC), settles_on=date(2025, 1, 7)),
                 date(2025, 1, 7))
    h = holdings(p, date(2025, 1, 7))[0]
    assert (h.today_quantity, h.quantity, h.t1_quantity, h.average_price) == (0, 0, 10, D("100.00"))


def test_cnc_buy_is_a_settled_holding_after_its_settlement_date():
    """After T+1 the lot is a settled holding (NSE T+1 settlement, indian-market.md §1)."""
    p = roll_day(book(fill("a-1", Side.BUY, 10, "100", product=Product.CNC), settles_on=date(2025, 1, 7)),
                 date(2025, 1, 8))
    h = holdings(p, date(2025, 1, 8))[0]
    assert (h.today_quantity, h.quantity, h.t1_quantity) == (0, 10, 0)
    assert p.lots == ()


def test_mis_margin_blocked_is_notional_over_leverage():
    f = funds(book(fill("a-1", Side.BUY, 100, "1000")), {1: D("1000")})
    assert (f.used_margin, f.available_margin) == (D("20000.00"), D("980000.00"))


def test_mis_unrealized_loss_reduces_available_margin_gain_does_not_add():
    p = book(fill("a-1", Side.BUY, 100, "1000"))
    assert funds(p, {1: D("990")}).available_margin == D("979000.00")
    assert funds(p, {1: D("1010")}).available_margin == D("980000.00")


def test_cnc_buy_uses_full_cash():
    p = book(fill("a-1", Side.BUY, 100, "1000", product=Product.CNC), settles_on=date(2025, 1, 7))
    f = funds(p, {1: D("1000")})
    assert (f.available_margin, f.equity) == (D("900000.00"), D("1000000.00"))


def test_required_margin_for_mis_entry_and_exit():
    buy = intent(equity(1))
    assert required_margin(buy, D("1500"), D("5")) == D("3000.00")
    assert required_margin(replace(buy, side=Side.SELL), D("1500"), D("5"), position_quantity=10) == D("0.00")


def test_reconcile_clean_books_has_no_discrepancy():
    c = equity_charges(Side.SELL, Product.MIS, 7, D("333.35"), schedule_for(T.date()))
    p = book(fill("a-1", Side.BUY, 10, "333.30"), fill("b-1", Side.SELL, 7, "333.35", charges=c))
    assert reconcile(p) == ()


def test_reconcile_tampered_ledger_reports_cash_difference():
    p = book(fill("a-1", Side.BUY, 10, "100"))
    bad = replace(p, ledger=p.ledger[:-1])
    assert [d.check for d in reconcile(bad)] == ["cash", "fills"]


def test_roll_day_resets_day_counters_keeps_positions():
    p = roll_day(book(fill("a-1", Side.BUY, 10, "100"), fill("b-1", Side.SELL, 5, "110")), date(2025, 1, 7))
    assert (p.realized_today, p.charges_today, p.position(1, Product.MIS).quantity) == (D("0.00"), D("0.00"), 5)


def test_square_off_before_cutoff_produces_nothing():
    p = book(fill("a-1", Side.BUY, 10, "100"))
    assert square_off(p, now=datetime(2025, 1, 6, 15, 19, tzinfo=IST), ltps={}).orders == ()


def test_square_off_at_cutoff_closes_each_mis_position():
    p = book(fill("a-1", Side.BUY, 10, "100"), fill("b-1", Side.SELL, 4, "50", token=2),
             fill("c-1", Side.BUY, 3, "10", token=3, product=Product.CNC), settles_on=date(2025, 1, 7))
    orders = square_off(p, now=CUT, ltps={1: D("101")}).orders
    assert [(o.intent.instrument_token, o.intent.side, o.intent.quantity) for o in orders] == [
        (1, Side.SELL, 10),
        (2, Side.BUY, 4),
    ]
    assert orders[0].order_id == "SQ-20250106-1" and orders[0].intent.order_type is OrderType.MARKET


def test_square_off_second_run_produces_nothing():
    first = square_off(book(fill("a-1", Side.BUY, 10, "100")), now=CUT, ltps={})
    second = square_off(first.portfolio, now=CUT, ltps={})
    assert second.orders == () and second.portfolio is first.portfolio


def test_square_off_fee_debits_59_per_order():
    result = square_off(book(fill("a-1", Side.BUY, 10, "100")), now=CUT, ltps={}, charge_fee=True)
    assert result.portfolio.ledger[-1].amount == D("-59.00") and result.portfolio.charges_today == D("59.00")
    assert reconcile(result.portfolio) == ()


def test_square_off_configurable_cutoff():
    p = book(fill("a-1", Side.BUY, 10, "100"))
    assert square_off(p, now=CUT, ltps={}, cutoff=time(15, 25)).orders == ()


# ---- DP charge (support.zerodha.com: ₹13.50 + GST per scrip per day sold from demat holdings)

DP = D("15.93")
SETTLED = datetime(2025, 1, 7, 10, 0, tzinfo=IST)


def _holding(qty: int = 10):
    """A portfolio on 7 Jan holding ``qty`` SYM1 bought (CNC) on 6 Jan."""
    p = book(fill("h-1", Side.BUY, qty, "100", product=Product.CNC), settles_on=date(2025, 1, 7))
    return roll_day(p, date(2025, 1, 7))


def _dp_entries(p):
    return [e for e in p.ledger if e.kind is LedgerKind.DP_CHARGE]


def test_cnc_sell_from_holdings_debits_one_dp_charge():
    p = apply_fill(_holding(), fill("s-1", Side.SELL, 4, "105", product=Product.CNC, at=SETTLED), dp_charge=DP).portfolio
    (entry,) = _dp_entries(p)
    assert (entry.amount, entry.reference) == (-DP, "s-1")
    assert p.charges_today == DP and not reconcile(p)


def test_second_sell_of_the_same_scrip_the_same_day_pays_no_more_dp():
    p = apply_fill(_holding(), fill("s-1", Side.SELL, 4, "105", product=Product.CNC, at=SETTLED), dp_charge=DP).portfolio
    p = apply_fill(p, fill("s-2", Side.SELL, 6, "106", product=Product.CNC, at=SETTLED), dp_charge=DP).portfolio
    assert len(_dp_entries(p)) == 1


def test_dp_charge_again_on_the_next_day():
    p = apply_fill(_holding(), fill("s-1", Side.SELL, 4, "105", product=Product.CNC, at=SETTLED), dp_charge=DP).portfolio
    p = roll_day(p, date(2025, 1, 8))
    nxt = datetime(2025, 1, 8, 10, 0, tzinfo=IST)
    p = apply_fill(p, fill("s-2", Side.SELL, 6, "106", product=Product.CNC, at=nxt), dp_charge=DP).portfolio
    assert len(_dp_entries(p)) == 2


def test_selling_only_todays_cnc_buys_pays_no_dp():
    p = book(fill("b-1", Side.BUY, 10, "100", product=Product.CNC), settles_on=date(2025, 1, 7))
    p = apply_fill(p, fill("s-1", Side.SELL, 10, "101", product=Product.CNC), dp_charge=DP).portfolio
    assert _dp_entries(p) == [] and p.position(1, Product.CNC).quantity == 0


def test_selling_more_than_todays_buys_draws_on_holdings_and_pays_dp():
    p = apply_fill(_holding(), fill("b-1", Side.BUY, 5, "100", product=Product.CNC, at=SETTLED),
                   settles_on=date(2025, 1, 8)).portfolio
    p = apply_fill(p, fill("s-1", Side.SELL, 5, "101", product=Product.CNC, at=SETTLED), dp_charge=DP).portfolio
    assert _dp_entries(p) == []
    p = apply_fill(p, fill("s-2", Side.SELL, 3, "101", product=Product.CNC, at=SETTLED), dp_charge=DP).portfolio
    assert len(_dp_entries(p)) == 1


def test_mis_sells_and_zero_rate_book_no_dp():
    assert _dp_entries(book(fill("a-1", Side.SELL, 10, "100"))) == []
    p = apply_fill(_holding(), fill("s-1", Side.SELL, 4, "105", product=Product.CNC, at=SETTLED)).portfolio
    assert _dp_entries(p) == []


def test_dp_due_needs_a_cnc_sell():
    pos = _holding().position(1, Product.CNC)
    assert dp_due(pos, fill("s-1", Side.SELL, 1, "100", product=Product.CNC, at=SETTLED))
    assert not dp_due(pos, fill("b-1", Side.BUY, 1, "100", product=Product.CNC, at=SETTLED))
