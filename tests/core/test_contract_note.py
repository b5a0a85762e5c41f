"""Pure rules of the virtual contract note (``core.contract_note``, issue 13)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from core.charges import backfilled_schedules, equity_charges, schedule_for
from core.contract_note import (
    NoteOrder,
    allocate_netted,
    compare,
    figures,
    kite_figures,
    note_charges,
    to_kite_charges,
)
from core.errors import ValidationError
from core.orders import Product, Side
from core.same_day_cnc import ScripDayLeg, scrip_day_charges

S2016 = schedule_for(date(2016, 8, 17), backfilled_schedules())
S2026 = schedule_for(date(2026, 3, 2), backfilled_schedules())


def _o(oid, sym, side, product, qty, price):
    return NoteOrder(oid, sym, side, product, qty, D(price))


def test_an_mis_order_alone_is_charged_as_one_fill_at_its_average_price():
    """Each order is one fill at its average price (``core.charges.equity_charges``); the
    exchange component folds IPFT in (Kite's exchange_turnover_charge)."""
    o = _o("A", "INFY", Side.BUY, Product.MIS, 10, "1000")
    note = note_charges([o], S2016)["A"]
    c = equity_charges(Side.BUY, Product.MIS, 10, D("1000"), S2016)
    assert note == figures(c)
    assert note["exchange_txn"] == c.exchange_txn + c.ipft and c.ipft > 0


def test_stt_is_the_scrip_day_increment_across_orders_in_list_order():
    """Two MIS sells of one scrip: STT per scrip-day to the rupee, the second order carries
    the increment (support.zerodha.com, "How is the STT calculated?")."""
    orders = [_o("S1", "INFY", Side.SELL, Product.MIS, 3, "1000"), _o("S2", "INFY", Side.SELL, Product.MIS, 3, "1000")]
    note = note_charges(orders, S2016)
    # 0.025 % of ₹3,000 = ₹0.75 → ₹1; of ₹6,000 = ₹1.50 → ₹2
    assert (note["S1"]["stt"], note["S2"]["stt"]) == (D("1.00"), D("1.00"))


def test_same_day_cnc_orders_are_allocated_the_netted_scrip_day_exactly():
    """A CNC buy and sell of one scrip the same day: the orders sum, component by component,
    to ``core.same_day_cnc.scrip_day_charges`` (support.zerodha.com partial delivery)."""
    orders = [_o("B1", "SBIN", Side.BUY, Product.CNC, 700, "250.05"),
              _o("B2", "SBIN", Side.BUY, Product.CNC, 300, "251.10"),
              _o("S1", "SBIN", Side.SELL, Product.CNC, 800, "252.35")]
    for schedule in (S2016, S2026):
        alloc = allocate_netted(orders, schedule)
        total = figures(scrip_day_charges([ScripDayLeg(o.order_id, 1, o.side, o.quantity, o.turnover)
                                           for o in orders], schedule))
        for name in total:
            assert sum(a[name] for a in alloc.values()) == total[name], name
        assert all(a["brokerage"] <= D(20) for a in alloc.values())
        assert alloc["B1"]["brokerage"] == D("20.00")  # ₹1.75 lakh × 0.03 % capped at ₹20 per order
        assert alloc["S1"]["stamp"] == 0  # stamp on buys only
    assert note_charges(orders, S2016) == allocate_netted(orders, S2016)


def test_a_cnc_buy_without_a_sell_is_delivery():
    o = _o("B", "SBIN", Side.BUY, Product.CNC, 100, "250")
    assert note_charges([o], S2016)["B"] == figures(equity_charges(Side.BUY, Product.CNC, 100, D("250"), S2016))


def test_kite_charges_round_trip_and_rounding_to_the_paisa():
    f = {"brokerage": D("20.00"), "stt": D("25.00"), "exchange_txn": D("3.35"), "sebi": D("0.10"),
         "stamp": D("3.00"), "gst": D("4.23")}
    assert kite_figures(to_kite_charges(f)) == f
    raw = {"transaction_tax": 0.56, "exchange_turnover_charge": 0.01876, "sebi_turnover_charge": 0.00056,
           "brokerage": 0, "stamp_duty": 0, "gst": {"igst": 0.0033768, "cgst": 0, "sgst": 0, "total": 0.0033768}}
    assert kite_figures(raw) == {"brokerage": D("0.00"), "stt": D("0.56"), "exchange_txn": D("0.02"),
                                 "sebi": D("0.00"), "stamp": D("0.00"), "gst": D("0.00")}
    with pytest.raises(ValidationError, match="lack"):
        kite_figures({"brokerage": 1})


def test_compare_reports_each_differing_component_and_the_total_beyond_a_paisa():
    a = {"brokerage": D("20.00"), "stt": D("25.00"), "exchange_txn": D("3.35"), "sebi": D("0.10"),
         "stamp": D("3.00"), "gst": D("4.23")}
    close = dict(a, gst=D("4.24"))  # one paisa: rounding, not a difference
    assert compare({"X": a}, {"X": close}, {"X": "INFY"}) == []
    off = dict(a, stt=D("24.00"))
    diffs = compare({"X": a}, {"X": off}, {"X": "INFY"})
    assert [(d.charge, d.difference) for d in diffs] == [("stt", D("1.00")), ("total", D("1.00"))]
    missing = compare({"X": a}, {}, {"X": "INFY"})
    assert {d.charge for d in missing} == {"brokerage", "stt", "exchange_txn", "sebi", "stamp", "gst", "total"}


def test_bad_orders_are_refused_naming_the_field():
    with pytest.raises(ValidationError, match="quantity"):
        _o("A", "INFY", Side.BUY, Product.MIS, 0, "1000")
    with pytest.raises(ValidationError, match="missing `tradingsymbol`"):
        NoteOrder.from_kite({"order_id": "1", "transaction_type": "BUY"})
    with pytest.raises(ValidationError, match="unique"):
        note_charges([_o("A", "INFY", Side.BUY, Product.MIS, 1, "1"), _o("A", "INFY", Side.BUY, Product.MIS, 1, "1")],
                     S2016)
