"""Historical candles: backfill from Kite (or the replay server) into the store, read them back.

Kite serves ``GET /instruments/historical/{token}/{interval}`` in windows of at most
``KITE_MAX_DAYS[interval]`` days per request and at most 3 requests a second
(``../shared/docs/indian-market.md`` §5; Kite Connect docs, "Historical candle data").
``backfill`` splits the requested range into such windows, skips what the store already
covers (ranges fetched before are recorded in ``bar_coverage``) and stores idempotently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from app.adapters.store.bars_repo import check_interval
from app.services.instruments import InstrumentService
from app.settings import Settings
from core.errors import ValidationError
from core.models import Bar
from core.timeutil import IST, UTC, require_aware

log = logging.getLogger(__name__)

#: Longest range (days) Kite accepts in one historical request, per interval
#: (Kite Connect forum/docs: minute 60, 3/5/10minute 100, 15/30minute 200, 60minute 400, day 2000).
KITE_MAX_DAYS: dict[str, int] = {
    "minute": 60,
    "3minute": 100,
    "5minute": 100,
    "10minute": 100,
    "15minute": 200,
    "30minute": 200,
    "60minute": 400,
    "day": 2000,
}
#: Kite allows 3 historical requests a second; keep a little under it (real Kite only).
KITE_HISTORICAL_MIN_GAP_S = 0.35

_SECOND = timedelta(seconds=1)
Progress = Callable[[float, str], None]


def kite_windows(interval: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end]`` into request windows Kite accepts for ``interval``.

    Returns ``(from, to)`` pairs in IST, both inclusive, contiguous (each ``from`` is the
    previous ``to`` plus one second) and each spanning less than ``KITE_MAX_DAYS[interval]``
    days. Raises ``ValidationError`` for an unknown interval, a naive time or ``start > end``.
    """
    check_interval(interval)
    start = require_aware(start, "start").astimezone(IST).replace(microsecond=0)
    end = require_aware(end, "end").astimezone(IST).replace(microsecond=0)
    if start > end:
        raise ValidationError(f"start {start.isoformat()} is after end {end.isoformat()}; swap them")
    span = timedelta(days=KITE_MAX_DAYS[interval]) - _SECOND
    out: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor <= end:
        to = min(cursor + span, end)
        out.append((cursor, to))
        cursor = to + _SECOND
    return out


def uncovered(start: datetime, end: datetime, covered: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Parts of ``[start, end]`` not inside ``covered`` (sorted, merged, inclusive ranges).

    A covered range's *end* is re-fetched (it is the newest bar seen, possibly still forming).
    """
    gaps: list[tuple[datetime, datetime]] = []
    cursor = start
    for c_start, c_end in covered:
        if c_end < cursor or c_start > end:
            continue
        if c_start > cursor:
            gaps.append((cursor, c_start - _SECOND))
        cursor = max(cursor, c_end)
    if cursor <= end:
        gaps.append((cursor, end))
    return gaps


def _as_range(start: datetime | date, end: datetime | date) -> tuple[datetime, datetime]:
    if not isinstance(start, datetime):
        start = datetime.combine(start, datetime.min.time(), IST)
    if not isinstance(end, datetime):
        end = datetime.combine(end, datetime.max.time().replace(microsecond=0), IST)
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if start > end:
        raise ValidationError(f"start {start.isoformat()} is after end {end.isoformat()}; swap them")
    return start, end


class MarketDataService:
    """Candles from the configured market (``settings.market``: real Kite or the replay server).

    ``kite`` may be passed (a ``kiteconnect.KiteConnect``); by default one is built lazily with
    ``app.adapters.kite_session.kite_client(settings, redis_client)``.
    """

    def __init__(self, settings: Settings, store: Any, redis_client: Any,
                 instruments: InstrumentService | None = None, kite: Any | None = None) -> None:
        self._settings = settings
        self._store = store
        self._redis = redis_client
        self._instruments = instruments
        self._kite = kite
        self._lock = threading.Lock()
        self._last_request = 0.0
        self._min_gap = KITE_HISTORICAL_MIN_GAP_S if settings.market == "kite" else 0.0

    @property
    def instruments(self) -> InstrumentService:
        if self._instruments is None:
            self._instruments = InstrumentService(self._store)
        return self._instruments

    @property
    def kite(self) -> Any:
        """The ``KiteConnect`` client (logged in; built on first use)."""
        with self._lock:
            if self._kite is None:
                from app.adapters.kite_session import kite_client

                self._kite = kite_client(self._settings, self._redis)
            return self._kite

    def token_of(self, key_or_token: str | int) -> int:
        """instrument_token for ``"NSE:INFY"``-style keys (any form ``resolve`` takes) or a token."""
        if isinstance(key_or_token, int) or (isinstance(key_or_token, str) and key_or_token.strip().isdigit()):
            token = int(key_or_token)
            if token <= 0:
                raise ValidationError(f"instrument_token must be positive, was {token}")
            return token
        return self.instruments.resolve(key_or_token).instrument_token

    def backfill(self, key_or_token: str | int, interval: str, start: datetime | date, end: datetime | date,
                 progress: Progress | None = None) -> int:
        """Fetch ``interval`` candles for ``[start, end]`` from the market and store them.

        ``start``/``end`` are tz-aware datetimes (or IST dates: whole days). Ranges fetched
        before are skipped except the newest stored bar onward (it may have been forming).
        ``progress(fraction 0..1, message)`` is called after each request window.

        Returns the number of bars that were new to the store (0 on an identical re-run).
        Raises ``ValidationError`` for an unknown interval or instrument, a naive time or
        ``start > end``; Kite's ``InputException`` (e.g. a token it does not know) becomes a
        ``ValidationError``; network errors propagate (the caller may retry).
        """
        check_interval(interval)
        start, end = _as_range(start, end)
        token = self.token_of(key_or_token)
        bars_repo = self._store.bars
        windows = [w for gap in uncovered(start.astimezone(UTC), end.astimezone(UTC),
                                          bars_repo.coverage(token, interval))
                   for w in kite_windows(interval, *gap)]
        before = bars_repo.count(token, interval)
        if not windows:
            if progress:
                progress(1.0, "already stored")
            return 0
        fetched = 0
        for i, (frm, to) in enumerate(windows, 1):
            candles = self._historical(token, frm, to, interval)
            bars = [Bar(token, interval, c["date"], c["open"], c["high"], c["low"], c["close"],
                        int(c.get("volume") or 0), int(c.get("oi") or 0)) for c in candles]
            bars_repo.upsert(bars)
            if bars:
                bars_repo.add_coverage(token, interval, frm, max(b.ts for b in bars))
            fetched += len(bars)
            if progress:
                progress(i / len(windows), f"window {i}/{len(windows)}: {frm:%Y-%m-%d} → {to:%Y-%m-%d}, "
                                           f"{len(bars)} bars")
        added = bars_repo.count(token, interval) - before
        log.info("backfill %s %s %s..%s: %d windows, %d bars fetched, %d new", token, interval,
                 start.isoformat(), end.isoformat(), len(windows), fetched, added)
        return added

    def bars(self, key_or_token: str | int, interval: str, start: datetime | date,
             end: datetime | date) -> pd.DataFrame:
        """Stored candles for ``[start, end]``: the frame ``BarRepository.frame`` documents
        (IST ``ts`` index; float64 open/high/low/close ₹; int64 volume, oi). No network."""
        check_interval(interval)
        start, end = _as_range(start, end)
        return self._store.bars.frame(self.token_of(key_or_token), interval, start, end)

    def _historical(self, token: int, frm: datetime, to: datetime, interval: str) -> list[dict]:
        from kiteconnect import exceptions as kite_errors

        if self._min_gap:
            wait = self._last_request + self._min_gap - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_request = time.monotonic()
        kite = self.kite
        # kiteconnect formats datetimes with strftime: pass IST wall-clock, as Kite expects.
        try:
            return kite.historical_data(token, frm.astimezone(IST), to.astimezone(IST), interval)
        except kite_errors.InputException as exc:
            raise ValidationError(f"the market refused historical {interval} for token {token}: {exc}") from None
        except kite_errors.TokenException:
            with self._lock:
                self._kite = None  # session expired: log in again once, then retry
            return self.kite.historical_data(token, frm.astimezone(IST), to.astimezone(IST), interval)
