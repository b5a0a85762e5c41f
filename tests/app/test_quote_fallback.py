"""Stale-tick fallback: REST quote into the tick cache, batched by 500, 1 call/s across processes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pandas as pd
import pytest
import redis

from app.adapters.kite_historical import SessionKite
from app.adapters.rate_limit import KITE_QUOTE, RedisRateLimiter
from app.adapters.store import SqlStore
from app.adapters.tick_cache import TickCache
from app.market.instruments import InstrumentService
from app.market.quote_fallback import QuoteFallback
from core import kite_wire
from core.errors import ValidationError
from core.models import Tick
from core.tick_batch import decode_frame
from tests.kite_fixtures import kite_replay, requests_log, settings_for  # noqa: F401


@pytest.fixture()
def parts(kite_replay, redis_url, tmp_path):
    r = redis.Redis.from_url(redis_url)
    instruments = InstrumentService(SqlStore(f"sqlite:///{tmp_path / 'desk.db'}"))
    instruments.ensure_loaded()

    def key_of(token: int) -> str:
        i = instruments.by_token(token)
        return f"{i.exchange}:{i.tradingsymbol}"

    cache = TickCache(r)
    fb = QuoteFallback(cache, key_of, SessionKite(settings_for(kite_replay), r), RedisRateLimiter(r, KITE_QUOTE),
                       stale_after=5.0)
    yield fb, cache, instruments
    r.close()


def test_stale_and_missing_ticks_are_refreshed_from_quote_fresh_ones_are_not(parts, kite_replay):
    fb, cache, instruments = parts
    infy, tcs, sbin = (instruments.resolve(k).instrument_token for k in ("NSE:INFY", "NSE:TCS", "NSE:SBIN"))
    now = datetime.now(UTC)
    fresh = kite_wire.encode_frame([kite_wire.encode_packet(Tick(sbin, 111.0, mode="quote"), "quote")])
    cache.write_frame(decode_frame(fresh), now)
    old = kite_wire.encode_frame([kite_wire.encode_packet(Tick(tcs, 1.0, mode="quote"), "quote")])
    cache.write_frame(decode_frame(old), datetime.fromtimestamp(now.timestamp() - 60, UTC))
    assert fb.stale([infy, tcs, sbin], now) == sorted([infy, tcs])
    assert fb.refresh([infy, tcs, sbin], now) == 2
    latest = cache.latest([infy, tcs, sbin])
    quotes = kite_replay.kite().quote(["NSE:INFY", "NSE:TCS"])
    assert latest[sbin].tick.last_price == 111.0  # fresh tick untouched
    for key, tok in (("NSE:INFY", infy), ("NSE:TCS", tcs)):
        assert latest[tok].tick.last_price == pytest.approx(quotes[key]["last_price"], rel=0.02)
        assert latest[tok].tick.close == quotes[key]["ohlc"]["close"]
    assert fb.stale([infy, tcs, sbin], now) == []


def test_thousand_stale_instruments_use_500_per_call_at_1_per_second(parts, kite_replay):
    fb, cache, instruments = parts
    tokens = [i.instrument_token for i in instruments._idx().by_token.values() if i.exchange == "NSE"][:1001]
    assert len(tokens) == 1001
    t0 = time.time()
    fb.refresh(tokens, datetime.now(UTC))
    calls = [(p, t) for p, t in requests_log(kite_replay, "/quote") if t >= t0 and p.startswith("/quote?")]
    assert len(calls) == 3 and fb.calls == 3
    assert [p.count("i=") for p, _ in calls] == [500, 500, 1]
    times = sorted(t for _, t in calls)
    assert times[1] - times[0] >= 1.0 and times[2] - times[1] >= 1.0


def test_batch_above_kite_limit_is_refused(parts):
    fb, cache, _ = parts
    with pytest.raises(ValidationError, match="batch must be 1..500"):
        QuoteFallback(cache, fb.key_of, fb.kite, fb.limiter, batch=501)


def test_todays_bar_of_instruments_that_do_not_tick_comes_from_the_quote(parts, tmp_path):
    """``MarketDataService.panel(..., "day", forming=True)``: an instrument with no tick in the
    cache gets today's forming bar from Kite's ``/quote`` (day OHLC, LTP, volume, as of the
    quote's timestamp); a quote later than the read's market time is not used."""
    from datetime import timedelta

    from app.market.history import MarketDataService, _quote_time
    from core.timeutil import IST

    fb, cache, instruments = parts
    sbin = instruments.resolve("NSE:SBIN").instrument_token
    q = fb.quotes([sbin])[sbin]
    stamp = _quote_time(q["timestamp"])
    assert stamp is not None and stamp.date().isoformat() == "2016-08-17"
    when = [min(stamp + timedelta(minutes=20), stamp.replace(hour=15, minute=29, second=59))]  # replay runs 60x
    store = SqlStore(f"sqlite:///{tmp_path / 'bars.db'}")
    market = MarketDataService(store, instruments, None, ticks=None, clock=lambda: when[0], quotes=fb.quotes)
    p = market.panel(["NSE:SBIN"], "day", start=stamp.date(), forming=True)
    assert len(p.frame) == 1 and p.frame["ts"].iloc[0] == pd.Timestamp(stamp.date(), tz=IST)
    row = p.frame.iloc[0]
    assert row["open"] == q["ohlc"]["open"] and row["low"] <= row["close"] <= row["high"]
    assert row["volume"] >= q["volume"] > 0 and row["close"] > 0  # a later quote: more volume traded
    when[0] = stamp - timedelta(minutes=1)  # a market time before the quote: not used
    assert market.panel(["NSE:SBIN"], "day", start=stamp.date(), forming=True).frame.empty
