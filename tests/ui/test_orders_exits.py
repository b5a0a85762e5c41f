"""AppTest for the exits part of Orders & Positions: each position's stop/target, the GTT book,
and moving/cancelling exits (real SQLite store, real Redis tick cache, the StubBroker queue)."""

from __future__ import annotations

from core.orders import OrderType, Product
from tests.ui.test_trading_pages import D, T0, _frame, _page, _texts, desk  # noqa: F401


def _entry(desk, product=Product.MIS, qty=10):
    desk.tick("INFY", 1000.0)
    out = desk.svc.place_manual(desk.intent(qty=qty, product=product, order_type=OrderType.MARKET,
                                            stop_loss=D("990"), target=D("1020")), user="trader", now=T0)
    assert out.ok, out
    desk.execute_queued()  # the entry fills: its exits are placed


def _exit_orders(desk):
    return {o.order_type: o for o in desk.svc.order_book() if o.tag == "EXIT"}


def test_orders_page_shows_exits_and_moves_the_stop(desk):
    _entry(desk)
    at = _page("pages/orders.py").run()
    assert not at.exception, at.exception
    exits = _frame(at, "stop type")
    row = exits.iloc[0]
    assert (row["symbol"], row["status"], row["exit side"], row["stop"], row["target"]) == (
        "INFY", "ACTIVE", "SELL", "₹990.00", "₹1,020.00")
    [gid] = [g.group_id for g in desk.svc.exit_book()]
    at.text_input(key=f"orders_exit_stop_{gid}").set_value("995")
    at.button(key=f"orders_exit_move_{gid}").click().run()
    assert not at.exception, at.exception
    assert "Moved the exits of INFY" in _texts(at.success)
    assert _exit_orders(desk)["SL-M"].trigger_price == D("995")


def test_orders_page_refuses_a_stop_above_the_ltp_and_changes_nothing(desk):
    _entry(desk)
    at = _page("pages/orders.py").run()
    [gid] = [g.group_id for g in desk.svc.exit_book()]
    at.text_input(key=f"orders_exit_stop_{gid}").set_value("1005")
    at.button(key=f"orders_exit_move_{gid}").click().run()
    assert not at.exception
    assert "stop must stay below the LTP" in _texts(at.error)
    assert _exit_orders(desk)["SL-M"].trigger_price == D("990")


def test_orders_page_cancels_exits_and_shows_the_gtt_book(desk):
    _entry(desk, product=Product.CNC, qty=5)
    at = _page("pages/orders.py").run()
    assert not at.exception, at.exception
    gtt = _frame(at, "stop trigger")
    assert (gtt.iloc[0]["status"], gtt.iloc[0]["stop trigger"], gtt.iloc[0]["target trigger"]) == (
        "active", "₹990.00", "₹1,020.00")
    [gid] = [g.group_id for g in desk.svc.exit_book()]
    at.button(key=f"orders_exit_cancel_{gid}").click().run()
    assert not at.exception, at.exception
    assert desk.svc.exit_book()[0].status == "cancelled"
