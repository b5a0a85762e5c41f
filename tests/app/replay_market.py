"""A real market for consumer tests: a replay server of a later session and a
``MarketDataService`` on a store, with a pinned market clock (the pattern of
``tests/app/test_market_reads.py``).

The replay server's historical endpoint serves every recorded 1-minute bar of the sessions
before its date (and daily bars dated before it), so a server of 2016-08-25 serves the whole of
2016-08-24. Consumers read those bars only through the service (backfilled into the store).
"""

from __future__ import annotations

from datetime import datetime

from app.adapters.kite_historical import historical_client
from app.adapters.redis_client import redis_client
from app.market.history import MarketDataService
from app.market.instruments import InstrumentService
from core.models import Bar
from tests.app.test_market_data import replay_settings
from tests.fixtures_replay import ReplayServer


class Pinned:
    """A market clock pinned at ``when`` (tz-aware); tests move it by assigning ``when``."""

    def __init__(self, when: datetime) -> None:
        self.when = when

    def __call__(self) -> datetime:
        return self.when


def market_on(store, server: ReplayServer, redis_url: str, clock: Pinned) -> MarketDataService:
    """The market-data service on ``store`` (instruments already seeded) and ``server``."""
    settings = replay_settings(server, redis_url)
    return MarketDataService(store, InstrumentService(store), historical_client(settings, redis_client(redis_url)),
                             clock=clock)


def minute_bars(token: int, start: datetime, closes: list[float], volume: int = 1000) -> list[Bar]:
    """Synthetic 1-minute bars from ``start`` (one a minute), OHLC all equal to each close."""
    from datetime import timedelta

    return [Bar(token, "minute", start + timedelta(minutes=i), c, c, c, c, volume) for i, c in enumerate(closes)]


def use_replay(monkeypatch, server: ReplayServer) -> None:
    """Point the container's market (``DESK_REPLAY_*``) at ``server`` for one test."""
    monkeypatch.setenv("DESK_REPLAY_HOST", server.host)
    monkeypatch.setenv("DESK_REPLAY_PORT", str(server.port))
    monkeypatch.setenv("DESK_REPLAY_API_KEY", server.api_key)
    monkeypatch.setenv("DESK_REPLAY_API_SECRET", server.api_secret)
