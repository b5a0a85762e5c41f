"""Chart indicators over OHLCV bars: SMA, EMA, RSI, MACD, Bollinger bands, ATR, ADX, Supertrend,
StochRSI, OBV, session VWAP and volume SMA.

Input shape (every function): ``bars`` is one instrument's bars, a ``pd.DataFrame`` indexed by
a strictly increasing, tz-aware ``DatetimeIndex`` (bar open time; IST for intraday), with
float columns ``open high low close`` (₹) and ``volume`` (shares); a function only requires
the columns it reads. Output: a ``float64`` Series (or DataFrame) on the same index, with the
stable names listed in each docstring. No function looks ahead: the value at bar ``t`` depends
only on bars ``<= t`` (tests check this on every indicator). The first bars, before the
indicator has enough history, are ``NaN`` (the "warm-up", given per function); with fewer bars
than the warm-up the whole result is ``NaN``.

Why pandas-ta-classic
---------------------
* The official ``pandas-ta`` now requires Python 3.12; the desk runs on 3.11.
* ``ft-pandas-ta`` (freqtrade's fork, last release 0.3.16 in 2025-09) is kept for
  freqtrade's own needs; pandas-ta-classic has the newer release line.
* ``pandas-ta-classic`` 0.8.32 is maintained (releases into 2026-09), pure Python, and works
  with pandas 3. Its SMA/EMA/RSI/BBANDS/ATR match TA-Lib to ~1e-10 on real NSE data (its
  EMA and Wilder averages seed with an SMA, as TA-Lib does); its MACD differs from TA-Lib only
  in the first few dozen bars (TA-Lib starts both EMAs at the slow EMA's first bar) and
  agrees after warm-up.
* ``TA-Lib`` (0.8.2 has wheels) wraps a C library; it is kept as the *test reference* only,
  so production results never depend on a compiled extension. Every call passes
  ``talib=False`` so pandas-ta-classic never silently switches to TA-Lib when it is installed.

VWAP is plain pandas (a cumulative sum per IST day) because the library's version anchors on
calendar periods of the index's own time zone and adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pandas_ta_classic as ta

from core.errors import ValidationError
from core.timeutil import IST

OHLCV = ("open", "high", "low", "close", "volume")
MACD_COLUMNS = ("macd", "macd_signal", "macd_hist")
BOLLINGER_COLUMNS = ("bb_lower", "bb_mid", "bb_upper")
ADX_COLUMNS = ("adx", "plus_di", "minus_di")
SUPERTREND_COLUMNS = ("supertrend", "supertrend_dir")
STOCHRSI_COLUMNS = ("stochrsi_k", "stochrsi_d")


def sma(bars: pd.DataFrame, period: int = 20, column: str = "close") -> pd.Series:
    """Simple moving average of ``column`` over ``period`` bars.

    Returns ``float64`` Series named ``f"sma_{period}"`` (₹ for prices). Warm-up: the first
    ``period - 1`` bars are ``NaN``. Raises ``ValidationError`` (see ``validate_bars``).
    """
    _check_period(period)
    src = validate_bars(bars, [column])[column]
    return _finish(ta.sma(src, length=period, talib=False), src.index, f"sma_{period}")


def ema(bars: pd.DataFrame, period: int = 20, column: str = "close") -> pd.Series:
    """Exponential moving average (α = 2/(period+1)), seeded with the SMA of the first
    ``period`` bars (as TA-Lib does).

    Returns ``float64`` Series named ``f"ema_{period}"``. Warm-up: ``period - 1`` bars ``NaN``.
    """
    _check_period(period)
    src = validate_bars(bars, [column])[column]
    return _finish(ta.ema(src, length=period, talib=False), src.index, f"ema_{period}")


def rsi(bars: pd.DataFrame, period: int = 14, column: str = "close") -> pd.Series:
    """Wilder's relative strength index of ``column``, 0–100.

    Returns ``float64`` Series named ``f"rsi_{period}"``. Warm-up: the first ``period`` bars
    are ``NaN`` (one bar is spent on the first price change).
    """
    _check_period(period)
    src = validate_bars(bars, [column])[column]
    return _finish(ta.rsi(src, length=period, talib=False), src.index, f"rsi_{period}")


def macd(bars: pd.DataFrame, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """MACD of ``close``: ``ema(fast) - ema(slow)``, its ``signal``-bar EMA, and the histogram.

    Returns a ``float64`` DataFrame with columns ``macd``, ``macd_signal``, ``macd_hist``
    (``macd - macd_signal``), ₹. Warm-up: ``macd`` is ``NaN`` for the first ``slow - 1`` bars,
    the signal and histogram for the first ``slow + signal - 2``. Early values differ from
    TA-Lib's (different EMA seeding) and converge to it within ~10 × ``slow`` bars.
    Raises ``ValidationError`` if ``fast >= slow`` or a period is < 1.
    """
    for p in (fast, slow, signal):
        _check_period(p)
    if fast >= slow:
        raise ValidationError(f"macd needs fast < slow, got fast={fast}, slow={slow}")
    src = validate_bars(bars, ["close"])["close"]
    out = ta.macd(src, fast=fast, slow=slow, signal=signal, talib=False)
    if out is None:
        return _empty_frame(src.index, MACD_COLUMNS)
    line, hist, sig = (out[c].astype("float64") for c in out.columns[:3])
    frame = pd.DataFrame({"macd": line, "macd_signal": sig, "macd_hist": hist}, index=src.index)
    # pandas-ta fills no signal values before the line exists; make the warm-up explicit.
    frame.loc[frame["macd_signal"].isna(), "macd_hist"] = np.nan
    return frame


def bollinger(bars: pd.DataFrame, period: int = 20, std: float = 2.0, column: str = "close") -> pd.DataFrame:
    """Bollinger bands: SMA(``period``) ± ``std`` population standard deviations.

    Returns a ``float64`` DataFrame with columns ``bb_lower``, ``bb_mid``, ``bb_upper`` (₹).
    Warm-up: ``period - 1`` bars ``NaN``. Raises ``ValidationError`` if ``std <= 0``.
    """
    _check_period(period)
    if not std > 0:
        raise ValidationError(f"bollinger std must be > 0, got {std}")
    src = validate_bars(bars, [column])[column]
    out = ta.bbands(src, length=period, std=float(std), ddof=0, talib=False)
    if out is None:
        return _empty_frame(src.index, BOLLINGER_COLUMNS)
    lower, mid, upper = (out[c].astype("float64") for c in out.columns[:3])
    return pd.DataFrame({"bb_lower": lower, "bb_mid": mid, "bb_upper": upper}, index=src.index)


def atr(bars: pd.DataFrame, period: int = 14) -> pd.Series:
    """Wilder's average true range (₹), seeded with the mean true range of bars 1..``period``.

    Returns ``float64`` Series named ``f"atr_{period}"``. Warm-up: the first ``period`` bars
    are ``NaN``.
    """
    _check_period(period)
    b = validate_bars(bars, ["high", "low", "close"])
    out = ta.atr(b["high"], b["low"], b["close"], length=period, mamode="rma", talib=False)
    return _finish(out, b.index, f"atr_{period}")


def volume_sma(bars: pd.DataFrame, period: int = 20) -> pd.Series:
    """Simple moving average of ``volume`` (shares). Series ``f"volume_sma_{period}"``;
    warm-up ``period - 1`` bars."""
    _check_period(period)
    src = validate_bars(bars, ["volume"])["volume"].astype("float64")
    return _finish(ta.sma(src, length=period, talib=False), src.index, f"volume_sma_{period}")


def adx(bars: pd.DataFrame, period: int = 14) -> pd.DataFrame:
    """Wilder's average directional index with the directional indicators (TA-Lib seeding).

    Returns a ``float64`` DataFrame with columns ``adx``, ``plus_di``, ``minus_di`` (0–100).
    Warm-up: ``plus_di``/``minus_di`` are ``NaN`` for the first ``period`` bars, ``adx`` for
    the first ``2 * period - 1`` bars. Matches TA-Lib ``ADX``/``PLUS_DI``/``MINUS_DI``.
    """
    _check_period(period)
    b = validate_bars(bars, ["high", "low", "close"])
    out = ta.adx(b["high"], b["low"], b["close"], length=period, talib=False)
    if out is None:
        return _empty_frame(b.index, ADX_COLUMNS)
    return pd.DataFrame({"adx": out[f"ADX_{period}"], "plus_di": out[f"DMP_{period}"],
                         "minus_di": out[f"DMN_{period}"]}, index=b.index).astype("float64")


def supertrend(bars: pd.DataFrame, period: int = 10, multiplier: float = 3.0) -> pd.DataFrame:
    """Supertrend: a trailing band ``hl2 ± multiplier × ATR(period)`` that flips with the close.

    Returns a ``float64`` DataFrame with columns ``supertrend`` (₹, the active band: the lower
    band in an up-trend, the upper band in a down-trend) and ``supertrend_dir`` (``+1.0`` up,
    ``-1.0`` down). Warm-up: both are ``NaN`` for the first ``period`` bars (ATR warm-up);
    the direction starts at ``+1`` (pandas-ta's convention) and flips when the close crosses
    the previous bar's opposite band. Raises ``ValidationError`` if ``multiplier <= 0``.
    """
    _check_period(period)
    if not multiplier > 0:
        raise ValidationError(f"supertrend multiplier must be > 0, got {multiplier}")
    b = validate_bars(bars, ["high", "low", "close"])
    out = ta.supertrend(b["high"], b["low"], b["close"], length=period, multiplier=float(multiplier))
    if out is None or len(b) <= period:
        return _empty_frame(b.index, SUPERTREND_COLUMNS)
    frame = pd.DataFrame({"supertrend": out.iloc[:, 0], "supertrend_dir": out.iloc[:, 1]},
                         index=b.index).astype("float64")
    frame.iloc[:period] = np.nan
    return frame


def stoch_rsi(bars: pd.DataFrame, period: int = 14, rsi_period: int = 14, k: int = 3, d: int = 3,
              column: str = "close") -> pd.DataFrame:
    """Stochastic RSI: where RSI(``rsi_period``) sits in its ``period``-bar range, 0–100,
    smoothed by an SMA(``k``) (``stochrsi_k``) and an SMA(``d``) of that (``stochrsi_d``).

    Returns a ``float64`` DataFrame with columns ``stochrsi_k``, ``stochrsi_d``. Warm-up:
    ``rsi_period + period + k - 2`` bars for ``k``, ``d - 1`` more for ``d``. With ``k=1`` it
    equals TA-Lib ``STOCHRSI`` (fastk, fastd = SMA(``d``)). A flat RSI window gives 0.
    """
    for p in (period, rsi_period, k, d):
        _check_period(p)
    src = validate_bars(bars, [column])[column]
    out = ta.stochrsi(src, length=period, rsi_length=rsi_period, k=k, d=d, talib=False)
    if out is None:
        return _empty_frame(src.index, STOCHRSI_COLUMNS)
    return pd.DataFrame({"stochrsi_k": out.iloc[:, 0], "stochrsi_d": out.iloc[:, 1]},
                        index=src.index).astype("float64")


def obv(bars: pd.DataFrame) -> pd.Series:
    """On-balance volume (shares): a running sum of ``volume`` signed by the close's change,
    starting with the first bar's volume (as TA-Lib ``OBV``).

    Returns ``float64`` Series named ``"obv"``. No warm-up; its level depends on the first bar
    given, so compare OBV values only within one series.
    """
    b = validate_bars(bars, ["close", "volume"])
    return _finish(ta.obv(b["close"], b["volume"], talib=False), b.index, "obv")


def session_vwap(bars: pd.DataFrame) -> pd.Series:
    """Volume-weighted average price, reset at each IST trading day.

    Typical price ``(high + low + close) / 3`` weighted by ``volume``, cumulative within the
    bar's IST date. Index must be ``Asia/Kolkata``.

    Returns ``float64`` Series named ``"vwap"`` (₹). ``NaN`` while the day's cumulative
    volume is zero (e.g. index bars with no volume). No warm-up otherwise.
    """
    b = validate_bars(bars, ["high", "low", "close", "volume"])
    if str(b.index.tz) != IST.key:
        raise ValidationError(f"session_vwap needs an index in {IST.key}; call .tz_convert('{IST.key}')")
    typical = (b["high"] + b["low"] + b["close"]) / 3.0
    volume = b["volume"].astype("float64")
    day = b.index.date
    cum_pv = (typical * volume).groupby(day).cumsum()
    cum_vol = volume.groupby(day).cumsum()
    return (cum_pv / cum_vol.where(cum_vol > 0)).astype("float64").rename("vwap")


def validate_bars(bars: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Check ``bars`` and return the required ``columns`` as ``float64``.

    Raises
    ------
    ValidationError
        If ``bars`` is not a DataFrame, a column is missing, the index is not a tz-aware
        ``DatetimeIndex``, is not strictly increasing, or a required column holds NaN.
    """
    cols = list(columns)
    if not isinstance(bars, pd.DataFrame):
        raise ValidationError(f"bars must be a pandas DataFrame, got {type(bars).__name__}")
    missing = [c for c in cols if c not in bars.columns]
    if missing:
        raise ValidationError(f"bars is missing columns {missing}; expected OHLCV columns {list(OHLCV)}")
    idx = bars.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        raise ValidationError("bars index must be a tz-aware DatetimeIndex (bar open time, IST)")
    if not idx.is_monotonic_increasing or idx.has_duplicates:
        raise ValidationError("bars index must be strictly increasing; sort it and drop duplicate timestamps")
    if len(set(cols)) == len(cols):  # column by column: pandas' list selection costs ~10x more
        data = {c: bars[c].astype("float64").to_numpy() for c in cols}
        nan_cols = [c for c in cols if np.isnan(data[c]).any()]
        out = pd.DataFrame(data, index=idx)
    else:
        out = bars[cols].astype("float64")
        nan_cols = [c for c in cols if out[c].isna().any()]
    if nan_cols:
        raise ValidationError(f"bars has NaN in {nan_cols}; drop or fill those rows first")
    return out


def _check_period(period: int) -> None:
    if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or period < 1:
        raise ValidationError(f"period must be an integer >= 1, got {period!r}")


def _finish(out: pd.Series | None, index: pd.DatetimeIndex, name: str) -> pd.Series:
    if out is None:  # pandas-ta returns None when there are fewer bars than the period
        return pd.Series(np.nan, index=index, dtype="float64", name=name)
    return out.astype("float64").reindex(index).rename(name)


def _empty_frame(index: pd.DatetimeIndex, columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({c: np.full(len(index), np.nan) for c in columns}, index=index)
