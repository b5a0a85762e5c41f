"""AppTest for the entrypoint and every page, on a fresh SQLite store and real (or dead) Redis."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
PAGES = ["pages/home.py", "pages/chart.py", "pages/sectors.py"]
TIMEOUT = 60


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket closes


def _fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture()
def dead_redis(monkeypatch, tmp_path) -> Iterator[None]:
    """Fresh store; REDIS_URL points at a closed loopback port."""
    _fresh(monkeypatch, tmp_path, f"redis://127.0.0.1:{_closed_port()}/0")
    yield
    reset_services()
    st.cache_resource.clear()


@pytest.fixture()
def live_redis(monkeypatch, tmp_path, redis_url) -> Iterator[str]:
    """Fresh store; the session's real Redis, flushed."""
    _fresh(monkeypatch, tmp_path, redis_url)
    yield redis_url
    reset_services()
    st.cache_resource.clear()


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


# ---- every page renders -------------------------------------------------------------------------


def test_entrypoint_renders_home_with_empty_store(live_redis):
    at = _app().run()
    assert not at.exception
    assert [h.value for h in at.header] == ["Home"]
    assert "Replay (recorded NSE session" in _texts(at.sidebar.markdown)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception_with_empty_store(live_redis, page):
    at = _app().run()
    at.switch_page(page).run()
    assert not at.exception, at.exception


# ---- Home -------------------------------------------------------------------------------------


def test_home_add_unknown_symbol_shows_error_with_suggestions(live_redis):
    at = _app().run()
    at.text_input(key="home_add_symbol").input("INFYY")
    at.button(key="home_add").click().run()
    assert not at.exception
    message = _texts(at.error)
    assert "INFYY" in message and "INFY" in message.replace("INFYY", "")
    assert "NSE:INFYY" not in services().watchlists.keys()


def test_home_add_known_symbol_updates_the_watchlist(live_redis):
    at = _app().run()
    assert "NSE:WIPRO" not in services().watchlists.keys()
    at.text_input(key="home_add_symbol").input("wipro")
    at.button(key="home_add").click().run()
    assert not at.exception
    assert services().watchlists.keys()[-1] == "NSE:WIPRO"
    assert "Added WIPRO" in _texts(at.success)
    table = at.dataframe[0].value
    assert "WIPRO" in list(table["symbol"])


def test_home_remove_symbol_drops_it_from_the_watchlist(live_redis):
    at = _app().run()
    first = services().watchlists.keys()[0]
    at.selectbox(key="home_remove_symbol").select(first).run()
    at.button(key="home_remove").click().run()
    assert not at.exception
    assert first not in services().watchlists.keys()


def test_home_with_redis_unreachable_shows_clear_error_not_traceback(dead_redis):
    at = _app().run()
    assert not at.exception
    message = _texts(at.error)
    assert "Redis" in message and ("unreachable" in message.lower() or "cannot reach" in message)
    assert len(at.dataframe[0].value) > 0  # the list still shows


def test_home_without_ticker_warns_that_ticker_has_not_reported(live_redis):
    at = _app().run()
    assert "ticker has not reported" in _texts(at.warning)


def test_home_table_shows_ltp_of_a_tick_in_redis(live_redis):
    from app.adapters.tick_cache import TickerStatus
    from core.kite_wire import encode_frame, encode_packet
    from core.models import Tick
    from core.tick_batch import decode_frame

    svc = services()
    infy = svc.instruments.resolve("NSE:INFY")
    if "NSE:INFY" not in svc.watchlists.keys():
        svc.watchlists.add("NSE:INFY")
    exchange_ts = datetime(2016, 8, 16, 4, 30, tzinfo=UTC)  # 10:00 IST, a recorded session
    tick = Tick(infy.instrument_token, 1043.25, mode="full", volume_traded=120_000, open=1040.0,
                high=1050.0, low=1035.5, close=1030.0, last_trade_time=exchange_ts,
                exchange_timestamp=exchange_ts)
    now = datetime.now(UTC)
    svc.ticks.write_frame(decode_frame(encode_frame([encode_packet(tick)])), now)
    svc.ticks.write_status(TickerStatus(True, "replay", now, 14, 1, 0, 0, now))

    at = _app().run()
    assert not at.exception
    table: pd.DataFrame = at.dataframe[0].value
    row = table[table["symbol"] == "INFY"].iloc[0]
    assert row["LTP"] == pytest.approx(1043.25)
    assert row["change %"] == pytest.approx((1043.25 - 1030.0) / 1030.0 * 100)
    page_text = _texts(at.markdown)
    assert "Open (normal market)" in page_text  # phase from the replay clock, not the wall clock
    assert "Tue 16 Aug 2016 10:00:00 IST" in page_text
    assert "Replay (recorded NSE session 2016-08-16)" in _texts(at.sidebar.markdown)


# ---- Chart ------------------------------------------------------------------------------------


def _store_minute_bars(symbol: str, day: str) -> None:
    from app.adapters.nse_data import load_minute_bars
    from core.models import Bar

    svc = services()
    inst = svc.instruments.resolve(f"NSE:{symbol}")
    frame = load_minute_bars()
    rows = frame[(frame["symbol"] == symbol) & (frame["datetime"].dt.date.astype(str) == day)]
    svc.store.bars.upsert([
        Bar(inst.instrument_token, "minute", ts.to_pydatetime(), o, h, low, c, int(v))
        for ts, o, h, low, c, v in rows[["datetime", "open", "high", "low", "close", "volume"]].itertuples(
            index=False)
    ])


def test_chart_without_bars_offers_load_history(live_redis):
    at = _app().run()
    at.switch_page("pages/chart.py").run()
    assert not at.exception
    assert "No 5minute bars stored" in _texts(at.info)
    assert at.button(key="chart_load").label == "Load history"


def test_chart_load_history_enqueues_a_backfill_and_shows_progress(live_redis):
    at = _app().run()
    at.switch_page("pages/chart.py").run()
    at.button(key="chart_load").click().run()
    assert not at.exception
    job_id = at.session_state["chart_job"]
    assert isinstance(job_id, str) and job_id
    progress_texts = " ".join(p.proto.text for p in at.get("progress"))
    assert "Backfill" in _texts(at.caption) + progress_texts


def test_chart_falls_back_to_resampled_1_minute_bars(live_redis):
    _store_minute_bars("RELIANCE", "2016-09-09")
    at = _app().run()
    at.switch_page("pages/chart.py").run()
    at.selectbox(key="chart_symbol").select("NSE:RELIANCE")
    at.radio(key="chart_interval").set_value("15m")
    at.date_input(key="chart_as_of").set_value(datetime(2016, 9, 9).date()).run()
    assert not at.exception
    assert at.get("plotly_chart"), "no chart rendered"
    caption = _texts(at.caption)
    assert "source: resampled from 1-minute" in caption
    assert "25 bars" in caption  # 09:15 … 15:15, 15-minute buckets


def test_chart_toggles_rsi_panel_without_error(live_redis):
    _store_minute_bars("RELIANCE", "2016-09-09")
    at = _app().run()
    at.switch_page("pages/chart.py").run()
    at.selectbox(key="chart_symbol").select("NSE:RELIANCE")
    at.radio(key="chart_interval").set_value("1m")
    at.toggle(key="chart_rsi").set_value(True)
    at.toggle(key="chart_bollinger").set_value(True)
    at.date_input(key="chart_as_of").set_value(datetime(2016, 9, 9).date()).run()
    assert not at.exception
    assert "375 bars" in _texts(at.caption)
    assert "source: store" in _texts(at.caption)


