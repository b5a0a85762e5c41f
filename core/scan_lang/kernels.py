"""Indicator kernels over panels: 2-D ``float64`` arrays of shape ``(T bars, N symbols)``.

Each column is one symbol's bars in time order, *right-aligned*: a symbol with fewer bars has
leading ``NaN`` rows, never gaps inside. Each kernel computes, for every column at once, the
same values as the ``core.indicators`` function of the same name (pandas-ta-classic, itself
checked against TA-Lib), seeding each column from its own first bar; tests check the two agree
symbol by symbol. Recursive averages loop over the ``T`` rows with NumPy vector steps over the
``N`` symbols, so a universe costs about as much as a few symbols. No kernel looks ahead.
"""

from __future__ import annotations

import sys

import numpy as np

from core.patterns import rolling, shift

_EPS = sys.float_info.epsilon


def _seeded_recursion(x: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """``y = alpha·x + (1-alpha)·y[-1]`` seeded with the mean of each column's first ``n``
    valid values (pandas-ta's EMA/RMA, TA-Lib's seeding)."""
    valid = ~np.isnan(x)
    cnt = np.cumsum(valid, axis=0)
    seed = rolling(x, n, "mean")
    out = np.full_like(x, np.nan)
    state = np.full(x.shape[1:], np.nan)
    keep = 1.0 - alpha
    for t in range(x.shape[0]):
        state = alpha * x[t] + keep * state
        state = np.where(cnt[t] == n, seed[t], state)
        out[t] = state
    return out


def sma(x: np.ndarray, n: int) -> np.ndarray:
    return rolling(x, n, "mean")


def ema(x: np.ndarray, n: int) -> np.ndarray:
    return _seeded_recursion(x, n, 2.0 / (n + 1))


def rma(x: np.ndarray, n: int) -> np.ndarray:
    return _seeded_recursion(x, n, 1.0 / n)


def rsi(x: np.ndarray, n: int) -> np.ndarray:
    d = x - shift(x)
    up = np.where(d > 0, d, 0.0)
    dn = np.where(d < 0, d, 0.0)
    up[np.isnan(d)] = np.nan
    dn[np.isnan(d)] = np.nan
    pos, neg = rma(up, n), rma(dn, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * pos / (pos + np.abs(neg))


def macd(x: np.ndarray, fast: int, slow: int, signal: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    line = ema(x, fast) - ema(x, slow)
    sig = ema(line, signal)
    return line, sig, line - sig


def bollinger(x: np.ndarray, n: int, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mid = rolling(x, n, "mean")
    sd = rolling(x, n, "std")
    return mid - k * sd, mid, mid + k * sd


def true_range(h: np.ndarray, l: np.ndarray, c: np.ndarray) -> np.ndarray:  # noqa: E741
    pc = shift(c)
    hl = h - l
    hl = np.where(hl != 0, hl, _EPS)
    tr = np.maximum(np.abs(hl), np.maximum(np.abs(h - pc), np.abs(pc - l)))
    tr[np.isnan(pc)] = np.nan
    return tr


def atr(h, l, c, n: int) -> np.ndarray:  # noqa: E741
    return rma(true_range(h, l, c), n)


def _wilder_smooth(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """TA-Lib's Wilder sum: seed = sum of the first ``n - 1`` finite values, then
    ``y = y - y/n + x``. Returns the smoothed panel and the seed-row mask."""
    cnt = np.cumsum(np.isfinite(x), axis=0)
    seed = rolling(x, n - 1, "sum")
    out = np.full_like(x, np.nan)
    state = np.full(x.shape[1:], np.nan)
    at_seed = cnt == n - 1
    for t in range(x.shape[0]):
        state = state - state / n + x[t]
        state = np.where(at_seed[t], seed[t], state)
        out[t] = state
    return out, at_seed & np.isfinite(x)


def adx(h, l, c, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: E741
    up = h - shift(h)
    dn = shift(l) - l
    with np.errstate(invalid="ignore"):
        pos = np.where((up > dn) & (up > 0), up, 0.0)
        neg = np.where((dn > up) & (dn > 0), dn, 0.0)
    pos[np.isnan(up)] = np.nan
    neg[np.isnan(up)] = np.nan
    pos[np.abs(pos) < _EPS] = 0.0
    neg[np.abs(neg) < _EPS] = 0.0
    tr_s, seed = _wilder_smooth(true_range(h, l, c), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        dmp = 100.0 * _wilder_smooth(pos, n)[0] / tr_s
        dmn = 100.0 * _wilder_smooth(neg, n)[0] / tr_s
        dmp[seed] = np.nan
        dmn[seed] = np.nan
        dx = 100.0 * np.abs(dmp - dmn) / (dmp + dmn)
    return rma(dx, n), dmp, dmn


def supertrend(h, l, c, n: int, mult: float) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
    a = atr(h, l, c, n)
    hl2 = (h + l) / 2.0
    ub = hl2 + mult * a
    lb = hl2 - mult * a
    T = c.shape[0]
    direction = np.ones_like(c)
    trend = np.full_like(c, np.nan)
    with np.errstate(invalid="ignore"):
        for i in range(1, T):
            up = c[i] > ub[i - 1]
            down = ~up & (c[i] < lb[i - 1])
            same = ~up & ~down
            d = np.where(up, 1.0, np.where(down, -1.0, direction[i - 1]))
            direction[i] = d
            ratchet_l = same & (d > 0) & (lb[i] < lb[i - 1])
            lb[i] = np.where(ratchet_l, lb[i - 1], lb[i])
            ratchet_u = same & (d < 0) & (ub[i] > ub[i - 1])
            ub[i] = np.where(ratchet_u, ub[i - 1], ub[i])
            trend[i] = np.where(d > 0, lb[i], ub[i])
    warm = np.isnan(a)
    trend[warm] = np.nan
    direction[warm] = np.nan
    return trend, direction


def stoch_rsi(x: np.ndarray, period: int, rsi_period: int, k: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    r = rsi(x, rsi_period)
    lo = rolling(r, period, "min")
    hi = rolling(r, period, "max")
    rng = hi - lo
    rng = np.where(rng != 0, rng, _EPS)
    stoch = 100.0 * (r - lo) / rng
    kk = rolling(stoch, k, "mean")
    return kk, rolling(kk, d, "mean")


def obv(c: np.ndarray, v: np.ndarray) -> np.ndarray:
    sign = np.sign(c - shift(c))
    first = ~np.isnan(c) & np.isnan(shift(c))
    sign[first] = 1.0
    out = np.nancumsum(sign * v, axis=0)
    out[np.isnan(c)] = np.nan
    return out


def session_vwap(h, l, c, v, day: np.ndarray) -> np.ndarray:  # noqa: E741
    """``day``: int64 IST day number per cell (any value where there is no bar)."""
    pv = np.nan_to_num((h + l + c) / 3.0 * v)
    vol = np.nan_to_num(v)
    cpv, cvol = np.cumsum(pv, axis=0), np.cumsum(vol, axis=0)
    new_day = np.ones_like(day, dtype=bool)
    new_day[1:] = day[1:] != day[:-1]
    rows = np.arange(day.shape[0])[:, None] * np.ones((1, day.shape[1]), dtype=int)
    start = np.maximum.accumulate(np.where(new_day, rows, 0), axis=0)
    cols = np.arange(day.shape[1])[None, :]
    base_pv = np.where(start > 0, cpv[start - 1, cols], 0.0)
    base_v = np.where(start > 0, cvol[start - 1, cols], 0.0)
    day_v = cvol - base_v
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (cpv - base_pv) / np.where(day_v > 0, day_v, np.nan)
    out[np.isnan(c)] = np.nan
    return out


def opening_range(h, l, ts: np.ndarray, minutes: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
    """Each session's opening-range high/low (bars opening in [09:15, 09:15 + minutes) IST),
    ``NaN`` until the window has passed (as ``core.patterns.opening_range``).

    ``ts``: int64 UTC ns bar-open times (``Panel.ts``)."""
    ist = ts + 19_800 * 1_000_000_000
    day = ist // (86_400 * 1_000_000_000)
    since_open = (ist % (86_400 * 1_000_000_000)) // 60_000_000_000 - (9 * 60 + 15)
    in_window = (since_open >= 0) & (since_open < minutes)
    after = since_open >= minutes
    hi = np.full_like(h, np.nan)
    lo = np.full_like(l, np.nan)
    state_h = np.full(h.shape[1:], np.nan)
    state_l = np.full(h.shape[1:], np.nan)
    for t in range(h.shape[0]):
        if t == 0:
            new = np.ones(h.shape[1:], bool)
        else:
            new = day[t] != day[t - 1]
        state_h = np.where(new, np.nan, state_h)
        state_l = np.where(new, np.nan, state_l)
        state_h = np.where(in_window[t], np.fmax(state_h, h[t]), state_h)
        state_l = np.where(in_window[t], np.fmin(state_l, l[t]), state_l)
        hi[t] = np.where(after[t], state_h, np.nan)
        lo[t] = np.where(after[t], state_l, np.nan)
    return hi, lo
