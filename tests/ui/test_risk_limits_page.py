"""AppTest for the Risk page's limits editor (issue 16): out-of-bounds values are refused with a
message naming the field, the bad value and the bound, and nothing is saved; each field shows
its allowed range; a sane edit saves a new version.

Real parts: the container's services on a SQLite file and the session's Redis (flushed)."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "risk.py")


@pytest.fixture()
def trading(monkeypatch, tmp_path, redis_url):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    monkeypatch.delenv("DESK_BROKER", raising=False)
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()
    yield services().trading
    reset_services()
    st.cache_resource.clear()


def _errors(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in at.error)


@pytest.mark.parametrize("widget,key,value,fragments", [
    ("time_input", "risk_square_off_cutoff", time(9, 0),
     ["square_off_cutoff", "09:00", "after 09:15 and before 15:30"]),
    ("time_input", "risk_square_off_cutoff", time(15, 45), ["square_off_cutoff", "15:45", "before 15:30"]),
    ("number_input", "risk_risk_per_trade_pct", 500.0, ["risk_per_trade_pct", "500", ">= 0 and <= 100"]),
    ("number_input", "risk_max_drawdown_pct", 150.0, ["max_drawdown_pct", "150", "<= 100"]),
    ("number_input", "risk_max_order_notional", 1e12, ["max_order_notional", "<= ₹100 crore"]),
    ("number_input", "risk_cooldown_minutes", 5000, ["cooldown_minutes", "5000", "<= 1,440"]),
])
def test_out_of_bounds_limit_is_refused_naming_the_bound_and_nothing_is_saved(trading, widget, key, value, fragments):
    before = trading.risk_limits()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    getattr(at, widget)(key=key).set_value(value)
    at.button(key="risk_save").click().run()
    assert not at.exception, at.exception
    errors = _errors(at)
    assert "Not saved" in errors and "unchanged" in errors, errors
    for fragment in fragments:
        assert fragment in errors, errors
    assert trading.risk_limits() == before and before.version == 0


def test_fields_show_their_allowed_range_and_a_sane_edit_saves(trading):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert "Allowed: >= 0 and <= 100 (% of capital)" in at.number_input(key="risk_risk_per_trade_pct").help
    assert "after 09:15 and before 15:30" in at.time_input(key="risk_square_off_cutoff").help
    at.time_input(key="risk_square_off_cutoff").set_value(time(15, 0))
    at.number_input(key="risk_risk_per_trade_pct").set_value(2.5)
    at.checkbox(key="risk_require_stop").check()
    at.button(key="risk_save").click().run()
    assert not at.exception, at.exception
    saved = trading.risk_limits()
    assert (saved.version, saved.square_off_cutoff, str(saved.risk_per_trade_pct), saved.require_stop) == \
        (1, time(15, 0), "2.5", True)


def test_limits_saved_before_the_bounds_existed_are_shown_and_can_be_replaced(trading):
    from app.adapters.trading_store import TradingStore
    from datetime import UTC, datetime

    store = TradingStore(services().store.engine)  # a row written past the validator (an old version)
    store.save_limits({"square_off_cutoff": "09:00", "risk_per_trade_pct": "500"}, saved_by="old",
                      saved_at=datetime.now(UTC))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert "outside their bounds" in _errors(at) and "risk_per_trade_pct" in _errors(at)
    at.button(key="risk_reset_limits").click().run()
    assert not at.exception, at.exception
    saved = trading.risk_limits()
    assert saved.version == 2 and saved.square_off_cutoff == time(15, 20) and str(saved.risk_per_trade_pct) == "1"
