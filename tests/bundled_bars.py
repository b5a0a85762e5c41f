"""Real bundled bars for core tests, and the look-ahead check they share."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from app.settings import DATA_DIR
from core.timeutil import IST

DAILY = DATA_DIR / "daily_eod_unadjusted_2016-08_2026-08.csv.gz"
MINUTE = DATA_DIR / "minute_2016-08-16_2016-09-09.csv.gz"
_COLUMNS = ["open", "high", "low", "close", "volume"]


def daily_bars(symbol: str) -> pd.DataFrame:
    """``symbol``'s NSE bhavcopy daily bars (unadjusted), IST-indexed, float OHLCV."""
    raw = pd.read_csv(DAILY)
    d = raw[raw["symbol"] == symbol]
    frame = d[_COLUMNS].astype("float64")
    frame.index = pd.DatetimeIndex(pd.to_datetime(d["date"])).tz_localize(IST)
    return frame.sort_index()


def minute_bars(symbol: str, until: str = "2016-08-17") -> pd.DataFrame:
    """``symbol``'s recorded 1-minute bars up to and including the IST day ``until``."""
    raw = pd.read_csv(MINUTE)
    d = raw[raw["symbol"] == symbol]
    frame = d[_COLUMNS].astype("float64")
    frame.index = pd.DatetimeIndex(pd.to_datetime(d["datetime"])).tz_convert(IST)
    frame = frame.sort_index()
    return frame[frame.index.date <= pd.Timestamp(until).date()]


def assert_no_lookahead(fn: Callable[[pd.DataFrame], object], bars: pd.DataFrame, name: str, step: int = 3) -> None:
    """``fn`` on every prefix ``bars[:t]`` (every ``step``-th) equals ``fn(bars)[:t]``."""
    full = fn(bars)
    for t in range(1, len(bars) + 1, step):
        partial_result = fn(bars.iloc[:t])
        np.testing.assert_allclose(
            np.asarray(partial_result, dtype=float), np.asarray(full.iloc[:t], dtype=float),
            rtol=1e-10, atol=1e-10, equal_nan=True, err_msg=f"{name} changed at bar {t - 1}",
        )
