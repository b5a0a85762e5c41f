"""Deterministic tick paths from OHLCV bars (the replay server's ticks).

A recorded 1-minute bar says only where the price opened, how far it went each way, where it
closed and how many shares traded. The replay needs ticks, so this module derives them by a
fixed, documented rule (derived, not recorded):

**Path.** ``K`` ticks per bar (``K >= 4``; the replay's default is 60, one per second of a
1-minute bar). Tick ``i`` (0-based) sits at ``i * bar_seconds / K`` seconds after the bar opens.
Four anchors are pinned exactly:

* tick ``0`` = open,
* tick ``a = (K-1)//3`` = the first extreme,
* tick ``b = 2*(K-1)//3`` = the second extreme,
* tick ``K-1`` = close.

If ``close >= open`` the bar is taken as open → low → high → close (a dip, then the rally that
closes it up); otherwise open → high → low → close. For ``K >= 4``: ``0 < a < b < K-1``, so every
anchor is its own tick and O, H, L and C are all visited. Between anchors the price moves
linearly; each interpolated price is rounded half-up to the nearest multiple of the tick size
and clamped to ``[low, high]``. All arithmetic is on integer paise, so the path is exact and
the same on every machine.

**Volume.** A bar of ``V`` shares gives every tick ``V // K`` shares, and the last tick also gets
the remainder ``V % K``. So the cumulative volume at the bar's last tick equals the bar's
cumulative volume exactly, and rebuilding the bar from its ticks returns the recorded OHLCV.

Prices are rupees in and out (``float``), with paise helpers for callers that stay in integers.
Errors: ``ValidationError`` for a bad bar (high < low, open/close outside the range, a
non-positive price, negative volume) or ``K < 4``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ValidationError

MIN_TICKS_PER_BAR = 4
DEFAULT_TICKS_PER_BAR = 60


def to_paise(rupees: float) -> int:
    """Rupees → integer paise (rounded to the nearest paisa)."""
    return int(round(float(rupees) * 100))


def turning_offsets(k: int) -> tuple[int, int]:
    """Indices ``(a, b)`` of the two extremes in a ``k``-tick path. Raises ``ValidationError``."""
    if k < MIN_TICKS_PER_BAR:
        raise ValidationError(f"ticks per bar must be >= {MIN_TICKS_PER_BAR} (got {k})")
    return (k - 1) // 3, 2 * (k - 1) // 3


@dataclass(frozen=True, slots=True)
class TickPath:
    """The derived ticks of one bar: ``prices`` int64 paise (K,), ``volumes`` int64 shares (K,)."""

    prices: np.ndarray
    volumes: np.ndarray

    @property
    def rupees(self) -> np.ndarray:
        return self.prices / 100.0


def _check_bar(o: int, h: int, low: int, c: int, volume: int) -> None:
    if min(o, h, low, c) <= 0:
        raise ValidationError(f"bar prices must be positive (got O={o} H={h} L={low} C={c} paise)")
    if h < low:
        raise ValidationError(f"bar high {h} is below low {low} (paise); fix the bar")
    if not (low <= o <= h and low <= c <= h):
        raise ValidationError(f"bar open {o} / close {c} must lie within [low {low}, high {h}] (paise)")
    if volume < 0:
        raise ValidationError(f"bar volume must be >= 0 (got {volume})")


def path_paise(o: int, h: int, low: int, c: int, k: int, tick_paise: int) -> np.ndarray:
    """The ``k`` tick prices (int64 paise) of a bar given in integer paise. See module docstring."""
    if tick_paise <= 0:
        raise ValidationError(f"tick size must be positive (got {tick_paise} paise)")
    a, b = turning_offsets(k)
    first, second = (low, h) if c >= o else (h, low)
    anchors_i = np.array([0, a, b, k - 1], dtype=np.int64)
    anchors_p = np.array([o, first, second, c], dtype=np.int64)
    idx = np.arange(k, dtype=np.int64)
    seg = np.searchsorted(anchors_i, idx, side="right") - 1
    seg = np.clip(seg, 0, 2)
    i0, i1 = anchors_i[seg], anchors_i[seg + 1]
    p0, p1 = anchors_p[seg], anchors_p[seg + 1]
    den = i1 - i0
    num = p0 * den + (p1 - p0) * (idx - i0)  # exact value = num / den paise
    t = tick_paise
    # round half up to a multiple of t: floor((2*num + t*den) / (2*t*den)) * t
    out = np.floor_divide(2 * num + t * den, 2 * t * den) * t
    out = np.clip(out, low, h)
    out[anchors_i] = anchors_p  # anchors exact even if off the tick grid
    return out


def split_volume(volume: int, k: int) -> np.ndarray:
    """``volume`` shares over ``k`` ticks: ``volume // k`` each, remainder on the last (int64)."""
    if volume < 0:
        raise ValidationError(f"bar volume must be >= 0 (got {volume})")
    out = np.full(k, volume // k, dtype=np.int64)
    out[-1] += volume % k
    return out


def bar_ticks(open_: float, high: float, low: float, close: float, volume: int,
              k: int = DEFAULT_TICKS_PER_BAR, tick_size: float = 0.05) -> TickPath:
    """Derive the ``k`` ticks of one bar (prices rupees, ``tick_size`` rupees, volume shares).

    Returns a :class:`TickPath`. Raises ``ValidationError`` for a malformed bar or ``k < 4``.
    """
    o, h, lo, c = (to_paise(x) for x in (open_, high, low, close))
    volume = int(volume)
    _check_bar(o, h, lo, c, volume)
    return TickPath(path_paise(o, h, lo, c, k, to_paise(tick_size)), split_volume(volume, k))


def bars_ticks(opens, highs, lows, closes, volumes, k: int = DEFAULT_TICKS_PER_BAR,
               tick_size: float = 0.05) -> TickPath:
    """Ticks of consecutive bars, concatenated: arrays of length ``n_bars * k``.

    Inputs are equal-length sequences (rupees, shares). Tick ``j*k + i`` is tick ``i`` of bar
    ``j``. Vectorised over bars; same rule as :func:`bar_ticks`.
    """
    o = np.round(np.asarray(opens, dtype=float) * 100).astype(np.int64)
    h = np.round(np.asarray(highs, dtype=float) * 100).astype(np.int64)
    lo = np.round(np.asarray(lows, dtype=float) * 100).astype(np.int64)
    c = np.round(np.asarray(closes, dtype=float) * 100).astype(np.int64)
    v = np.asarray(volumes, dtype=np.int64)
    if not (len(o) == len(h) == len(lo) == len(c) == len(v)):
        raise ValidationError("opens, highs, lows, closes and volumes must have the same length")
    if len(o) and (
        (np.minimum.reduce([o, h, lo, c]) <= 0).any() or (h < lo).any()
        or ((o < lo) | (o > h) | (c < lo) | (c > h)).any() or (v < 0).any()
    ):
        raise ValidationError("bars must have positive prices, low <= open/close <= high and volume >= 0")
    t = to_paise(tick_size)
    if t <= 0:
        raise ValidationError(f"tick size must be positive (got {tick_size})")
    a, b = turning_offsets(k)
    up = c >= o
    first = np.where(up, lo, h)
    second = np.where(up, h, lo)
    anchors_i = np.array([0, a, b, k - 1], dtype=np.int64)
    anchors_p = np.stack([o, first, second, c], axis=1)  # (n, 4)
    idx = np.arange(k, dtype=np.int64)
    seg = np.clip(np.searchsorted(anchors_i, idx, side="right") - 1, 0, 2)
    i0, i1 = anchors_i[seg], anchors_i[seg + 1]
    p0, p1 = anchors_p[:, seg], anchors_p[:, seg + 1]  # (n, k)
    den = (i1 - i0)[None, :]
    num = p0 * den + (p1 - p0) * (idx - i0)[None, :]
    out = np.floor_divide(2 * num + t * den, 2 * t * den) * t
    out = np.clip(out, lo[:, None], h[:, None])
    out[:, anchors_i] = anchors_p
    vol = np.repeat((v // k)[:, None], k, axis=1)
    vol[:, -1] += v % k
    return TickPath(out.reshape(-1), vol.reshape(-1))
