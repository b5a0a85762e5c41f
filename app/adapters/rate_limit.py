"""A Redis-backed sliding-window rate limiter shared by every process (web, workers, ticker).

Kite's REST limits (``../shared/docs/indian-market.md`` §5; kite.trade forum comment 52882):
historical 3 requests/second, quote 1 request/second, other endpoints 10/second; beyond them
Kite answers HTTP 429. The limits are per api_key, so every process that calls Kite must
share one budget: the window lives in Redis and one Lua script (atomic on the server, timed by
Redis ``TIME`` so client clocks do not matter) decides each permit. In any window of
``period`` seconds at most ``limit`` permits are granted.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from app.adapters.redis_client import redis_errors
from core.errors import TemporaryError, ValidationError

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class RateLimitTimeout(TemporaryError):
    """No permit within the timeout: the shared budget is exhausted by other processes (retry later)."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``limit`` requests per ``period`` seconds under Redis key ``desk:ratelimit:<name>``."""

    name: str
    limit: int
    period: float = 1.0

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.period <= 0:
            raise ValidationError(f"rate limit {self.name!r} needs limit > 0 and period > 0 seconds")


#: Permits are granted by Redis time but reach Kite after a variable network delay; a 5 % longer
#: window keeps Kite's own 1-second count under its limit despite that jitter.
JITTER_MARGIN = 1.05
#: Kite's historical-candles limit: 3 requests/second per api_key.
KITE_HISTORICAL = RateLimit("kite:historical", 3, 1.0 * JITTER_MARGIN)
#: Kite's quote limit: 1 request/second per api_key (``/quote``, up to 500 instruments each).
KITE_QUOTE = RateLimit("kite:quote", 1, 1.0 * JITTER_MARGIN)


class RedisRateLimiter:
    """Blocking permits for one :class:`RateLimit`, shared through Redis.

    ``acquire(timeout)`` waits (sleeping exactly as long as the window says) and returns the
    seconds waited; it raises :class:`RateLimitTimeout` after ``timeout`` seconds and
    ``RedisUnavailable`` if Redis is unreachable (both ``TemporaryError``).
    """

    def __init__(self, redis_client, rate: RateLimit, prefix: str = "desk:ratelimit:") -> None:
        self._redis = redis_client
        self.rate = rate
        self.key = prefix + rate.name
        self._script = redis_client.register_script(_SCRIPT)

    def try_acquire(self) -> float:
        """Take a permit if one is free: 0.0; else the seconds until one may be (nothing taken)."""
        with redis_errors(self._redis, f"rate limit {self.rate.name}"):
            return self.wait_of(self.queue(self._redis))

    def queue(self, client) -> object:
        """Ask for one permit on ``client``: the Redis client (the answer) or a pipeline of it
        (the answer comes with the pipeline's results): give it to :meth:`wait_of`. Lets a
        caller take a permit in the same round trip as its other Redis reads."""
        window_us = int(self.rate.period * 1_000_000)
        args = [self.rate.limit, window_us, uuid.uuid4().hex]
        return self._script(keys=[self.key], args=args, client=client)

    @staticmethod
    def wait_of(answer: object) -> float:
        """The permit :meth:`queue` asked for: 0.0 granted, else the seconds until one may be."""
        return int(answer) / 1_000_000

    def acquire(self, timeout: float = 30.0) -> float:
        start = time.monotonic()
        deadline = start + timeout
        while True:
            wait = self.try_acquire()
            if wait == 0:
                return time.monotonic() - start
            now = time.monotonic()
            if now + wait > deadline + 1e-3:
                if now < deadline:
                    time.sleep(max(0.0, deadline - now))
                raise RateLimitTimeout(
                    f"no {self.rate.name} permit within {timeout:.1f}s ({self.rate.limit} per "
                    f"{self.rate.period:g}s shared by all processes); try again later")
            time.sleep(wait)
