"""app.market.watch_view read models on the real NSE calendar."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.adapters.calendar_source import load_nse_calendar
from app.market.watch_view import market_status, ticker_health
from core.sessions import SessionPhase
from core.timeutil import IST

WALL = datetime(2026, 1, 17, 11, 0, tzinfo=IST)  # a Saturday: the real market is closed


@pytest.fixture(scope="module")
def cal():
    return load_nse_calendar()


def test_replay_status_takes_phase_from_replay_clock_not_wall_clock(cal):
    health = ticker_health(None, None, WALL, 10.0)
    st = market_status(cal, "replay", WALL, health, replay_time=datetime(2016, 8, 16, 10, 0, tzinfo=IST))
    assert st.phase is SessionPhase.NORMAL
    assert st.mode_label == "Replay (recorded NSE session 2016-08-16)"
    assert st.next_close == datetime(2016, 8, 16, 15, 30, tzinfo=IST)
    assert st.next_open == datetime(2016, 8, 17, 9, 15, tzinfo=IST)
    assert st.wall_clock == WALL


def test_replay_without_ticks_falls_back_to_wall_clock_and_says_so(cal):
    st = market_status(cal, "replay", WALL, ticker_health(None, None, WALL, 10.0))
    assert st.market_time is None
    assert "no replay ticks" in st.market_time_source
    assert st.phase is SessionPhase.CLOSED
    assert st.next_open == datetime(2026, 1, 19, 9, 15, tzinfo=IST)


def test_kite_status_beyond_calendar_coverage_carries_a_note(cal):
    now = datetime(2027, 3, 2, 10, 0, tzinfo=IST)
    st = market_status(cal, "kite", now, ticker_health(None, None, now, 10.0))
    assert st.calendar_note is not None and "2026-12-31" in st.calendar_note


def test_ticker_health_with_cache_error_is_error_level():
    h = ticker_health(None, None, WALL, 10.0, error="Redis at redis://127.0.0.1:1 is unreachable")
    assert (h.level, h.cache_ok, h.connected) == ("error", False, False)
    assert "unreachable" in h.message


def test_ticker_health_without_status_is_warning_telling_how_to_start_it():
    h = ticker_health(None, None, WALL, 10.0)
    assert h.level == "warning" and "workers.ticker" in h.message


# ---- with the tick cache's own records -------------------------------------------------------

from datetime import timedelta  # noqa: E402

import numpy as np  # noqa: E402

from app.adapters.tick_cache import CachedTick, TickerStatus  # noqa: E402
from app.market.watch_view import WATCHLIST_COLUMNS, watchlist_frame  # noqa: E402
from core.models import Tick  # noqa: E402
from tests.factories import INFY, TCS  # noqa: E402


def _status(now: datetime, **kw) -> TickerStatus:
    base = dict(connected=True, market="replay", updated_at=now, subscribed=14, ticks_total=100,
                malformed_total=0, reconnects=0, last_tick_at=now)
    return TickerStatus(**{**base, **kw})


def test_watchlist_frame_fills_tick_fields_and_leaves_missing_as_nan():
    now = datetime(2026, 1, 14, 10, 0, 5, tzinfo=IST)
    infy, tcs = INFY, TCS
    tick = Tick(408065, 1510.0, mode="full", volume_traded=12345, open=1500.0, high=1515.0, low=1495.0,
                close=1500.0)
    frame = watchlist_frame([("NSE:INFY", infy), ("NSE:TCS", tcs), ("NSE:GONE", None)],
                            {408065: CachedTick(tick, now - timedelta(seconds=2))}, now)
    assert list(frame.columns) == WATCHLIST_COLUMNS
    assert list(frame.index) == ["NSE:INFY", "NSE:TCS", "NSE:GONE"]
    row = frame.loc["NSE:INFY"]
    assert (row["LTP"], row["volume"], row["day high"], row["day low"]) == (1510.0, 12345.0, 1515.0, 1495.0)
    assert row["change %"] == pytest.approx(10 / 1500 * 100)
    assert row["tick age s"] == pytest.approx(2.0)
    assert frame.loc["NSE:TCS", ["LTP", "change %", "tick age s"]].isna().all()
    assert frame.loc["NSE:GONE", "symbol"] == "GONE"
    assert all(frame[c].dtype == np.float64 for c in WATCHLIST_COLUMNS[1:])


def test_ticker_health_fresh_tick_is_ok():
    now = datetime(2026, 1, 14, 10, 0, tzinfo=IST)
    h = ticker_health(_status(now, last_tick_at=None), now - timedelta(seconds=1), now, 10.0)
    assert h.level == "ok" and not h.stale and h.tick_age_s == pytest.approx(1.0)


def test_ticker_health_old_tick_is_stale_warning():
    now = datetime(2026, 1, 14, 10, 0, tzinfo=IST)
    old = now - timedelta(seconds=30)
    h = ticker_health(_status(now, last_tick_at=old), old, now, 10.0)
    assert h.level == "warning" and h.stale and "30 s" in h.message


def test_ticker_health_silent_heartbeat_means_ticker_down():
    now = datetime(2026, 1, 14, 10, 0, tzinfo=IST)
    h = ticker_health(_status(now, updated_at=now - timedelta(seconds=60)), now, now, 10.0)
    assert h.level == "error" and "stopped reporting" in h.message


def test_ticker_health_disconnected_is_error():
    now = datetime(2026, 1, 14, 10, 0, tzinfo=IST)
    h = ticker_health(_status(now, connected=False), now, now, 10.0)
    assert h.level == "error" and "not connected" in h.message


# ---- chart bars through MarketDataService (real replay server, pinned market clock) ----------

import pandas as pd  # noqa: E402

from app.adapters.kite_historical import historical_client  # noqa: E402
from app.adapters.redis_client import redis_client  # noqa: E402
from app.market.history import MarketDataService  # noqa: E402
from app.market.instruments import InstrumentService  # noqa: E402
from app.market.watch_view import CHART_BARS, chart_as_of, chart_bars  # noqa: E402
from core.errors import ValidationError  # noqa: E402
from core.models import Bar  # noqa: E402
from tests.app.test_market_data import replay_settings  # noqa: E402
from tests.app.test_market_reads import Pinned, at  # noqa: E402
from tests.fixtures_store import seed_instruments  # noqa: E402
from tests.servers import free_port  # noqa: E402

AUG16 = date(2016, 8, 16)


@pytest.fixture()
def clock() -> Pinned:
    return Pinned(at(9, 40))


@pytest.fixture()
def market(sqlite_store, replay_server, redis_url, clock) -> MarketDataService:
    """The market-data service on the session's replay server (2016-08-17: its history holds
    the 2016-08-16 session and daily bars before it), a fresh SQLite store, the clock pinned."""
    seed_instruments(sqlite_store)
    settings = replay_settings(replay_server, redis_url)
    return MarketDataService(sqlite_store, InstrumentService(sqlite_store),
                             historical_client(settings, redis_client(redis_url)), clock=clock)


def test_chart_minute_bars_are_backfilled_and_end_before_the_pinned_clock(market, sqlite_store):
    data = chart_bars(market, "NSE:INFY", "minute")
    assert data.as_of == at(9, 40)
    assert len(data.frame) == 25  # 09:15 … 09:39, closed by 09:40
    assert data.frame.index.max() == pd.Timestamp(at(9, 39))
    assert (data.frame.index + pd.Timedelta(minutes=1) <= pd.Timestamp(at(9, 40))).all()
    assert not data.forming and data.derived is None and data.warning is None
    assert sqlite_store.bars.count(408065, "minute") >= 25  # read through the backfill into the store
    assert list(data.frame.columns) == ["open", "high", "low", "close", "volume"]
    assert str(data.frame.index.tz) == str(IST)
    caption = data.caption()
    assert caption.startswith("25 bars · 16 Aug 2016 09:15 – 16 Aug 2016 09:39 IST · as of 16 Aug 2016 09:40 IST")
    assert "forming" not in caption and "derived" not in caption


def test_chart_names_each_indicator_lacking_bars(market):
    data = chart_bars(market, "NSE:INFY", "minute")
    assert data.shortfalls(["EMA 20", "EMA 50", "Bollinger 20", "RSI 14", "Volume SMA 20"]) == [
        "EMA 50 needs 50 bars, 25 available"]
    early = chart_bars(market, "NSE:INFY", "5minute")  # 09:15 … 09:35 closed by 09:40
    assert early.shortfalls(["EMA 20", "RSI 14"]) == ["EMA 20 needs 20 bars, 5 available",
                                                       "RSI 14 needs 15 bars, 5 available"]
    with pytest.raises(ValidationError, match="unknown indicator 'MACD'"):
        data.shortfalls(["MACD"])


def test_chart_5minute_bars_are_derived_and_mark_the_forming_bar(market, clock):
    clock.when = at(9, 42)
    data = chart_bars(market, "NSE:INFY", "5minute")
    minutes = chart_bars(market, "NSE:INFY", "minute")
    assert list(data.frame.index[-2:]) == [pd.Timestamp(at(9, 35)), pd.Timestamp(at(9, 40))]
    assert data.forming  # 09:40 bucket: the closed minutes 09:40 and 09:41 so far
    assert data.frame["volume"].iloc[-1] == minutes.frame.loc[pd.Timestamp(at(9, 40)):, "volume"].sum()
    assert minutes.frame.index.max() == pd.Timestamp(at(9, 41))
    assert data.derived == "aggregated from minute bars"
    caption = data.caption()
    assert "last bar forming" in caption and "derived: aggregated from minute bars" in caption
    assert data.frame.index.max() <= pd.Timestamp(at(9, 42))


def test_chart_day_bars_stop_at_the_last_closed_session_and_as_of_is_capped(market, clock):
    clock.when = datetime(2016, 8, 17, 10, 0, tzinfo=IST)
    data = chart_bars(market, "NSE:INFY", "day", as_of=datetime(2016, 9, 30, 15, 30, tzinfo=IST))
    assert data.as_of == clock.when  # a later as-of is cut to market time
    assert data.frame.index.max() == pd.Timestamp(datetime(2016, 8, 16, tzinfo=IST))
    assert 100 < len(data.frame) <= CHART_BARS["day"]
    assert data.shortfalls(["EMA 50", "Bollinger 20", "RSI 14"]) == []
    assert not data.forming and "16 Aug 2016 · as of 17 Aug 2016 10:00 IST" in data.caption()
    weeks = chart_bars(market, "NSE:INFY", "week")
    assert weeks.derived == "aggregated from day bars"
    # the week of 15 Aug (a holiday) is stamped with its first session, 16 Aug, and is still forming
    assert weeks.frame.index.max() == pd.Timestamp(datetime(2016, 8, 16, tzinfo=IST)) and weeks.forming
    assert weeks.frame["close"].iloc[-1] == data.frame["close"].iloc[-1]


def test_chart_warns_when_the_market_is_unreachable_and_shows_stored_bars(market, sqlite_store, redis_url, clock):
    chart_bars(market, "NSE:INFY", "minute")  # backfilled to 09:40 (the bar opening at the clock is stored too)
    clock.when = at(10, 0)
    dead = replay_settings(type("S", (), {"host": "127.0.0.1", "port": free_port(), "api_key": "paperdesk-test",
                                          "api_secret": "paperdesk-test-secret"})(), redis_url)
    offline = MarketDataService(sqlite_store, InstrumentService(sqlite_store),
                                historical_client(dead, redis_client(redis_url), retries=0), clock=clock)
    data = chart_bars(offline, "NSE:INFY", "minute")
    assert data.frame.index.max() == pd.Timestamp(at(9, 40))
    text = data.warning_text()
    assert text is not None and "historical API failed" in text
    assert "last bar 16 Aug 2016 09:40 IST, 19 min before the as-of time" in text


def test_chart_rejects_unknown_interval_and_symbol(market):
    with pytest.raises(ValidationError, match="chart interval must be one of"):
        chart_bars(market, "NSE:INFY", "2minute")
    with pytest.raises(ValidationError, match="unknown instrument 'NSE:NOSUCHCO'"):
        chart_bars(market, "NSE:NOSUCHCO", "day")


def test_chart_as_of_is_market_now_on_the_market_date_and_never_later():
    now = datetime(2016, 9, 9, 11, 5, 30, tzinfo=IST)
    assert chart_as_of(now) == now
    assert chart_as_of(now, date(2016, 9, 9)) == now
    assert chart_as_of(now, date(2016, 9, 12)) == now
    assert chart_as_of(now, date(2016, 9, 8)) == datetime(2016, 9, 8, 23, 59, 59, tzinfo=IST)


def test_chart_bars_of_a_stored_bar_after_the_clock_are_not_shown(market, sqlite_store):
    chart_bars(market, "NSE:INFY", "minute")
    sqlite_store.bars.upsert([Bar(408065, "minute", at(9, 45), 1, 2, 0.5, 1.5, 10)])  # a later bar, stored
    market.cache.invalidate(408065, "minute")
    data = chart_bars(market, "NSE:INFY", "minute")
    assert data.frame.index.max() == pd.Timestamp(at(9, 39))

