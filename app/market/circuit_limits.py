"""Circuit limits from Kite's ``GET /quote`` (``lower_circuit_limit``/``upper_circuit_limit``),
for the desk's price band.

Binary ticks do not carry circuit limits, so the desk asks ``/quote`` for the instrument it is
judging and keeps the answer ``ttl`` seconds (an F&O stock's dynamic range can flex intraday;
NSE/FAOP/64995). Calls share the ``KITE_QUOTE`` limiter (1/s per api_key across processes,
``../shared/docs/indian-market.md`` §5). Any failure (no session, Kite down, no permit within
``acquire_timeout``) answers the last known limits or ``None`` for the next ``ttl`` seconds,
and the desk falls back to NSE's dynamic range (``core.risk.price_bands``); a 0/0 answer
(indices) is ``None`` too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from app.adapters.kite_errors import funnelled, kite_request

log = logging.getLogger(__name__)


class QuoteCircuitLimits:
    """``limits(token) -> (lower, upper)`` ₹ or None. ``kite()`` returns a logged-in
    ``KiteConnect``; ``key_of(token) -> "EXCHANGE:TRADINGSYMBOL"``; ``limiter`` a
    ``RedisRateLimiter`` for ``KITE_QUOTE``; ``clock`` monotonic seconds (tests pass their own)."""

    def __init__(self, kite: Callable[[], Any], key_of: Callable[[int], str], limiter: Any, *,
                 ttl: float = 60.0, acquire_timeout: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.kite = kite
        self.key_of = key_of
        self.limiter = limiter
        self.ttl = ttl
        self.acquire_timeout = acquire_timeout
        self.clock = clock
        self.calls = 0
        self._cache: dict[int, tuple[float, tuple[float, float] | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, token: int) -> tuple[float, float] | None:
        token = int(token)
        now = self.clock()
        with self._lock:
            hit = self._cache.get(token)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        try:
            limits = self._fetch(token)
        except Exception as exc:  # fall back to the dynamic range; never fail the order path
            log.warning("circuit limits of %s from /quote unavailable: %s", token, exc)
            limits = hit[1] if hit is not None else None  # kept (or None) for ttl: no retry storm
        with self._lock:
            self._cache[token] = (now, limits)
        return limits

    def _fetch(self, token: int) -> tuple[float, float] | None:
        key = self.key_of(token)
        kite = funnelled(self.kite())
        self.limiter.acquire(self.acquire_timeout)
        with kite_request(f"quote of {key} (circuit limits)"):
            quote = kite.raw.quote([key]).get(key) or {}
        self.calls += 1
        lower, upper = float(quote.get("lower_circuit_limit") or 0), float(quote.get("upper_circuit_limit") or 0)
        return (lower, upper) if lower > 0 and upper >= lower else None
