"""Historical candles from Kite, within Kite's limits: windows, a shared rate limit, retries.

* **Windows**: one request may span at most ``KITE_MAX_DAYS[interval]`` days (defined here,
  the desk's one copy of the table; Kite Connect docs/forum: minute 60, 3/5/10minute 100,
  15/30minute 200, 60minute 400, day 2000); :meth:`HistoricalClient.fetch` splits a range with
  :func:`kite_windows`; :meth:`HistoricalClient.fetch_window` refuses a longer single window.
* **Rate**: every request takes a permit from the Redis limiter ``KITE_HISTORICAL`` (3/s per
  api_key, shared by all processes; ``app.adapters.rate_limit``).
* **Errors** go through the Kite request funnel (``app.adapters.kite_errors``): HTTP 429 and
  5xx or a dropped connection (``KiteUnavailable``) are retried with exponential backoff
  (``backoff * 2**attempt`` seconds, capped at ``max_backoff``), then raise
  :class:`HistoricalUnavailable` (a ``KiteUnavailable``, so a ``TemporaryError``);
  ``InputException`` becomes ``ValidationError``; ``TokenException`` becomes
  ``KiteSessionExpired`` (the client's session hook has already marked the session expired).
* ``continuous`` (continuous futures data) and ``oi`` (open interest column) are passed through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from app.adapters.kite_errors import KiteUnavailable, funnelled, kite_request
from app.adapters.rate_limit import RedisRateLimiter
from core.errors import ValidationError
from core.timeutil import IST, require_aware

log = logging.getLogger(__name__)

#: Longest range (days) Kite accepts in one historical request, per interval. The keys are the
#: intervals Kite offers (Kite Connect docs "Historical candle data"; limits from the Kite
#: Connect forum: minute 60, 3/5/10minute 100, 15/30minute 200, 60minute 400, day 2000).
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
_SECOND = timedelta(seconds=1)


class HistoricalUnavailable(KiteUnavailable):
    """Kite kept failing (429/5xx/network) after every retry; the message says how often."""


def check_interval(interval: str) -> str:
    """``interval`` if Kite offers it, else ``ValidationError`` listing the ones it does."""
    if interval not in KITE_MAX_DAYS:
        raise ValidationError(f"Kite does not offer interval {interval!r}; use one of {', '.join(KITE_MAX_DAYS)}")
    return interval


def _ist(when: datetime, name: str) -> datetime:
    return require_aware(when, name).astimezone(IST).replace(microsecond=0)


def check_window(interval: str, frm: datetime, to: datetime) -> tuple[datetime, datetime]:
    """``(frm, to)`` in IST (whole seconds) if one Kite request may cover them, else
    ``ValidationError``: unknown interval, naive time, ``frm > to``, or a span of
    ``KITE_MAX_DAYS[interval]`` days or more (Kite's per-request limit)."""
    check_interval(interval)
    frm, to = _ist(frm, "from"), _ist(to, "to")
    if frm > to:
        raise ValidationError(f"from {frm:%Y-%m-%d %H:%M} is after to {to:%Y-%m-%d %H:%M}; swap them")
    limit = KITE_MAX_DAYS[interval]
    if to - frm >= timedelta(days=limit):
        raise ValidationError(
            f"{interval} data spans at most {limit} days per request (Kite's limit); "
            f"{frm:%Y-%m-%d}→{to:%Y-%m-%d} is {(to - frm).days} days: shorten the range or let the "
            "desk split it into several requests")
    return frm, to


def kite_windows(interval: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end]`` into request windows Kite accepts for ``interval``.

    Returns ``(from, to)`` pairs in IST, both inclusive, contiguous (each ``from`` is the
    previous ``to`` plus one second) and each spanning less than ``KITE_MAX_DAYS[interval]``
    days. Raises ``ValidationError`` for an interval Kite does not offer, a naive time or
    ``start > end``.
    """
    check_interval(interval)
    start, end = _ist(start, "start"), _ist(end, "end")
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


class HistoricalClient:
    """Rate-limited, retried ``historical_data`` calls.

    ``kite`` is a callable returning a logged-in ``KiteConnect`` (called per request, so a
    new login is picked up without a restart); ``limiter`` a :class:`RedisRateLimiter` for
    ``KITE_HISTORICAL``; ``sleep`` is injectable for tests of the backoff arithmetic.
    """

    def __init__(self, kite: Callable[[], Any], limiter: RedisRateLimiter, *, retries: int = 4,
                 backoff: float = 0.5, max_backoff: float = 8.0, acquire_timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._kite = kite
        self._limiter = limiter
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.acquire_timeout = acquire_timeout
        self._sleep = sleep
        self.retried = 0  # retries made so far (for job results and tests)

    def fetch_window(self, instrument_token: int, frm: datetime, to: datetime, interval: str,
                     continuous: bool = False, oi: bool = False) -> list[dict]:
        """One request: candles ``[frm, to]`` (tz-aware; sent as IST wall time).

        Returns kiteconnect's rows ``{date (tz-aware IST), open, high, low, close (₹), volume
        (shares)[, oi]}``. Raises ``ValidationError`` for an interval Kite does not offer, a
        window longer than ``KITE_MAX_DAYS[interval]`` days, ``frm > to``, or anything Kite
        rejects as bad input; ``HistoricalUnavailable`` after ``retries`` failed retries;
        ``KiteSessionExpired`` when Kite refuses the token.
        """
        frm, to = check_window(interval, frm, to)
        what = f"historical {interval} for instrument {instrument_token}"
        attempt = 0
        while True:
            kite = funnelled(self._kite())  # session first, so the request follows its permit at once
            self._limiter.acquire(self.acquire_timeout)
            try:
                with kite_request(what):
                    return kite.raw.historical_data(instrument_token, frm, to, interval, continuous=continuous,
                                                    oi=oi)
            except KiteUnavailable as exc:
                if attempt >= self.retries:
                    err = HistoricalUnavailable(f"{what} failed {attempt + 1} times ({exc.kite_type} "
                                                f"{exc.code if exc.code is not None else ''}); try again later")
                    err.kite_type, err.code = exc.kite_type, exc.code
                    raise err from None
                delay = min(self.max_backoff, self.backoff * 2 ** attempt)
                log.warning("historical %s %s: %s (HTTP %s); retry %d/%d in %.2fs", instrument_token,
                            interval, exc.kite_type, exc.code if exc.code is not None else "?", attempt + 1,
                            self.retries, delay)
                attempt += 1
                self.retried += 1
                self._sleep(delay)

    def fetch(self, instrument_token: int, start: datetime, end: datetime, interval: str,
              continuous: bool = False, oi: bool = False) -> list[dict]:
        """Candles for ``[start, end]`` of any length, split into the windows Kite accepts
        (``kite_windows``) and fetched in order; same rows and errors as :meth:`fetch_window`."""
        check_interval(interval)
        rows: list[dict] = []
        for frm, to in kite_windows(interval, start, end):
            rows.extend(self.fetch_window(instrument_token, frm, to, interval, continuous, oi))
        return rows


class SessionKite:
    """Callable returning a ``KiteConnect`` for the session stored *now* (read per call, so a
    new login is used without a restart); the client is rebuilt only when the token changes.
    Raises ``KiteLoginRequired`` (real Kite) when nobody is logged in."""

    def __init__(self, settings, redis_client) -> None:
        self._settings = settings
        self._redis = redis_client
        self._kite = None

    def __call__(self):
        from app.adapters.kite_session import kite_client, load_session

        data = load_session(self._redis)
        token = data.get("access_token") if data else None
        if self._kite is None or token is None or token != self._kite.access_token:
            self._kite = kite_client(self._settings, self._redis)
        return self._kite


def historical_client(settings, redis_client, **kwargs) -> HistoricalClient:
    """A :class:`HistoricalClient` for the configured market (session read per request,
    ``KITE_HISTORICAL`` limiter on ``redis_client``)."""
    from app.adapters.rate_limit import KITE_HISTORICAL

    return HistoricalClient(SessionKite(settings, redis_client), RedisRateLimiter(redis_client, KITE_HISTORICAL),
                            **kwargs)
