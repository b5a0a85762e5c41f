"""The ticker process follows the Kite session without a restart (real KiteTicker subprocess,
real replay server, real Redis): a refused token stops it cleanly, a new login resumes it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import redis
from kiteconnect import KiteConnect

from app.adapters.kite_session import SESSION_KEY, store_session
from tests.kite_fixtures import kite_replay, send_order_update  # noqa: F401
from tests.workers.test_ticker import cache, start_ticker, stop, wait_for  # noqa: F401

TICKER_SESSION_KEY = "desk:ticker:session"


def _state(r) -> str | None:
    raw = r.get(TICKER_SESSION_KEY)
    return json.loads(raw)["state"] if raw else None


def test_invalidated_token_pauses_ticker_and_new_login_resumes_it_without_restart(
        tmp_path, redis_url, cache, kite_replay):
    r = redis.Redis.from_url(redis_url)
    kite = kite_replay.kite()
    infy = kite.ltp(["NSE:INFY"])["NSE:INFY"]["instrument_token"]
    first = kite_replay.login()
    store_session(r, kite_replay.api_key, first, "PD0001")
    proc, log = start_ticker(tmp_path, redis_url, kite_replay.port, "--tokens", str(infy), "--no-auto-login")
    second = None
    try:
        wait_for(lambda: infy in cache.latest([infy]), 45, "first ticks", proc, log)
        assert _state(r) == "active"

        # order/error text frames are handled and logged (paper mode never places orders)
        assert send_order_update(kite_replay, {"order_id": "151220000000000", "status": "COMPLETE",
                                               "tradingsymbol": "INFY"}) >= 1
        wait_for(lambda: "order update" in log.read_text() and "151220000000000" in log.read_text(), 10,
                 "the order update in the log", proc, log)

        # logout at Kite (DELETE /session/token): the market ends the socket and refuses the token
        KiteConnect(kite_replay.api_key, access_token=first, root=kite_replay.rest_root).invalidate_access_token(first)
        wait_for(lambda: _state(r) == "expired", 20, "ticker to report the expired session", proc, log)
        wait_for(lambda: not cache.status().connected, 10, "ticker disconnected", proc, log)
        stored = json.loads(r.get(SESSION_KEY))
        assert stored["status"] == "expired" and stored["access_token"] == ""
        assert proc.poll() is None  # still running, waiting for a login

        # the daily login stores a new token; the same process resumes
        paused_at = datetime.now(UTC)
        second = kite_replay.login()
        store_session(r, kite_replay.api_key, second, "PD0001")
        wait_for(lambda: _state(r) == "active", 15, "ticker to pick up the new session", proc, log)
        wait_for(lambda: infy in cache.latest([infy]) and cache.latest([infy])[infy].received_at > paused_at, 30,
                 "ticks after the new login", proc, log)
        assert cache.status().connected and proc.poll() is None
    finally:
        code = stop(proc)
    assert code == 0
    text = log.read_text()
    for secret in (first, second, kite_replay.api_secret):
        assert secret and secret not in text, "a token or secret reached the ticker log"
