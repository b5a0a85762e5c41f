"""AppTest for the Scanner page: renders, shows a parse error at its position, runs a scan as a
job and shows the matched values with the data and as-of, schedules, history and backtest."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from core.timeutil import IST

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "scanner.py")


@pytest.fixture()
def fresh(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DESK_BROKER", "stub")
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    reset_services()
    st.cache_resource.clear()


def _page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60)


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_page_renders_with_empty_store(fresh):
    at = _page().run()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == ["Scanner"]
    assert "NIFTY 500" in at.selectbox(key="scanner_universe").options
    assert "No scans have run yet." in _texts(at.caption)


def test_expression_error_is_shown_at_its_position(fresh):
    at = _page().run()
    at.radio(key="scanner_mode").set_value("Expression").run()
    at.text_area(key="scanner_expr").input("[0] daily rsi(14 < 40").run()
    assert not at.exception
    assert "column 18: expected ',' or ')'" in _texts(at.error)
    assert any(c.value.endswith(" " * 17 + "^") for c in at.code)
    assert at.button(key="scanner_run").disabled


def test_run_now_queues_a_job_then_shows_matches_with_data_and_as_of(fresh):
    at = _page().run()
    at.selectbox(key="scanner_builtin").set_value("rsi_oversold").run()
    at.button(key="scanner_run").click().run()
    assert not at.exception
    job_id = at.session_state["scanner_job"]
    import workers.scans as actors

    actors.run_scan.fn(job_id, "rsi_oversold", "NIFTY 500")  # what the worker does with the message
    at.run()
    assert not at.exception, at.exception
    captions = _texts(at.caption)
    assert "Yahoo, split-adjusted" in captions and "as of 12 Jun 2026 15:30 IST" in captions
    table = at.dataframe[0].value
    assert "[0] daily rsi(14)" in table.columns and (table["[0] daily rsi(14)"] < 30).all()
    assert (table["latest analysis"] == "—").all()  # no analysis stored yet
    assert at.button(key="scanner_chart").disabled  # nothing selected yet
    assert len(services().scanner.history()) == 1

    # An analysis of the first match shows in its row on the next render.
    from app.adapters.analysis_store import StoredAnalysis

    symbol = table["symbol"].iloc[0]
    inst = services().instruments.resolve(f"NSE:{symbol}")
    at_time = datetime(2026, 6, 12, 15, 30, tzinfo=IST)
    services().analysis.store.add(StoredAnalysis(
        id="A-test", symbol=inst.key, instrument_token=inst.instrument_token, trading_day=at_time.date(),
        as_of=at_time, snapshot_hash="h", model="offline-rules", analyst="offline", label="Offline analyst (rules)",
        verdict="buy", confidence=0.6, entry=None, stop=None, target=None, time_horizon="swing", reasons=["r"],
        risks=[], notes=[], snapshot={}))
    at.run()
    row = at.dataframe[0].value.set_index("symbol").loc[symbol]
    assert row["latest analysis"].startswith("BUY 60% · Offline analyst (rules)")


def test_schedule_and_backtest(fresh):
    at = _page().run()
    at.selectbox(key="scanner_builtin").set_value("gap_up").run()
    at.number_input(key="scanner_every").set_value(10).run()
    at.button(key="scanner_schedule").click().run()
    assert not at.exception
    assert "every 10 min on NIFTY 500" in _texts(at.success)
    assert len(services().scanner.schedules()) == 1
    at.button(key="scanner_backtest").click().run()
    assert not at.exception, at.exception
    assert "matches over" in _texts(at.caption)
