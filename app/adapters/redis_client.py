"""One way to build a Redis client from a URL (``redis://``, ``rediss://`` or ``unix://``), and
one translation of Redis's connection errors into the desk's, shared by every Redis adapter
(tick cache, rate limiter, Kite session store).

redis-py raises ``redis.exceptions.ConnectionError`` / ``TimeoutError`` when the server is
down or slow; :func:`redis_errors` turns them into ``core.errors.RedisUnavailable`` (a
``TemporaryError``: actors retry it, pages say "try again") naming the server, never its
password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from core.errors import RedisUnavailable

#: The redis-py errors that mean "Redis is unreachable for now".
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def redis_client(url: str) -> redis.Redis:
    """A client with short timeouts, so a dead Redis is reported quickly instead of hanging.

    redis-py connects on first use; the adapters translate a failure there into
    ``RedisUnavailable`` (:func:`redis_errors`).
    """
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )


def redis_where(client: redis.Redis) -> str:
    """``redis://host:port/db`` or ``unix://path`` of ``client`` (no password)."""
    kw = client.connection_pool.connection_kwargs
    if kw.get("path"):
        return f"unix://{kw['path']}"
    return f"redis://{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"


def unavailable(client: redis.Redis, what: str, exc: BaseException,
                cls: type[RedisUnavailable] = RedisUnavailable) -> RedisUnavailable:
    """The desk error for a Redis connection failure ``exc`` while doing ``what``."""
    return cls(f"{what} unavailable: cannot reach Redis at {redis_where(client)} ({exc}). "
               "Start redis-server or set REDIS_URL to a reachable server.")


@contextmanager
def redis_errors(client: redis.Redis, what: str,
                 cls: type[RedisUnavailable] = RedisUnavailable) -> Iterator[None]:
    """Re-raise Redis connection errors inside the block as ``cls`` (a ``RedisUnavailable``)."""
    try:
        yield
    except REDIS_DOWN as exc:
        raise unavailable(client, what, exc, cls) from exc
