"""AppTest for the Scanner page: renders, shows a parse error at its position, shows the
market time and the store's coverage, runs a scan as a job and shows the matched values with
the data and as-of, an earlier as-of that cannot pass market time, schedules, history and
backtest.

The container's market is the default replay world (2016-09-09; no tick yet, so market time
is that session's open, 09:15 IST); the store holds instruments and daily bars built here
(``tests/scanner_bars.py``) up to 08 Sep 2016 for five NIFTY 500 stocks: three falling
(RSI < 30), two rising. Nothing reads the bundled bar files.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from core.timeutil import IST
from tests.scanner_bars import FALLING, LAST_DAY, seed_scanner_store

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "scanner.py")


@pytest.fixture()
def fresh(monkeypatch, tmp_path, redis_url):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DESK_BROKER", "stub")
    monkeypatch.delenv("DESK_REPLAY_DATE", raising=False)
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()
    seed_scanner_store(services().store)
    yield
    reset_services()
    st.cache_resource.clear()


@pytest.fixture()
def no_bundled_bars(monkeypatch):
    """A tripwire: any read of the bundled bar files fails the test (bundled_market has no bar
    loaders left; tests/app/test_bundled_readers.py keeps it so)."""
    import app.adapters.nse_data as nse_data

    def boom(*a, **k):
        raise AssertionError("the scanner read the bundled bar files")

    for name in ("load_minute_bars", "load_daily", "load_replay_daily"):
        monkeypatch.setattr(nse_data, name, boom)


def _page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60)


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_page_renders_with_market_time_and_coverage(fresh):
    at = _page().run()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == ["Scanner"]
    assert "NIFTY 500" in at.selectbox(key="scanner_universe").options
    captions = _texts(at.caption)
    assert "No scans have run yet." in captions
    assert "As of 09 Sep 2016 09:15 IST (market time)" in captions
    assert "Coverage, NIFTY 500 daily: 5 of 500 symbols, bars to 08 Sep 2016" in captions
    assert "the morning backfill fills the rest (the System page shows its progress)" in captions
    assert not any("bundled" in t.label.lower() for t in at.toggle)  # no "Latest bundled data" toggle


def test_expression_error_is_shown_at_its_position(fresh):
    at = _page().run()
    at.radio(key="scanner_mode").set_value("Expression").run()
    at.text_area(key="scanner_expr").input("[0] daily rsi(14 < 40").run()
    assert not at.exception
    assert "column 18: expected ',' or ')'" in _texts(at.error)
    assert any(c.value.endswith(" " * 17 + "^") for c in at.code)
    assert at.button(key="scanner_run").disabled


def test_run_now_queues_a_job_then_shows_matches_with_data_and_as_of(fresh, no_bundled_bars):
    at = _page().run()
    at.selectbox(key="scanner_builtin").set_value("rsi_oversold").run()
    at.button(key="scanner_run").click().run()
    assert not at.exception
    job_id = at.session_state["scanner_job"]
    job = services().store.jobs.get(job_id)
    assert job.args["as_of_iso"] == datetime(2016, 9, 9, 9, 15, tzinfo=IST).isoformat()  # market time, pinned
    import workers.scans as actors

    actors.run_scan.fn(job_id, "rsi_oversold", "NIFTY 500", job.args["as_of_iso"])  # what the worker does
    at.run()
    assert not at.exception, at.exception
    captions = _texts(at.caption)
    assert "NIFTY 500 daily: 5 of 500 symbols, bars to 08 Sep 2016 (store, the connected market)" in captions
    assert "as of 09 Sep 2016 09:15 IST" in captions
    table = at.dataframe[0].value
    assert sorted(table["symbol"]) == sorted(i.tradingsymbol for i in FALLING)
    assert "[0] daily rsi(14)" in table.columns and (table["[0] daily rsi(14)"] < 30).all()
    assert "bar date" in table.columns  # daily hits: a date column, never "00:00"
    history = at.dataframe[1].value  # run history
    assert history.iloc[0]["as of"] == "09 Sep 2016 09:15 IST" and "+05:30" not in history.to_string()
    assert (table["latest analysis"] == "—").all()  # no analysis stored yet
    assert at.button(key="scanner_chart").disabled  # nothing selected yet
    assert len(services().scanner.history()) == 1

    # An analysis of the first match shows in its row on the next render.
    from app.adapters.analysis_store import StoredAnalysis

    symbol = table["symbol"].iloc[0]
    inst = services().instruments.resolve(f"NSE:{symbol}")
    at_time = LAST_DAY + timedelta(hours=15, minutes=30)
    services().analysis.store.add(StoredAnalysis(
        id="A-test", symbol=inst.key, instrument_token=inst.instrument_token, trading_day=at_time.date(),
        as_of=at_time, snapshot_hash="h", model="offline-rules", analyst="offline", label="Offline analyst (rules)",
        verdict="buy", confidence=0.6, entry=None, stop=None, target=None, time_horizon="swing", reasons=["r"],
        risks=[], notes=[], snapshot={}))
    at.run()
    row = at.dataframe[0].value.set_index("symbol").loc[symbol]
    assert row["latest analysis"].startswith("BUY 60 % · Offline analyst (rules)")


def test_earlier_as_of_is_used_and_cannot_pass_market_time(fresh):
    at = _page().run()
    at.toggle(key="scanner_pick_as_of").set_value(True).run()
    assert not at.exception, at.exception
    at.date_input(key="scanner_as_of_date").set_value(datetime(2016, 9, 1).date())
    at.time_input(key="scanner_as_of_time").set_value(datetime(2016, 9, 1, 15, 30).time()).run()
    captions = _texts(at.caption)
    assert "As of 01 Sep 2016 15:30 IST (picked)" in captions
    assert "bars to 01 Sep 2016" in captions
    at.button(key="scanner_run").click().run()
    job = services().store.jobs.get(at.session_state["scanner_job"])
    assert job.args["as_of_iso"] == datetime(2016, 9, 1, 15, 30, tzinfo=IST).isoformat()

    at.date_input(key="scanner_as_of_date").set_value(datetime(2016, 9, 9).date())
    at.time_input(key="scanner_as_of_time").set_value(datetime(2016, 9, 9, 12, 0).time()).run()
    assert "is after market time (09 Sep 2016 09:15 IST)" in _texts(at.error)
    assert "As of 09 Sep 2016 09:15 IST (market time)" in _texts(at.caption)


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
