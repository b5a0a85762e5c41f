"""Fast, vectorised decoding of one KiteTicker binary frame into column arrays.

Wire format: ``../shared/docs/kite-protocol.md`` §2.6 (the same as :mod:`core.kite_wire`): a
frame is ``uint16 N`` then N × (``uint16 L``, L bytes of packet), big-endian. Packet lengths:
8 (ltp), 28/32 (index quote/full), 44 (quote), 184 (full).

How it is fast: when every packet has the same length (a full-mode equity frame is all 184-byte
packets) the whole frame is read through one zero-copy numpy structured view
(``strides = 2 + L``). A mixed frame (equities with indices, mixed modes) has its length headers
walked once, then each packet kind is gathered into one structured array. Either way the cost is
a handful of numpy calls per packet kind instead of a dozen ``struct.unpack`` calls and a dict per
packet (what ``KiteTicker._parse_binary`` does).

Columns of :class:`TickBatch` (all length ``n``, in frame order):

============================  ========  ==============================================
column                        dtype     meaning (absent in this packet kind → 0)
============================  ========  ==============================================
instrument_token              int64     Kite instrument token
packet_length                 int16     8, 28, 32, 44 or 184 (gives the mode)
last_price, open, high, low,  float64   rupees (paise / 100; CDS / 1e7; BCD, NCO / 1e4)
close, average_traded_price
last_traded_quantity,         int64     shares
volume_traded (day cumulative),
total_buy_quantity, total_sell_quantity
oi, oi_day_high, oi_day_low   int64     contracts
last_trade_time,              int64     unix seconds (UTC); -1 when the packet has none
exchange_timestamp
depth_quantity (n, 10)        int64     levels 0-4 bids, 5-9 asks (full packets only)
depth_price (n, 10)           float64   rupees
depth_orders (n, 10)          int64     orders
offset                        int64     byte offset of the packet body in ``frame``
============================  ========  ==============================================

Errors: a truncated frame, or trailing bytes after the N packets, raise ``DataError`` naming
the byte offset. A heartbeat (fewer than 2 bytes) decodes to an empty batch. A packet of an
unknown length (e.g. the legacy 164-byte packet) is **skipped**, as ``kiteconnect`` does, and
reported in ``TickBatch.unknown`` as ``(offset, length)`` so the caller can count and log it
(:func:`core.kite_wire.decode_frame` raises on such a packet instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from core.errors import DataError
from core.models import DepthLevel, Tick, TickMode

LTP_LEN, INDEX_QUOTE_LEN, INDEX_FULL_LEN, QUOTE_LEN, FULL_LEN = 8, 28, 32, 44, 184
KNOWN_LENGTHS = (LTP_LEN, INDEX_QUOTE_LEN, INDEX_FULL_LEN, QUOTE_LEN, FULL_LEN)
MODE_BY_LENGTH: dict[int, TickMode] = {
    LTP_LEN: "ltp", INDEX_QUOTE_LEN: "quote", INDEX_FULL_LEN: "full", QUOTE_LEN: "quote", FULL_LEN: "full",
}
SEGMENT_INDICES = 9

_U4 = ">u4"
_DEPTH = np.dtype([("quantity", _U4), ("price", _U4), ("orders", ">u2"), ("pad", "V2")])
_QUOTE = [("token", _U4), ("last_price", _U4), ("last_traded_quantity", _U4),
          ("average_traded_price", _U4), ("volume_traded", _U4), ("total_buy_quantity", _U4),
          ("total_sell_quantity", _U4), ("open", _U4), ("high", _U4), ("low", _U4), ("close", _U4)]
_INDEX = [("token", _U4), ("last_price", _U4), ("high", _U4), ("low", _U4), ("open", _U4),
          ("close", _U4), ("change", _U4)]
#: Structured dtype of each packet kind (packet body only, without its uint16 length prefix).
PACKET_DTYPES: dict[int, np.dtype] = {
    LTP_LEN: np.dtype([("token", _U4), ("last_price", _U4)]),
    INDEX_QUOTE_LEN: np.dtype(_INDEX),
    INDEX_FULL_LEN: np.dtype(_INDEX + [("exchange_timestamp", _U4)]),
    QUOTE_LEN: np.dtype(_QUOTE),
    FULL_LEN: np.dtype(_QUOTE + [("last_trade_time", _U4), ("oi", _U4), ("oi_day_high", _U4),
                                 ("oi_day_low", _U4), ("exchange_timestamp", _U4), ("depth", _DEPTH, (10,))]),
}
for _len, _dt in PACKET_DTYPES.items():
    assert _dt.itemsize == _len, (_len, _dt.itemsize)

_PRICE_COLS = ("last_price", "open", "high", "low", "close", "average_traded_price")
_INT_COLS = ("last_traded_quantity", "volume_traded", "total_buy_quantity", "total_sell_quantity",
             "oi", "oi_day_high", "oi_day_low")
_TS_COLS = ("last_trade_time", "exchange_timestamp")


def price_divisors(tokens: np.ndarray) -> np.ndarray:
    """Wire units per rupee for each token (float64): 1e7 CDS (3), 1e4 BCD (6)/NCO (12), else 100."""
    seg = tokens & 0xFF
    div = np.full(tokens.shape, 100.0)
    div[seg == 3] = 10_000_000.0
    div[(seg == 6) | (seg == 12)] = 10_000.0
    return div


@dataclass(frozen=True, eq=False)
class TickBatch:
    """The decoded columns of one frame (see the module docstring for names, dtypes, units)."""

    frame: bytes
    instrument_token: np.ndarray
    packet_length: np.ndarray
    last_price: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    average_traded_price: np.ndarray
    last_traded_quantity: np.ndarray
    volume_traded: np.ndarray
    total_buy_quantity: np.ndarray
    total_sell_quantity: np.ndarray
    oi: np.ndarray
    oi_day_high: np.ndarray
    oi_day_low: np.ndarray
    last_trade_time: np.ndarray
    exchange_timestamp: np.ndarray
    depth_quantity: np.ndarray
    depth_price: np.ndarray
    depth_orders: np.ndarray
    offset: np.ndarray
    unknown: tuple[tuple[int, int], ...] = ()

    def __len__(self) -> int:
        return int(self.instrument_token.shape[0])

    def packet(self, i: int) -> bytes:
        """Raw wire bytes of packet ``i`` (without its length prefix)."""
        start = int(self.offset[i])
        return self.frame[start:start + int(self.packet_length[i])]

    def packets(self) -> list[bytes]:
        """Raw wire bytes of every packet, in frame order."""
        f = self.frame
        return [f[s:s + n] for s, n in zip(self.offset.tolist(), self.packet_length.tolist(), strict=True)]

    def tick(self, i: int) -> Tick:
        """Packet ``i`` as a :class:`core.models.Tick` (same values as ``core.kite_wire``).

        As in ``core.kite_wire``, a zero timestamp field decodes to ``None``.
        """
        n = int(self.packet_length[i])
        token = int(self.instrument_token[i])
        tradable = (token & 0xFF) != SEGMENT_INDICES
        mode = MODE_BY_LENGTH[n]
        ltp = float(self.last_price[i])
        if n == LTP_LEN:
            return Tick(token, ltp, mode=mode, tradable=tradable)
        ohlc = dict(open=float(self.open[i]), high=float(self.high[i]), low=float(self.low[i]),
                    close=float(self.close[i]))
        if n in (INDEX_QUOTE_LEN, INDEX_FULL_LEN):
            ets = _ts(int(self.exchange_timestamp[i])) if n == INDEX_FULL_LEN else None
            return Tick(token, ltp, mode=mode, tradable=tradable, exchange_timestamp=ets, **ohlc)
        kw: dict = {}
        if n == FULL_LEN:
            q = self.depth_quantity[i].tolist()
            p = self.depth_price[i].tolist()
            o = self.depth_orders[i].tolist()
            levels = [DepthLevel(p[k], q[k], o[k]) for k in range(10)]
            kw = dict(last_trade_time=_ts(int(self.last_trade_time[i])),
                      exchange_timestamp=_ts(int(self.exchange_timestamp[i])), oi=int(self.oi[i]),
                      bids=tuple(levels[:5]), asks=tuple(levels[5:]))
        return Tick(token, ltp, mode=mode, tradable=tradable,
                    last_traded_quantity=int(self.last_traded_quantity[i]),
                    average_traded_price=float(self.average_traded_price[i]),
                    volume_traded=int(self.volume_traded[i]),
                    total_buy_quantity=int(self.total_buy_quantity[i]),
                    total_sell_quantity=int(self.total_sell_quantity[i]), **ohlc, **kw)

    def to_ticks(self) -> list[Tick]:
        """Every packet as a :class:`core.models.Tick`, in frame order."""
        return [self.tick(i) for i in range(len(self))]


def _ts(raw: int) -> datetime | None:
    return datetime.fromtimestamp(raw, UTC) if raw > 0 else None


def _layout(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Body offsets and lengths (int64 arrays) of every packet; validates the frame's framing.

    Fast path: when every packet has the first packet's length (a full-mode equity frame), the
    length fields are checked through one strided view. Otherwise the headers are walked.
    """
    size = len(buf)
    count = (buf[0] << 8) | buf[1]
    if count == 0:
        if size != 2:
            raise DataError(f"frame has {size - 2} unexpected trailing bytes at byte offset 2 after 0 packets")
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if size >= 4:
        first = (buf[2] << 8) | buf[3]
        stride = 2 + first
        if size == 2 + count * stride:
            lens = np.ndarray((count,), dtype=">u2", buffer=buf, offset=2, strides=(stride,))
            if (lens == first).all():
                return (np.arange(count, dtype=np.int64) * stride + 4, np.full(count, first, dtype=np.int64))
    offsets = [0] * count
    lengths = [0] * count
    pos = 2
    for k in range(count):
        if pos + 2 > size:
            raise DataError(f"frame truncated at byte offset {pos}: length of packet {k + 1} of {count} "
                            f"missing (frame is {size} bytes)")
        length = (buf[pos] << 8) | buf[pos + 1]
        pos += 2
        if pos + length > size:
            raise DataError(f"frame truncated at byte offset {pos}: packet {k + 1} of {count} needs "
                            f"{length} bytes, {size - pos} left")
        offsets[k] = pos
        lengths[k] = length
        pos += length
    if pos != size:
        raise DataError(f"frame has {size - pos} unexpected trailing bytes at byte offset {pos} "
                        f"after {count} packets")
    return np.array(offsets, dtype=np.int64), np.array(lengths, dtype=np.int64)


def _group_view(buf: bytes, u8: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
    """Structured records of the packets at ``offsets`` (all of ``length`` bytes)."""
    m = offsets.shape[0]
    dt = PACKET_DTYPES[length]
    if m == 1 or (offsets[-1] - offsets[0] == (m - 1) * (2 + length)
                  and (m < 3 or (np.diff(offsets) == 2 + length).all())):
        return np.ndarray((m,), dtype=dt, buffer=buf, offset=int(offsets[0]), strides=(2 + length,))
    rows = u8[offsets[:, None] + np.arange(length)]  # (m, length) copy, gathered
    return rows.view(dt).reshape(m)


def decode_frame(frame: bytes | bytearray | memoryview) -> TickBatch:
    """Decode one KiteTicker binary frame into a :class:`TickBatch` of column arrays.

    ``frame`` is the WebSocket binary message as received. Returns an empty batch for a
    heartbeat (< 2 bytes). Raises ``DataError`` naming the byte offset for a truncated frame
    or trailing bytes; unknown-length packets are skipped and listed in ``.unknown``.
    """
    buf = bytes(frame)
    if len(buf) < 2:
        return _empty(buf)
    offsets, lengths = _layout(buf)
    known = np.isin(lengths, KNOWN_LENGTHS)
    unknown: tuple[tuple[int, int], ...] = ()
    if not known.all():
        unknown = tuple(zip(offsets[~known].tolist(), lengths[~known].tolist(), strict=True))
        offsets, lengths = offsets[known], lengths[known]
    n = offsets.shape[0]
    out = _alloc(buf, n)
    out.offset[:] = offsets
    out.packet_length[:] = lengths
    cols = out.__dict__
    raw_prices = {c: np.zeros(n, dtype=np.int64) for c in _PRICE_COLS}
    u8 = np.frombuffer(buf, dtype=np.uint8)
    present = np.unique(lengths).tolist() if n else []
    has_full = FULL_LEN in present
    for length in present:
        if len(present) == 1:
            sel: slice | np.ndarray = slice(None)
            view = _group_view(buf, u8, offsets, length)
        else:
            sel = np.flatnonzero(lengths == length)
            view = _group_view(buf, u8, offsets[sel], length)
        names = view.dtype.names
        out.instrument_token[sel] = view["token"]
        for c in _PRICE_COLS:
            if c in names:
                raw_prices[c][sel] = view[c]
        for c in _INT_COLS + _TS_COLS:
            if c in names:
                cols[c][sel] = view[c]
        if length == FULL_LEN:
            depth = view["depth"]
            out.depth_quantity[sel] = depth["quantity"]
            out.depth_price[sel] = depth["price"]
            out.depth_orders[sel] = depth["orders"]
    div = price_divisors(out.instrument_token)
    for c in _PRICE_COLS:
        np.divide(raw_prices[c], div, out=cols[c])
    if has_full:
        np.divide(out.depth_price, div[:, None], out=out.depth_price)
    if unknown:
        object.__setattr__(out, "unknown", unknown)
    return out


def _alloc(buf: bytes, n: int) -> TickBatch:
    f8 = lambda: np.zeros(n, dtype=np.float64)  # noqa: E731
    i8 = lambda: np.zeros(n, dtype=np.int64)  # noqa: E731
    return TickBatch(
        frame=buf, instrument_token=i8(), packet_length=np.zeros(n, dtype=np.int16),
        last_price=f8(), open=f8(), high=f8(), low=f8(), close=f8(), average_traded_price=f8(),
        last_traded_quantity=i8(), volume_traded=i8(), total_buy_quantity=i8(), total_sell_quantity=i8(),
        oi=i8(), oi_day_high=i8(), oi_day_low=i8(),
        last_trade_time=np.full(n, -1, dtype=np.int64), exchange_timestamp=np.full(n, -1, dtype=np.int64),
        depth_quantity=np.zeros((n, 10), dtype=np.int64), depth_price=np.zeros((n, 10), dtype=np.float64),
        depth_orders=np.zeros((n, 10), dtype=np.int64), offset=i8(),
    )


def _empty(buf: bytes) -> TickBatch:
    return _alloc(buf, 0)


def decode_packet(packet: bytes) -> Tick:
    """Decode one raw packet (no length prefix) into a ``Tick``.

    Raises ``DataError`` if its length is not one of 8, 28, 32, 44, 184.
    """
    if len(packet) not in PACKET_DTYPES:
        raise DataError(f"packet has unknown length {len(packet)} (expected 8, 28, 32, 44 or 184)")
    frame = b"\x00\x01" + len(packet).to_bytes(2, "big") + bytes(packet)
    return decode_frame(frame).tick(0)
