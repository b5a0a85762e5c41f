"""Historical candles: backfill from Kite (or the replay server) into the store, read them back.

Every request goes through :class:`app.adapters.kite_historical.HistoricalClient`: Kite's
per-interval windows (``KITE_MAX_DAYS``, defined there and only there), the shared 3 req/s
Redis rate limiter for all processes, retries with backoff on 429/5xx, and the
``continuous``/``oi`` flags (``../shared/docs/indian-market.md`` §5; Kite Connect docs,
"Historical candle data"). ``backfill`` skips what the store already covers (ranges fetched
before are recorded in ``bar_coverage``) and stores idempotently, one window at a time, so a
failure part-way keeps every window already stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from app.adapters.kite_historical import KITE_MAX_DAYS, check_interval, check_window, kite_windows
from app.market.instruments import InstrumentService
from core.errors import ValidationError
from core.models import Bar
from core.timeutil import UTC, ist_range

if TYPE_CHECKING:  # pragma: no cover
    from app.adapters.kite_historical import HistoricalClient

log = logging.getLogger(__name__)

__all__ = ["KITE_MAX_DAYS", "MarketDataService", "kite_windows", "uncovered"]

_SECOND = timedelta(seconds=1)
Progress = Callable[[float, str], None]


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


class MarketDataService:
    """Candles from the configured market (real Kite or the replay server) and the store.

    ``store``: has ``bars`` (a ``BarRepository``); ``instruments`` resolves keys against the
    instruments master; ``historical`` is the :class:`HistoricalClient` every request goes
    through. The composition root builds all three.
    """

    def __init__(self, store: Any, instruments: InstrumentService, historical: HistoricalClient) -> None:
        self._store = store
        self.instruments = instruments
        self.historical = historical

    def token_of(self, key_or_token: str | int) -> int:
        """instrument_token for ``"NSE:INFY"``-style keys (any form ``resolve`` takes) or a token.

        Raises ``ValidationError`` for a symbol missing from the instruments dump (naming close
        matches) or a non-positive token. A bare token is passed to Kite as is.
        """
        if isinstance(key_or_token, int) or (isinstance(key_or_token, str) and key_or_token.strip().isdigit()):
            token = int(key_or_token)
            if token <= 0:
                raise ValidationError(f"instrument_token must be positive, was {token}")
            return token
        return self.instruments.resolve(key_or_token).instrument_token

    def backfill(self, key_or_token: str | int, interval: str, start: datetime | date, end: datetime | date,
                 progress: Progress | None = None, *, continuous: bool = False, oi: bool = False,
                 single: bool = False) -> int:
        """Fetch ``interval`` candles for ``[start, end]`` from the market and store them.

        ``start``/``end`` are tz-aware datetimes (or IST dates: whole days). Ranges fetched
        before are skipped except the newest stored bar onward (it may have been forming). The
        rest is split into Kite's windows (``KITE_MAX_DAYS``) unless ``single`` is set: then the
        range must fit one request. ``continuous`` (continuous futures) and ``oi`` (open
        interest) are passed to Kite. ``progress(fraction 0..1, message)`` is called after each
        request window; each window is stored before the next is requested.

        Returns the number of bars that were new to the store (0 on an identical re-run).
        Raises ``ValidationError`` — before any request and with nothing written — for an
        interval Kite does not offer, a symbol missing from the instruments dump, a naive time,
        ``start > end`` or (``single``) a range beyond Kite's per-request limit; Kite's
        ``InputException`` (e.g. a token it does not know) also becomes ``ValidationError``.
        ``HistoricalUnavailable`` after the client's retries on 429/5xx; ``TokenException`` /
        ``KiteLoginRequired`` when the session is gone. Bars stored before an error are kept.
        """
        check_interval(interval)
        start, end = ist_range(start, end)
        if single:
            check_window(interval, start, end)
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
            candles = self.historical.fetch_window(token, frm, to, interval, continuous=continuous, oi=oi)
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
        (IST ``ts`` index; float64 open/high/low/close ₹; int64 volume, oi). No network.
        Raises ``ValidationError`` for an interval Kite does not offer or an unknown symbol."""
        check_interval(interval)
        start, end = ist_range(start, end)
        return self._store.bars.frame(self.token_of(key_or_token), interval, start, end)
