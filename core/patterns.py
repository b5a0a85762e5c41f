"""Candlestick patterns and price structure over OHLCV bars, vectorised.

Input shape: ``bars`` is one instrument's bars, a ``pd.DataFrame`` indexed by a strictly
increasing tz-aware ``DatetimeIndex`` (bar open time, IST), float columns ``open high low
close`` (₹) and, where read, ``volume`` (shares); see ``core.indicators.validate_bars``.

Outputs have stable names: boolean columns (``bool``; ``False`` during a pattern's warm-up)
and level columns (``float64`` ₹, ``NaN`` while unknown). No function looks ahead: the value at
bar ``t`` depends only on bars ``<= t`` (a pivot becomes a support/resistance level only once
the ``k`` bars after it have closed). Every kernel (``_name(o, h, l, c)``) also works on 2-D
``(bars × symbols)`` NumPy arrays, which is how the scanner evaluates a whole universe at once.

Definitions (shape rules only, no trend filter; these follow the common textbook forms, e.g.
Nison, *Japanese Candlestick Charting Techniques*, and TA-Lib's pattern descriptions):

* ``bullish_engulfing``: previous bar bearish, this bar bullish, its body covers the previous
  body (``open <= prev close`` and ``close >= prev open``) and is strictly larger.
  ``bearish_engulfing`` is the mirror image.
* ``doji``: body ``|close - open| <= 10 %`` of the bar's range (range > 0).
* ``hammer``: lower shadow ``>= 2 ×`` body, upper shadow ``<= 10 %`` of the range, range > 0.
* ``morning_star``: bar t-2 bearish with a body ``>= 50 %`` of its range, bar t-1 a small body
  (``<= 30 %`` of bar t-2's body), bar t bullish closing above the midpoint of bar t-2's body.
  ``evening_star`` is the mirror image.
* ``inside_bar``: ``high < prev high`` and ``low > prev low``.
* ``nr7``: this bar's range is strictly narrower than each of the previous six bars' ranges.
* ``gap_up``/``gap_down``: ``open > prev high`` / ``open < prev low``; ``gap_pct`` is
  ``(open / prev close - 1) × 100``.
* ``high_52w``/``low_52w``: highest high / lowest low of the last ``window`` bars (252 trading
  days ≈ 52 weeks) including this one; ``new_high_52w`` when this bar's high exceeds the highest
  high of the previous ``window - 1`` bars (needs ``window`` bars of history).
* ``breakout_up``/``breakout_down``: close above the highest high / below the lowest low of
  the previous ``lookback`` bars.
* Opening range (intraday): ``or_high``/``or_low`` of the first ``minutes`` of each IST session
  (from 09:15), known from the first bar after the window; ``orb_up``/``orb_down`` on the first
  bar of the day whose close is beyond the range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from core.errors import ValidationError
from core.indicators import validate_bars
from core.timeutil import IST

CANDLE_COLUMNS = ("bullish_engulfing", "bearish_engulfing", "hammer", "doji", "morning_star",
                  "evening_star", "inside_bar", "nr7")
STRUCTURE_COLUMNS = ("gap_up", "gap_down", "gap_pct", "high_52w", "low_52w", "new_high_52w",
                     "new_low_52w", "breakout_up", "breakout_down")
LEVEL_COLUMNS = ("support", "resistance", "support_touches", "resistance_touches")
ORB_COLUMNS = ("or_high", "or_low", "orb_up", "orb_down")
WEEKS_52 = 252

_OHLC = ["open", "high", "low", "close"]


# ---- array helpers (axis 0 is time; 1-D or 2-D) -----------------------------------------------


def shift(x: np.ndarray, k: int = 1) -> np.ndarray:
    """``x`` moved ``k >= 0`` bars later along axis 0, ``NaN``-filled at the start."""
    x = np.asarray(x, dtype="float64")
    if k == 0:
        return x
    out = np.full_like(x, np.nan)
    if k < len(x):
        out[k:] = x[:-k]
    return out


def rolling(x: np.ndarray, n: int, how: str) -> np.ndarray:
    """Trailing ``n``-bar ``max``/``min``/``mean``/``sum`` along axis 0 (``NaN`` for the first
    ``n - 1`` bars and wherever the window holds a ``NaN``)."""
    x = np.asarray(x, dtype="float64")
    out = np.full_like(x, np.nan)
    if n > len(x):
        return out
    win = sliding_window_view(x, n, axis=0)  # (T - n + 1, [N,] n)
    out[n - 1:] = getattr(win, how)(axis=-1)
    return out


def _gt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.greater(a, b)


def _lt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.less(a, b)


def _le(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.less_equal(a, b)


def _ge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.greater_equal(a, b)


# ---- kernels ----------------------------------------------------------------------------------


def k_bullish_engulfing(o, h, l, c):  # noqa: E741
    o1, c1 = shift(o), shift(c)
    return _lt(c1, o1) & _gt(c, o) & _le(o, c1) & _ge(c, o1) & _gt(c - o, o1 - c1)


def k_bearish_engulfing(o, h, l, c):  # noqa: E741
    o1, c1 = shift(o), shift(c)
    return _gt(c1, o1) & _lt(c, o) & _ge(o, c1) & _le(c, o1) & _gt(o - c, c1 - o1)


def k_doji(o, h, l, c):  # noqa: E741
    rng = h - l
    return _gt(rng, 0) & _le(np.abs(c - o), 0.1 * rng)


def k_hammer(o, h, l, c):  # noqa: E741
    rng = h - l
    body = np.abs(c - o)
    lower = np.minimum(o, c) - l
    upper = h - np.maximum(o, c)
    return _gt(rng, 0) & _ge(lower, 2 * body) & _le(upper, 0.1 * rng)


def _star(o, h, l, c, bullish: bool):  # noqa: E741
    o2, h2, l2, c2 = shift(o, 2), shift(h, 2), shift(l, 2), shift(c, 2)
    o1, c1 = shift(o), shift(c)
    body2 = np.abs(c2 - o2)
    first = _ge(body2, 0.5 * (h2 - l2)) & (_lt(c2, o2) if bullish else _gt(c2, o2))
    small = _le(np.abs(c1 - o1), 0.3 * body2)
    mid = (o2 + c2) / 2
    last = (_gt(c, o) & _gt(c, mid)) if bullish else (_lt(c, o) & _lt(c, mid))
    return first & small & last


def k_morning_star(o, h, l, c):  # noqa: E741
    return _star(o, h, l, c, True)


def k_evening_star(o, h, l, c):  # noqa: E741
    return _star(o, h, l, c, False)


def k_inside_bar(o, h, l, c):  # noqa: E741
    return _lt(h, shift(h)) & _gt(l, shift(l))


def k_nr7(o, h, l, c):  # noqa: E741
    rng = h - l
    return _lt(rng, rolling(shift(rng), 6, "min"))


def k_gap_up(o, h, l, c):  # noqa: E741
    return _gt(o, shift(h))


def k_gap_down(o, h, l, c):  # noqa: E741
    return _lt(o, shift(l))


def k_new_high(h, window: int = WEEKS_52):
    return _gt(h, rolling(shift(h), window - 1, "max"))


def k_new_low(l, window: int = WEEKS_52):  # noqa: E741
    return _lt(l, rolling(shift(l), window - 1, "min"))


def k_breakout_up(h, c, lookback: int = 20):
    return _gt(c, rolling(shift(h), lookback, "max"))


def k_breakout_down(l, c, lookback: int = 20):  # noqa: E741
    return _lt(c, rolling(shift(l), lookback, "min"))


CANDLE_KERNELS = {
    "bullish_engulfing": k_bullish_engulfing, "bearish_engulfing": k_bearish_engulfing,
    "hammer": k_hammer, "doji": k_doji, "morning_star": k_morning_star,
    "evening_star": k_evening_star, "inside_bar": k_inside_bar, "nr7": k_nr7,
    "gap_up": k_gap_up, "gap_down": k_gap_down,
}


# ---- public, one instrument -------------------------------------------------------------------


def _ohlc(bars: pd.DataFrame) -> tuple[np.ndarray, ...]:
    b = validate_bars(bars, _OHLC)
    return tuple(b[col].to_numpy() for col in _OHLC)


def candlestick_patterns(bars: pd.DataFrame) -> pd.DataFrame:
    """Every candlestick pattern of the module docstring as ``bool`` columns
    (``CANDLE_COLUMNS``), same index as ``bars``. Raises ``ValidationError`` for bad bars."""
    o, h, l, c = _ohlc(bars)  # noqa: E741
    return pd.DataFrame({name: CANDLE_KERNELS[name](o, h, l, c) for name in CANDLE_COLUMNS}, index=bars.index)


def price_structure(bars: pd.DataFrame, window: int = WEEKS_52, lookback: int = 20) -> pd.DataFrame:
    """Gaps, 52-week levels and breakouts (``STRUCTURE_COLUMNS``), same index as ``bars``.

    ``window``: bars in "52 weeks" (default 252 trading days); ``lookback``: breakout range.
    ``high_52w``/``low_52w`` are ``NaN`` and ``new_high_52w``/``new_low_52w`` ``False`` until
    ``window`` bars exist. Raises ``ValidationError`` for bad bars or a window < 2.
    """
    if window < 2 or lookback < 1:
        raise ValidationError(f"window must be >= 2 and lookback >= 1, got window={window}, lookback={lookback}")
    o, h, l, c = _ohlc(bars)  # noqa: E741
    c1 = shift(c)
    return pd.DataFrame({
        "gap_up": k_gap_up(o, h, l, c),
        "gap_down": k_gap_down(o, h, l, c),
        "gap_pct": (o / c1 - 1.0) * 100.0,
        "high_52w": rolling(h, window, "max"),
        "low_52w": rolling(l, window, "min"),
        "new_high_52w": k_new_high(h, window),
        "new_low_52w": k_new_low(l, window),
        "breakout_up": k_breakout_up(h, c, lookback),
        "breakout_down": k_breakout_down(l, c, lookback),
    }, index=bars.index)


def support_resistance(bars: pd.DataFrame, k: int = 3, lookback: int = 120, tolerance_pct: float = 1.0) -> pd.DataFrame:
    """Nearest support below and resistance above each bar's close, from clusters of pivots.

    A pivot high at bar ``p`` is a high strictly above the ``k`` highs before and after it;
    it is *confirmed* (usable) from bar ``p + k`` on, so no level depends on a later bar.
    At bar ``t`` the confirmed pivots (highs and lows) of the last ``lookback`` bars are
    clustered: sorted by price, a pivot within ``tolerance_pct`` % of the running cluster mean
    joins it. A cluster's level is its mean price (₹) and its touches its pivot count.

    Returns ``LEVEL_COLUMNS``: ``support`` (highest level ``<= close``), ``resistance``
    (lowest level ``> close``), both ``float64`` ``NaN`` when none exists, and
    ``support_touches``/``resistance_touches`` (``float64`` counts, 0 when none).
    """
    if k < 1 or lookback < 2 * k + 1 or not tolerance_pct > 0:
        raise ValidationError(f"need k >= 1, lookback >= 2k+1 and tolerance_pct > 0 (got {k=}, {lookback=}, {tolerance_pct=})")
    _, h, l, c = _ohlc(bars)  # noqa: E741
    n = len(c)
    is_ph = np.zeros(n, bool)
    is_pl = np.zeros(n, bool)
    for p in range(k, n - k):
        hw = np.r_[h[p - k:p], h[p + 1:p + k + 1]]
        lw = np.r_[l[p - k:p], l[p + 1:p + k + 1]]
        is_ph[p] = h[p] > hw.max()
        is_pl[p] = l[p] < lw.min()
    piv_price = np.where(is_ph, h, np.where(is_pl, l, np.nan))
    both = is_ph & is_pl
    out = np.full((n, 4), np.nan)
    out[:, 2:] = 0.0
    for t in range(n):
        hi = t - k  # newest confirmable pivot index
        lo = max(0, t - lookback + 1)
        if hi < lo:
            continue
        sel = np.flatnonzero(~np.isnan(piv_price[lo:hi + 1])) + lo
        prices = list(piv_price[sel]) + [l[i] for i in sel if both[i]]
        if not prices:
            continue
        levels = _cluster(sorted(prices), tolerance_pct)
        below = [(lv, m) for lv, m in levels if lv <= c[t]]
        above = [(lv, m) for lv, m in levels if lv > c[t]]
        if below:
            out[t, 0], out[t, 2] = max(below)
        if above:
            out[t, 1], out[t, 3] = min(above)
    return pd.DataFrame(out, index=bars.index, columns=list(LEVEL_COLUMNS))


def _cluster(prices: list[float], tolerance_pct: float) -> list[tuple[float, float]]:
    levels: list[tuple[float, float]] = []
    group: list[float] = []
    for p in prices:
        if group and abs(p / np.mean(group) - 1.0) * 100.0 > tolerance_pct:
            levels.append((float(np.mean(group)), float(len(group))))
            group = []
        group.append(p)
    if group:
        levels.append((float(np.mean(group)), float(len(group))))
    return levels


def opening_range(bars: pd.DataFrame, minutes: int = 15) -> pd.DataFrame:
    """Opening range of each IST session and its breakout (intraday bars).

    ``bars``: intraday bars (IST index) of one instrument. The range is the high/low of the
    bars that open in ``[09:15, 09:15 + minutes)`` of each day; ``or_high``/``or_low`` are
    ``NaN`` inside the window (not yet known) and on days with no bar in it. ``orb_up`` is
    ``True`` on the first bar after the window whose close is above ``or_high`` (``orb_down``:
    below ``or_low``), at most once per day each. Raises ``ValidationError`` if the index is
    not IST or ``minutes`` is not in 1..375.
    """
    if not 1 <= minutes <= 375:
        raise ValidationError(f"opening-range minutes must be 1..375, got {minutes}")
    b = validate_bars(bars, ["high", "low", "close"])
    if str(b.index.tz) != IST.key:
        raise ValidationError(f"opening_range needs an index in {IST.key}; call .tz_convert('{IST.key}')")
    day = b.index.normalize()
    since_open = (b.index - day) - pd.Timedelta(hours=9, minutes=15)
    in_window = (since_open >= pd.Timedelta(0)) & (since_open < pd.Timedelta(minutes=minutes))
    after = since_open >= pd.Timedelta(minutes=minutes)
    key = pd.Series(day, index=b.index)
    hi = b["high"].where(in_window).groupby(key).transform("max")
    lo = b["low"].where(in_window).groupby(key).transform("min")
    or_high = hi.where(after)
    or_low = lo.where(after)
    above = (b["close"] > or_high)
    below = (b["close"] < or_low)
    first_up = above & (above.astype(int).groupby(key).cumsum() == 1)
    first_down = below & (below.astype(int).groupby(key).cumsum() == 1)
    return pd.DataFrame({"or_high": or_high.astype("float64"), "or_low": or_low.astype("float64"),
                         "orb_up": first_up.to_numpy(bool), "orb_down": first_down.to_numpy(bool)}, index=b.index)
