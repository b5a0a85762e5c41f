"""``python -m workers.ticker`` at scale, as a subprocess against the real replay server, a real
Redis and a SQLite store: sharding over several KiteTicker connections in one reactor, the
9,000 refusal, positions/approvals as subscription sources, the stale-tick quote fallback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import redis

from app.adapters.nse_data import load_instruments
from app.market.subscriptions import SUBSCRIPTIONS_KEY
from tests.fixtures_trading import T0, intent, make_desk
from tests.kite_fixtures import requests_log
from tests.workers.test_ticker import cache, start_ticker, stop, wait_for  # noqa: F401

INFY, SBIN, TCS = 408065, 779521, 2953217


def _report(r) -> dict:
    raw = r.get(SUBSCRIPTIONS_KEY)
    return json.loads(raw) if raw else {}


@pytest.fixture()
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _nse_tokens(n: int) -> list[int]:
    df = load_instruments()
    return sorted(int(t) for t in df.loc[df["segment"] == "NSE", "instrument_token"])[:n]


def test_3001_instruments_stream_over_two_connections_with_per_instrument_mode(
        tmp_path, redis_url, r, cache, replay_factory):
    # one tick per instrument every 15 s (speed 1, 4 ticks per bar) keeps the load small
    server = replay_factory("2016-08-17", 1, "--fill-unrecorded", "--ticks-per-bar", "4")
    tokens = _nse_tokens(3001)
    spec = ",".join([f"{tokens[0]}:ltp", *map(str, tokens[1:])])
    proc, log = start_ticker(tmp_path, redis_url, server.port, "--tokens", spec, "--stale-after", "0")
    try:
        rep = wait_for(lambda: (x := _report(r)) and x.get("connected") == 2 and x, 60,
                       "two connected connections", proc, log)
        assert rep["connections"] == 2 and rep["subscribed"] == 3001 and rep["refused"] == ""
        assert [(s["wanted"], s["subscribed"]) for s in rep["shards"]] == [(3000, 3000), (1, 1)]
        assert rep["shards"][0]["modes"] == {"ltp": 1, "full": 2999}
        last = tokens[-1]  # the only instrument on the second connection
        wait_for(lambda: last in cache.latest([last]) and tokens[0] in cache.latest([tokens[0]]), 30,
                 "ticks from both connections", proc, log)
        assert cache.latest([tokens[0]])[tokens[0]].tick.mode == "ltp"
        wait_for(lambda: cache.latest([last])[last].tick.mode == "full", 20, "full mode on connection 2", proc, log)
        status = cache.status()
        assert status.connected and status.subscribed == 3001
        assert "opened 2 connection(s)" in log.read_text()
    finally:
        code = stop(proc)
    assert code == 0, log.read_text()[-3000:]


def test_more_than_9000_instruments_are_refused_with_a_message_in_the_status(
        tmp_path, redis_url, r, cache, replay_factory):
    server = replay_factory("2016-08-17", 60)
    proc, log = start_ticker(tmp_path, redis_url, server.port, "--tokens", ",".join(map(str, range(1, 9002))),
                             "--stale-after", "0")
    try:
        rep = wait_for(lambda: (x := _report(r)) and x.get("connected") == 1 and x, 45, "the report", proc, log)
        assert rep["refused"] == ("9,001 instruments requested but Kite streams at most 9,000 per api_key "
                                  "(3 connections × 3,000); remove 1 from the watchlists")
        assert rep["requested"] == 9001 and rep["subscribed"] == 0 and rep["connections"] == 1
        assert proc.poll() is None and cache.status().connected
        assert log.read_text().count("subscriptions not changed: 9,001 instruments") == 1  # logged once
    finally:
        code = stop(proc)
    assert code == 0


def test_open_positions_and_pending_approvals_are_streamed_and_follow_edits(
        tmp_path, redis_url, r, cache, replay_factory):
    server = replay_factory("2016-08-17", 60)
    desk = make_desk(f"sqlite:///{tmp_path / 'desk.db'}", redis_url)  # the ticker's store (start_ticker)
    desk.tick(SBIN, 250.0)
    assert desk.svc.place_manual(intent(SBIN, "SBIN", qty=10), user="test", now=T0).ok
    approval = desk.svc.propose(intent(TCS, "TCS", qty=1), signal_price="2000", reason="test",
                                ttl_seconds=24 * 3600, now=datetime.now(UTC))
    r.hdel("desk:ticks:latest", SBIN)  # forget the test's own tick: only the feed may bring one
    started = datetime.now(UTC)
    proc, log = start_ticker(tmp_path, redis_url, server.port, "--stale-after", "0", watchlist=["NSE:INFY"])
    try:
        rep = wait_for(lambda: (x := _report(r)) and x.get("subscribed") == 3 and x, 45, "3 subscriptions",
                       proc, log)
        assert rep["sources"] == {"watchlist": 1, "positions": 1, "approvals": 1}
        wait_for(lambda: all(t in (x := cache.latest([INFY, SBIN, TCS])) and x[t].received_at > started
                             for t in (INFY, SBIN, TCS)), 30, "feed ticks for watchlist, position, approval",
                 proc, log)
        assert cache.latest([TCS])[TCS].tick.mode == "full"
        desk.svc.reject(approval.approval_id, user="test", reason="no", now=datetime.now(UTC))
        wait_for(lambda: _report(r).get("subscribed") == 2 and _report(r)["sources"]["approvals"] == 0, 20,
                 "the rejected approval unsubscribed", proc, log)
    finally:
        code = stop(proc)
        desk.sql.dispose()
    assert code == 0, log.read_text()[-3000:]


def test_stale_instrument_gets_a_quote_tick_while_connected(tmp_path, redis_url, r, cache, replay_factory):
    # the session closes a second after the start: the feed then sends heartbeats only
    server = replay_factory("2016-08-17", 60, "--start", "15:29", "--test-endpoints")
    proc, log = start_ticker(tmp_path, redis_url, server.port, "--tokens", f"{INFY},{TCS}",
                             "--stale-after", "2", "--stale-check", "0.5")
    try:
        wait_for(lambda: len(cache.latest([INFY, TCS])) == 2, 45, "the subscribe snapshots", proc, log)
        fed = cache.latest([INFY])[INFY]
        assert fed.tick.mode == "full" and fed.tick.exchange_timestamp is not None
        quoted = wait_for(lambda: (x := cache.latest([INFY, TCS])) and all(v.tick.mode == "quote" for v in x.values())
                          and x, 20, "quote-fallback ticks", proc, log)
        assert quoted[INFY].received_at > fed.received_at
        calls = [p for p, _ in requests_log(server, "/quote") if p.startswith("/quote?")]
        assert calls and all(p.count("i=") == 2 for p in calls)  # both stale instruments in one call
        quote = server.kite().quote(["NSE:INFY"])["NSE:INFY"]
        assert quoted[INFY].tick.last_price == quote["last_price"]
        assert cache.status().connected
        wait_for(lambda: (_report(r).get("fallback") or {}).get("written", 0) >= 2, 10, "fallback stats", proc, log)
        assert "stale-tick fallback: 2 instrument(s) refreshed from /quote" in log.read_text()
    finally:
        code = stop(proc)
    assert code == 0, log.read_text()[-3000:]
