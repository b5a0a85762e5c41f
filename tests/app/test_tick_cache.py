"""TickCache against a real Redis server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from app.adapters.redis_client import redis_client
from app.adapters.tick_cache import (
    BARS_CLOSED_KEY, LATEST_KEY, STREAM_KEY, CacheUnavailable, TickCache, TickerStatus,
)
from core import kite_wire
from core.errors import ValidationError
from core.models import Bar, DepthLevel, Tick
from core.tick_batch import decode_frame
from tests.servers import free_port

T0 = datetime(2026, 1, 5, 4, 0, 0, tzinfo=UTC)


def _full(token: int, price: float, volume: int = 100) -> Tick:
    return Tick(token, price, mode="full", volume_traded=volume, open=price - 1, high=price + 1, low=price - 2,
                close=price - 0.5, exchange_timestamp=T0, last_trade_time=T0,
                bids=tuple(DepthLevel(price - 0.05 * i, 10 * i, i) for i in range(1, 6)),
                asks=tuple(DepthLevel(price + 0.05 * i, 10 * i, i) for i in range(1, 6)))


def _frame(ticks, mode="full") -> bytes:
    return kite_wire.encode_frame([kite_wire.encode_packet(t, mode) for t in ticks])


@pytest.fixture()
def cache(redis_url):
    client = redis_client(redis_url)
    yield TickCache(client, stream_maxlen=1000)
    client.close()


def test_written_frame_reads_back_as_latest_ticks_with_receive_time(cache):
    ticks = [_full(408065, 1500.25), _full(884737, 310.5), _full(256265, 24000.0)]  # last is an index
    frame = _frame(ticks)
    assert cache.write_frame(decode_frame(frame), T0) == 3
    got = cache.latest([408065, 884737, 256265, 999])
    assert set(got) == {408065, 884737, 256265}
    want = kite_wire.decode_frame(frame)
    assert [got[t.instrument_token].tick for t in want] == want
    assert got[408065].received_at == T0
    assert got[408065].age_seconds(T0 + timedelta(seconds=2.5)) == 2.5


def test_later_frame_replaces_latest_and_repeated_token_keeps_last(cache):
    cache.write_frame(decode_frame(_frame([_full(408065, 100.0)])), T0)
    cache.write_frame(decode_frame(_frame([_full(408065, 101.0), _full(408065, 102.0)], "ltp")),
                      T0 + timedelta(seconds=1))
    got = cache.latest([408065])[408065]
    assert got.tick.last_price == 102.0 and got.tick.mode == "ltp"
    assert got.received_at == T0 + timedelta(seconds=1)


def test_tick_ages_per_instrument(cache):
    cache.write_frame(decode_frame(_frame([_full(1, 10.0)])), T0)
    cache.write_frame(decode_frame(_frame([_full(2, 10.0)])), T0 + timedelta(seconds=3))
    now = T0 + timedelta(seconds=10)
    assert cache.tick_ages(now) == {1: 10.0, 2: 7.0}
    assert cache.tick_ages(now, tokens=[2, 5]) == {2: 7.0}
    with pytest.raises(ValidationError):
        cache.tick_ages(datetime(2026, 1, 5, 10, 0))


def test_frame_write_is_one_round_trip(cache, redis_url):
    admin = redis.Redis.from_url(redis_url)
    admin.config_resetstat()
    frame = _frame([_full(1000 + 256 * i, 100.0 + i) for i in range(500)])
    cache.write_frame(decode_frame(frame), T0)
    stats = admin.info("commandstats")
    assert stats["cmdstat_hset"]["calls"] == 1
    assert stats["cmdstat_xadd"]["calls"] == 1
    assert admin.hlen(LATEST_KEY) == 500


def test_tick_stream_keeps_frames_and_is_capped_by_ticks(cache, redis_url):
    admin = redis.Redis.from_url(redis_url)
    frame = _frame([_full(1000 + 256 * i, 100.0) for i in range(100)])
    batch = decode_frame(frame)
    for i in range(300):
        cache.write_frame(batch, T0 + timedelta(seconds=i))
    # about stream_maxlen=1000 ticks → ~10 frames; "~" trimming keeps whole macro nodes (<= 100 entries)
    assert 10 <= admin.xlen(STREAM_KEY) <= 110
    frames = cache.frames_since(count=2)
    assert len(frames) == 2 and frames[0].ticks == kite_wire.decode_frame(frame)
    assert frames[1].received_at - frames[0].received_at == timedelta(seconds=1)
    assert cache.frames_since(frames[0].entry_id, count=1)[0].entry_id == frames[1].entry_id


def test_status_round_trips_and_is_none_before_any_ticker(cache):
    assert cache.status() is None
    st = TickerStatus(connected=True, market="replay", updated_at=T0, subscribed=14, ticks_total=9000,
                      malformed_total=2, reconnects=1, last_tick_at=T0 - timedelta(seconds=1))
    cache.write_status(st)
    assert cache.status() == st
    assert cache.status().age_seconds(T0 + timedelta(seconds=4)) == 4.0
    cache.write_status(TickerStatus(False, "kite", T0, 0, 0, 0, 0, None))
    assert cache.status().last_tick_at is None and cache.status().connected is False


def test_bars_closed_events_one_entry_per_bar(cache, redis_url):
    bars = [Bar(408065 + i, "minute", T0 + timedelta(minutes=i % 3), 10.0 + i, 11.5, 9.25, 10.1, 1000 + i)
            for i in range(2500)]
    assert cache.publish_bars_closed(bars) == 2500
    assert redis.Redis.from_url(redis_url).xlen(BARS_CLOSED_KEY) == 2500
    got = cache.bars_closed_since(count=5000)
    assert [b for _, b in got] == bars
    assert cache.bars_closed_since(got[-2][0]) == [got[-1]]


def test_redis_unreachable_raises_cache_unavailable_with_clear_message():
    port = free_port()  # nothing listens here
    cache = TickCache(redis_client(f"redis://127.0.0.1:{port}/0"))
    with pytest.raises(CacheUnavailable, match=rf"cannot reach Redis at redis://127.0.0.1:{port}/0"):
        cache.latest([408065])
    with pytest.raises(CacheUnavailable, match="Start redis-server or set REDIS_URL"):
        cache.write_frame(decode_frame(_frame([_full(1, 10.0)])), T0)
    for call in (cache.status, lambda: cache.tick_ages(T0), cache.ping,
                 lambda: cache.publish_bars_closed([Bar(1, "minute", T0, 1, 1, 1, 1, 1)])):
        with pytest.raises(CacheUnavailable):
            call()


def test_heartbeat_frame_writes_nothing(cache, redis_url):
    assert cache.write_frame(decode_frame(kite_wire.HEARTBEAT), T0) == 0
    assert redis.Redis.from_url(redis_url).exists(LATEST_KEY, STREAM_KEY) == 0
