"""The ticker's ingest path, free of Twisted so it can be tested and benchmarked directly.

``feed(payload, received_at)`` takes one WebSocket message as KiteTicker delivers it:

1. binary frame → :func:`core.tick_batch.decode_frame` (a heartbeat, ≤ 1 byte, is only counted;
   a malformed frame is counted in ``malformed_total``, logged and skipped, never raised);
2. the whole frame is cached in Redis in one round trip (:meth:`TickCache.write_frame`);
3. the ticks that carry an exchange timestamp (full mode) update the 1-minute bar builder (:class:`core.bars.MinuteBarBuilder`); bars it
   closes go to the **bar sink** (the container passes ``store.bars.upsert``; ``None`` stores
   nothing) and then to the ``desk:bars:closed`` stream, one event per bar (sink first, so a consumer of the event
   finds the bar stored). With ``background_bars=True`` (the ticker process) that happens on
   one writer thread, so a minute boundary (a bar per instrument) never delays the ticks.
4. the **alerts hook** (``alerts``, the container passes ``app.market.alerts.TickerAlerts``;
   ``None`` evaluates nothing) gets the decoded batch after the cache write: a failure there is
   counted in ``alert_errors`` and logged, never raised;
5. text frames are parsed: ``order`` updates are logged at INFO, ``error`` at WARNING.

It also keeps the subscription set (the watchlist's tokens, full mode) across reconnects,
the counters published in the heartbeat (:class:`TickerStatus`), and a market clock for
:meth:`flush_bars`: the newest exchange timestamp seen plus the wall time elapsed since it
arrived (so a replay of a past session flushes on its own clock).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from app.adapters.tick_cache import CacheUnavailable, TickCache, TickerStatus
from core.bars import MinuteBarBuilder
from core.errors import DataError
from core.models import Bar
from core.tick_batch import TickBatch, decode_frame
from core.timeutil import require_aware

log = logging.getLogger(__name__)

BarSink = Callable[[Sequence[Bar]], object]
#: ``hook(batch, received_at)``: called with every decoded, non-empty batch (the alerts).
BatchHook = Callable[[TickBatch, datetime], object]


@dataclass(frozen=True)
class FeedResult:
    """What one ``feed`` did: ``ticks`` cached, ``bars`` closed, ``malformed`` frame rejected."""

    ticks: int = 0
    bars: list[Bar] = field(default_factory=list)
    malformed: bool = False
    heartbeat: bool = False


@dataclass(frozen=True)
class SubscriptionDiff:
    """Tokens to subscribe (full mode) and to unsubscribe, sorted."""

    subscribe: list[int]
    unsubscribe: list[int]

    def __bool__(self) -> bool:
        return bool(self.subscribe or self.unsubscribe)


class _BarWriter(threading.Thread):
    """One background thread that drains closed bars into the sink and the event stream."""

    def __init__(self, write: Callable[[list[Bar]], None]) -> None:
        super().__init__(name="bar-writer", daemon=True)
        self._write = write
        self.queue: queue.Queue[list[Bar] | None] = queue.Queue()

    def run(self) -> None:
        while True:
            bars = self.queue.get()
            try:
                if bars is None:
                    return
                self._write(bars)
            finally:
                self.queue.task_done()

    def stop(self, timeout: float = 30.0) -> None:
        self.queue.put(None)
        self.join(timeout)


class TickerService:
    """Decode → cache → bars for one ticker process. Not thread-safe: call it from one thread
    (the ticker's reactor thread); only the bar writer runs on its own thread.
    """

    def __init__(self, cache: TickCache, *, market: str = "replay", bar_sink: BarSink | None = None,
                 builder: MinuteBarBuilder | None = None, background_bars: bool = False,
                 alerts: BatchHook | None = None) -> None:
        self.cache = cache
        self.market = market
        self.bar_sink = bar_sink
        self.alerts = alerts
        self.alert_errors = 0
        self.builder = builder or MinuteBarBuilder()
        self.desired: set[int] = set()
        self.subscribed: set[int] = set()
        self.connected = False
        self.ticks_total = 0
        self.frames_total = 0
        self.heartbeats_total = 0
        self.malformed_total = 0
        self.unknown_packets_total = 0
        self.cache_errors = 0
        self.bar_sink_errors = 0
        self.bars_total = 0
        self.reconnects = 0
        self.text_messages = 0
        self.last_tick_at: datetime | None = None
        self._frontier: tuple[float, datetime] | None = None  # (newest exchange ts, received at)
        self._writer = _BarWriter(self._write_bars) if background_bars else None
        if self._writer:
            self._writer.start()

    # ------------------------------------------------------------------ messages
    def feed(self, payload: bytes, received_at: datetime, is_binary: bool = True) -> FeedResult:
        """Ingest one WebSocket message received at ``received_at`` (tz-aware). Never raises
        for bad data or a Redis outage: they are counted and logged.
        """
        if not is_binary:
            self.on_text(payload)
            return FeedResult()
        if len(payload) <= 1:
            self.heartbeats_total += 1
            return FeedResult(heartbeat=True)
        try:
            batch = decode_frame(payload)
        except DataError as exc:
            self.malformed_total += 1
            log.warning("malformed tick frame (%d bytes) skipped: %s", len(payload), exc)
            return FeedResult(malformed=True)
        self.frames_total += 1
        if batch.unknown:
            self.malformed_total += 1
            self.unknown_packets_total += len(batch.unknown)
            log.warning("tick frame had %d packet(s) of unknown length skipped (offset, length): %s",
                        len(batch.unknown), list(batch.unknown[:5]))
        n = len(batch)
        if n == 0:
            return FeedResult()
        try:
            self.cache.write_frame(batch, received_at)
        except CacheUnavailable as exc:
            self.cache_errors += 1
            if self.cache_errors == 1 or self.cache_errors % 100 == 0:
                log.error("%s (%d frame writes failed so far)", exc, self.cache_errors)
        self.ticks_total += n
        self.last_tick_at = received_at
        if self.alerts is not None:
            try:
                self.alerts(batch, received_at)
            except Exception:  # an alert bug must not stop the ticks
                self.alert_errors += 1
                log.exception("alerts hook failed on a %d-tick frame", n)
        bars = self._update_bars(batch, received_at)
        return FeedResult(ticks=n, bars=bars)

    def _update_bars(self, batch: TickBatch, received_at: datetime) -> list[Bar]:
        """Feed the packets that carry an exchange timestamp (full mode) to the bar builder.

        ltp/quote packets (e.g. the quote snapshot right after a subscribe, before the mode
        switch to full) have no market time: they are cached but never bucketed on the wall
        clock, which would be wrong for a replayed session and would make every later tick
        look late.
        """
        ets = batch.exchange_timestamp
        stamped = ets > 0
        if not stamped.any():
            return []
        if not stamped.all():
            idx = np.flatnonzero(stamped)
            tokens, prices, volumes, ts, oi = (batch.instrument_token[idx], batch.last_price[idx],
                                               batch.volume_traded[idx], ets[idx], batch.oi[idx])
        else:
            tokens, prices, volumes, ts, oi = (batch.instrument_token, batch.last_price, batch.volume_traded,
                                               ets, batch.oi)
        newest = float(ts.max())
        if self._frontier is None or newest >= self._frontier[0]:
            self._frontier = (newest, received_at)
        closed = self.builder.update(tokens, prices, volumes, ts, oi)
        if closed:
            self._dispatch(closed)
        return closed

    def on_text(self, payload: bytes | str) -> None:
        """Log a text frame: ``order`` updates at INFO, ``error`` at WARNING, others at DEBUG."""
        self.text_messages += 1
        try:
            data = json.loads(payload)
        except ValueError:
            log.warning("unparseable text frame from the ticker: %r", payload[:200])
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "order":
            log.info("order update: %s", data.get("data"))
        elif kind == "error":
            log.warning("ticker error message: %s", data.get("data"))
        else:
            log.debug("ticker message: %s", data)

    # ------------------------------------------------------------------ bars
    def market_now(self, now: datetime) -> datetime:
        """The market clock at wall time ``now``: newest exchange timestamp + wall time since."""
        now = require_aware(now, "now")
        if self._frontier is None:
            return now
        ts, at = self._frontier
        return datetime.fromtimestamp(ts, UTC) + max(now - at, timedelta(0))

    def flush_bars(self, now: datetime) -> list[Bar]:
        """Close quiet instruments' bars due at wall time ``now`` (see :meth:`market_now`)."""
        closed = self.builder.flush(self.market_now(now))
        if closed:
            self._dispatch(closed)
        return closed

    def _dispatch(self, bars: list[Bar]) -> None:
        self.bars_total += len(bars)
        if self._writer is not None:
            self._writer.queue.put(bars)
        else:
            self._write_bars(bars)

    def _write_bars(self, bars: list[Bar]) -> None:
        if self.bar_sink is not None:
            try:
                self.bar_sink(bars)
            except Exception:  # the store being down must not stop the ticker
                self.bar_sink_errors += 1
                log.exception("bar sink failed for %d bars (first %s %s)", len(bars),
                              bars[0].instrument_token, bars[0].ts.isoformat())
        try:
            self.cache.publish_bars_closed(bars)
        except CacheUnavailable as exc:
            log.error("bar-closed events for %d bars not published: %s", len(bars), exc)

    def drain(self) -> None:
        """Wait until the background bar writer has written everything queued so far."""
        if self._writer is not None:
            self._writer.queue.join()

    def close(self) -> None:
        """Write queued bars and stop the background writer."""
        if self._writer is not None:
            self._writer.stop()
            self._writer = None

    # ------------------------------------------------------------------ subscriptions
    def set_watchlist(self, tokens: Iterable[int]) -> SubscriptionDiff:
        """Make ``tokens`` the wanted subscriptions. When connected, return what to send now
        (and record it as sent); when not, return an empty diff (``on_connected`` sends all).
        """
        self.desired = {int(t) for t in tokens}
        if not self.connected:
            return SubscriptionDiff([], [])
        diff = SubscriptionDiff(sorted(self.desired - self.subscribed), sorted(self.subscribed - self.desired))
        self.subscribed = set(self.desired)
        return diff

    def on_connected(self) -> list[int]:
        """The socket is (re)connected: return every wanted token to subscribe in full mode."""
        self.connected = True
        self.subscribed = set(self.desired)
        return sorted(self.subscribed)

    def on_disconnected(self) -> None:
        self.connected = False
        self.subscribed = set()

    def on_reconnect_attempt(self) -> None:
        self.reconnects += 1

    def set_link(self, connected: bool, subscribed: Iterable[int]) -> None:
        """Report the state of a sharded ticker (several connections managed outside this
        service, ``app.market.subscriptions``): ``connected`` = every connection is
        open, ``subscribed`` = tokens subscribed on live sockets (the heartbeat's count)."""
        self.connected = bool(connected)
        self.subscribed = {int(t) for t in subscribed}

    @property
    def has_market_time(self) -> bool:
        """True once a tick with an exchange timestamp arrived (``market_now`` is then the
        market's clock, not the wall clock)."""
        return self._frontier is not None

    # ------------------------------------------------------------------ heartbeat
    def status(self, now: datetime) -> TickerStatus:
        return TickerStatus(connected=self.connected, market=self.market, updated_at=require_aware(now, "now"),
                            subscribed=len(self.subscribed), ticks_total=self.ticks_total,
                            malformed_total=self.malformed_total, reconnects=self.reconnects,
                            last_tick_at=self.last_tick_at)

    def write_status(self, now: datetime) -> bool:
        """Publish the heartbeat; False (logged) if Redis is unreachable."""
        try:
            self.cache.write_status(self.status(now))
            return True
        except CacheUnavailable as exc:
            log.error("ticker status not written: %s", exc)
            return False
