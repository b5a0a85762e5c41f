"""Vectorised encoding of the replay's ticks (``ReplayMarket.series``, built per row on first use) into
KiteTicker frames.

For a tick range ``[i0, i1]`` and subscribed instruments grouped by packet kind, every
packet of every tick is encoded at once with ``core.kite_wire.encode_records`` and laid out in
time order (tick-major; within one tick, the groups in the order given). Frames are cut at
whole ticks so none holds more than ``max_packets`` packets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.adapters.replay.market import ReplayMarket
from core.kite_wire import RECORD_DTYPES, encode_records, frame_from_records

MAX_PACKETS = 6000
_LEVELS = np.arange(1, 6, dtype=np.int64)


@dataclass
class Group:
    """Subscribed instruments sharing one packet kind: ``tokens`` sent, ``rows`` driving them."""

    mode: str
    index: bool
    tokens: np.ndarray
    rows: np.ndarray


def _columns(m: ReplayMarket, g: Group, ticks: np.ndarray) -> dict[str, np.ndarray]:
    def grid(name: str) -> np.ndarray:  # (n_ticks, n_tokens): time-major
        return m.series_columns(g.rows, ticks, name)

    price = grid("price")
    nt, ns = price.shape
    cols: dict[str, np.ndarray] = {"token": np.broadcast_to(g.tokens, (nt, ns)).ravel(),
                                   "last_price": price.ravel()}
    if g.mode == "ltp":
        return cols
    cols["high"] = grid("high").ravel()
    cols["low"] = grid("low").ravel()
    cols["open"] = np.broadcast_to(m.day_open[g.rows], (nt, ns)).ravel()
    cols["close"] = np.broadcast_to(m.prev_close_paise[g.rows], (nt, ns)).ravel()
    ts = np.broadcast_to(m.tick_epoch[ticks][:, None], (nt, ns)).ravel()
    if g.index:
        if g.mode == "full":
            cols["exchange_timestamp"] = ts
        return cols
    cols["last_traded_quantity"] = grid("ltq").ravel()
    cols["average_traded_price"] = grid("atp").ravel()
    cols["volume_traded"] = grid("cumvol").ravel()
    base = grid("depth_base").ravel()
    qty = base[:, None] * _LEVELS[None, :]
    total = qty.sum(axis=1)
    cols["total_buy_quantity"] = total
    cols["total_sell_quantity"] = total
    if g.mode == "full":
        tick = np.broadcast_to(m.tick_paise[g.rows], (nt, ns)).ravel()[:, None]
        lp = cols["last_price"][:, None]
        cols["last_trade_time"] = ts
        cols["exchange_timestamp"] = ts
        cols["bid_price"] = np.maximum(lp - tick * _LEVELS[None, :], tick)
        cols["ask_price"] = lp + tick * _LEVELS[None, :]
        cols["bid_quantity"] = qty
        cols["ask_quantity"] = qty
        orders = np.minimum(1 + qty // 500, 0xFFFF)
        cols["bid_orders"] = orders
        cols["ask_orders"] = orders
    return cols


def encode_ticks(m: ReplayMarket, groups: list[Group], i0: int, i1: int,
                 max_packets: int = MAX_PACKETS) -> list[bytes]:
    """Frames carrying ticks ``i0..i1`` (inclusive) of every group, in time order."""
    groups = [g for g in groups if len(g.rows)]
    if i1 < i0 or not groups:
        return []
    ticks = np.arange(i0, i1 + 1)
    blocks = []
    per_tick = 0
    for g in groups:
        rec = encode_records(g.mode, g.index, _columns(m, g, ticks), len(ticks) * len(g.rows))
        blocks.append(rec.view(np.uint8).reshape(len(ticks), -1))
        per_tick += len(g.rows)
    rows = np.hstack(blocks) if len(blocks) > 1 else blocks[0]
    step = max(1, max_packets // per_tick)
    frames = []
    for s in range(0, len(ticks), step):
        chunk = rows[s:s + step]
        frames.append(frame_from_records([chunk.tobytes()], per_tick * len(chunk)))
    return frames


def record_size(mode: str, index: bool) -> int:
    return RECORD_DTYPES[(mode, index)].itemsize
