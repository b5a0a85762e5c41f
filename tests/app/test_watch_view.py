"""app.market.watch_view read models on the real NSE calendar."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.adapters.calendar_source import load_nse_calendar
from app.market.watch_view import chart_window, market_status, ticker_health
from core.errors import ValidationError
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


def test_chart_window_covers_n_trading_days_ending_on_as_of(cal):
    start, end = chart_window(cal, "5minute", date(2016, 9, 9))
    assert cal.trading_days(start, end)[-1] == date(2016, 9, 9)
    assert len(cal.trading_days(start, end)) == 5
    assert start.tzinfo is not None and end.tzinfo is not None


def test_chart_window_on_a_holiday_ends_on_previous_trading_day(cal):
    _, end = chart_window(cal, "minute", date(2016, 9, 5))  # Ganesh Chaturthi
    assert end.date() == date(2016, 9, 2)


def test_chart_window_unknown_interval_raises(cal):
    with pytest.raises(ValidationError, match="interval must be one of"):
        chart_window(cal, "2minute", date(2016, 9, 9))


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
