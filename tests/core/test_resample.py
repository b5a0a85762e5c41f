"""core.resample: Kite-aligned aggregation of 1-minute bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationError
from core.resample import resample_bars
from core.timeutil import IST


def minutes(day="2016-08-17", n=375, seed=1):
    rng = np.random.default_rng(seed)
    idx = pd.date_range(f"{day} 09:15", periods=n, freq="1min", tz=IST)
    close = 1000 + np.cumsum(rng.normal(0, 1, n)).round(2)
    open_ = np.r_[1000.0, close[:-1]]
    high = np.maximum(open_, close) + 0.5
    low = np.minimum(open_, close) - 0.5
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.integers(0, 1000, n)}, index=idx)


def test_60minute_bars_start_at_0915_and_last_is_short():
    out = resample_bars(minutes(), "60minute")
    assert [t.strftime("%H:%M") for t in out.index] == ["09:15", "10:15", "11:15", "12:15", "13:15",
                                                        "14:15", "15:15"]
    assert out.index.tz is not None


def test_aggregates_are_first_max_min_last_sum():
    m = minutes()
    out = resample_bars(m, "15minute")
    first = m.iloc[:15]
    row = out.iloc[0]
    assert (row.open, row.high, row.low, row.close, row.volume) == (
        first.open.iloc[0], first.high.max(), first.low.min(), first.close.iloc[-1], first.volume.sum())
    assert len(out) == 25


def test_day_bar_is_stamped_midnight_ist_per_session():
    m = pd.concat([minutes("2016-08-16"), minutes("2016-08-17", seed=2)])
    out = resample_bars(m, "day")
    assert [t.isoformat() for t in out.index] == ["2016-08-16T00:00:00+05:30", "2016-08-17T00:00:00+05:30"]
    assert out.volume.iloc[1] == m.loc["2016-08-17"].volume.sum()


@pytest.mark.parametrize("interval", ["3minute", "5minute", "10minute", "30minute", "60minute", "day"])
def test_no_look_ahead_prefix_bars_match_full_series(interval):
    m = minutes()
    full = resample_bars(m, interval)
    for cut in (7, 61, 200):
        part = resample_bars(m.iloc[:cut], interval)
        # every completed bucket of the prefix equals the full series' bar
        complete = part.iloc[:-1]
        pd.testing.assert_frame_equal(complete, full.loc[complete.index])


def test_utc_input_is_aligned_in_ist():
    m = minutes()
    m.index = m.index.tz_convert("UTC")
    assert resample_bars(m, "30minute").index[1].strftime("%H:%M") == "09:45"


def test_unknown_interval_is_refused():
    with pytest.raises(ValidationError, match="interval must be one of"):
        resample_bars(minutes(), "2minute")


def test_naive_index_is_refused():
    m = minutes()
    m.index = m.index.tz_localize(None)
    with pytest.raises(ValidationError, match="tz-aware"):
        resample_bars(m, "5minute")
