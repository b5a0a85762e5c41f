"""AppTest of the Orders page's market protection (issue 13): the ticket's Market protection
choice, the preview line before placing, the confirmation after, and the order book's
protection column. Real parts only (``tests/ui/test_trading_pages.py`` fixtures: a fresh SQLite
store, the session's real Redis, the Dramatiq ``StubBroker``); the desk clock runs on the ticks'
exchange time, here Wednesday 3 Jun 2026, after Kite's rule started.

Source: Kite Connect market protection from 1 Apr 2026 (kite.trade forum 15912, comments 52940
and 52970): automatic band 0.5 % above ₹500; a positive ``market_protection`` is the percent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from app.container import services
from core import kite_wire
from core.tick_batch import decode_frame
from core.timeutil import IST
from tests.factories import depth_tick
from tests.ui.test_trading_pages import _frame, _page, _review, _texts, _ticket, desk  # noqa: F401

D = Decimal
T26 = datetime(2026, 6, 3, 10, 0, tzinfo=IST)


def _tick(d, symbol: str, ltp: float, *, spread: float = 0.1) -> None:
    tick = depth_tick(d.token(symbol), ltp, at=T26, spread=spread)
    frame = kite_wire.encode_frame([kite_wire.encode_packet(tick, "full")])
    services().ticks.write_frame(decode_frame(frame), datetime.now(UTC))


def test_ticket_previews_the_automatic_protection_and_confirms_it(desk):  # noqa: F811
    """MARKET BUY 10 INFY at LTP ₹1,000.00: "MARKET, protected at ₹1,005.00 (LTP ₹1,000.00 +
    0.5 %, automatic)" before placing and in the confirmation; the order row carries -1."""
    _tick(desk, "INFY", 1000.0)
    at = _review(_ticket(_page("pages/orders.py").run(), qty=10))
    assert not at.exception, at.exception
    line = "MARKET, protected at ₹1,005.00 (LTP ₹1,000.00 + 0.5 %, automatic)"
    assert line in _texts(at.info)
    at.button(key="orders_place").click().run()
    assert not at.exception, at.exception
    assert line in _texts(at.success)
    desk.execute_queued()
    [order] = desk.svc.order_book()
    assert order.market_protection == D(-1) and order.protection_price == D("1005.00")


def test_ticket_percent_protection_rests_and_shows_in_the_order_book(desk):  # noqa: F811
    """Percent 2.5 at LTP ₹1,000.00 → ₹1,025.00; the ask ₹1,030.00 is beyond it, so the order
    rests as a LIMIT at ₹1,025.00, shown in the order book's protection column."""
    _tick(desk, "INFY", 1000.0, spread=30.0)
    at = _review(_ticket(_page("pages/orders.py").run(), qty=10, protection_mode="Percent", protection_pct=2.5))
    assert not at.exception, at.exception
    assert "MARKET, protected at ₹1,025.00 (LTP ₹1,000.00 + 2.5 %, market_protection)" in _texts(at.info)
    at.button(key="orders_place").click().run()
    assert not at.exception, at.exception
    desk.execute_queued()
    at = _page("pages/orders.py").run()
    book = _frame(at, "protection")
    assert (book.iloc[0]["status"], book.iloc[0]["protection"]) == ("OPEN", "₹1,025.00 (2.5 %)")


def test_ticket_percent_zero_is_refused_with_rule_and_source(desk):  # noqa: F811
    """Kite refuses market_protection 0 (kite.trade comment 52970): the ticket says so, names
    the allowed range and the source, and places nothing."""
    _tick(desk, "INFY", 1000.0)
    at = _review(_ticket(_page("pages/orders.py").run(), qty=10, protection_mode="Percent", protection_pct=0.0))
    assert not at.exception, at.exception
    assert at.button(key="orders_place").disabled  # nothing can be sent
    errors = _texts(at.error)
    assert "market_protection must be -1 (automatic) or a percent 0 < p <= 100" in errors
    assert "kite.trade forum comments 52940 and 52970" in errors
    assert desk.svc.order_book() == [] and desk.queued() == []
