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
    import pyarrow as pa  # what the browser shows: the Styler's display text (app.ui.formatting)

    shown = pa.ipc.open_stream(at.dataframe[0].proto.arrow_data.styler.display_values).read_all().to_pandas()
    infy = shown.iloc[list(table["symbol"]).index("INFY")]
    assert (infy["LTP"], infy["change %"], infy["volume"]) == ("₹1,043.25", "+1.29 %", "1,20,000")
    page_text = _texts(at.markdown)
    assert "Open (normal market)" in page_text  # phase from the replay clock, not the wall clock
    assert "Tue 16 Aug 2016 10:00:00 IST" in page_text
    everything = page_text + _texts(at.caption) + shown.to_string()
    assert "+05:30" not in everything and "None" not in everything and "5minute" not in everything
    assert "Replay (recorded NSE session 2016-08-16)" in _texts(at.sidebar.markdown)


# Chart page: tests/ui/test_chart_page.py (bars through the market-data service on the replay server).
