"""A chart read of a ticking instrument takes today's tail from the ticker's stored minute bars
(no historical request on a new market minute), and asks the market again the moment one
minute is missing (issue 14, Chart warm render). Real replay server, SQLite store, Redis."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from app.adapters.kite_historical import historical_client
from app.adapters.redis_client import redis_client
from app.adapters.tick_cache import TickCache
from app.market.history import MarketDataService
from core.bars_asof import ticker_tail_complete
from app.market.instruments import InstrumentService
from core.kite_wire import encode_frame, encode_packet
from core.models import Bar, Tick
from core.tick_batch import decode_frame
from core.timeutil import IST, UTC
from tests.app.test_market_data import replay_settings
from tests.app.test_market_reads import Pinned
from tests.fixtures_store import seed_instruments
from tests.kite_fixtures import kite_replay, requests_log  # noqa: F401

INFY = 408065
DAY = date(2016, 8, 16)
PATH = f"/instruments/historical/{INFY}/minute"


def _at(h: int, m: int, s: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, h, m, s, tzinfo=IST)


def _ns(*times: datetime) -> np.ndarray:
    return np.array([pd.Timestamp(t).value for t in times], dtype="int64")


def _minutes(lo: datetime, hi: datetime) -> list[datetime]:
    out, t = [], lo
    while t <= hi:
        out.append(t)
        t += timedelta(minutes=1)
    return out


# ---- the rule (pure) --------------------------------------------------------------------------

def test_every_minute_to_the_last_closed_one_stored_and_ticking_is_complete():
    stored = _ns(*_minutes(_at(9, 40), _at(9, 44)))
    assert ticker_tail_complete(_at(9, 40), _at(9, 45, 30), stored, ticking=True)
    assert not ticker_tail_complete(_at(9, 40), _at(9, 45, 30), stored, ticking=False)
    assert not ticker_tail_complete(_at(9, 40), _at(9, 46), stored, ticking=True)  # 09:45 not stored yet
    assert not ticker_tail_complete(_at(9, 40), _at(9, 45), np.delete(stored, 2), ticking=True)  # 09:42 missing


def test_a_tail_from_an_earlier_day_needs_its_close_and_only_a_weekend_between():
    monday = date(2016, 8, 22)
    stored = _ns(*_minutes(_at(9, 15, day=monday), _at(9, 19, day=monday)))
    friday_close = _at(15, 29, day=date(2016, 8, 19))
    assert ticker_tail_complete(friday_close, _at(9, 20, 10, day=monday), stored, ticking=True)
    assert not ticker_tail_complete(_at(15, 0, day=date(2016, 8, 19)), _at(9, 20, day=monday), stored, True)
    thursday_close = _at(15, 29, day=date(2016, 8, 18))  # Friday has no bars: a holiday or a missed session
    assert not ticker_tail_complete(thursday_close, _at(9, 20, day=monday), stored, ticking=True)
    assert ticker_tail_complete(friday_close, _at(9, 15, 40, day=monday), np.empty(0, "int64"), True)  # forming only


# ---- the read path ----------------------------------------------------------------------------

def _tick(when: datetime, price: float):
    """A full-mode tick of INFY at ``when`` as the decoded frame the ticker caches."""
    tick = Tick(INFY, price, mode="full", volume_traded=1000, open=price, high=price, low=price, close=price,
                last_trade_time=when.astimezone(UTC), exchange_timestamp=when.astimezone(UTC))
    return decode_frame(encode_frame([encode_packet(tick)]))


@pytest.fixture()
def live(sqlite_store, kite_replay, redis_url):  # noqa: F811
    seed_instruments(sqlite_store)
    clock = Pinned(_at(9, 40))
    ticks = TickCache(redis_client(redis_url))
    market = MarketDataService(sqlite_store, InstrumentService(sqlite_store),
                               historical_client(replay_settings(kite_replay, redis_url), redis_client(redis_url)),
                               ticks=ticks, clock=clock)
    market.ohlcv("NSE:INFY", "5minute", forming=True)  # backfills 16 Aug to 09:40 (09:39 the newest bar)
    return market, clock, ticks, sqlite_store


def _ticker_writes(store, ticks: TickCache, lo: datetime, hi: datetime, skip: datetime | None = None) -> None:
    """What the ticker does: closed minute bars to the store, the latest tick to Redis."""
    store.bars.upsert([Bar(INFY, "minute", t.astimezone(UTC), 1000.0, 1001.0, 999.0, 1000.5, 100, 0)
                       for t in _minutes(lo, hi) if t != skip])
    ticks.write_frame(_tick(hi + timedelta(minutes=1, seconds=5), 1002.0), datetime.now(UTC))


def test_a_new_minute_of_a_ticking_instrument_asks_the_market_nothing(live, kite_replay):  # noqa: F811
    market, clock, ticks, store = live
    _ticker_writes(store, ticks, _at(9, 40), _at(9, 44))
    clock.when = _at(9, 45)
    before = len(requests_log(kite_replay, PATH))
    frame = market.ohlcv("NSE:INFY", "minute", forming=True)
    assert len(requests_log(kite_replay, PATH)) == before
    assert frame.index[-1] <= pd.Timestamp(_at(9, 45))  # never past market time
    assert frame.loc[pd.Timestamp(_at(9, 44)), "close"] == 1000.5  # the ticker's bar
    assert frame.attrs["warning"] is None


def test_a_minute_missing_from_the_store_is_fetched_from_the_market(live, kite_replay):  # noqa: F811
    market, clock, ticks, store = live
    _ticker_writes(store, ticks, _at(9, 40), _at(9, 44), skip=_at(9, 42))
    clock.when = _at(9, 45)
    before = len(requests_log(kite_replay, PATH))
    frame = market.ohlcv("NSE:INFY", "minute", forming=True)
    assert len(requests_log(kite_replay, PATH)) == before + 1
    assert pd.Timestamp(_at(9, 42)) in frame.index  # filled from the market


def test_a_long_tail_served_from_the_store_is_re_read_from_the_market_in_the_background(live, kite_replay):  # noqa: F811
    market, clock, ticks, store = live
    _ticker_writes(store, ticks, _at(9, 40), _at(10, 4))
    clock.when = _at(10, 5)
    before = len(requests_log(kite_replay, PATH))
    sent = []
    refresh = market.tail_refresher.maybe_refresh
    market.tail_refresher.maybe_refresh = lambda *a: sent.append(refresh(*a)) or sent[-1]
    frame = market.ohlcv("NSE:INFY", "minute", forming=True)
    assert frame.loc[pd.Timestamp(_at(10, 4)), "close"] == 1000.5  # served from the store at once
    assert sent and sent[0] is not None
    sent[0].result(timeout=30)
    assert len(requests_log(kite_replay, PATH)) == before + 1
    covered_to = max(end for _, end in store.bars.coverage(INFY, "minute"))
    assert covered_to >= _at(10, 3).astimezone(UTC)  # the tail is recorded as fetched: no re-read next minute
    again = market.ohlcv("NSE:INFY", "minute", forming=True)
    assert again.loc[pd.Timestamp(_at(10, 4)), "close"] != 1000.5  # the market's bar replaced the ticker's
