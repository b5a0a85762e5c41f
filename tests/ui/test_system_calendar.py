"""AppTest: the System page shows the NSE calendar's horizon and, within 30 days of its end,
the health model's warning (which says the dates after it are estimated)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.adapters.calendar_source import load_nse_calendar
from app.container import reset_services
from app.ops.operations import CALENDAR_WARN_DAYS, calendar_warning
from core.timeutil import IST

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "system.py")


@pytest.fixture()
def env(monkeypatch, tmp_path, redis_url):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    reset_services()
    st.cache_resource.clear()
    yield
    reset_services()
    st.cache_resource.clear()


def test_system_page_shows_the_calendar_horizon_and_its_warning(env):
    """The page runs on the wall clock: the expected warning is the health model's for today
    (on 2026-12-02, 29 days before the published list ends, it is shown)."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    captions = "\n".join(str(c.value) for c in at.caption)
    assert "NSE calendar: published holiday list to 31 Dec 2026" in captions  # a date, not ISO
    horizon = load_nse_calendar().horizon(datetime.now(IST).date(), CALENDAR_WARN_DAYS)
    warnings = [str(w.value) for w in at.warning]
    if horizon.warn:
        assert calendar_warning(horizon) in warnings
        assert any("are estimated" in w for w in warnings)
    else:
        assert not any("NSE holiday calendar" in w for w in warnings)
