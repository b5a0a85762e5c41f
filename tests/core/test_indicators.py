"""core.indicators: no look-ahead, TA-Lib cross-checks on real NSE data, hand-checked VWAP."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import pytest
import talib

from core import indicators as ind
from core.errors import ValidationError
from core.timeutil import IST
from tests.bundled_bars import assert_no_lookahead, daily_bars, minute_bars

@pytest.fixture(scope="module")
def daily() -> pd.DataFrame:
    """INFY daily bars (NSE bhavcopy, unadjusted), IST-indexed, float OHLCV."""
    return daily_bars("INFY")


@pytest.fixture(scope="module")
def minute() -> pd.DataFrame:
    """RELIANCE 1-minute bars for the first two recorded sessions (2016-08-16/17)."""
    return minute_bars("RELIANCE")


INDICATORS: dict[str, Callable[[pd.DataFrame], pd.Series | pd.DataFrame]] = {
    "sma": partial(ind.sma, period=20),
    "ema": partial(ind.ema, period=20),
    "rsi": partial(ind.rsi, period=14),
    "macd": ind.macd,
    "bollinger": ind.bollinger,
    "atr": partial(ind.atr, period=14),
    "volume_sma": partial(ind.volume_sma, period=20),
    "session_vwap": ind.session_vwap,
}


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_indicator_has_no_lookahead_on_daily_bars(daily, name):
    fn = INDICATORS[name]
    bars = daily.iloc[:160]
    assert_no_lookahead(fn, bars, name)


def test_session_vwap_has_no_lookahead_on_minute_bars(minute):
    full = ind.session_vwap(minute)
    for t in range(1, len(minute) + 1, 17):
        np.testing.assert_allclose(ind.session_vwap(minute.iloc[:t]).to_numpy(), full.iloc[:t].to_numpy())


def _assert_same(ours: pd.Series, ref: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(ours.to_numpy()), np.isnan(ref))
    np.testing.assert_allclose(ours.to_numpy(), ref, rtol=1e-9, equal_nan=True)


def test_sma_matches_talib(daily):
    _assert_same(ind.sma(daily, 20), talib.SMA(daily["close"].to_numpy(), 20))


def test_ema_matches_talib(daily):
    _assert_same(ind.ema(daily, 20), talib.EMA(daily["close"].to_numpy(), 20))


def test_rsi_matches_talib(daily):
    _assert_same(ind.rsi(daily, 14), talib.RSI(daily["close"].to_numpy(), 14))


def test_atr_matches_talib(daily):
    ref = talib.ATR(daily["high"].to_numpy(), daily["low"].to_numpy(), daily["close"].to_numpy(), 14)
    _assert_same(ind.atr(daily, 14), ref)


def test_bollinger_matches_talib_bbands(daily):
    upper, mid, lower = talib.BBANDS(daily["close"].to_numpy(), 20, 2.0, 2.0)
    bb = ind.bollinger(daily, 20, 2.0)
    assert list(bb.columns) == ["bb_lower", "bb_mid", "bb_upper"]
    _assert_same(bb["bb_lower"], lower)
    _assert_same(bb["bb_mid"], mid)
    _assert_same(bb["bb_upper"], upper)


def test_macd_matches_talib_after_warmup(daily):
    line, sig, hist = talib.MACD(daily["close"].to_numpy(), 12, 26, 9)
    m = ind.macd(daily, 12, 26, 9)
    assert list(m.columns) == ["macd", "macd_signal", "macd_hist"]
    warm = 10 * 26  # different EMA seeding; the difference decays geometrically
    for ours, ref in ((m["macd"], line), (m["macd_signal"], sig), (m["macd_hist"], hist)):
        np.testing.assert_allclose(ours.to_numpy()[warm:], ref[warm:], atol=1e-8)


def test_macd_warmup_is_nan_then_defined(daily):
    m = ind.macd(daily, 12, 26, 9)
    assert m["macd"].iloc[:25].isna().all() and m["macd"].iloc[25:].notna().all()
    assert m["macd_signal"].iloc[:33].isna().all() and m["macd_signal"].iloc[33:].notna().all()
    assert m["macd_hist"].iloc[:33].isna().all()


def test_volume_sma_is_mean_of_last_period_volumes(daily):
    v = ind.volume_sma(daily, 5)
    assert v.name == "volume_sma_5"
    assert v.iloc[10] == pytest.approx(daily["volume"].iloc[6:11].mean())


def test_output_names_are_stable(daily):
    assert ind.sma(daily, 50).name == "sma_50"
    assert ind.ema(daily, 9).name == "ema_9"
    assert ind.rsi(daily, 7).name == "rsi_7"
    assert ind.atr(daily, 10).name == "atr_10"
    assert ind.session_vwap(daily).name == "vwap"


def test_session_vwap_hand_checked_and_resets_each_ist_day():
    idx = pd.DatetimeIndex(
        ["2016-08-16 09:15", "2016-08-16 09:16", "2016-08-16 09:17", "2016-08-17 09:15", "2016-08-17 09:16"]
    ).tz_localize(IST)
    bars = pd.DataFrame(
        {
            "open": [100.0, 102.0, 104.0, 200.0, 201.0],
            "high": [102.0, 104.0, 106.0, 202.0, 203.0],
            "low": [98.0, 100.0, 102.0, 198.0, 199.0],
            "close": [100.0, 102.0, 104.0, 200.0, 201.0],
            "volume": [10.0, 30.0, 0.0, 5.0, 15.0],
        },
        index=idx,
    )
    vwap = ind.session_vwap(bars)
    # typical prices: 100, 102, 104 | 200, 201
    assert vwap.iloc[0] == pytest.approx(100.0)
    assert vwap.iloc[1] == pytest.approx((100 * 10 + 102 * 30) / 40)  # 101.5
    assert vwap.iloc[2] == pytest.approx(101.5)  # zero-volume bar leaves it unchanged
    assert vwap.iloc[3] == pytest.approx(200.0)  # reset on the new IST day
    assert vwap.iloc[4] == pytest.approx((200 * 5 + 201 * 15) / 20)


def test_session_vwap_day_boundary_is_ist_not_utc():
    # 2016-08-17 00:30 IST is still 2016-08-16 in UTC; it must start a new IST day.
    idx = pd.DatetimeIndex(["2016-08-16 23:00", "2016-08-17 00:30"]).tz_localize(IST)
    bars = pd.DataFrame({"high": [10.0, 20.0], "low": [10.0, 20.0], "close": [10.0, 20.0],
                         "volume": [1.0, 1.0]}, index=idx)
    assert ind.session_vwap(bars).iloc[1] == pytest.approx(20.0)


def test_session_vwap_nan_while_day_volume_is_zero():
    idx = pd.DatetimeIndex(["2016-08-16 09:15", "2016-08-16 09:16"]).tz_localize(IST)
    bars = pd.DataFrame({"high": [10.0, 11.0], "low": [9.0, 10.0], "close": [9.5, 10.5],
                         "volume": [0.0, 0.0]}, index=idx)
    assert ind.session_vwap(bars).isna().all()


def test_session_vwap_utc_index_raises(minute):
    with pytest.raises(ValidationError, match="Asia/Kolkata"):
        ind.session_vwap(minute.tz_convert("UTC"))


def test_too_little_history_returns_all_nan_with_name(daily):
    short = daily.iloc[:5]
    s = ind.sma(short, 20)
    assert s.name == "sma_20" and len(s) == 5 and s.isna().all()
    assert ind.macd(short).isna().all().all()
    assert ind.bollinger(short).isna().all().all()
    assert ind.rsi(short, 14).isna().all()


def test_missing_column_raises_naming_it(daily):
    with pytest.raises(ValidationError, match="missing columns \\['volume'\\]"):
        ind.volume_sma(daily.drop(columns=["volume"]))


def test_non_monotonic_index_raises(daily):
    with pytest.raises(ValidationError, match="strictly increasing"):
        ind.ema(daily.iloc[::-1])


def test_duplicate_timestamps_raise(daily):
    with pytest.raises(ValidationError, match="strictly increasing"):
        ind.sma(pd.concat([daily.iloc[:3], daily.iloc[2:4]]))


def test_naive_index_raises(daily):
    with pytest.raises(ValidationError, match="tz-aware"):
        ind.rsi(daily.tz_localize(None))


@pytest.mark.parametrize("period", [0, -3, 2.5, True])
def test_bad_period_raises(daily, period):
    with pytest.raises(ValidationError, match="period must be an integer >= 1"):
        ind.sma(daily, period)


def test_macd_fast_not_below_slow_raises(daily):
    with pytest.raises(ValidationError, match="fast < slow"):
        ind.macd(daily, fast=26, slow=12)


def test_nan_in_input_raises(daily):
    bad = daily.copy()
    bad.iloc[3, bad.columns.get_loc("close")] = np.nan
    with pytest.raises(ValidationError, match="NaN in \\['close'\\]"):
        ind.ema(bad)
