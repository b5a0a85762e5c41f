"""The desk's market clock: what time it is *in the market the desk trades*.

With Kite the market is live, so market time is the wall clock. With the replay market it is
a recorded session, so market time is the newest cached tick's ``exchange_timestamp`` plus the
wall time since that tick was received (the ticker's rule). Pages pass it as ``now`` to the
trading service, and the clock process sends it as ``as_of`` to periodic trading actors, so a
replayed 2016 session expires approvals, matches orders and squares off on its own clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic as time_monotonic
from typing import Any

import redis
from sqlalchemy.exc import SQLAlchemyError

from app.adapters.tick_cache import TickCache
from core.errors import StoreUnavailable, TemporaryError
from core.timeutil import IST, UTC

#: Last session of the bundled replay recording (app/data/nse/minute_2016-08-16_2016-09-09.csv.gz):
#: the Chart page's default date in replay mode before any tick has told us the session.
REPLAY_LAST_SESSION = date(2016, 9, 9)

#: Seconds the watched instruments' tokens are reused by the market clock.
WATCHED_TOKENS_TTL_S = 2.0


@dataclass(frozen=True)
class DeskClock:
    """Market time ``now`` (tz-aware), where it came from, and ``offset`` = market − wall.

    ``error`` is set when the tick cache could not be read (market time then falls back to the
    wall clock and ``source`` says so).
    """

    now: datetime
    source: str
    offset: timedelta = timedelta(0)
    error: str | None = None

    def at_wall(self, wall: datetime) -> datetime:
        """Market time at wall time ``wall`` (tz-aware), without reading the cache again."""
        return wall + self.offset


class MarketClock:
    """Reads market time from the tick cache for the instruments the desk watches."""

    def __init__(self, market: str, ticks: TickCache, watched_tokens: Callable[[], list[int]], *,
                 watch_ttl: float = WATCHED_TOKENS_TTL_S,
                 clock: Callable[[], float] = time_monotonic) -> None:
        """``market`` is ``"kite"`` or ``"replay"``; ``watched_tokens()`` returns the tokens to look at
        (a store read: its answer is reused for ``watch_ttl`` seconds, by the monotonic ``clock``)."""
        self._market = market
        self._ticks = ticks
        self._watched_tokens = watched_tokens
        self._watch_ttl = watch_ttl
        self._clock = clock
        self._watched: tuple[float, list[int]] | None = None

    def _tokens(self) -> list[int]:
        """The watched tokens, read again once ``watch_ttl`` seconds old (a read per API request
        or page run would cost more than the clock itself; a watchlist edit shows within it)."""
        memo, now = self._watched, self._clock()
        if memo is not None and now - memo[0] < self._watch_ttl:
            return memo[1]
        tokens = list(self._watched_tokens())
        self._watched = (now, tokens)
        return tokens

    def now(self, wall: datetime | None = None) -> DeskClock:
        """Market time at ``wall`` (default: the wall clock now). Never raises for a dead Redis."""
        wall = wall or datetime.now(UTC)
        if self._market == "kite":
            return DeskClock(wall, "wall clock (Kite, live)")
        try:
            latest = self._ticks.latest(self._tokens())
        except (TemporaryError, redis.RedisError, SQLAlchemyError) as exc:  # Cache-/StoreUnavailable…
            what = "store" if isinstance(exc, (SQLAlchemyError, StoreUnavailable)) else "tick cache"
            return DeskClock(wall, f"wall clock ({what} unavailable)", error=str(exc).splitlines()[0][:300])
        best: datetime | None = None
        for cached in latest.values():
            ts = cached.tick.exchange_timestamp
            if ts is None:
                continue
            candidate = ts + max(wall - cached.received_at, timedelta(0))
            best = candidate if best is None or candidate > best else best
        if best is None:
            return DeskClock(wall, "wall clock (no replay ticks yet)")
        return DeskClock(best, "replay (latest tick's exchange time)", offset=best - wall)


def last_sessions(calendar: Any, market_now: datetime, sessions: int = 4) -> tuple[date, date]:
    """``(last, first)``: the last NSE session that had closed by ``market_now`` (15:30 IST) and
    the first of the ``sessions`` sessions ending there — the default range of a backtest, so it
    never reaches past market time. ``calendar`` has ``is_trading_day``/``previous_trading_day``."""
    now = market_now.astimezone(IST)
    last = now.date()
    if not calendar.is_trading_day(last) or now.time() < time(15, 30):
        last = calendar.previous_trading_day(last)
    first = last
    for _ in range(max(sessions, 1) - 1):
        first = calendar.previous_trading_day(first)
    return last, first


def read_time(reading: DeskClock, market: str, replay_session: date) -> datetime:
    """The bound of market-data reads: market time, except that a replay market with no tick
    yet is at its session's open (09:15 IST of ``replay_session``), not at today's wall clock,
    so pages and scans show the replayed world even before the first tick arrives."""
    if market == "replay" and not reading.source.startswith("replay"):
        return datetime.combine(replay_session, time(9, 15), IST)
    return reading.now
