"""app.adapters.kite_session against the real replay server and a real Redis."""

from __future__ import annotations

import json

import pytest
import redis

from app.adapters.kite_session import (SESSION_KEY, KiteLoginRequired, ensure_access_token, kite_client,
                                       market_roots)
from app.settings import Settings


def replay_settings(server) -> Settings:
    return Settings(replay_host="127.0.0.1", replay_port=server.port, replay_api_key=server.api_key,
                    replay_api_secret=server.api_secret, kite_api_key=None)


def test_market_roots_for_replay_and_real_kite(replay_server):
    assert market_roots(replay_settings(replay_server)) == (replay_server.rest_root, replay_server.ws_root)
    assert market_roots(Settings(kite_api_key="real")) == (None, None)


def test_replay_login_is_automatic_and_stored(replay_server, redis_url):
    r = redis.Redis.from_url(redis_url)
    settings = replay_settings(replay_server)
    token = ensure_access_token(settings, r)
    stored = json.loads(r.get(SESSION_KEY))
    assert stored["access_token"] == token and stored["api_key"] == replay_server.api_key
    assert ensure_access_token(settings, r) == token  # reused while valid
    assert kite_client(settings, r).profile()["user_id"] == stored["user_id"]


def test_stale_stored_token_is_replaced(replay_server, redis_url):
    r = redis.Redis.from_url(redis_url)
    settings = replay_settings(replay_server)
    r.set(SESSION_KEY, json.dumps({"api_key": replay_server.api_key, "access_token": "stale", "user_id": "x",
                                   "login_time": "2026-01-01T00:00:00+00:00",
                                   "expires_at": "2999-01-01T00:00:00+00:00"}))
    token = ensure_access_token(settings, r)
    assert token != "stale" and json.loads(r.get(SESSION_KEY))["access_token"] == token


def test_real_kite_without_session_says_to_log_in(redis_url):
    r = redis.Redis.from_url(redis_url)
    with pytest.raises(KiteLoginRequired, match="Settings"):
        ensure_access_token(Settings(kite_api_key="real-key"), r)
