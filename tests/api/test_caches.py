"""The API's per-request caches: verified API keys (a revocation still reaches every process:
at once through the Redis notice, within ``AUTH_CACHE_S`` without it) and the quote's circuit
limits (kept per market day: another day asks Kite again and never falls back to yesterday's).
Real SQLite store, real Redis, the replay server through the real kiteconnect client."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.adapters.api_key_store import ApiKeyStore
from app.adapters.store.sql import make_engine
from app.ops.api_keys import AUTH_CACHE_S, REVOKED_PREFIX, ApiKeyRefused, ApiKeyService
from core.errors import TemporaryError

NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


@pytest.fixture()
def two_processes(tmp_path, redis_url):
    """Two key services on one store and one Redis, as two uvicorn workers hold them, each with
    its own clock ``t`` (monotonic seconds) the test moves."""
    import redis

    engine = make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    client = redis.Redis.from_url(redis_url)
    t = [100.0]
    services = [ApiKeyService(ApiKeyStore(engine), client, clock=lambda: t[0]) for _ in range(2)]
    yield services, t, client, engine
    client.close()
    engine.dispose()


def _count_key_reads(engine) -> list[int]:
    from sqlalchemy import event

    reads = [0]

    def count(_conn, _cursor, statement, *_a) -> None:
        reads[0] += statement.lstrip().lower().startswith("select") and "api_keys" in statement

    event.listen(engine, "before_cursor_execute", count)
    return reads


def test_a_verified_key_is_not_read_from_the_store_again_within_the_cache_time(two_processes):
    (api, _), t, _client, engine = two_processes
    token = api.create("alice", ("read",), now=NOW).token
    reads = _count_key_reads(engine)
    assert api.authenticate(token, now=NOW).username == "alice"
    for _ in range(20):
        api.authenticate(token, now=NOW)
    assert reads[0] == 1
    t[0] += AUTH_CACHE_S
    api.authenticate(token, now=NOW)
    assert reads[0] == 2
    with pytest.raises(ApiKeyRefused) as bad:  # a wrong secret for a remembered key id is never let in
        api.authenticate(token[:-4] + "AAAA", now=NOW)
    assert bad.value.reason == "unknown"


def test_revocation_in_another_process_reaches_a_remembered_key_at_once(two_processes):
    (api, settings_page), _t, client, _engine = two_processes
    token = api.create("alice", ("read",), now=NOW).token
    api.authenticate(token, now=NOW)  # remembered by the api process
    assert settings_page.revoke("alice", token.split("_")[1], now=NOW)
    assert client.exists(REVOKED_PREFIX + token.split("_")[1])
    with pytest.raises(ApiKeyRefused) as refused:
        api.authenticate(token, now=NOW)
    assert refused.value.reason == "revoked"


def test_without_the_redis_notice_a_revocation_takes_effect_within_the_cache_time(two_processes):
    """The documented bound: a revocation whose Redis notice was lost (Redis down while
    revoking) is refused by every process within ``AUTH_CACHE_S`` seconds."""
    (api, settings_page), t, client, _engine = two_processes
    token = api.create("alice", ("read",), now=NOW).token
    key_id = token.split("_")[1]
    api.authenticate(token, now=NOW)
    assert settings_page.revoke("alice", key_id, now=NOW)
    client.delete(REVOKED_PREFIX + key_id)  # the notice lost
    t[0] += AUTH_CACHE_S - 0.5
    assert api.authenticate(token, now=NOW).key_id == key_id  # still remembered: at most AUTH_CACHE_S
    t[0] += 0.5
    with pytest.raises(ApiKeyRefused) as refused:
        api.authenticate(token, now=NOW)
    assert refused.value.reason == "revoked"
    assert AUTH_CACHE_S <= 5.0  # "a few seconds", as docs/api.md and the module say


def test_revoked_key_is_refused_by_the_running_api_at_once(api):
    """End to end: the api process remembers the key, the Settings page's service (this test
    process) revokes it, the very next request is 401."""
    token = api.key("read", user="cache-test")
    with api.as_key(token) as c:
        for _ in range(3):
            assert c.get("/funds").status_code == 200
        assert api.svc.api_keys.revoke("cache-test", token.split("_")[1], now=datetime.now(UTC))
        r = c.get("/funds")
        assert r.status_code == 401 and r.json()["error"]["code"] == "key_revoked"


RELIANCE, NIFTY = 738561, 256265


def _circuit_limits(replay_server, redis_url, **clocks):
    """The desk's ``QuoteCircuitLimits`` on the replay's /quote (real kiteconnect) and the real
    ``KITE_QUOTE`` limiter, for RELIANCE and NIFTY 50 (an index: no limits), ttl 60 s."""
    import redis

    from app.adapters.rate_limit import KITE_QUOTE, RedisRateLimiter
    from app.market.circuit_limits import QuoteCircuitLimits

    kite = replay_server.kite()
    keys = {RELIANCE: "NSE:RELIANCE", NIFTY: "NSE:NIFTY 50"}
    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url), KITE_QUOTE)
    return QuoteCircuitLimits(lambda: kite, keys.__getitem__, limiter, ttl=60.0, acquire_timeout=5.0,
                              **clocks)


def test_circuit_limits_are_kept_per_market_day(replay_server, redis_url):
    """Within a day an answer is reused for ttl and a failure falls back to that day's answer;
    on another day Kite is asked again and yesterday's limits are never the fallback."""
    t, day = [0.0], [date(2016, 8, 17)]
    limits = _circuit_limits(replay_server, redis_url, clock=lambda: t[0], today=lambda: day[0])
    first = limits(RELIANCE)
    assert first is not None and first[0] < first[1]
    assert limits(RELIANCE) == first and limits.calls == 1
    day[0] = date(2016, 8, 18)  # the next day, well within ttl: asked again
    assert limits(RELIANCE) is not None and limits.calls == 2

    def kite_down():
        raise TemporaryError("Kite down")

    limits.kite = kite_down
    t[0] += 61.0
    assert limits(RELIANCE) is not None  # the same day's last answer
    day[0] = date(2016, 8, 19)
    assert limits(RELIANCE) is None  # not the 18th's: the desk falls back to the dynamic range


def test_one_quote_call_refreshes_every_expired_instrument_of_the_day(replay_server, redis_url):
    t = [0.0]
    limits = _circuit_limits(replay_server, redis_url, clock=lambda: t[0], today=lambda: date(2016, 8, 17))
    assert limits(RELIANCE) is not None and limits(NIFTY) is None and limits.calls == 2
    t[0] += 61.0
    assert limits(RELIANCE) is not None and limits.calls == 3
    assert limits(NIFTY) is None and limits.calls == 3  # refreshed by the same call
