"""core.bars_asof: which bars had closed at a market time, the forming bar, week bars."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from core import bars_asof as b
from core.errors import ValidationError
from core.resample import resample_bars
from core.timeutil import IST


def t(day: int, h: int, m: int) -> datetime:
    return datetime(2016, 9, day, h, m, tzinfo=IST)


def minutes(day: int, n: int = 375, start: float = 100.0) -> pd.DataFrame:
    idx = pd.date_range(t(day, 9, 15), periods=n, freq="1min", tz=IST, name="ts")
    close = start + np.arange(n) * 0.05
    return pd.DataFrame({"open": close - 0.05, "high": close + 0.1, "low": close - 0.1, "close": close,
                         "volume": np.arange(n) + 1}, index=idx)


def test_intraday_bar_closes_at_its_end_and_the_last_60minute_bar_at_1530():
    m60 = resample_bars(minutes(9), "60minute")
    assert m60.index[-1] == pd.Timestamp(t(9, 15, 15))
    assert list(b.closed_until(m60, "60minute", t(9, 15, 29)).index) == list(m60.index[:-1])
    assert len(b.closed_until(m60, "60minute", t(9, 15, 30))) == len(m60)
    assert len(b.closed_until(minutes(9), "minute", t(9, 9, 20))) == 5


def test_day_bar_closes_with_the_session_and_week_after_fridays_close():
    days = pd.DataFrame({c: [1.0, 2.0] for c in b.OHLCV},
                        index=pd.DatetimeIndex([pd.Timestamp(t(8, 0, 0)), pd.Timestamp(t(9, 0, 0))], name="ts"))
    assert len(b.closed_until(days, "day", t(9, 15, 29))) == 1
    assert len(b.closed_until(days, "day", t(9, 15, 30))) == 2
    assert not b.week_closed(pd.Timestamp(t(5, 0, 0)), t(9, 15, 29))  # Mon 5 – Fri 9 Sep 2016
    assert b.week_closed(pd.Timestamp(t(5, 0, 0)), t(9, 15, 30))
    assert b.week_closed(pd.Timestamp(t(5, 0, 0)), t(10, 9, 0))


def test_resample_long_matches_resample_bars_per_symbol():
    long = pd.concat([minutes(9).reset_index().assign(instrument_token=tok) for tok in (5, 3)], ignore_index=True)
    out = b.resample_long(long, "15minute")
    one = resample_bars(minutes(9), "15minute")
    got = out[out["instrument_token"] == 3].set_index("ts")[b.OHLCV]
    pd.testing.assert_frame_equal(got, one[b.OHLCV], check_names=False, check_freq=False)
    assert str(out["ts"].dt.tz) == "Asia/Kolkata"


def test_week_bars_from_days_are_stamped_with_their_first_day():
    idx = pd.DatetimeIndex([pd.Timestamp(datetime(2016, 9, d, tzinfo=IST)) for d in (1, 2, 5, 6)], name="ts")
    days = pd.DataFrame({"open": [1, 2, 3, 4.0], "high": [5, 6, 7, 8.0], "low": [0.5, 1, 2, 3.0],
                         "close": [1.5, 2.5, 3.5, 4.5], "volume": [10, 20, 30, 40]}, index=idx)
    w = b.to_interval(days, "week")
    assert list(w.index.day) == [1, 5] and w["volume"].tolist() == [30, 70] and w["high"].tolist() == [6, 8]


def test_forming_bar_from_closed_minutes_and_the_ltp():
    m = minutes(9, 3)
    bar = b.forming_bar(m, 99.0, None, pd.Timestamp(t(9, 9, 15)))
    assert bar["open"].iloc[0] == m["open"].iloc[0] and bar["low"].iloc[0] == 99.0 and bar["close"].iloc[0] == 99.0
    assert bar["volume"].iloc[0] == 6
    day = b.forming_bar(pd.DataFrame(), 105.0, 1234, pd.Timestamp(t(9, 0, 0)), day_ohlc=(100.0, 104.0, 99.0))
    assert day.iloc[0].to_dict() == {"open": 100.0, "high": 105.0, "low": 99.0, "close": 105.0, "volume": 1234}
    assert b.forming_bar(pd.DataFrame(columns=b.OHLCV), None, None, pd.Timestamp(t(9, 9, 15))).empty


def test_bucket_start_is_0915_aligned_and_bad_input_is_refused():
    assert b.bucket_start(t(9, 10, 16), "60minute") == pd.Timestamp(t(9, 10, 15))
    assert b.bucket_start(t(9, 9, 29), "15minute") == pd.Timestamp(t(9, 9, 15))
    assert b.base_interval("week") == "day" and b.base_interval("3minute") == "minute"
    with pytest.raises(ValidationError, match="unknown interval '2minute'"):
        b.check_read_interval("2minute")
    with pytest.raises(ValidationError, match="positive"):
        b.default_start("day", t(9, 9, 15), 0)
    assert b.default_start("day", t(9, 9, 15), 200).date() < datetime(2015, 11, 18).date()
