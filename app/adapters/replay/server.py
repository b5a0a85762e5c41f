"""The replay server application: Starlette app with Kite REST at ``/`` and the ticker at ``/ws``.

Build it with :func:`create_app`; run it with uvicorn (``python -m workers.replay``).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, time
from functools import cached_property

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from app.adapters.replay.adjust import Adjustment
from app.adapters.replay.auth import AuthStore
from app.adapters.replay.clock import ReplayClock
from app.adapters.replay.market import ReplayMarket
from app.adapters.replay.rest import routes as rest_routes
from app.adapters.replay.testing import routes as test_routes
from app.adapters.replay.ws import ticker_endpoint


@dataclass(frozen=True)
class ReplayConfig:
    day: date
    speed: float = 1.0
    start: time = time(9, 15)
    ticks_per_bar: int = 60
    loop: bool = False
    fill_unrecorded: bool = False
    api_key: str = "paperdesk"
    api_secret: str = "paperdesk-replay-secret"
    redirect_url: str | None = None
    max_instruments: int = 3000
    max_connections: int = 3
    test_endpoints: bool = False  # TEST ONLY: enable /_test/* (see app.adapters.replay.testing)
    adjust: tuple[Adjustment, ...] = ()  # adjusted history (--adjust, see app.adapters.replay.adjust)


class ReplayState:
    """What the handlers share: config, market, clock, sessions."""

    def __init__(self, config: ReplayConfig, market: ReplayMarket | None = None) -> None:
        self.config = config
        self.market = market or ReplayMarket(config.day, config.ticks_per_bar, config.fill_unrecorded)
        self.auth = AuthStore(config.api_key, config.api_secret)
        self.clock = ReplayClock(config.day, config.speed, config.start, config.loop)
        self.adjust_by_token = self._adjustments(config.adjust)
        # TEST ONLY hooks (used when config.test_endpoints): queued REST failures, a log of
        # historical request times, and the open ticker connections (for order frames).
        self.fail_next: list[tuple[str, int, str]] = []  # (path prefix, HTTP status, error_type)
        self.request_log: list[tuple[str, float]] = []  # (path, wall time.time())
        self.connections: set = set()

    def _adjustments(self, adjust: tuple[Adjustment, ...]) -> dict[int, Adjustment]:
        out = {}
        for a in adjust:
            token = self.market.instrument_key_token(f"NSE:{a.symbol}")
            if token is None:
                raise ValueError(f"--adjust: NSE:{a.symbol} is not in the replay's instruments dump")
            out[token] = a
        return out

    def restart_clock(self) -> None:
        c = self.config
        self.clock = ReplayClock(c.day, c.speed, c.start, c.loop)

    @cached_property
    def _instruments_csv(self) -> str:
        return self.market.instruments_csv()

    def instruments_csv(self) -> str:
        return self._instruments_csv


def create_app(config: ReplayConfig, market: ReplayMarket | None = None) -> Starlette:
    state = ReplayState(config, market)

    @asynccontextmanager
    async def lifespan(app):
        state.restart_clock()  # the session starts when the server is ready
        yield

    routes = [*rest_routes, WebSocketRoute("/ws", ticker_endpoint)]
    if config.test_endpoints:
        routes += test_routes
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.replay = state
    return app
