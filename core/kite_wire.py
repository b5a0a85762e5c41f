"""Kite Connect v3 WebSocket binary codec (KiteTicker's wire format).

Source: ``../shared/docs/kite-protocol.md`` §2.6, checked against ``kiteconnect`` 5.2.2
``KiteTicker._parse_binary`` (the tests round-trip every packet through it).

* A **frame** is ``uint16 N`` then N × (``uint16 L``, L bytes of packet); big-endian.
* A **heartbeat** is a 1-byte binary frame (:data:`HEARTBEAT`); it decodes to no ticks.
* **Packets** (all 4-byte fields unsigned big-endian, prices in paise for NSE):

  ====  ============  =====================================================================
  len   mode          layout
  ====  ============  =====================================================================
  8     ltp           token, last_price
  28    index quote   token, last_price, high, low, open, close, change (0; client ignores)
  32    index full    as 28 + exchange_timestamp (unix s)
  44    quote         token, last_price, last_traded_quantity, average_traded_price,
                      volume_traded, total_buy_quantity, total_sell_quantity, open, high,
                      low, close
  184   full          as 44 + last_trade_time, oi, oi_day_high, oi_day_low,
                      exchange_timestamp, then 10 × {uint32 quantity, uint32 price,
                      uint16 orders, 2 pad}: 5 bids then 5 asks
  ====  ============  =====================================================================

* Segment = ``token & 0xFF``; price divisor 1e7 for CDS (3), 1e4 for BCD (6) and NCO (12),
  else 100. Indices (segment 9) are not tradable and use the 28/32-byte packets.

Tick prices are rupees; ``close`` is the previous session's close. Timestamps decode to
tz-aware UTC. Malformed frames raise ``DataError`` naming the byte offset.

For the replay server's hot path, :func:`encode_records` encodes whole numpy columns at once
into length-prefixed records, and :func:`frame_from_records` wraps them in a frame.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

from core.errors import DataError, ValidationError
from core.models import DepthLevel, Tick, TickMode

HEARTBEAT = b"\x00"

SEGMENT_INDICES = 9
_SEG_CDS, _SEG_BCD, _SEG_NCO = 3, 6, 12
MAX_PACKETS_PER_FRAME = 0xFFFF

LTP_LEN, INDEX_QUOTE_LEN, INDEX_FULL_LEN, QUOTE_LEN, FULL_LEN = 8, 28, 32, 44, 184

_LTP = struct.Struct(">II")
_INDEX = struct.Struct(">IIIIIII")
_QUOTE = struct.Struct(">IIIIIIIIIII")
_FULL_TAIL = struct.Struct(">IIIII")
_DEPTH = struct.Struct(">IIH2x")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")


def segment(token: int) -> int:
    """Kite segment code of an instrument token (``token & 0xFF``)."""
    return token & 0xFF


def price_divisor(token: int) -> float:
    """Wire units per rupee for ``token``'s segment (100 for NSE and indices)."""
    seg = segment(token)
    if seg == _SEG_CDS:
        return 10_000_000.0
    if seg in (_SEG_BCD, _SEG_NCO):
        return 10_000.0
    return 100.0


def is_index(token: int) -> bool:
    return segment(token) == SEGMENT_INDICES


def _u32(value: float | int, what: str) -> int:
    v = int(value)
    if v < 0 or v > 0xFFFFFFFF:
        raise ValidationError(f"{what} = {value} does not fit the wire's unsigned 32-bit field")
    return v


def _epoch(when: datetime | None) -> int:
    if when is None:
        return 0
    if when.tzinfo is None:
        raise ValidationError("tick timestamps must be timezone-aware (UTC or IST)")
    return int(when.timestamp())


def encode_packet(tick: Tick, mode: TickMode | None = None) -> bytes:
    """Encode one tick as a packet of ``mode`` (default ``tick.mode``).

    Index tokens (segment 9) get the 28-byte (quote) or 32-byte (full) index packet.
    Raises ``ValidationError`` for a negative or oversized field or an unknown mode.
    """
    mode = mode or tick.mode
    token = tick.instrument_token
    d = price_divisor(token)

    def p(x: float, what: str) -> int:
        return _u32(round(x * d), what)

    ltp = p(tick.last_price, "last_price")
    if mode == "ltp":
        return _LTP.pack(_u32(token, "instrument_token"), ltp)
    if mode not in ("quote", "full"):
        raise ValidationError(f"mode must be 'ltp', 'quote' or 'full' (got {mode!r})")
    if is_index(token):
        body = _INDEX.pack(token, ltp, p(tick.high, "high"), p(tick.low, "low"),
                           p(tick.open, "open"), p(tick.close, "close"), 0)
        return body if mode == "quote" else body + _U32.pack(_u32(_epoch(tick.exchange_timestamp), "ts"))
    body = _QUOTE.pack(
        token, ltp, _u32(tick.last_traded_quantity, "last_traded_quantity"),
        p(tick.average_traded_price, "average_traded_price"), _u32(tick.volume_traded, "volume_traded"),
        _u32(tick.total_buy_quantity, "total_buy_quantity"),
        _u32(tick.total_sell_quantity, "total_sell_quantity"),
        p(tick.open, "open"), p(tick.high, "high"), p(tick.low, "low"), p(tick.close, "close"),
    )
    if mode == "quote":
        return body
    oi = _u32(tick.oi, "oi")
    tail = _FULL_TAIL.pack(_u32(_epoch(tick.last_trade_time), "last_trade_time"), oi, oi, oi,
                           _u32(_epoch(tick.exchange_timestamp), "exchange_timestamp"))
    levels = list(tick.bids[:5]) + [DepthLevel(0.0, 0, 0)] * (5 - len(tick.bids[:5]))
    levels += list(tick.asks[:5]) + [DepthLevel(0.0, 0, 0)] * (5 - len(tick.asks[:5]))
    depth = b"".join(_DEPTH.pack(_u32(lv.quantity, "depth quantity"), p(lv.price, "depth price"),
                                 min(int(lv.orders), 0xFFFF)) for lv in levels)
    return body + tail + depth


def encode_frame(packets: Sequence[bytes]) -> bytes:
    """Wrap packets in one frame. Raises ``ValidationError`` above 65,535 packets."""
    if len(packets) > MAX_PACKETS_PER_FRAME:
        raise ValidationError(f"a frame holds at most {MAX_PACKETS_PER_FRAME} packets (got {len(packets)})")
    parts = [_U16.pack(len(packets))]
    for pkt in packets:
        parts.append(_U16.pack(len(pkt)))
        parts.append(pkt)
    return b"".join(parts)


def _ts(raw: int) -> datetime | None:
    return datetime.fromtimestamp(raw, UTC) if raw else None


def _decode_packet(pkt: bytes, offset: int) -> Tick:
    n = len(pkt)
    token = _U32.unpack_from(pkt, 0)[0]
    d = price_divisor(token)
    tradable = not is_index(token)
    if n == LTP_LEN:
        return Tick(token, _U32.unpack_from(pkt, 4)[0] / d, mode="ltp", tradable=tradable)
    if n in (INDEX_QUOTE_LEN, INDEX_FULL_LEN):
        _, ltp, hi, lo, op, cl, _chg = _INDEX.unpack_from(pkt, 0)
        ts = _ts(_U32.unpack_from(pkt, 28)[0]) if n == INDEX_FULL_LEN else None
        return Tick(token, ltp / d, mode="quote" if n == INDEX_QUOTE_LEN else "full", tradable=tradable,
                    open=op / d, high=hi / d, low=lo / d, close=cl / d, exchange_timestamp=ts)
    if n in (QUOTE_LEN, FULL_LEN):
        _, ltp, ltq, atp, vol, tbq, tsq, op, hi, lo, cl = _QUOTE.unpack_from(pkt, 0)
        kw: dict = {}
        if n == FULL_LEN:
            ltt, oi, _oih, _oil, ets = _FULL_TAIL.unpack_from(pkt, 44)
            levels = [DepthLevel(price / d, q, o) for q, price, o in
                      (_DEPTH.unpack_from(pkt, 64 + 12 * i) for i in range(10))]
            kw = dict(last_trade_time=_ts(ltt), exchange_timestamp=_ts(ets), oi=oi,
                      bids=tuple(levels[:5]), asks=tuple(levels[5:]))
        return Tick(token, ltp / d, mode="quote" if n == QUOTE_LEN else "full", tradable=tradable,
                    last_traded_quantity=ltq, average_traded_price=atp / d, volume_traded=vol,
                    total_buy_quantity=tbq, total_sell_quantity=tsq, open=op / d, high=hi / d,
                    low=lo / d, close=cl / d, **kw)
    raise DataError(f"packet at byte offset {offset} has unknown length {n} "
                    f"(expected 8, 28, 32, 44 or 184)")


def decode_frame(frame: bytes) -> list[Tick]:
    """Decode one binary frame into ticks (a heartbeat, < 2 bytes, gives ``[]``).

    Raises ``DataError`` naming the byte offset on a truncated frame, a packet of unknown
    length, or trailing bytes after the last packet.
    """
    frame = bytes(frame)
    if len(frame) < 2:
        return []
    count = _U16.unpack_from(frame, 0)[0]
    pos = 2
    ticks: list[Tick] = []
    for i in range(count):
        if pos + 2 > len(frame):
            raise DataError(f"frame truncated at byte offset {pos}: length of packet {i + 1} of {count} missing")
        length = _U16.unpack_from(frame, pos)[0]
        start = pos + 2
        if start + length > len(frame):
            raise DataError(f"frame truncated at byte offset {start}: packet {i + 1} of {count} "
                            f"needs {length} bytes, {len(frame) - start} left")
        ticks.append(_decode_packet(frame[start:start + length], start))
        pos = start + length
    if pos != len(frame):
        raise DataError(f"frame has {len(frame) - pos} unexpected trailing bytes at byte offset {pos}")
    return ticks


# --------------------------------------------------------------------------- batch encoder

def _record_dtype(fields: list[tuple]) -> np.dtype:
    return np.dtype([("length", ">u2")] + fields)


_DEPTH_DT = np.dtype([("quantity", ">u4"), ("price", ">u4"), ("orders", ">u2"), ("pad", "V2")])
_QUOTE_FIELDS = [("token", ">u4"), ("last_price", ">u4"), ("last_traded_quantity", ">u4"),
                 ("average_traded_price", ">u4"), ("volume_traded", ">u4"),
                 ("total_buy_quantity", ">u4"), ("total_sell_quantity", ">u4"), ("open", ">u4"),
                 ("high", ">u4"), ("low", ">u4"), ("close", ">u4")]
_INDEX_FIELDS = [("token", ">u4"), ("last_price", ">u4"), ("high", ">u4"), ("low", ">u4"),
                 ("open", ">u4"), ("close", ">u4"), ("change", ">u4")]

RECORD_DTYPES: dict[tuple[str, bool], np.dtype] = {
    ("ltp", False): _record_dtype([("token", ">u4"), ("last_price", ">u4")]),
    ("ltp", True): _record_dtype([("token", ">u4"), ("last_price", ">u4")]),
    ("quote", False): _record_dtype(_QUOTE_FIELDS),
    ("full", False): _record_dtype(_QUOTE_FIELDS + [
        ("last_trade_time", ">u4"), ("oi", ">u4"), ("oi_day_high", ">u4"), ("oi_day_low", ">u4"),
        ("exchange_timestamp", ">u4"), ("bids", _DEPTH_DT, (5,)), ("asks", _DEPTH_DT, (5,))]),
    ("quote", True): _record_dtype(_INDEX_FIELDS),
    ("full", True): _record_dtype(_INDEX_FIELDS + [("exchange_timestamp", ">u4")]),
}
for _dt in RECORD_DTYPES.values():
    assert _dt.itemsize - 2 in (LTP_LEN, INDEX_QUOTE_LEN, INDEX_FULL_LEN, QUOTE_LEN, FULL_LEN)


def encode_records(mode: TickMode, index: bool, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Encode ``n`` packets of one kind at once; returns a structured array of length-prefixed records.

    ``columns`` maps field names of :data:`RECORD_DTYPES` ``[(mode, index)]`` to arrays (or
    scalars) already in wire units (paise, shares, unix seconds). Depth columns are
    ``bid_price``/``bid_quantity``/``bid_orders`` and ``ask_*`` of shape ``(n, 5)``. Missing
    fields are 0. ``rec.tobytes()`` is the concatenated ``(uint16 L, packet)`` stream.
    """
    dt = RECORD_DTYPES[(mode, index)]
    rec = np.zeros(n, dtype=dt)
    rec["length"] = dt.itemsize - 2
    for name, value in columns.items():
        if name.startswith(("bid_", "ask_")):
            side = "bids" if name.startswith("bid_") else "asks"
            if side in dt.names:
                rec[side][name[4:]] = value
        elif name in dt.names:
            rec[name] = value
    return rec


def frame_from_records(chunks: Iterable[bytes | np.ndarray], count: int) -> bytes:
    """A frame from ``count`` already length-prefixed records (bytes or structured arrays)."""
    if count > MAX_PACKETS_PER_FRAME:
        raise ValidationError(f"a frame holds at most {MAX_PACKETS_PER_FRAME} packets (got {count})")
    return _U16.pack(count) + b"".join(c if isinstance(c, bytes) else c.tobytes() for c in chunks)
