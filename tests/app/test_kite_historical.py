"""Historical fetch within Kite's limits: shared Redis rate limiter (two real processes),
windows per interval, retries on 429/5xx — the real kiteconnect client against the replay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis

from app.adapters.kite_historical import HistoricalClient, HistoricalUnavailable, SessionKite
from app.adapters.rate_limit import KITE_HISTORICAL, RateLimit, RateLimitTimeout, RedisRateLimiter
from app.adapters.kite_historical import KITE_MAX_DAYS
from core.errors import ValidationError
from core.timeutil import IST
from tests.kite_fixtures import inject_failures, kite_replay, requests_log, settings_for  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
HIST = "/instruments/historical"
DAY = datetime(2016, 8, 16, 9, 15, tzinfo=IST)


@pytest.fixture()
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture()
def infy(kite_replay) -> int:
    return kite_replay.kite().ltp(["NSE:INFY"])["NSE:INFY"]["instrument_token"]


def _client(server, r, rate=RateLimit("test:hist", 50, 1.0), **kw) -> HistoricalClient:
    return HistoricalClient(SessionKite(settings_for(server), r), RedisRateLimiter(r, rate), **kw)


def _since(server, t0: float) -> list[tuple[str, float]]:
    return [(p, t) for p, t in requests_log(server, HIST) if t >= t0]


def _max_in_any_window(times: list[float], width: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


# ------------------------------------------------------------------ limiter
def test_limiter_grants_3_per_second_then_waits(r):
    lim = RedisRateLimiter(r, RateLimit("test:unit", 3, 1.0))
    stamps = []
    t0 = time.monotonic()
    for _ in range(7):
        lim.acquire(5)
        stamps.append(time.monotonic() - t0)
    assert stamps[2] < 0.2 and stamps[3] >= 0.99 and stamps[6] >= 1.99
    assert _max_in_any_window(stamps, 0.99) <= 3


def test_limiter_timeout_raises_clear_message(r):
    lim = RedisRateLimiter(r, RateLimit("test:timeout", 1, 10.0))
    lim.acquire(1)
    with pytest.raises(RateLimitTimeout, match=r"no test:timeout permit within 0.2s \(1 per 10s"):
        lim.acquire(0.2)


def test_limiter_holds_3_per_second_across_two_worker_processes(kite_replay, redis_url, infy, tmp_path):
    env = dict(os.environ, REDIS_URL=redis_url, DESK_REPLAY_PORT=str(kite_replay.port),
               DESK_REPLAY_API_KEY=kite_replay.api_key, DESK_REPLAY_API_SECRET=kite_replay.api_secret,
               DESK_STATE_DIR=str(tmp_path / "state"), DATABASE_URL=f"sqlite:///{tmp_path / 'desk.db'}",
               PYTHONPATH=str(ROOT))
    env.pop("KITE_API_KEY", None)
    t0 = time.time()
    procs = [subprocess.Popen([sys.executable, "-m", "tests.workers.hist_worker", "6", str(infy)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    times = [t for _, t in _since(kite_replay, t0)]
    assert len(times) == 12
    # 12 requests at 3/s: the server never saw more than 3 in any second. Permits are granted
    # 1 s apart; arrival at the server jitters by the request's own latency (tens of ms on a
    # loaded machine), so the window allows 50 ms of it.
    assert _max_in_any_window(times, 0.95) <= 3, sorted(round(t - t0, 3) for t in times)
    assert max(times) - min(times) >= 2.9
    # and the Redis window itself never granted 4 in a second
    assert r_key_empty_or_small(redis_url)


def r_key_empty_or_small(redis_url) -> bool:
    client = redis.Redis.from_url(redis_url)
    try:
        return client.zcard("desk:ratelimit:" + KITE_HISTORICAL.name) <= 3
    finally:
        client.close()


# ------------------------------------------------------------------ windows
@pytest.mark.parametrize("interval", list(KITE_MAX_DAYS))
def test_fetch_splits_range_into_kite_windows_for_each_interval(kite_replay, r, infy, interval):
    limit = KITE_MAX_DAYS[interval]
    end = datetime(2016, 8, 17, 15, 30, tzinfo=IST)
    start = end - timedelta(days=2 * limit + 1)
    t0 = time.time()
    rows = _client(kite_replay, r).fetch(infy, start, end, interval)
    seen = [p for p, _ in _since(kite_replay, t0)]
    assert len(seen) == 3 and all(f"/{infy}/{interval}" in p for p in seen)
    spans = []
    for p in seen:
        q = parse_qs(urlsplit(p).query)
        frm = datetime.strptime(q["from"][0], "%Y-%m-%d %H:%M:%S")
        to = datetime.strptime(q["to"][0], "%Y-%m-%d %H:%M:%S")
        assert to - frm < timedelta(days=limit)
        spans.append((frm, to))
    assert spans[0][0] == start.replace(tzinfo=None) and spans[-1][1] == end.replace(tzinfo=None)
    assert all(b[0] - a[1] == timedelta(seconds=1) for a, b in zip(spans, spans[1:]))
    assert rows and all(start <= row["date"] <= end for row in rows)


def test_single_window_beyond_kite_limit_is_refused_before_any_request(kite_replay, r, infy):
    t0 = time.time()
    with pytest.raises(ValidationError, match=r"minute data spans at most 60 days per request"):
        _client(kite_replay, r).fetch_window(infy, DAY - timedelta(days=61), DAY, "minute")
    assert _since(kite_replay, t0) == []


@pytest.mark.parametrize("interval", ["2minute", "week", "1d", ""])
def test_interval_kite_does_not_offer_is_refused_with_the_valid_list(kite_replay, r, infy, interval):
    with pytest.raises(ValidationError, match="Kite does not offer interval .* use one of minute, 3minute"):
        _client(kite_replay, r).fetch(infy, DAY, DAY + timedelta(hours=1), interval)


def test_unknown_token_is_a_validation_error_not_retried(kite_replay, r):
    c = _client(kite_replay, r)
    with pytest.raises(ValidationError, match="Kite refused historical minute for instrument 999999"):
        c.fetch_window(999999, DAY, DAY + timedelta(minutes=5), "minute")
    assert c.retried == 0


# ------------------------------------------------------------------ retries
def test_retry_on_429_then_success(kite_replay, r, infy):
    inject_failures(kite_replay, HIST, 429, count=2)
    delays = []
    c = _client(kite_replay, r, backoff=0.01, sleep=lambda s: (delays.append(s), time.sleep(s)))
    t0 = time.time()
    rows = c.fetch_window(infy, DAY, DAY + timedelta(minutes=4), "minute")
    assert [row["date"].astimezone(IST).strftime("%H:%M") for row in rows] == ["09:15", "09:16", "09:17", "09:18", "09:19"]
    assert c.retried == 2 and delays == [0.01, 0.02]
    assert len(_since(kite_replay, t0)) == 3


@pytest.mark.parametrize("status", [500, 502, 503])
def test_retry_on_5xx_then_success(kite_replay, r, infy, status):
    inject_failures(kite_replay, HIST, status, count=1)
    c = _client(kite_replay, r, backoff=0.01)
    assert c.fetch_window(infy, DAY, DAY + timedelta(minutes=1), "minute")
    assert c.retried == 1


def test_persistent_429_gives_up_with_clear_message(kite_replay, r, infy):
    inject_failures(kite_replay, HIST, 429, count=3)
    c = _client(kite_replay, r, retries=2, backoff=0.01)
    with pytest.raises(HistoricalUnavailable, match=r"failed 3 times \(NetworkException 429\)"):
        c.fetch_window(infy, DAY, DAY + timedelta(minutes=1), "minute")


def test_continuous_and_oi_flags_pass_through(kite_replay, r, infy):
    t0 = time.time()
    rows = _client(kite_replay, r).fetch_window(infy, DAY, DAY + timedelta(minutes=2), "minute", continuous=True,
                                                oi=True)
    q = parse_qs(urlsplit(_since(kite_replay, t0)[0][0]).query)
    assert q["continuous"] == ["1"] and q["oi"] == ["1"]
    assert rows and "oi" in rows[0]
