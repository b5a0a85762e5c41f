"""One way to build a Redis client from a URL (``redis://``, ``rediss://`` or ``unix://``)."""

from __future__ import annotations

import redis


def redis_client(url: str) -> redis.Redis:
    """A client with short timeouts, so a dead Redis is reported quickly instead of hanging.

    Raises ``redis.ConnectionError`` on first use when the server is unreachable.
    """
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )
