"""The desk end to end (store, gatekeeper, paper broker, ledger): same-day CNC and BTST (issue 13)."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.charges import backfilled_schedules, schedule_for
from core.orders import Product, Side
from core.same_day_cnc import ScripDayLeg, scrip_day_charges
from core.timeutil import IST
from tests.fixtures_trading import INFY, D, desk, intent, later  # noqa: F401


def test_same_day_cnc_buy_then_sell_is_accepted_and_charged_as_intraday(desk):  # noqa: F811
    """Selling today's CNC buy is allowed and the day is charged as intraday: the ledger's
    charges for the day are the netted contract-note figure (support.zerodha.com, "Why was the
    brokerage charged on delivery trades?"), ₹20 brokerage per order included."""
    desk.tick(INFY, 1000.0)
    assert desk.svc.place_manual(intent(qty=100, product=Product.CNC), user="trader", now=later(1)).ok
    desk.tick(INFY, 1010.0, at=later(30))
    sold = desk.svc.place_manual(intent(side=Side.SELL, qty=100, product=Product.CNC), user="trader", now=later(31))
    assert sold.ok, sold.reasons
    fills = [f for f in desk.svc.trade_book() if f.product == "CNC"]
    assert len(fills) == 2
    day = later(31).date()
    legs = [ScripDayLeg(f.order_id, INFY, Side(f.side), f.quantity, f.price * f.quantity)
            for f in fills]
    netted = scrip_day_charges(legs, schedule_for(day, backfilled_schedules()))
    assert netted.brokerage == D("40.00")
    funds = desk.svc.funds(later(40))
    assert funds.reconciled and funds.charges_today == netted.total


def test_cnc_sell_without_any_holdings_is_refused_and_ledger_unchanged(desk):  # noqa: F811
    """No settled, T1 or bought-today shares: refused with INSUFFICIENT_HOLDINGS, the rule named
    with its source; ledger unchanged."""
    desk.tick(INFY, 1000.0)
    desk.svc.funds(later(0))  # opens the account (its capital entry)
    before = desk.ledger_snapshot()
    refused = desk.svc.place_manual(intent(side=Side.SELL, qty=5, product=Product.CNC), user="trader", now=later(1))
    assert not refused.ok and "INSUFFICIENT_HOLDINGS" in refused.reasons
    assert any("no short delivery" in m and "support.zerodha.com" in m for m in refused.messages)
    assert desk.ledger_snapshot() == before


def test_btst_sell_of_yesterdays_buy_is_accepted_with_one_dp_charge(desk):  # noqa: F811
    """T1 shares (bought the previous trading day) may be sold: BTST, DP charge applies
    (support.zerodha.com, "DP charges for BTST trades")."""
    desk.tick(INFY, 1000.0)
    assert desk.svc.place_manual(intent(qty=10, product=Product.CNC), user="trader", now=later(1)).ok
    nxt = datetime(2016, 8, 18, 10, 0, tzinfo=IST)
    desk.tick(INFY, 1010.0, at=nxt)
    sold = desk.svc.place_manual(intent(side=Side.SELL, qty=10, product=Product.CNC), user="trader",
                                 now=nxt + timedelta(minutes=1))
    assert sold.ok, sold.reasons
    assert desk.svc.charges_today(nxt + timedelta(hours=1)).dp > 0


def test_btst_proceeds_are_usable_from_the_next_trading_day(desk):  # noqa: F811
    """A BTST sale's proceeds count in cash but not in available margin until the next trading
    day; a sale of settled shares would be usable at once (support.zerodha.com, "DP charges for
    BTST trades"; "unsettled balances": 100 % of CNC sale proceeds usable the same day since
    7 Oct 2024, BTST excepted). Funds are rebuilt from the stored fills (T1 = settles that day)."""
    desk.tick(INFY, 1000.0)
    assert desk.svc.place_manual(intent(qty=10, product=Product.CNC), user="trader", now=later(1)).ok
    t1_day = datetime(2016, 8, 18, 10, 0, tzinfo=IST)
    desk.tick(INFY, 1010.0, at=t1_day)
    sold = desk.svc.place_manual(intent(side=Side.SELL, qty=10, product=Product.CNC), user="trader",
                                 now=t1_day + timedelta(minutes=1))
    assert sold.ok, sold.reasons
    sale = [f for f in desk.svc.trade_book() if f.side == "SELL"]
    assert len(sale) == 1
    proceeds = sale[0].price * sale[0].quantity
    same_day = desk.svc.funds(t1_day + timedelta(hours=1))
    assert same_day.margin_used == 0
    assert same_day.available == same_day.cash - proceeds
    next_day = desk.svc.funds(datetime(2016, 8, 19, 10, 0, tzinfo=IST))
    assert next_day.cash == same_day.cash and next_day.available == next_day.cash
