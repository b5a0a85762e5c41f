"""MarketDataService reads as of market time (issue 12): the one read path for bars.

Against the real replay server (session fixture: replay date 2016-08-17, so its history holds
the 2016-08-16 session) through the real kiteconnect client, on SQLite and PostgreSQL. The clock is pinned.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.adapters.redis_client import redis_client
from app.adapters.kite_historical import historical_client
from app.market.history import MarketDataService
from app.market.instruments import InstrumentService
from core.errors import ValidationError
from core.models import Bar
from core.timeutil import IST
from tests.app.test_market_data import replay_settings
from tests.app.replay_market import Pinned
from tests.fixtures_store import seed_instruments

INFY = 408065
AUG16 = date(2016, 8, 16)


def at(h: int, m: int, day: date = AUG16) -> datetime:
    return datetime(day.year, day.month, day.day, h, m, tzinfo=IST)


@pytest.fixture()
def clock() -> Pinned:
    return Pinned(at(9, 20))


@pytest.fixture()
def market(store, replay_server, redis_url, clock) -> MarketDataService:
    seed_instruments(store)
    settings = replay_settings(replay_server, redis_url)
    return MarketDataService(store, InstrumentService(store),
                             historical_client(settings, redis_client(redis_url)), clock=clock)


def test_minute_read_at_0920_sees_only_bars_closed_by_then(market):
    frame = market.ohlcv("NSE:INFY", "minute", start=AUG16)
    assert len(frame) == 5  # 09:15 … 09:19 closed by 09:20
    assert frame.index[-1] == pd_ts(at(9, 19))
    assert frame.attrs["as_of"] == at(9, 20)


def test_five_minute_bar_closes_at_its_end_and_forming_bar_is_optional(market, clock):
    clock.when = at(9, 27)
    closed = market.ohlcv("NSE:INFY", "5minute", start=AUG16)
    assert list(closed.index) == [pd_ts(at(9, 15)), pd_ts(at(9, 20))]
    forming = market.ohlcv("NSE:INFY", "5minute", start=AUG16, forming=True, fill=False)
    assert forming.index[-1] == pd_ts(at(9, 25))
    minutes = market.ohlcv("NSE:INFY", "minute", start=AUG16, fill=False)
    assert forming["volume"].iloc[-1] == minutes.loc[pd_ts(at(9, 25)):, "volume"].sum()
    assert forming["close"].iloc[-1] == minutes["close"].iloc[-1]


def test_as_of_later_than_market_time_is_cut_to_market_time(market):
    frame = market.ohlcv("NSE:INFY", "minute", start=AUG16, as_of=at(15, 0))
    assert frame.index.max() < pd_ts(at(9, 20))


def test_day_bar_appears_only_after_the_close(market, clock):
    clock.when = at(15, 29)
    assert market.ohlcv("NSE:INFY", "day", start=date(2016, 8, 1)).empty or \
        market.ohlcv("NSE:INFY", "day", start=date(2016, 8, 1), fill=False).index.max() < pd_ts(at(0, 0))
    clock.when = datetime(2016, 8, 17, 10, 0, tzinfo=IST)
    day = market.ohlcv("NSE:INFY", "day", start=date(2016, 8, 1))
    assert day.index.max() == pd_ts(at(0, 0))


def test_warm_panel_read_queries_no_bars_and_sees_a_new_bar(market, store, clock):
    clock.when = at(12, 0)
    market.ohlcv("NSE:INFY", "minute", start=AUG16)
    before = market.cache.queries
    p1 = market.panel(["NSE:INFY"], "minute", start=AUG16)
    assert market.cache.queries == before and len(p1.frame) == 165
    store.bars.upsert([Bar(INFY, "minute", at(12, 30), 1, 2, 0.5, 1.5, 10)])  # another process writes
    assert market.panel(["NSE:INFY"], "minute", start=AUG16).frame["ts"].iloc[-1] == pd_ts(at(11, 59))
    clock.when = at(12, 31)
    p2 = market.panel(["NSE:INFY"], "minute", start=AUG16)
    assert p2.frame["ts"].iloc[-1] == pd_ts(at(12, 30)) and p2.frame["close"].iloc[-1] == 1.5


def test_panel_reports_unknown_and_empty_symbols(market):
    market.ohlcv("NSE:INFY", "minute", start=AUG16)
    p = market.panel(["NSE:INFY", "NSE:TCS", "NSE:NOPE"], "minute", start=AUG16)
    assert p.unknown == ("NSE:NOPE",) and p.empty == ("TCS",) and p.with_data == 1
    assert p.coverage() == "1 of 3 symbols, bars to 16 Aug 2016 09:19 IST"


def test_week_bars_and_bad_interval(market):
    with pytest.raises(ValidationError, match="unknown interval '2minute'"):
        market.ohlcv("NSE:INFY", "2minute")
    with pytest.raises(ValidationError, match="after the read's market time"):
        market.ohlcv("NSE:INFY", "day", start=date(2017, 1, 1))


def pd_ts(when: datetime):
    import pandas as pd

    return pd.Timestamp(when)


def test_backtest_default_range_ends_at_the_last_closed_session():
    from app.adapters.calendar_source import load_nse_calendar
    from app.market.clock import last_sessions

    cal = load_nse_calendar()
    assert last_sessions(cal, datetime(2016, 9, 9, 11, 0, tzinfo=IST)) == (date(2016, 9, 8), date(2016, 9, 2))
    assert last_sessions(cal, datetime(2016, 9, 9, 15, 30, tzinfo=IST), 2) == (date(2016, 9, 9), date(2016, 9, 8))
    assert last_sessions(cal, datetime(2016, 9, 11, 10, 0, tzinfo=IST), 1) == (date(2016, 9, 9), date(2016, 9, 9))

