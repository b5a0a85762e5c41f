"""The Redis tick cache: the latest tick per instrument, a capped tick stream, the ticker's status
and the bar-closed events. Written by the ticker process; read by the dashboard and workers.

Key layout (all under ``desk:``):

==========================  ======  =========================================================
key                         type    content
==========================  ======  =========================================================
``desk:ticks:latest``       hash    field = instrument_token (ASCII decimal); value = 8-byte
                                    big-endian signed receive time (µs since the Unix epoch,
                                    UTC) followed by the tick's raw KiteTicker packet (8, 28,
                                    32, 44 or 184 bytes, Kite wire layout, kite-protocol.md
                                    §2.6). Decoded with :func:`core.tick_batch.decode_packet`.
``desk:ticks:stream``       stream  one entry per received frame: ``t`` = receive time (µs,
                                    ASCII), ``n`` = packets, ``f`` = the raw frame. Capped
                                    with ``XADD MAXLEN ~ ceil(stream_maxlen / n)``, i.e. about
                                    ``stream_maxlen`` *ticks* are kept whatever the frame size
                                    (≈ 190 bytes per full-mode tick).
``desk:ticker:status``      hash    the ticker's heartbeat (:class:`TickerStatus`): connected
                                    (0/1), market, updated_at/last_tick_at (µs, "" if none),
                                    subscribed, ticks_total, malformed_total, reconnects.
``desk:bars:closed``        stream  one entry per closed 1-minute bar, one field ``bar`` =
                                    ``instrument_token,interval,ts,open,high,low,close,volume,oi``
                                    (ts = the bar's open, unix seconds UTC; prices rupees as
                                    Python ``repr`` floats; volume shares). Capped at
                                    ``MAXLEN ~ bars_maxlen``. Parse with :func:`parse_bar_field`.
==========================  ======  =========================================================

A frame is written with **one round trip** (one pipeline: a single ``HSET`` with every
packet of the frame as a field, plus one ``XADD``). Any Redis connection failure surfaces as
:class:`CacheUnavailable` with a message naming the server.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import redis

from app.adapters.redis_client import REDIS_DOWN as _REDIS_DOWN
from app.adapters.redis_client import unavailable
from core.errors import DataError, RedisUnavailable
from core.models import Bar, Tick
from core.tick_batch import TickBatch, decode_frame, decode_packet
from core.timeutil import require_aware

PREFIX = "desk:"
LATEST_KEY = PREFIX + "ticks:latest"
STREAM_KEY = PREFIX + "ticks:stream"
STATUS_KEY = PREFIX + "ticker:status"
BARS_CLOSED_KEY = PREFIX + "bars:closed"

class CacheUnavailable(RedisUnavailable):
    """Redis (the tick cache) cannot be reached (a ``TemporaryError``). The message names the
    server and what to do."""


def _us(when: datetime) -> int:
    when = require_aware(when, "time")
    return int(round(when.timestamp() * 1_000_000))


def _from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


@dataclass(frozen=True)
class CachedTick:
    """The latest tick of one instrument and when the ticker received it (tz-aware UTC)."""

    tick: Tick
    received_at: datetime

    def age_seconds(self, now: datetime) -> float:
        """Seconds since the tick was received (``now`` tz-aware; ``ValidationError`` if naive)."""
        return (require_aware(now, "now") - self.received_at).total_seconds()


@dataclass(frozen=True)
class TickerStatus:
    """The ticker process's heartbeat, rewritten every second.

    ``connected``: the WebSocket is open. ``market``: "kite" or "replay". ``updated_at``: when
    the ticker last wrote this (a stale value means the process is down). ``subscribed``:
    instruments subscribed. ``ticks_total``/``malformed_total``: packets cached / frames
    rejected since start. ``reconnects``: reconnect attempts. ``last_tick_at``: receive time
    of the newest tick, or ``None``. Times tz-aware UTC.
    """

    connected: bool
    market: str
    updated_at: datetime
    subscribed: int
    ticks_total: int
    malformed_total: int
    reconnects: int
    last_tick_at: datetime | None

    def age_seconds(self, now: datetime) -> float:
        """Seconds since the ticker last reported (``now`` tz-aware)."""
        return (require_aware(now, "now") - self.updated_at).total_seconds()


@dataclass(frozen=True)
class StreamFrame:
    """One entry of the tick stream: its id, receive time and the decoded ticks."""

    entry_id: str
    received_at: datetime
    ticks: list[Tick]


class TickCache:
    """Reads and writes the tick cache on ``client`` (see the module docstring for the keys).

    ``stream_maxlen``: about how many ticks ``desk:ticks:stream`` keeps; ``bars_maxlen``: how
    many bar-closed events ``desk:bars:closed`` keeps. Every method raises
    :class:`CacheUnavailable` when Redis is unreachable.
    """

    def __init__(self, client: redis.Redis, stream_maxlen: int = 100_000, bars_maxlen: int = 100_000) -> None:
        self.client = client
        self.stream_maxlen = int(stream_maxlen)
        self.bars_maxlen = int(bars_maxlen)
        self._xadd_bars = None

    def _unavailable(self, exc: Exception) -> CacheUnavailable:
        return unavailable(self.client, "tick cache", exc, CacheUnavailable)

    # ------------------------------------------------------------------ writes (ticker)
    def write_frame(self, batch: TickBatch, received_at: datetime) -> int:
        """Cache every packet of a decoded frame in ONE round trip; return packets written.

        Updates ``desk:ticks:latest`` (one HSET, a field per packet; a token repeated in the
        frame keeps its last packet) and appends the raw frame to ``desk:ticks:stream``. The
        two commands are encoded to RESP here and sent as one pipeline: redis-py's generic
        packing of a 6,000-argument HSET costs more than the whole decode.
        """
        n = len(batch)
        if n == 0:
            return 0
        us = _us(received_at)
        stamp = us.to_bytes(8, "big", signed=True)
        frame = batch.frame
        parts = [b"*%d\r\n$4\r\nHSET\r\n%s" % (2 + 2 * n, _bulk(LATEST_KEY.encode()))]
        parts.extend(
            b"$%d\r\n%d\r\n$%d\r\n%s%s\r\n" % (len(b"%d" % tok), tok, 8 + ln, stamp, frame[off:off + ln])
            for tok, off, ln in zip(batch.instrument_token.tolist(), batch.offset.tolist(),
                                    batch.packet_length.tolist(), strict=True)
        )
        parts.append(_command(b"XADD", STREAM_KEY.encode(), b"MAXLEN", b"~",
                              b"%d" % max(1, math.ceil(self.stream_maxlen / n)), b"*",
                              b"t", b"%d" % us, b"n", b"%d" % n, b"f", frame))
        self._roundtrip(b"".join(parts), 2)
        return n

    def _roundtrip(self, payload: bytes, replies: int) -> list:
        """Send pre-encoded RESP commands on one pooled connection; read ``replies`` replies."""
        pool = self.client.connection_pool
        try:
            conn = pool.get_connection()
        except _REDIS_DOWN as exc:
            raise self._unavailable(exc) from exc
        try:
            conn.send_packed_command([payload])
            out = [conn.read_response() for _ in range(replies)]
        except _REDIS_DOWN as exc:
            conn.disconnect()
            raise self._unavailable(exc) from exc
        except BaseException:
            conn.disconnect()  # never hand back a connection with unread replies
            raise
        finally:
            pool.release(conn)
        return out

    def write_status(self, status: TickerStatus) -> None:
        """Replace ``desk:ticker:status`` with ``status``."""
        mapping = {
            "connected": int(status.connected), "market": status.market, "updated_at": _us(status.updated_at),
            "subscribed": status.subscribed, "ticks_total": status.ticks_total,
            "malformed_total": status.malformed_total, "reconnects": status.reconnects,
            "last_tick_at": "" if status.last_tick_at is None else _us(status.last_tick_at),
        }
        try:
            self.client.hset(STATUS_KEY, mapping=mapping)
        except _REDIS_DOWN as exc:
            raise self._unavailable(exc) from exc

    def publish_bars_closed(self, bars: Sequence[Bar]) -> int:
        """Append one ``desk:bars:closed`` entry per bar; return how many.

        Sent in chunks of 1,000 bars, each one ``EVALSHA`` of a small Lua loop of ``XADD``: a
        minute boundary closes one bar per instrument at once (9,000 in the benchmark).
        """
        if not bars:
            return 0
        script = self._bars_script()
        for i in range(0, len(bars), 1000):
            chunk = bars[i:i + 1000]
            try:
                script(keys=[BARS_CLOSED_KEY], args=[self.bars_maxlen, *map(_bar_field, chunk)])
            except _REDIS_DOWN as exc:
                raise self._unavailable(exc) from exc
        return len(bars)

    def _bars_script(self):
        if self._xadd_bars is None:
            self._xadd_bars = self.client.register_script(_XADD_BARS_LUA)
        return self._xadd_bars

    def ping(self) -> None:
        """Check Redis is reachable; raise :class:`CacheUnavailable` if not."""
        try:
            self.client.ping()
        except _REDIS_DOWN as exc:
            raise self._unavailable(exc) from exc

    # ------------------------------------------------------------------ reads (dashboard, workers)
    def latest(self, tokens: Iterable[int]) -> dict[int, CachedTick]:
        """The latest cached tick of each token; tokens never ticked are absent.

        Raises ``DataError`` for a corrupt cache entry, ``CacheUnavailable`` if Redis is down.
        """
        toks = [int(t) for t in tokens]
        if not toks:
            return {}
        try:
            values = self.client.hmget(LATEST_KEY, toks)
        except _REDIS_DOWN as exc:
            raise self._unavailable(exc) from exc
        out: dict[int, CachedTick] = {}
        for tok, raw in zip(toks, values, strict=True):
            if raw is not None:
                out[tok] = _cached(tok, raw)
        return out

    def tick_ages(self, now: datetime, tokens: Iterable[int] | None = None) -> dict[int, float]:
        """Seconds since each instrument's latest tick was received (all cached, or ``tokens``)."""
        now_us = _us(now)
        try:
            if tokens is None:
                items = self.client.hgetall(LATEST_KEY).items()
            else:
                toks = [int(t) for t in tokens]
                items = zip(toks, self.client.hmget(LATEST_KEY, toks) if toks else [], strict=True)
        except _REDIS_DOWN as exc:
            raise self._unavailable(exc) from exc
        return {int(k): (now_us - int.from_bytes(v[:8], "big", signed=True)) / 1e6
                for k, v in items if v is not None and len(v) >= 8}

    def status(self) -> TickerStatus | None:
        """The ticker's last heartbeat, or ``None`` if no ticker ever reported."""
        try:
            raw = self.client.hgetall(STATUS_KEY)
        except _REDIS_DOWN as exc:
            raise self._unavailable(exc) from exc
        if not raw:
            return None
        f = {k.decode(): v.decode() for k, v in raw.items()}
        try:
            return TickerStatus(
                connected=f["connected"] == "1", market=f["market"], updated_at=_from_us(int(f["updated_at"])),
                subscribed=int(f["subscribed"]), ticks_total=int(f["ticks_total"]),
                malformed_total=int(f["malformed_total"]), reconnects=int(f["reconnects"]),
                last_tick_at=_from_us(int(f["last_tick_at"])) if f.get("last_tick_at") else None,
            )
        except (KeyError, ValueError) as exc:
            raise DataError(f"{STATUS_KEY} is malformed ({exc!r}): {f}") from exc

    def frames_since(self, after_id: str = "0-0", count: int = 100) -> list[StreamFrame]:
        """Up to ``count`` tick-stream entries newer than ``after_id``, oldest first."""
        try:
            entries = self.client.xrange(STREAM_KEY, min=f"({after_id}", max="+", count=count)
        except _REDIS_DOWN as exc:
            raise self._unavailable(exc) from exc
        return [StreamFrame(eid.decode(), _from_us(int(f[b"t"])), decode_frame(f[b"f"]).to_ticks())
                for eid, f in entries]

    def bars_closed_since(self, after_id: str = "0-0", count: int = 1000) -> list[tuple[str, Bar]]:
        """Up to ``count`` bar-closed events newer than ``after_id``: ``(entry_id, Bar)``, oldest first."""
        try:
            entries = self.client.xrange(BARS_CLOSED_KEY, min=f"({after_id}", max="+", count=count)
        except _REDIS_DOWN as exc:
            raise self._unavailable(exc) from exc
        return [(eid.decode(), parse_bar_field(raw[b"bar"])) for eid, raw in entries]


_XADD_BARS_LUA = """
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'bar', ARGV[i])
end
return #ARGV - 1
"""


def _bar_field(b: Bar) -> bytes:
    return b"%d,%s,%d,%r,%r,%r,%r,%d,%d" % (
        b.instrument_token, b.interval.encode(), int(b.ts.timestamp()), b.open, b.high, b.low, b.close,
        b.volume, b.oi)


def parse_bar_field(raw: bytes | str) -> Bar:
    """Decode a ``desk:bars:closed`` ``bar`` field (see the module docstring) into a ``Bar``.

    Raises ``DataError`` if it is malformed.
    """
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        tok, interval, ts, o, h, low, c, v, oi = text.split(",")
        return Bar(int(tok), interval, datetime.fromtimestamp(int(ts), UTC), float(o), float(h), float(low),
                   float(c), int(v), int(oi))
    except ValueError as exc:
        raise DataError(f"malformed bar-closed event {text!r}: {exc}") from exc


def _bulk(arg: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


def _command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


@lru_cache(maxsize=2048)
def _cached(token: int, raw: bytes) -> CachedTick:
    """The entry ``raw`` decoded (immutable, so one decoding serves every read of the same tick:
    the API and the pages read the same latest tick many times a second)."""
    if len(raw) < 16:
        raise DataError(f"{LATEST_KEY}[{token}] is malformed: {len(raw)} bytes")
    us = int.from_bytes(raw[:8], "big", signed=True)
    return CachedTick(decode_packet(raw[8:]), _from_us(us))
