"""Warm the store with recent history for the watchlist, so charts and scans have context.

When the desk starts, the Chart page would otherwise show only the bars the ticker has built
since it connected. The clock process calls ``warm_up_history`` once, as soon as the market
time is known (with the replay market that is the first replayed tick): it queues one backfill
job per watchlist instrument for the last ``minute_sessions`` sessions of 1-minute candles and
``daily_days`` days of daily candles. Job ids are deterministic per (market day, interval,
instrument), so a restarted clock does not queue the same work again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Protocol

from app.market.clock import DeskClock
from core.timeutil import IST

log = logging.getLogger(__name__)


class _Calendar(Protocol):
    def previous_trading_day(self, day): ...


class _Queue(Protocol):
    def enqueue_backfill(self, key, interval, start, end, job_id=None) -> str: ...


def warm_up_history(queue: _Queue, keys: Iterable[str], calendar: _Calendar, market_now: datetime,
                    minute_sessions: int = 5, daily_days: int = 400) -> list[str]:
    """Queue the backfills described in the module docstring; return the job ids.

    ``market_now`` is tz-aware market time. Raises nothing for one bad key: it is logged and
    skipped (the others still warm up).
    """
    now = market_now.astimezone(IST)
    first_minute_day = now.date()
    for _ in range(minute_sessions - 1):
        first_minute_day = calendar.previous_trading_day(first_minute_day)
    plan = (("minute", first_minute_day), ("day", now.date() - timedelta(days=daily_days)))
    job_ids = []
    for key in keys:
        for interval, start in plan:
            job_id = f"warm:{now.date().isoformat()}:{interval}:{key}"
            try:
                job_ids.append(queue.enqueue_backfill(key, interval, start, now, job_id=job_id))
            except Exception:  # noqa: BLE001 - one instrument must not stop the others
                log.exception("could not queue the %s warm-up of %s", interval, key)
    log.info("queued %d history warm-up jobs for %d instruments", len(job_ids), len(job_ids) // 2)
    return job_ids


def wait_for_market_time(clock: Callable[[], DeskClock], market: str, timeout_s: float = 120.0,
                         poll_s: float = 1.0, sleep: Callable[[float], None] | None = None) -> datetime | None:
    """Market time once it is known (Kite: at once; replay: after the first tick), or ``None``
    after ``timeout_s`` seconds."""
    import time

    sleep = sleep or time.sleep
    waited = 0.0
    while True:
        reading = clock()
        if market == "kite" or reading.source.startswith("replay"):
            return reading.now
        if waited >= timeout_s:
            return None
        sleep(poll_s)
        waited += poll_s
