"""Stale-tick detection per instrument, with a REST ``quote`` fallback into the tick cache.

An instrument is *stale* when its latest cached tick is older than ``stale_after`` seconds (or
it never ticked) although the ticker is meant to stream it. For stale instruments the desk asks
Kite's ``GET /quote`` (up to 500 instruments per call; at most 1 call/second per api_key,
``../shared/docs/indian-market.md`` §5 — enforced with the shared Redis limiter
``KITE_QUOTE``) and writes the answers into the tick cache as quote-mode ticks, so pages and
the paper broker keep a price. The cache entry records when it was received, so a later
ticker tick simply replaces it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from app.adapters.kite_errors import funnelled, kite_request
from app.adapters.rate_limit import RedisRateLimiter
from app.adapters.tick_cache import TickCache
from core import kite_wire
from core.errors import ValidationError
from core.models import Tick
from core.tick_batch import decode_frame
from core.timeutil import require_aware

log = logging.getLogger(__name__)

#: Kite's ``/quote`` accepts at most 500 instruments per call (Kite Connect docs, "Market quotes").
QUOTE_BATCH = 500


def quote_to_tick(token: int, q: dict[str, Any]) -> Tick:
    """A quote-mode :class:`Tick` from one value of ``kite.quote()`` (prices ₹, volumes shares)."""
    ohlc = q.get("ohlc") or {}
    return Tick(instrument_token=int(token), last_price=float(q.get("last_price") or 0.0), mode="quote",
                last_traded_quantity=int(q.get("last_quantity") or 0),
                average_traded_price=float(q.get("average_price") or 0.0), volume_traded=int(q.get("volume") or 0),
                total_buy_quantity=int(q.get("buy_quantity") or 0), total_sell_quantity=int(q.get("sell_quantity") or 0),
                open=float(ohlc.get("open") or 0.0), high=float(ohlc.get("high") or 0.0),
                low=float(ohlc.get("low") or 0.0), close=float(ohlc.get("close") or 0.0))


class QuoteFallback:
    """Find stale instruments and fill them from ``kite.quote`` within Kite's quote limit.

    ``kite`` is a callable returning a logged-in ``KiteConnect`` (read per call);
    ``key_of(token) -> "EXCHANGE:TRADINGSYMBOL"`` (e.g. ``InstrumentService.by_token``);
    ``limiter`` a :class:`RedisRateLimiter` for ``KITE_QUOTE``.
    """

    def __init__(self, cache: TickCache, key_of: Callable[[int], str], kite: Callable[[], Any],
                 limiter: RedisRateLimiter, stale_after: float = 10.0, batch: int = QUOTE_BATCH) -> None:
        if not 0 < batch <= QUOTE_BATCH:
            raise ValidationError(f"batch must be 1..{QUOTE_BATCH} instruments (Kite's /quote limit), was {batch}")
        self.cache = cache
        self.key_of = key_of
        self.kite = kite
        self.limiter = limiter
        self.stale_after = stale_after
        self.batch = batch
        self.calls = 0

    def stale(self, tokens: Iterable[int], now: datetime) -> list[int]:
        """Tokens whose latest tick is older than ``stale_after`` s at ``now`` (or missing), sorted."""
        toks = sorted({int(t) for t in tokens})
        ages = self.cache.tick_ages(require_aware(now, "now"), toks)
        return [t for t in toks if ages.get(t) is None or ages[t] > self.stale_after]

    def refresh(self, tokens: Iterable[int], now: datetime, acquire_timeout: float = 30.0) -> int:
        """Quote the stale ones among ``tokens`` and cache them; return how many were written.

        Tokens missing from the instruments master are skipped (logged). One ``/quote`` call
        per ``batch`` instruments, each after a ``KITE_QUOTE`` permit (1/s across processes).
        Kite's errors arrive as the desk's (``app.adapters.kite_errors``): ``KiteUnavailable``
        (a ``TemporaryError``) for 429/5xx/network, ``KiteSessionExpired`` for a refused token.
        """
        written = 0
        for quotes in self._batches(self.stale(tokens, now), acquire_timeout):
            ticks = [quote_to_tick(t, q) for t, q in quotes.items()]
            if not ticks:
                continue
            frame = kite_wire.encode_frame([kite_wire.encode_packet(t, "quote") for t in ticks])
            written += self.cache.write_frame(decode_frame(frame), now)
        if written:
            log.info("stale-tick fallback: %d instrument(s) refreshed from /quote", written)
        return written


    def quotes(self, tokens: Iterable[int], acquire_timeout: float = 10.0) -> dict[int, dict[str, Any]]:
        """Kite's ``/quote`` answers for ``tokens`` (any age of tick), by instrument_token: the
        raw values (``last_price``, ``ohlc``, ``volume``, ``timestamp`` …). Same batching, limit
        and errors as :meth:`refresh`; nothing is written to the cache."""
        out: dict[int, dict[str, Any]] = {}
        for quotes in self._batches(sorted({int(t) for t in tokens}), acquire_timeout):
            out.update(quotes)
        return out

    def _batches(self, tokens: list[int], acquire_timeout: float) -> Iterable[dict[int, dict[str, Any]]]:
        keys: dict[str, int] = {}
        for t in tokens:
            try:
                keys[self.key_of(t)] = t
            except ValidationError as exc:
                log.warning("quote skips %s: %s", t, exc)
        items = list(keys)
        for i in range(0, len(items), self.batch):
            chunk = items[i:i + self.batch]
            kite = funnelled(self.kite())  # log in (if needed) before the permit, so the call follows it
            self.limiter.acquire(acquire_timeout)
            with kite_request(f"quote of {len(chunk)} instrument(s)"):
                quotes = kite.raw.quote(chunk)
            self.calls += 1
            yield {keys[k]: q for k, q in quotes.items() if k in keys}


class StaleTickWatcher(threading.Thread):
    """The ticker process's stale-tick loop, on its own thread (a ``/quote`` call may wait for
    its 1/s permit; the reactor thread must never block on it).

    Every ``interval`` seconds: ``streaming()`` returns ``{instrument_token: monotonic time it
    was subscribed}`` for instruments on *connected* sockets; those subscribed at least
    ``fallback.stale_after`` seconds ago (so Kite's snapshot tick had time to arrive) go to
    :meth:`QuoteFallback.refresh`. Errors (market down, no session) are logged, never raised;
    ``runs``, ``written`` and ``last_error`` are reported in the ticker's subscription status.
    """

    def __init__(self, fallback: QuoteFallback, streaming: Callable[[], Mapping[int, float]],
                 interval: float = 5.0) -> None:
        super().__init__(name="stale-tick-fallback", daemon=True)
        self.fallback = fallback
        self.streaming = streaming
        self.interval = interval
        self.runs = 0
        self.written = 0
        self.last_error = ""
        self._stop_event = threading.Event()

    def check(self) -> int:
        """One pass (also callable directly); returns the ticks written."""
        mono = time.monotonic()
        tokens = [t for t, since in self.streaming().items() if mono - since >= self.fallback.stale_after]
        if not tokens:
            return 0
        n = self.fallback.refresh(tokens, datetime.now(UTC), acquire_timeout=max(self.interval, 1.0) * 6)
        self.runs += 1
        self.written += n
        return n

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                self.check()
                self.last_error = ""
            except Exception as exc:  # noqa: BLE001 - the next pass retries
                msg = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                if msg != self.last_error:
                    log.warning("stale-tick fallback failed: %s", msg)
                self.last_error = msg

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_event.set()
        self.join(timeout)

    def stats(self) -> dict[str, Any]:
        return {"stale_after": self.fallback.stale_after, "runs": self.runs, "written": self.written,
                "quote_calls": self.fallback.calls, "last_error": self.last_error}
