"""core.patterns: hand-checked candles, price structure, levels, opening range; no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import patterns as pt
from core.errors import ValidationError
from core.timeutil import IST
from tests.bundled_bars import daily_bars, minute_bars



@pytest.fixture(scope="module")
def daily() -> pd.DataFrame:
    return daily_bars("SBIN")


@pytest.fixture(scope="module")
def minute() -> pd.DataFrame:
    return minute_bars("INFY")


def bars(rows: list[tuple[float, float, float, float]], start: str = "2026-01-01") -> pd.DataFrame:
    idx = pd.date_range(start, periods=len(rows), freq="D", tz=IST)
    return pd.DataFrame(rows, index=idx, columns=["open", "high", "low", "close"])


# ---- no look-ahead, every column ----------------------------------------------------------------

FUNCS = {
    "candles": pt.candlestick_patterns,
    "structure": lambda b: pt.price_structure(b, window=30, lookback=10),
    "levels": lambda b: pt.support_resistance(b, k=2, lookback=40),
}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_patterns_have_no_lookahead_on_daily_bars(daily, name):
    fn = FUNCS[name]
    b = daily.iloc[:150]
    full = fn(b)
    assert full.to_numpy(dtype=float).size and len(full) == len(b)
    for t in range(1, len(b) + 1, 4):
        part = fn(b.iloc[:t])
        np.testing.assert_array_equal(part.to_numpy(dtype=float), full.iloc[:t].to_numpy(dtype=float),
                                      err_msg=f"{name} changed at bar {t - 1}")


def test_opening_range_has_no_lookahead_on_minute_bars(minute):
    full = pt.opening_range(minute, 15)
    for t in range(1, len(minute) + 1, 11):
        part = pt.opening_range(minute.iloc[:t], 15)
        np.testing.assert_array_equal(part.to_numpy(dtype=float), full.iloc[:t].to_numpy(dtype=float))


def test_patterns_fire_on_real_data(daily):
    c = pt.candlestick_patterns(daily)
    assert list(c.columns) == list(pt.CANDLE_COLUMNS)
    counts = c.sum()
    for name in ("bullish_engulfing", "bearish_engulfing", "doji", "inside_bar", "nr7", "hammer"):
        assert counts[name] > 5, name
    assert not (c["bullish_engulfing"] & c["bearish_engulfing"]).any()
    assert not (c["morning_star"] & c["evening_star"]).any()


# ---- candles, hand-checked ----------------------------------------------------------------------


def test_bullish_engulfing_and_not_when_body_only_equal():
    b = bars([(105, 106, 99, 100), (99, 107, 98, 106)])
    assert pt.candlestick_patterns(b)["bullish_engulfing"].tolist() == [False, True]
    same = bars([(105, 106, 99, 100), (100, 106, 99, 105)])  # equal body: not engulfing
    assert not pt.candlestick_patterns(same)["bullish_engulfing"].any()


def test_bearish_engulfing():
    b = bars([(100, 106, 99, 105), (106, 107, 98, 99)])
    c = pt.candlestick_patterns(b)
    assert c["bearish_engulfing"].tolist() == [False, True] and not c["bullish_engulfing"].any()


def test_doji_and_hammer():
    b = bars([(100, 105, 95, 100.5), (100, 100.5, 94, 100.4), (100, 105, 95, 104)])
    c = pt.candlestick_patterns(b)
    assert c["doji"].tolist() == [True, True, False]
    assert c["hammer"].tolist() == [False, True, False]  # long lower shadow, tiny upper


def test_morning_and_evening_star():
    morning = bars([(110, 111, 99, 100), (99, 100, 97, 98.5), (99, 108, 98.5, 107)])
    assert pt.candlestick_patterns(morning)["morning_star"].tolist() == [False, False, True]
    weak = bars([(110, 111, 99, 100), (99, 100, 97, 98.5), (99, 104, 98.5, 103)])  # below midpoint 105
    assert not pt.candlestick_patterns(weak)["morning_star"].any()
    evening = bars([(100, 111, 99, 110), (111, 113, 110, 111.5), (111, 111.5, 102, 103)])
    assert pt.candlestick_patterns(evening)["evening_star"].tolist() == [False, False, True]


def test_inside_bar_and_nr7():
    ranges = [10, 9, 8, 7, 6, 5, 4, 4]
    rows = [(100, 100 + r / 2, 100 - r / 2, 100) for r in ranges]
    c = pt.candlestick_patterns(bars(rows))
    assert c["nr7"].tolist() == [False] * 6 + [True, False]  # the 8th ties the 7th: not narrower
    assert c["inside_bar"].tolist() == [False, True, True, True, True, True, True, False]


# ---- price structure ----------------------------------------------------------------------------


def test_gaps_hand_checked():
    b = bars([(100, 102, 98, 101), (103, 104, 102.5, 103.5), (97, 98, 96, 97)])
    s = pt.price_structure(b, window=2, lookback=1)
    assert s["gap_up"].tolist() == [False, True, False]
    assert s["gap_down"].tolist() == [False, False, True]
    assert s["gap_pct"].iloc[1] == pytest.approx((103 / 101 - 1) * 100)
    assert np.isnan(s["gap_pct"].iloc[0])


def test_52_week_high_needs_a_full_window_then_flags_new_highs():
    rows = [(100 + i, 101 + i, 99 + i, 100 + i) for i in range(5)] + [(100, 101, 99, 100)]
    s = pt.price_structure(bars(rows), window=3, lookback=2)
    assert s["new_high_52w"].tolist() == [False, False, True, True, True, False]
    assert s["high_52w"].iloc[4] == 105 and np.isnan(s["high_52w"].iloc[1])
    assert s["low_52w"].iloc[5] == 99  # min(101, 102, 99)


def test_breakouts():
    rows = [(100, 101, 99, 100)] * 3 + [(100, 103, 100, 102.5), (100, 100, 97, 98)]
    s = pt.price_structure(bars(rows), window=2, lookback=3)
    assert s["breakout_up"].tolist() == [False, False, False, True, False]
    assert s["breakout_down"].tolist() == [False, False, False, False, True]


def test_price_structure_bad_window_raises(daily):
    with pytest.raises(ValidationError, match="window must be >= 2"):
        pt.price_structure(daily, window=1)


# ---- levels -------------------------------------------------------------------------------------


def test_support_resistance_clusters_confirmed_pivots():
    # two pivot highs near 110 and one pivot low at 90; k=1
    highs = [100, 110, 100, 109.5, 100, 100, 100]
    lows = [95, 96, 90, 96, 96, 96, 95]
    rows = [(98.0, h, lo, 98.0) for h, lo in zip(highs, lows, strict=True)]
    lv = pt.support_resistance(bars(rows), k=1, lookback=7, tolerance_pct=1.0)
    assert np.isnan(lv["resistance"].iloc[1])  # the pivot at bar 1 is confirmed only at bar 2
    assert lv["resistance"].iloc[2] == pytest.approx(110.0)
    last = lv.iloc[-1]
    assert last["resistance"] == pytest.approx((110 + 109.5) / 2) and last["resistance_touches"] == 2
    assert last["support"] == pytest.approx(90.0) and last["support_touches"] == 1


def test_support_resistance_bad_args_raise(daily):
    with pytest.raises(ValidationError, match="lookback >= 2k\\+1"):
        pt.support_resistance(daily, k=5, lookback=5)


# ---- opening range ------------------------------------------------------------------------------


def test_opening_range_hand_checked():
    idx = pd.DatetimeIndex(["2016-08-16 09:15", "2016-08-16 09:20", "2016-08-16 09:30", "2016-08-16 09:35",
                            "2016-08-16 09:40", "2016-08-17 09:15", "2016-08-17 09:30"]).tz_localize(IST)
    b = pd.DataFrame({"open": 100.0, "high": [101, 102, 101.5, 103, 104, 50, 49],
                      "low": [99, 98.5, 100, 101, 102, 48, 47], "close": [100, 101, 101, 102.5, 103, 49, 47.5]},
                     index=idx)
    o = pt.opening_range(b, 15)
    assert np.isnan(o["or_high"].iloc[0]) and np.isnan(o["or_high"].iloc[1])
    assert o["or_high"].iloc[2] == 102 and o["or_low"].iloc[2] == 98.5
    assert o["orb_up"].tolist() == [False, False, False, True, False, False, True][:3] + [True, False, False, False]
    assert o["or_high"].iloc[6] == 50 and o["orb_down"].iloc[6]  # new day, new range


def test_opening_range_on_real_minutes(minute):
    o = pt.opening_range(minute, 15)
    day1 = minute.index.date == minute.index[0].date()
    window = minute[day1].iloc[:15]
    assert o[day1]["or_high"].dropna().eq(window["high"].max()).all()
    assert (o["orb_up"].sum(), o["orb_down"].sum()) == (1, 1)  # pinned on the bundled minutes
    assert o.groupby(o.index.date)["orb_up"].sum().le(1).all()


def test_opening_range_utc_raises(minute):
    with pytest.raises(ValidationError, match="Asia/Kolkata"):
        pt.opening_range(minute.tz_convert("UTC"))
