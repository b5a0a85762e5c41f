"""AppTest: the order book says why an order has not filled when its only tick is stale
(issue 16: a fill needs a fresh price). The container's services (SQLite file, the session's
real Redis tick cache, the default 30 s ``DESK_MAX_TICK_AGE_SECONDS``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from core import kite_wire
from core.orders import Side
from core.tick_batch import decode_frame
from tests.factories import T0, depth_tick, intent

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "orders.py")


@pytest.fixture()
def trading(monkeypatch, tmp_path, redis_url):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    monkeypatch.delenv("DESK_BROKER", raising=False)
    monkeypatch.delenv("DESK_MAX_TICK_AGE_SECONDS", raising=False)
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()
    services().tasks.broker.flush_all()
    yield services().trading
    services().tasks.broker.flush_all()
    reset_services()
    st.cache_resource.clear()


def test_order_book_row_says_the_order_waits_for_a_fresh_tick(trading):
    token = services().instruments.resolve("NSE:INFY").instrument_token
    frame = kite_wire.encode_frame([kite_wire.encode_packet(depth_tick(token, 1000.0, at=T0), "full")])
    services().ticks.write_frame(decode_frame(frame), datetime.now(UTC))  # exchange time 10:00:00
    later = T0 + timedelta(hours=3)
    assert trading.place_manual(intent(token, "INFY", Side.BUY, 10), user="trader", now=later).ok
    trading.match_open_orders(later + timedelta(seconds=1))  # executes the approved order: no fill
    [order] = trading.order_book()
    assert order.status == "OPEN" and order.filled_quantity == 0 and trading.trade_book() == []

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    books = [e.value for e in at.dataframe if "message" in e.value.columns and "status" in e.value.columns]
    assert books, [list(e.value.columns) for e in at.dataframe]
    row = books[0].iloc[0]
    assert row["status"] == "OPEN"
    assert row["message"] == "waiting for a fresh tick (last 17 Aug 2016 10:00:00 IST, 3 h old)"
