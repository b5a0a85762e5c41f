"""AppTest of the Orders page's "Charges today" on a day with same-day CNC netting (issue 13):
the netting is its own line and the table's total is Funds' "Charges today" (the ledger's), as
on the P&L page. The container's desk on a fresh SQLite store and the session's Redis
(fixtures of ``tests.ui.test_trading_pages``)."""

from __future__ import annotations

from datetime import timedelta

from app.ui.pnl_widgets import NETTING_LINE
from tests.ui.test_pnl_contract_note import _round_trips
from tests.ui.test_trading_pages import T0, _frame, _page, desk  # noqa: F401


def test_orders_charges_show_the_netting_line_and_funds_total(desk):  # noqa: F811
    _round_trips(desk)
    at = _page("pages/orders.py").run()
    assert not at.exception, at.exception
    charges = _frame(at, "charge").set_index("charge")
    netting = [c for c in charges.index if c.startswith(NETTING_LINE)]
    assert len(netting) == 1 and "SBIN" in netting[0]
    assert charges.loc[netting[0], "amount"].startswith("-₹")  # netted as intraday: a saving
    funds = desk.svc.funds(T0 + timedelta(minutes=5))
    assert charges.loc["total", "amount"] == f"₹{funds.charges_today:,.2f}"
    # the fills' own charges alone would differ from Funds by the netting
    assert f"₹{desk.svc.charges_today(T0 + timedelta(minutes=5)).total:,.2f}" != charges.loc["total", "amount"]


def test_orders_charges_without_netting_have_no_netting_line(desk):  # noqa: F811
    at = _page("pages/orders.py").run()
    assert not at.exception, at.exception
    charges = _frame(at, "charge").set_index("charge")
    assert not [c for c in charges.index if c.startswith(NETTING_LINE)]
    assert charges.loc["total", "amount"] == "₹0.00"
