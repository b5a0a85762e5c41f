"""AppTest of the P&L page's charges breakdown (same-day CNC netting line) and the
contract-note reconciliation (issue 13): the container's desk on a fresh SQLite store and the
session's Redis (fixtures of ``tests.ui.test_trading_pages``), the reconciliation's Kite the
real ``kiteconnect`` client on the replay server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.adapters.contract_note_store import ContractNoteStore
from app.container import services
from app.trading.contract_notes import ContractNoteService
from app.ui.pnl_widgets import NETTING_LINE
from core.orders import Product, Side
from tests.ui.test_trading_pages import T0, _all_text, _frame, _page, desk  # noqa: F401


@pytest.fixture(scope="module")
def kite_client(replay_server):
    return replay_server.kite()


def _round_trips(desk) -> None:  # noqa: F811
    for i, (sym, side, product, ltp) in enumerate((("SBIN", Side.BUY, Product.CNC, 250.0),
                                                   ("INFY", Side.BUY, Product.MIS, 1000.0),
                                                   ("SBIN", Side.SELL, Product.CNC, 251.5),
                                                   ("INFY", Side.SELL, Product.MIS, 1010.0))):
        at = T0 + timedelta(minutes=i)
        desk.tick(sym, ltp, at=at)
        out = desk.svc.place_manual(desk.intent(sym, 400 if sym == "SBIN" else 20, side=side, product=product),
                                    user="trader", now=at)
        assert out.ok, out.reasons
        desk.execute_queued()


def _wire(kite) -> ContractNoteService:
    svc = services()
    notes = ContractNoteService(svc.trading.store, ContractNoteStore(svc.sql.engine), lambda: kite)
    vars(svc)["contract_notes"] = notes
    return notes


def test_pnl_shows_the_netting_line_with_its_saving_and_a_matched_note(desk, kite_client):  # noqa: F811
    _round_trips(desk)
    _wire(kite_client)
    at = _page("pages/pnl.py").run()
    assert not at.exception, at.exception
    charges = _frame(at, "charge")
    lines = list(charges["charge"])
    netting = next(c for c in lines if c.startswith(NETTING_LINE))
    assert "SBIN" in netting and charges.set_index("charge").loc[netting, "amount"].startswith("-₹")
    total = charges.set_index("charge").loc["total", "amount"]
    assert total == f"₹{desk.svc.funds(T0 + timedelta(minutes=5)).charges_today:,.2f}"
    assert "saved ₹" in _all_text(at)
    at.button(key="pnl_reconcile").click().run()
    assert not at.exception, at.exception
    text_ = _all_text(at)
    assert "match Kite's virtual contract note" in text_
    assert re.search(r"Checked \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d IST · \d+ order\(s\) · desk ₹", text_), text_


def test_pnl_shows_a_difference_per_order_and_charge(desk, kite_client):  # noqa: F811
    _round_trips(desk)
    notes = _wire(kite_client)
    sell = next(f for f in desk.svc.trade_book() if f.tradingsymbol == "INFY" and f.side == "SELL")
    with services().sql.engine.begin() as conn:
        conn.execute(text("UPDATE trading_fills SET brokerage = brokerage + 2 WHERE order_id = :o"), {"o": sell.order_id})
    notes.reconcile(T0.date(), T0 + timedelta(hours=6))
    at = _page("pages/pnl.py").run()
    assert not at.exception, at.exception
    assert "differ from Kite's virtual contract note" in _all_text(at)
    table = _frame(at, "desk − Kite")
    assert set(table["order"]) == {sell.order_id}
    assert list(table["charge"]) == ["Brokerage", "Total"]
    assert list(table["desk − Kite"]) == ["+₹2.00", "+₹2.00"]
