"""Circuit limits from Kite's ``GET /quote`` (``lower_circuit_limit``/``upper_circuit_limit``),
for the desk's price band.

Binary ticks do not carry circuit limits, so the desk asks ``/quote`` for the instrument it is
judging. Answers are kept per instrument *and market day* (``today()``, the IST date): a day's
limits never serve another day, not even as the fallback when Kite is down. Within the day an
answer is reused for ``ttl`` seconds, then asked again (an F&O stock's dynamic range flexes
intraday, NSE/FAOP/64995; a fixed band simply answers the same). One refresh asks for every
instrument of the day whose answer has expired, in one ``/quote`` call (up to 500 each), and
only one thread asks at a time: meanwhile the others answer the day's last known limits, or,
on the day's first ask, wait for that answer. Calls share the ``KITE_QUOTE`` limiter (1/s per
api_key across processes, ``../shared/docs/indian-market.md`` §5). Any failure (no session,
Kite down, no permit within ``acquire_timeout``) answers the day's last known limits or
``None`` for the next ``ttl`` seconds, and the desk falls back to NSE's dynamic range
(``core.risk.price_bands``); a 0/0 answer (indices) is ``None`` too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, NamedTuple

from app.adapters.kite_errors import funnelled, kite_request
from core.timeutil import IST

log = logging.getLogger(__name__)

#: Instruments per ``/quote`` call (Kite's limit).
QUOTE_BATCH = 500
#: Seconds a caller waits for another thread's first answer of the day before falling back.
WAIT_FOR_ANSWER_S = 10.0

Limits = tuple[float, float] | None


class _Answer(NamedTuple):
    day: date
    at: float
    limits: Limits


def ist_today() -> date:
    """Today's date in IST by the wall clock (the live market's day)."""
    return datetime.now(IST).date()


class QuoteCircuitLimits:
    """``limits(token) -> (lower, upper)`` ₹ or None. ``kite()`` returns a logged-in
    ``KiteConnect``; ``key_of(token) -> "EXCHANGE:TRADINGSYMBOL"``; ``limiter`` a
    ``RedisRateLimiter`` for ``KITE_QUOTE``; ``clock`` monotonic seconds and ``today()`` the
    market day (tests pass their own)."""

    def __init__(self, kite: Callable[[], Any], key_of: Callable[[int], str], limiter: Any, *,
                 ttl: float = 60.0, acquire_timeout: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], date] = ist_today) -> None:
        self.kite = kite
        self.key_of = key_of
        self.limiter = limiter
        self.ttl = ttl
        self.acquire_timeout = acquire_timeout
        self.clock = clock
        self.today = today
        self.calls = 0
        self._cache: dict[int, _Answer] = {}
        self._asking: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def __call__(self, token: int) -> Limits:
        token = int(token)
        day, now = self.today(), self.clock()
        with self._lock:
            known = self._known(token, day)
            if known is not None and now - known.at < self.ttl:
                return known.limits
            asking = self._asking.get(token)
            if asking is None:
                batch = [token] + [t for t, a in self._cache.items() if t != token and a.day == day
                                   and now - a.at >= self.ttl and t not in self._asking][:QUOTE_BATCH - 1]
                done = threading.Event()
                self._asking.update(dict.fromkeys(batch, done))
        if asking is not None:  # another thread is asking Kite
            if known is None:
                asking.wait(WAIT_FOR_ANSWER_S)
                known = self._known(token, day)
            return known.limits if known is not None else None
        try:
            fetched = self._fetch(batch)
        except Exception as exc:  # fall back to the dynamic range; never fail the order path
            log.warning("circuit limits of %s from /quote unavailable: %s", ", ".join(map(str, batch)), exc)
            fetched = {}
        with self._lock:
            for t in batch:  # a failure keeps the day's last answer (or None) for ttl: no retry storm
                last = self._known(t, day)
                kept = last.limits if last is not None else None
                self._cache[t] = _Answer(day, now, fetched[t] if t in fetched else kept)
                self._asking.pop(t, None)
        done.set()
        return self._cache[token].limits

    def _known(self, token: int, day: date) -> _Answer | None:
        answer = self._cache.get(token)
        return answer if answer is not None and answer.day == day else None

    def _fetch(self, tokens: list[int]) -> dict[int, Limits]:
        """``{token: limits}`` from one ``/quote`` call; an instrument without a key is None."""
        out: dict[int, Limits] = {}
        keys: dict[str, int] = {}
        for token in tokens:
            try:
                keys[self.key_of(token)] = token
            except Exception as exc:  # noqa: BLE001 - an unknown instrument: the dynamic range
                log.warning("circuit limits of %s: no instrument key (%s)", token, exc)
                out[token] = None
        if not keys:
            return out
        kite = funnelled(self.kite())
        self.limiter.acquire(self.acquire_timeout)
        with kite_request(f"quote of {', '.join(keys)} (circuit limits)"):
            quotes = kite.raw.quote(list(keys))
        self.calls += 1
        for key, token in keys.items():
            quote = quotes.get(key) or {}
            lower = float(quote.get("lower_circuit_limit") or 0)
            upper = float(quote.get("upper_circuit_limit") or 0)
            out[token] = (lower, upper) if lower > 0 and upper >= lower else None
        return out
