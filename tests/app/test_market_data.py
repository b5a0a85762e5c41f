"""MarketDataService against the real replay server through the real kiteconnect client.

The session replay server replays 2016-08-17, so its history holds the full 2016-08-16
session (375 one-minute bars per stock) and the 2016-08-16 daily bar.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pydantic import SecretStr

import redis

from app.adapters import kite_historical
from app.adapters.kite_historical import KITE_MAX_DAYS, HistoricalUnavailable, historical_client, kite_windows
from app.adapters.redis_client import redis_client
from app.market import history as market_data_module
from app.market.instruments import InstrumentService
from app.market.history import MarketDataService, uncovered
from app.settings import Settings
from core.errors import ValidationError
from core.models import INTERVAL_MINUTES
from core.timeutil import IST, UTC
from tests.fixtures_store import seed_instruments
from tests.kite_fixtures import inject_failures, kite_replay, requests_log  # noqa: F401

INFY = 408065
AUG16 = date(2016, 8, 16)
AUG16_OPEN = datetime(2016, 8, 16, 9, 15, tzinfo=IST)


def replay_settings(server, redis_url: str) -> Settings:
    return Settings(env="test", redis_url=redis_url, replay_host=server.host, replay_port=server.port,
                    replay_api_key=server.api_key, replay_api_secret=SecretStr(server.api_secret))


@pytest.fixture()
def market(sqlite_store, replay_server, redis_url) -> MarketDataService:
    seed_instruments(sqlite_store)
    settings = replay_settings(replay_server, redis_url)
    r = redis_client(redis_url)
    return MarketDataService(sqlite_store, InstrumentService(sqlite_store), historical_client(settings, r))


# ---- windows (pure) -------------------------------------------------------------------------

@pytest.mark.parametrize("interval", list(INTERVAL_MINUTES))
def test_kite_windows_respect_limit_and_tile_range_for_every_interval(interval):
    limit = KITE_MAX_DAYS[interval]
    start = datetime(2015, 1, 1, tzinfo=IST)
    end = start + timedelta(days=limit * 3 + 7, hours=5)
    windows = kite_windows(interval, start, end)
    assert len(windows) == 4
    assert windows[0][0] == start and windows[-1][1] == end
    for f, t in windows:
        assert t - f < timedelta(days=limit)
        assert (t - f).days < limit  # what Kite checks
    assert [nxt_from - t for (_, t), (nxt_from, _) in zip(windows, windows[1:])] == [timedelta(seconds=1)] * 3
    assert all(f.tzinfo is not None and f.utcoffset() == timedelta(hours=5, minutes=30) for f, _ in windows)


def test_kite_windows_exactly_limit_days_takes_two_requests():
    start = datetime(2016, 1, 1, tzinfo=IST)
    assert len(kite_windows("minute", start, start + timedelta(days=60) - timedelta(seconds=1))) == 1
    assert len(kite_windows("minute", start, start + timedelta(days=60))) == 2


def test_kite_windows_bad_input_raises_validation_error():
    t = datetime(2016, 8, 16, tzinfo=IST)
    with pytest.raises(ValidationError, match="Kite does not offer interval '1min'"):
        kite_windows("1min", t, t)
    with pytest.raises(ValidationError, match="after end"):
        kite_windows("minute", t + timedelta(seconds=1), t)
    with pytest.raises(ValidationError, match="timezone-aware"):
        kite_windows("minute", datetime(2016, 8, 16), t)


def test_uncovered_returns_gaps_and_refetches_covered_end():
    t = datetime(2016, 8, 16, tzinfo=UTC)
    h = timedelta(hours=1)
    covered = [(t + h, t + 2 * h), (t + 4 * h, t + 5 * h)]
    assert uncovered(t, t + 6 * h, covered) == [
        (t, t + h - timedelta(seconds=1)), (t + 2 * h, t + 4 * h - timedelta(seconds=1)), (t + 5 * h, t + 6 * h),
    ]
    assert uncovered(t + h, t + 2 * h, covered) == [(t + 2 * h, t + 2 * h)]
    assert uncovered(t, t + h, []) == [(t, t + h)]


# ---- backfill through the replay server ---------------------------------------------------------

def test_backfill_minute_day_stores_full_session(market, sqlite_store):
    seen: list[tuple[float, str]] = []
    added = market.backfill("NSE:INFY", "minute", AUG16, AUG16, progress=lambda f, m: seen.append((f, m)))
    assert added == 375
    assert sqlite_store.bars.count(INFY, "minute") == 375
    assert seen[-1][0] == 1.0 and "375 bars" in seen[-1][1]
    df = market.bars("infy", "minute", AUG16, AUG16)
    assert len(df) == 375
    assert df.index[0] == AUG16_OPEN and df.index[-1] == datetime(2016, 8, 16, 15, 29, tzinfo=IST)
    assert str(df.index.tz) == "Asia/Kolkata"
    first = df.iloc[0]
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
        1041.55, 1041.55, 1028.05, 1031.35, 527702)


def test_backfill_second_run_stores_nothing_new(market, sqlite_store):
    assert market.backfill(INFY, "5minute", AUG16, AUG16) == 75
    snapshot = market.bars(INFY, "5minute", AUG16, AUG16)
    assert market.backfill(INFY, "5minute", AUG16, AUG16) == 0
    assert sqlite_store.bars.count(INFY, "5minute") == 75
    assert market.bars(INFY, "5minute", AUG16, AUG16).equals(snapshot)


def test_backfill_covered_range_requests_only_the_tail(market):
    market.backfill("TCS", "minute", AUG16, AUG16)
    seen: list[str] = []
    market.backfill("TCS", "minute", AUG16, AUG16, progress=lambda f, m: seen.append(m))
    assert len(seen) == 1 and "2016-08-16 → 2016-08-16, 1 bars" in seen[0]  # the 15:29 bar again


def test_backfill_long_range_splits_into_kite_windows(market, sqlite_store):
    seen: list[tuple[float, str]] = []
    start = datetime(2016, 6, 1, tzinfo=IST)
    added = market.backfill("SBIN", "minute", start, datetime(2016, 8, 16, 23, 59, tzinfo=IST),
                            progress=lambda f, m: seen.append((f, m)))
    assert added == 375
    assert [f for f, _ in seen] == [0.5, 1.0]  # 76 days of minutes = 2 requests of <= 60 days
    assert "0 bars" in seen[0][1] and "375 bars" in seen[1][1]


def test_backfill_index_15minute_and_daily_bars(market):
    assert market.backfill("NIFTY 50", "15minute", AUG16, AUG16) == 25
    # 2 windows of 2000 days; the replay serves 2016-01-01 → 08-16 (derived before 08-16, app/data/nse/README)
    assert market.backfill("NSE:INFY", "day", date(2010, 1, 1), AUG16) == 154
    day = market.bars("INFY", "day", date(2016, 8, 1), AUG16)
    assert day.index[0] == datetime(2016, 8, 1, tzinfo=IST) and day.index[-1] == datetime(2016, 8, 16, tzinfo=IST)
    assert day["close"].iloc[-1] == 1053.0 and day["volume"].iloc[-1] == 8151591


def test_backfill_bad_input_raises_validation_error(market, sqlite_store):
    with pytest.raises(ValidationError, match="Kite does not offer interval '2minute'; use one of minute"):
        market.backfill("INFY", "2minute", AUG16, AUG16)
    with pytest.raises(ValidationError, match="after end"):
        market.backfill("INFY", "minute", date(2016, 8, 17), AUG16)
    with pytest.raises(ValidationError, match="timezone-aware"):
        market.backfill("INFY", "minute", datetime(2016, 8, 16, 9, 15), AUG16_OPEN)
    with pytest.raises(ValidationError, match="'NSE:INFOSYS'.*NSE:INFY"):
        market.backfill("INFOSYS", "minute", AUG16, AUG16)
    assert sqlite_store.bars.count() == 0


def test_backfill_token_unknown_to_market_raises_validation_error(market):
    with pytest.raises(ValidationError, match="refused historical minute for instrument 12345"):
        market.backfill(12345, "minute", AUG16, AUG16)


def test_bars_reads_store_without_network(sqlite_store, redis_url):
    """No replay server is running for these settings: bars() must not touch the market."""
    seed_instruments(sqlite_store)
    settings = Settings(env="test", redis_url=redis_url, replay_port=1)
    market = MarketDataService(sqlite_store, InstrumentService(sqlite_store),
                               historical_client(settings, redis_client(redis_url)))
    assert market.bars("INFY", "minute", AUG16, AUG16).empty


# ---- one source of Kite's limits; bad input; nothing stored is lost ----------------------------

def test_window_table_has_one_source_shared_with_the_historical_client():
    assert market_data_module.KITE_MAX_DAYS is kite_historical.KITE_MAX_DAYS
    assert market_data_module.kite_windows is kite_historical.kite_windows
    assert list(KITE_MAX_DAYS) == list(INTERVAL_MINUTES)  # the store accepts exactly Kite's intervals
    assert not hasattr(market_data_module, "KITE_HISTORICAL_MIN_GAP_S")  # no private throttle loop


def test_single_call_beyond_kite_limit_raises_before_any_request(market, sqlite_store):
    with pytest.raises(ValidationError, match=r"minute data spans at most 60 days per request \(Kite's limit\)"):
        market.backfill("INFY", "minute", date(2016, 6, 1), AUG16, single=True)
    assert sqlite_store.bars.count() == 0
    assert market.backfill("INFY", "minute", AUG16, AUG16, single=True) == 375  # within the limit: fine


@pytest.fixture()
def flaky_market(sqlite_store, kite_replay, redis_url):
    """A MarketDataService on the test-endpoint replay with a fast-backoff historical client."""
    seed_instruments(sqlite_store)
    settings = replay_settings(kite_replay, redis_url)
    r = redis.Redis.from_url(redis_url)
    svc = MarketDataService(sqlite_store, InstrumentService(sqlite_store),
                            historical_client(settings, r, retries=1, backoff=0.01))
    yield svc
    r.close()


def test_backfill_goes_through_historical_client_with_flags_and_retries(flaky_market, kite_replay, sqlite_store):
    inject_failures(kite_replay, "/instruments/historical", 429, count=1)
    t0 = __import__("time").time()
    assert flaky_market.backfill("INFY", "minute", AUG16, AUG16, oi=True, continuous=True) == 375
    seen = [p for p, t in requests_log(kite_replay, "/instruments/historical") if t >= t0]
    assert len(seen) == 2 and all("oi=1" in p and "continuous=1" in p for p in seen)  # one 429, one retry
    assert flaky_market.historical.retried == 1


def test_market_unavailable_after_retries_keeps_what_is_stored(flaky_market, kite_replay, sqlite_store):
    assert flaky_market.backfill("INFY", "minute", AUG16, AUG16) == 375
    before = flaky_market.bars("INFY", "minute", AUG16, AUG16)
    inject_failures(kite_replay, "/instruments/historical", 503, count=2)
    with pytest.raises(HistoricalUnavailable, match=r"failed 2 times"):
        flaky_market.backfill("INFY", "minute", datetime(2016, 6, 1, tzinfo=IST), AUG16)
    assert flaky_market.bars("INFY", "minute", AUG16, AUG16).equals(before)
    assert sqlite_store.bars.count(INFY, "minute") == 375


def test_a_read_of_closed_history_asks_the_market_once(sqlite_store, kite_replay, redis_url):
    """A window that had wholly closed at market time is final (even where it holds no bars: a
    weekend), so reading it again makes no request to the historical API; without a market
    clock nothing is taken as final."""
    seed_instruments(sqlite_store)
    pinned = datetime(2016, 8, 17, 10, 0, tzinfo=IST)
    market = MarketDataService(sqlite_store, InstrumentService(sqlite_store),
                               historical_client(replay_settings(kite_replay, redis_url), redis_client(redis_url)),
                               clock=lambda: pinned)
    path = f"/instruments/historical/{INFY}/minute"
    as_of = datetime(2016, 8, 16, 15, 30, tzinfo=IST)
    before = len(requests_log(kite_replay, path))
    first = market.ohlcv("NSE:INFY", "minute", start=date(2016, 8, 13), as_of=as_of)  # Sat 13 … Tue 16
    assert len(first) == 375 and len(requests_log(kite_replay, path)) == before + 1
    again = market.ohlcv("NSE:INFY", "minute", start=date(2016, 8, 13), as_of=as_of)
    assert len(again) == 375 and len(requests_log(kite_replay, path)) == before + 1
