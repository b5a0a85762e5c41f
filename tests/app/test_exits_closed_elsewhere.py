"""Exits of a position closed or reduced by another order (issue 15 item 1 follow-up): a manual
SELL of the whole position cancels both OCO exits (no reverse position when the price later crosses
the old stop or target); a partial one resizes them; a CNC GTT is resized and cancelled the same.
Real trading store (SQLite; PostgreSQL for the OCO path) and the real Redis tick cache."""

from __future__ import annotations

import pytest

from core.orders import Product, Side
from tests.fixtures_trading import INFY, D, desk, intent, later, pg_desk  # noqa: F401
from tests.app.test_exits_desk import _approved_entry, _by_tag


def _sell(d, qty, at, product=Product.MIS):
    out = d.svc.place_manual(intent(side=Side.SELL, qty=qty, product=product), user="trader", now=later(at))
    assert out.ok, out.messages
    d.svc.match_open_orders(later(at + 1))


def _position(d, at):
    return {p.product: p.quantity for p in d.svc.positions(later(at))}["MIS"]


@pytest.mark.parametrize("which", ["desk", "pg_desk"])
@pytest.mark.parametrize("crossed", [980.0, 1025.0])  # past the old stop (990), past the old target (1020)
def test_manual_sell_of_the_whole_position_cancels_both_exits(which, crossed, request):
    d = request.getfixturevalue(which)
    _approved_entry(d)
    d.tick(INFY, 1003.0, at=later(30))
    _sell(d, 10, 31)
    assert _position(d, 33) == 0
    exits = _by_tag(d)
    assert exits["SL-M"].status == exits["LIMIT"].status == "CANCELLED"
    [book] = d.svc.exit_book()
    assert book.status == "CANCELLED" and "closed by another order" in book.message
    fills = d.store.count_fills()
    d.tick(INFY, crossed, at=later(60))
    d.svc.match_open_orders(later(61))
    assert d.store.count_fills() == fills and _position(d, 62) == 0  # no reverse position


@pytest.mark.parametrize("which", ["desk", "pg_desk"])
def test_partial_manual_sell_resizes_the_exits_to_the_rest(which, request):
    d = request.getfixturevalue(which)
    _approved_entry(d)
    d.tick(INFY, 1003.0, at=later(30))
    _sell(d, 4, 31)
    exits = _by_tag(d)
    assert (exits["SL-M"].quantity, exits["SL-M"].status) == (6, "TRIGGER PENDING")
    assert (exits["LIMIT"].quantity, exits["LIMIT"].status) == (6, "OPEN")
    assert d.svc.exit_book()[0].quantity == 6 and d.svc.exit_book()[0].status == "ACTIVE"
    d.tick(INFY, 989.0, at=later(60))  # the stop closes exactly what is left
    d.svc.match_open_orders(later(61))
    assert _position(d, 62) == 0
    exits = _by_tag(d)
    assert exits["SL-M"].status == "COMPLETE" and exits["LIMIT"].status == "CANCELLED"


def test_cnc_gtt_is_resized_then_cancelled_by_manual_sells(desk):
    _approved_entry(desk, product=Product.CNC, qty=5)
    desk.tick(INFY, 1003.0, at=later(30))
    _sell(desk, 2, 31, product=Product.CNC)
    [g] = desk.svc.exit_book()
    assert (g.status, g.quantity) == ("active", 3)
    _sell(desk, 3, 41, product=Product.CNC)
    assert desk.svc.exit_book()[0].status == "cancelled"
    fills = desk.store.count_fills()
    desk.tick(INFY, 1021.0, at=later(60))  # past the old target: the GTT no longer fires
    desk.svc.match_open_orders(later(61))
    assert desk.store.count_fills() == fills and not _by_tag(desk)
