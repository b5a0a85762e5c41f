"""A square-off refused for a real reason is shown on the Risk and Orders & Positions pages
(AppTest), and the next run retries it."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.adapters import tick_cache
from app.container import services
from core.timeutil import IST
from tests.ui.test_trading_pages import T0, _page, _texts, desk  # noqa: F401

CUT = datetime(2016, 8, 17, 15, 20, tzinfo=IST)


def test_square_off_without_a_price_is_shown_on_risk_and_orders_pages_and_retried(desk):
    desk.tick("INFY", 1000.0)
    desk.svc.place_manual(desk.intent("INFY", 10), user="trader", now=T0)
    desk.execute_queued()
    services().ticks.client.hdel(tick_cache.LATEST_KEY, desk.token("INFY"))  # no price for INFY
    desk.tick("SBIN", 250.0, at=CUT)  # the desk clock reads 15:20 on the session day
    assert desk.svc.square_off_mis(CUT) == 0
    for page, key in (("pages/risk.py", "risk"), ("pages/orders.py", "orders")):
        at = _page(page).run()
        assert not at.exception, at.exception
        text = _texts(at.error)
        assert "MIS square-off could not fill for INFY" in text and "NO_MARKET_PRICE" in text
        [table] = [d for d in at.dataframe if "reasons" in d.value.columns]
        assert list(table.value["symbol"]) == ["INFY"] and list(table.value["reasons"]) == ["NO_MARKET_PRICE"]
    desk.tick("INFY", 1001.0, at=CUT + timedelta(seconds=30))
    assert desk.svc.square_off_mis(CUT + timedelta(seconds=30)) == 1  # retried: a new attempt placed
    desk.execute_queued()
    desk.svc.match_open_orders(CUT + timedelta(seconds=31))
    assert {p.product: p.quantity for p in desk.svc.positions(CUT + timedelta(seconds=31))} == {"MIS": 0}
