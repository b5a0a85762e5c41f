"""Aggregate 1-minute bars to Kite's historical intervals.

Kite's intraday candles are aligned to the session open, 09:15 IST, not to the clock hour:
``60minute`` bars start at 09:15, 10:15, … 15:15 (the last one is 15 minutes long), ``30minute``
at 09:15, 09:45, … (source: Kite Connect historical API; the bundled Kite 60-minute files in
``../shared/data/nse`` show 09:15, 10:15 … 15:15). ``day`` bars are stamped at 00:00 IST of the
trading date, as Kite does.

Input: a DataFrame indexed by tz-aware bar-open times (any zone; converted to IST), columns
``open high low close volume`` (rupees, shares), one row per minute. Output: the same columns,
indexed by the aggregated bar's open time (IST): open = first, high = max, low = min,
close = last, volume = sum. Each output bar uses only the minutes inside it, so it never looks
ahead; a bucket cut short by the input's end is the partial bar so far.
"""

from __future__ import annotations

import pandas as pd

from core.errors import ValidationError
from core.models import INTERVAL_MINUTES
from core.timeutil import IST

_SESSION_OPEN = pd.Timedelta(hours=9, minutes=15)
_COLUMNS = ["open", "high", "low", "close", "volume"]
_AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def resample_bars(frame: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Aggregate 1-minute bars to ``interval`` (a Kite interval name: minute … 60minute, day).

    Raises ``ValidationError`` for an unknown interval, a naive index or missing columns.
    """
    if interval not in INTERVAL_MINUTES:
        raise ValidationError(f"interval must be one of {', '.join(INTERVAL_MINUTES)} (got {interval!r})")
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise ValidationError("bars must be indexed by a tz-aware DatetimeIndex (bar open times)")
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise ValidationError(f"bars are missing columns {missing}; need {_COLUMNS}")
    bars = frame[_COLUMNS].sort_index()
    bars.index = bars.index.tz_convert(IST)
    if bars.empty:
        return bars.copy()
    day = bars.index.normalize()
    if interval == "day":
        key = day
    else:
        step = pd.Timedelta(minutes=INTERVAL_MINUTES[interval])
        since_open = bars.index - day - _SESSION_OPEN
        key = day + _SESSION_OPEN + (since_open // step) * step
    out = bars.groupby(key).agg(_AGG)
    out.index = pd.DatetimeIndex(out.index, tz=IST) if out.index.tz is None else out.index
    out.index.name = bars.index.name or "datetime"
    out["volume"] = out["volume"].astype("int64")
    return out
