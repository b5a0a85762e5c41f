"""TickerService: the ingest path (decode → Redis → bars → sink/events) on a real Redis."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import redis

from app.adapters.redis_client import redis_client
from app.adapters.tick_cache import BARS_CLOSED_KEY, TickCache
from app.market.ticker_ingest import TickerService
from core import kite_wire
from core.models import Bar, Tick
from core.timeutil import IST
from tests.servers import free_port

OPEN = datetime(2016, 8, 17, 9, 15, tzinfo=IST)
WALL = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def frame_at(when: datetime, rows: list[tuple[int, float, int]]) -> bytes:
    """Full-mode frame: rows of (token, ltp, cumulative volume) stamped ``when``."""
    return kite_wire.encode_frame([
        kite_wire.encode_packet(Tick(tok, px, mode="full", volume_traded=v, close=px, exchange_timestamp=when,
                                     last_trade_time=when), "full") for tok, px, v in rows])


@pytest.fixture()
def cache(redis_url):
    client = redis_client(redis_url)
    yield TickCache(client)
    client.close()


def make(cache, **kw):
    sink: list[Bar] = []
    svc = TickerService(cache, bar_sink=sink.extend, **kw)
    return svc, sink


def test_frames_land_in_cache_and_close_bars_into_sink_and_event_stream(cache):
    svc, sink = make(cache)
    r1 = svc.feed(frame_at(OPEN, [(408065, 100.0, 10), (884737, 50.0, 5)]), WALL)
    svc.feed(frame_at(OPEN + timedelta(seconds=30), [(408065, 101.0, 25)]), WALL + timedelta(seconds=1))
    r3 = svc.feed(frame_at(OPEN + timedelta(minutes=1), [(408065, 99.0, 40), (884737, 51.0, 9)]),
                  WALL + timedelta(seconds=2))
    assert r1.ticks == 2 and r1.bars == []
    want = [Bar(408065, "minute", OPEN.astimezone(UTC), 100.0, 101.0, 100.0, 101.0, 25),
            Bar(884737, "minute", OPEN.astimezone(UTC), 50.0, 50.0, 50.0, 50.0, 5)]
    assert r3.bars == want and sink == want
    assert [b for _, b in cache.bars_closed_since()] == want
    latest = cache.latest([408065, 884737])
    assert latest[408065].tick.last_price == 99.0
    assert latest[408065].received_at == WALL + timedelta(seconds=2)
    assert svc.ticks_total == 5


def test_malformed_frame_is_counted_logged_and_not_fatal(cache, caplog):
    svc, _ = make(cache)
    good = frame_at(OPEN, [(408065, 100.0, 10)])
    with caplog.at_level(logging.WARNING, logger="app.market.ticker_ingest"):
        result = svc.feed(good[:-5], WALL)
    assert result.malformed and svc.malformed_total == 1
    assert "malformed tick frame" in caplog.text and "truncated" in caplog.text
    assert svc.feed(good, WALL).ticks == 1  # still alive
    assert cache.latest([408065])[408065].tick.last_price == 100.0


def test_unknown_length_packets_count_as_malformed_but_good_ones_are_kept(cache):
    svc, _ = make(cache)
    frame = kite_wire.encode_frame([kite_wire.encode_packet(Tick(408065, 10.0)), b"\x00" * 164])
    assert svc.feed(frame, WALL).ticks == 1
    assert svc.malformed_total == 1 and svc.unknown_packets_total == 1


def test_heartbeat_and_text_frames_are_handled(cache, caplog):
    svc, _ = make(cache)
    assert svc.feed(kite_wire.HEARTBEAT, WALL).heartbeat
    with caplog.at_level(logging.INFO, logger="app.market.ticker_ingest"):
        svc.feed(b'{"type":"order","data":{"order_id":"42","status":"COMPLETE"}}', WALL, is_binary=False)
        svc.feed(b'{"type":"error","data":"bad token"}', WALL, is_binary=False)
        svc.feed(b"not json", WALL, is_binary=False)
    assert "order update" in caplog.text and "'order_id': '42'" in caplog.text
    assert "ticker error message: bad token" in caplog.text
    assert svc.heartbeats_total == 1 and svc.text_messages == 3 and svc.ticks_total == 0


def test_subscriptions_diff_and_survive_reconnect(cache):
    svc, _ = make(cache)
    assert not svc.set_watchlist([1, 2, 3])  # not connected: nothing to send yet
    assert svc.on_connected() == [1, 2, 3]
    diff = svc.set_watchlist([2, 3, 4])
    assert (diff.subscribe, diff.unsubscribe) == ([4], [1])
    assert not svc.set_watchlist([4, 3, 2])
    svc.on_disconnected()
    svc.on_reconnect_attempt()
    assert svc.status(WALL).subscribed == 0
    assert not svc.set_watchlist([2, 3, 4, 5])  # edited while down
    assert svc.on_connected() == [2, 3, 4, 5]  # resubscribed in full on reconnect
    st = svc.status(WALL)
    assert (st.connected, st.subscribed, st.reconnects) == (True, 4, 1)


def test_flush_uses_market_clock_of_the_replayed_session(cache):
    svc, sink = make(cache)
    svc.feed(frame_at(OPEN + timedelta(seconds=50), [(408065, 100.0, 10)]), WALL)
    assert svc.flush_bars(WALL + timedelta(seconds=12)) == []  # market 09:16:02 < 09:16 + 3 s grace
    closed = svc.flush_bars(WALL + timedelta(seconds=13))
    assert [b.ts for b in closed] == [OPEN.astimezone(UTC)] and sink == closed


def test_redis_outage_is_counted_and_bars_still_reach_the_sink(redis_url):
    dead = TickCache(redis_client(f"redis://127.0.0.1:{free_port()}/0"))
    svc, sink = make(dead)
    svc.feed(frame_at(OPEN, [(408065, 100.0, 10)]), WALL)
    svc.feed(frame_at(OPEN + timedelta(minutes=1), [(408065, 100.0, 12)]), WALL)
    assert svc.cache_errors == 2 and svc.ticks_total == 2
    assert len(sink) == 1
    assert svc.write_status(WALL) is False


def test_failing_sink_is_logged_and_events_still_published(cache, redis_url, caplog):
    def broken(bars):
        raise RuntimeError("store down")

    svc = TickerService(cache, bar_sink=broken)
    svc.feed(frame_at(OPEN, [(408065, 100.0, 10)]), WALL)
    with caplog.at_level(logging.ERROR):
        svc.feed(frame_at(OPEN + timedelta(minutes=1), [(408065, 100.0, 12)]), WALL)
    assert svc.bar_sink_errors == 1 and "bar sink failed" in caplog.text
    assert redis.Redis.from_url(redis_url).xlen(BARS_CLOSED_KEY) == 1


def test_background_bar_writer_writes_everything_before_close(cache):
    svc, sink = make(cache, background_bars=True)
    tokens = list(range(1000, 1000 + 256 * 500, 256))
    svc.feed(frame_at(OPEN, [(t, 10.0, 1) for t in tokens]), WALL)
    result = svc.feed(frame_at(OPEN + timedelta(minutes=1), [(t, 11.0, 2) for t in tokens]), WALL)
    assert len(result.bars) == 500
    svc.close()
    assert len(sink) == 500
    assert len(cache.bars_closed_since(count=1000)) == 500


def test_status_is_published_for_the_dashboard(cache):
    svc, _ = make(cache, market="replay")
    svc.on_connected()
    svc.feed(frame_at(OPEN, [(408065, 100.0, 10)]), WALL)
    assert svc.write_status(WALL + timedelta(seconds=1))
    st = cache.status()
    assert st.connected and st.market == "replay" and st.ticks_total == 1
    assert st.last_tick_at == WALL and st.updated_at == WALL + timedelta(seconds=1)


def test_packets_without_exchange_time_are_cached_but_not_bucketed_on_wall_clock(cache):
    svc, sink = make(cache)
    snapshot = kite_wire.encode_frame([kite_wire.encode_packet(Tick(408065, 99.0, mode="quote", volume_traded=5),
                                                               "quote")])
    assert svc.feed(snapshot, WALL).ticks == 1  # quote snapshot after subscribe: no market time
    svc.feed(frame_at(OPEN, [(408065, 100.0, 10)]), WALL)
    closed = svc.feed(frame_at(OPEN + timedelta(minutes=1), [(408065, 100.0, 12)]), WALL).bars
    assert [b.ts for b in closed] == [OPEN.astimezone(UTC)] and svc.builder.late_ticks == 0
