"""AppTest for the Chart page on the connected market: the session's real replay server
(2016-08-17; its history holds the 2016-08-16 session's 1-minute bars and daily bars before
it), a fresh SQLite store seeded with the instruments master, real Redis, and the market clock
pinned. Every bar is read through ``MarketDataService.ohlcv`` (backfilled from the replay)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.adapters.kite_historical import historical_client
from app.adapters.redis_client import redis_client
from app.container import reset_services, services
from app.market.history import MarketDataService
from core.timeutil import IST
from tests.app.test_market_data import replay_settings
from tests.app.test_market_reads import Pinned, at
from tests.fixtures_store import seed_instruments

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "chart.py")
TIMEOUT = 90


@pytest.fixture()
def clock() -> Pinned:
    return Pinned(at(9, 40))  # 16 Aug 2016, 09:40 IST


@pytest.fixture()
def page(monkeypatch, tmp_path, redis_url, replay_server, clock) -> Iterator[MarketDataService]:
    """Fresh service graph whose ``market_data`` reads the replay server as of ``clock``."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()
    svc = services()
    seed_instruments(svc.store)
    market = MarketDataService(svc.store, svc.instruments,
                               historical_client(replay_settings(replay_server, redis_url), redis_client(redis_url)),
                               clock=clock)
    vars(svc)["market_data"] = market
    yield market
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()


def _app(symbol: str | None = None) -> AppTest:
    at_ = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    if symbol:
        at_.query_params["symbol"] = symbol
    return at_


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _figure(at_: AppTest) -> dict:
    charts = at_.get("plotly_chart")
    assert charts, "no chart rendered"
    return json.loads(charts[0].proto.spec)


def _candles(fig: dict) -> list[str]:
    return next(t for t in fig["data"] if t["type"] == "candlestick")["x"]


def test_chart_opens_on_the_query_param_symbol_as_of_market_time(page):
    at_ = _app("NSE:TATASTEEL").run()
    assert not at_.exception, at_.exception
    assert at_.selectbox(key="chart_symbol").value == "NSE:TATASTEEL"  # not a watchlist symbol
    assert at_.date_input(key="chart_as_of").value == date(2016, 8, 16)
    fig = _figure(at_)
    assert fig["layout"]["title"]["text"] == "NSE:TATASTEEL · 5 min"  # not "5minute"
    assert all(t.startswith("₹") for t in fig["layout"]["yaxis"]["ticktext"])  # ₹ axis, Babel en_IN ticks
    assert fig["layout"]["yaxis2"]["exponentformat"] == "none"  # volumes: no "0.9996M"
    x = _candles(fig)
    assert x[0] == "16 Aug 09:15" and x[-1] == "16 Aug 09:35"  # the 09:40 bar opens at the clock
    caption = _texts(at_.caption)
    assert "5 bars · 16 Aug 2016 09:15 – 16 Aug 2016 09:35 IST · as of 16 Aug 2016 09:40 IST" in caption
    assert "derived: aggregated from minute bars" in caption
    info = _texts(at_.info)
    assert "EMA 20 needs 20 bars, 5 available" in info and "EMA 50 needs 50 bars, 5 available" in info
    assert at_.query_params["symbol"] == "NSE:TATASTEEL"


def test_chart_day_interval_draws_every_indicator_without_shortfall(page, clock):
    clock.when = datetime(2016, 8, 17, 10, 0, tzinfo=IST)
    at_ = _app("NSE:INFY").run()
    at_.radio(key="chart_interval").set_value("day")
    at_.toggle(key="chart_rsi").set_value(True)
    at_.toggle(key="chart_bollinger").set_value(True).run()
    assert not at_.exception, at_.exception
    fig = _figure(at_)
    names = {t.get("name") for t in fig["data"]}
    assert {"EMA 20", "EMA 50", "BB upper", "RSI 14"} <= names and "VWAP" not in names
    assert _candles(fig)[-1] == "16 Aug 2016"  # a date, never "00:00" or ISO
    assert "Too few bars" not in _texts(at_.info)
    assert "as of 17 Aug 2016 10:00 IST" in _texts(at_.caption)


def test_chart_minute_interval_names_the_indicator_lacking_bars(page):
    at_ = _app("NSE:INFY").run()
    at_.radio(key="chart_interval").set_value("1m").run()
    assert not at_.exception, at_.exception
    info = _texts(at_.info)
    assert "EMA 50 needs 50 bars, 25 available" in info and "EMA 20 needs" not in info
    assert "25 bars" in _texts(at_.caption)


def test_chart_search_offers_instruments_outside_the_watchlist(page):
    at_ = _app().run()
    assert not at_.exception, at_.exception
    first = services().watchlists.keys()[0]
    assert at_.selectbox(key="chart_symbol").value == first
    at_.text_input(key="chart_search").input("HINDAL").run()
    options = at_.selectbox(key="chart_symbol").options
    assert "NSE:HINDALCO" in options and first in options
    at_.selectbox(key="chart_symbol").select("NSE:HINDALCO").run()
    assert not at_.exception, at_.exception
    assert at_.query_params["symbol"] == "NSE:HINDALCO"
    # the replay recorded no 1-minute bars of HINDALCO on 16 Aug: said, not an empty chart
    assert "No 5 min bars of NSE:HINDALCO up to 16 Aug 2016 09:40 IST" in _texts(at_.info)
    assert not at_.get("plotly_chart")
    at_.radio(key="chart_interval").set_value("day").run()
    assert not at_.exception, at_.exception
    fig = _figure(at_)
    assert fig["layout"]["title"]["text"] == "NSE:HINDALCO · Daily"
    assert _candles(fig)[-1] == "12 Aug 2016"  # 15 Aug was a holiday; 16 Aug is still trading at 09:40


def test_chart_unknown_query_symbol_is_reported_and_falls_back(page):
    at_ = _app("NSE:NOSUCHCO").run()
    assert not at_.exception, at_.exception
    assert "unknown instrument 'NSE:NOSUCHCO'" in _texts(at_.warning)
    assert at_.selectbox(key="chart_symbol").value == services().watchlists.keys()[0]


def test_chart_shows_stored_bars_with_a_warning_when_the_market_is_unreachable(page, clock, redis_url):
    from app.container import services as current
    from tests.servers import free_port

    _app("NSE:INFY").run()  # backfills 16 Aug's minute bars to 09:40 into the store
    clock.when = at(10, 0)
    svc = current()
    dead = replay_settings(type("S", (), {"host": "127.0.0.1", "port": free_port(), "api_key": "paperdesk-test",
                                          "api_secret": "paperdesk-test-secret"})(), redis_url)
    vars(svc)["market_data"] = MarketDataService(svc.store, svc.instruments,
                                                 historical_client(dead, redis_client(redis_url), retries=0),
                                                 clock=clock)
    st.cache_data.clear()
    at_ = _app("NSE:INFY").run()
    assert not at_.exception, at_.exception
    warning = _texts(at_.warning)
    assert "Showing stored bars only: the market's historical API failed" in warning
    assert "last bar 16 Aug 2016 09:40 IST, 15 min before the as-of time" in warning  # 5-minute bar 09:40–09:45
    assert _candles(_figure(at_))[-1] == "16 Aug 09:40"
    assert "as of 16 Aug 2016 10:00 IST" in _texts(at_.caption)


def test_the_replay_market_labels_what_it_derives(page):
    """Issue 12: every derived series is labelled on the page that shows it (the replay's daily
    bars before 16 Aug 2016, derived sessions, sector-index daily bars)."""
    at_ = _app("NSE:TATASTEEL").run()
    assert not at_.exception, at_.exception
    assert "daily bars before 16 Aug 2016 are derived" in _texts(at_.caption)
