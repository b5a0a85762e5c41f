"""When the ticker's stored minute bars make a historical fetch of today's tail unnecessary.

The ticker (``app.market.ticker_ingest``) writes every closed 1-minute bar of the instruments it
ticks to the store. A chart read of such an instrument therefore needs nothing from the market's
historical API for the minutes after the last backfilled bar: the stored minutes plus the latest
tick (the forming bar) are the whole answer. Asking anyway costs a request behind the shared
3 req/s limiter on every new market minute (seconds while a morning backfill holds the queue).

:func:`core.bars_asof.ticker_tail_complete` decides it exactly: the tail is served from the store only when the
instrument is ticking and the store holds a bar for **every** session minute from the last
backfilled bar to the last closed minute. Anything else (a minute missing because the ticker was
down or the stock did not trade, a weekday with no bars in between: a holiday or a missed
session) answers ``False`` and the caller fetches as before (pure: numpy only, no I/O).

The ticker's first bar of an instrument can be partial (it started mid-minute), and coverage of
the tail is only recorded by a fetch, so :class:`TailRefresher` re-reads a tail served from the
store from the market once it is ``min_tail`` (15 minutes) long, on one background thread, at
most one request in flight per instrument: the read that triggered it does not wait.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

log = logging.getLogger(__name__)


class TailRefresher:
    """Backfills of served-from-the-store tails, on one daemon thread (see the module docstring).

    ``backfill(token, start, end)`` does the fetch (the market-data service's minute backfill
    and cache invalidation); its errors are logged, never raised to the reader.
    """

    def __init__(self, backfill: Callable[[int, datetime, datetime], object],
                 min_tail: timedelta = timedelta(minutes=15)) -> None:
        self._backfill = backfill
        self.min_tail = min_tail
        self._pending: set[int] = set()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def maybe_refresh(self, token: int, tail_start: datetime, as_of: datetime) -> Future | None:
        """Queue a re-read of ``[tail_start, as_of]`` when the tail is ``min_tail`` long and no
        re-read of ``token`` is pending; return its future (tests wait on it), else ``None``."""
        if as_of - tail_start < self.min_tail:
            return None
        with self._lock:
            if token in self._pending:
                return None
            self._pending.add(token)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tail-refresh")
            pool = self._pool
        return pool.submit(self._run, token, tail_start, as_of)

    def _run(self, token: int, tail_start: datetime, as_of: datetime) -> None:
        try:
            self._backfill(token, tail_start, as_of)
        except Exception as exc:  # noqa: BLE001 - a background refresh must never break a read
            log.warning("background tail refresh of %s from %s failed: %s", token, tail_start.isoformat(), exc)
        finally:
            with self._lock:
                self._pending.discard(token)
