"""Ticker subscriptions: the desk's sources (real TradingService on SQLite + real Redis) and the
sticky 3 × 3,000 sharding with per-connection diffs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.market.subscriptions import (
    DeskSubscriptions,
    ShardedSubscriptions,
    parse_tokens,
    read_subscriptions,
)
from core.errors import ValidationError
from tests.fixtures_trading import INFY, SBIN, T0, desk, intent  # noqa: F401

TCS = 2953217


# ------------------------------------------------------------------ sources
def test_empty_trading_store_gives_watchlist_only(desk):  # noqa: F811
    wanted = DeskSubscriptions(lambda: [INFY], desk.svc).wanted(T0)
    assert wanted.modes == {INFY: "full"}
    assert wanted.sources == {"watchlist": 1, "positions": 0, "approvals": 0}


def test_process_without_trading_desk_gives_watchlist_only():
    wanted = DeskSubscriptions(lambda: [INFY, SBIN]).wanted(T0, watchlist_mode="ltp")
    assert wanted.modes == {INFY: "ltp", SBIN: "ltp"}


def test_open_positions_and_pending_approvals_are_subscribed_in_full(desk):  # noqa: F811
    desk.tick(SBIN, 250.0)
    outcome = desk.svc.place_manual(intent(SBIN, "SBIN", qty=10), user="test", now=T0)
    assert outcome.ok, outcome
    desk.svc.propose(intent(TCS, "TCS", qty=1), signal_price="2000", reason="test", ttl_seconds=3600, now=T0)
    subs = DeskSubscriptions(lambda: [INFY], desk.svc)
    wanted = subs.wanted(T0 + timedelta(minutes=1), watchlist={INFY: "ltp", SBIN: "ltp"})
    assert wanted.modes == {INFY: "ltp", SBIN: "full", TCS: "full"}  # the richer mode wins for SBIN
    assert wanted.sources == {"watchlist": 2, "positions": 1, "approvals": 1}


def test_parse_tokens_takes_per_instrument_modes_and_rejects_garbage():
    assert parse_tokens("408065, 884737:ltp,779521:quote") == {408065: "full", 884737: "ltp", 779521: "quote"}
    with pytest.raises(ValidationError, match="'INFY' must be an instrument_token"):
        parse_tokens("INFY")
    with pytest.raises(ValidationError, match="mode 'depth' for instrument 1 is not one of ltp, quote, full"):
        parse_tokens("1:depth")


# ------------------------------------------------------------------ sharding
def test_3001_instruments_take_two_connections_first_full():
    subs = ShardedSubscriptions()
    assert subs.update({t: "full" for t in range(1, 3002)}) == [1]
    assert [len(s.wanted) for s in subs.shards] == [3000, 1]
    assert subs.snapshot()["connections"] == 2 and subs.snapshot()["refused"] == ""


def test_more_than_9000_is_refused_with_message_and_subscriptions_kept():
    subs = ShardedSubscriptions()
    subs.update({t: "full" for t in range(1, 11)})
    subs.on_connected(0)
    with pytest.raises(ValidationError):
        subs.update({t: "full" for t in range(1, 9002)})
    snap = subs.snapshot()
    assert snap["refused"] == ("9,001 instruments requested but Kite streams at most 9,000 per api_key "
                               "(3 connections × 3,000); remove 1 from the watchlists")
    assert snap["requested"] == 9001 and snap["connections"] == 1 and snap["subscribed"] == 10
    subs.update({t: "full" for t in range(1, 12)})  # back under the limit: accepted, message cleared
    assert subs.snapshot()["refused"] == "" and subs.diff(0).subscribe == {"full": [11]}


def test_edits_are_sticky_and_diffed_per_connection_and_mode():
    subs = ShardedSubscriptions(per_connection=3, max_connections=3)
    subs.update({1: "full", 2: "full", 3: "ltp", 4: "quote"})
    assert subs.on_connected(0) == {"ltp": [3], "full": [1, 2]}
    assert subs.on_connected(1) == {"quote": [4]}
    subs.update({2: "ltp", 3: "ltp", 4: "quote", 5: "full", 6: "full"})  # 1 removed, 2 changes mode
    d0, d1 = subs.diff(0), subs.diff(1)
    assert (d0.unsubscribe, d0.subscribe, d0.modes) == ([1], {"full": [5]}, {"ltp": [2]})
    assert (d1.unsubscribe, d1.subscribe, d1.modes) == ([], {"full": [6]}, {})
    assert [sorted(s.wanted) for s in subs.shards] == [[2, 3, 5], [4, 6]]  # 4 never moved
    assert not subs.diff(0) and not subs.diff(1)


def test_reconnect_resubscribes_everything_of_that_connection_per_mode():
    subs = ShardedSubscriptions(per_connection=2, max_connections=3)
    subs.update({1: "full", 2: "ltp", 3: "quote"})
    subs.on_connected(0)
    subs.on_connected(1)
    subs.on_disconnected(0)
    assert not subs.connected and subs.subscribed() == {3}
    subs.update({1: "full", 2: "ltp", 3: "quote", 4: "full"})  # edited while connection 1 is down
    assert not subs.diff(0)  # nothing is sent on a dead socket
    assert subs.on_connected(0) == {"ltp": [2], "full": [1]}
    assert subs.diff(1).subscribe == {"full": [4]}
    assert subs.connected and subs.subscribed() == {1, 2, 3, 4}


def test_read_subscriptions_returns_none_when_missing_or_garbage(redis_url):
    import redis

    r = redis.Redis.from_url(redis_url)
    assert read_subscriptions(r) is None
    r.set("desk:ticker:subscriptions", "not json")
    assert read_subscriptions(r) is None
    r.set("desk:ticker:subscriptions", '{"connections": 2}')
    assert read_subscriptions(r) == {"connections": 2}
    r.close()


def test_streaming_since_lists_only_live_sockets():
    subs = ShardedSubscriptions(per_connection=1, max_connections=3)
    subs.update({1: "full", 2: "full"})
    subs.on_connected(0)
    assert set(subs.streaming_since()) == {1}
