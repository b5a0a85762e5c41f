"""core.indicators ADX, Supertrend, StochRSI, OBV: look-ahead, TA-Lib cross-checks, hand checks."""

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
from tests.bundled_bars import assert_no_lookahead, daily_bars



@pytest.fixture(scope="module")
def daily() -> pd.DataFrame:
    """INFY daily bars (NSE bhavcopy, unadjusted), IST-indexed, float OHLCV."""
    return daily_bars("INFY")


INDICATORS: dict[str, Callable[[pd.DataFrame], pd.Series | pd.DataFrame]] = {
    "adx": partial(ind.adx, period=14),
    "supertrend": partial(ind.supertrend, period=10, multiplier=3.0),
    "stoch_rsi": ind.stoch_rsi,
    "obv": ind.obv,
}


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_indicator_has_no_lookahead_on_daily_bars(daily, name):
    fn = INDICATORS[name]
    bars = daily.iloc[:160]
    assert_no_lookahead(fn, bars, name)


def _assert_same(ours: pd.Series, ref: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(ours.to_numpy()), np.isnan(ref))
    np.testing.assert_allclose(ours.to_numpy(), ref, rtol=1e-9, equal_nan=True)


def test_adx_and_directional_indicators_match_talib(daily):
    h, l, c = (daily[x].to_numpy() for x in ("high", "low", "close"))
    out = ind.adx(daily, 14)
    assert list(out.columns) == ["adx", "plus_di", "minus_di"]
    _assert_same(out["adx"], talib.ADX(h, l, c, 14))
    _assert_same(out["plus_di"], talib.PLUS_DI(h, l, c, 14))
    _assert_same(out["minus_di"], talib.MINUS_DI(h, l, c, 14))
    assert out["adx"].iloc[:27].isna().all() and out["adx"].iloc[27:].notna().all()


def test_stoch_rsi_with_k1_matches_talib_stochrsi_where_talib_is_defined(daily):
    fastk, fastd = talib.STOCHRSI(daily["close"].to_numpy(), 14, 14, 3)
    out = ind.stoch_rsi(daily, period=14, rsi_period=14, k=1, d=3)
    defined = ~np.isnan(fastk)
    np.testing.assert_allclose(out["stochrsi_k"].to_numpy()[defined], fastk[defined], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out["stochrsi_d"].to_numpy()[defined], fastd[defined], rtol=1e-9, atol=1e-9)


def test_stoch_rsi_default_k_is_sma3_of_raw_and_bounded(daily):
    raw = ind.stoch_rsi(daily, k=1, d=1)["stochrsi_k"]
    smooth = ind.stoch_rsi(daily)
    assert list(smooth.columns) == ["stochrsi_k", "stochrsi_d"]
    np.testing.assert_allclose(smooth["stochrsi_k"].to_numpy(), raw.rolling(3).mean().to_numpy(), equal_nan=True)
    vals = smooth.dropna().to_numpy()
    assert (vals >= -1e-9).all() and (vals <= 100 + 1e-9).all()
    # warm-up: rsi 14 + window 14 + sma 3 - 2 = 29 bars for k, 31 for d
    assert smooth["stochrsi_k"].iloc[:29].isna().all() and smooth["stochrsi_k"].iloc[29:].notna().all()
    assert smooth["stochrsi_d"].iloc[:31].isna().all() and pd.notna(smooth["stochrsi_d"].iloc[31])


def test_obv_matches_talib(daily):
    _assert_same(ind.obv(daily), talib.OBV(daily["close"].to_numpy(), daily["volume"].to_numpy()))
    assert ind.obv(daily).name == "obv"


def test_obv_hand_checked():
    idx = pd.date_range("2026-01-05", periods=4, freq="D", tz=IST)
    bars = pd.DataFrame({"close": [10.0, 11.0, 11.0, 9.0], "volume": [100.0, 50.0, 70.0, 30.0]}, index=idx)
    assert ind.obv(bars).tolist() == [100.0, 150.0, 150.0, 120.0]


def test_supertrend_hand_checked_flip_and_band_ratchet():
    # 12 flat bars (ATR 2 warms up), then a collapse below the lower band flips it down.
    idx = pd.date_range("2026-01-01", periods=14, freq="D", tz=IST)
    close = [100.0] * 12 + [80.0, 79.0]
    bars = pd.DataFrame({"high": [c + 1 for c in close], "low": [c - 1 for c in close], "close": close}, index=idx)
    st = ind.supertrend(bars, period=3, multiplier=1.0)
    assert list(st.columns) == ["supertrend", "supertrend_dir"]
    assert st.iloc[:3].isna().all().all()
    assert st["supertrend_dir"].iloc[3:12].eq(1.0).all()
    assert st["supertrend"].iloc[11] == pytest.approx(100.0 - 2.0)  # hl2 - 1 × ATR(=2)
    assert st["supertrend_dir"].iloc[12] == -1.0  # close 80 < previous lower band 98
    assert st["supertrend"].iloc[12] > 80.0  # the upper band is now the stop above price


def test_supertrend_direction_is_plus_or_minus_one_after_warmup(daily):
    st = ind.supertrend(daily, 10, 3.0)
    assert set(st["supertrend_dir"].iloc[10:].unique()) <= {1.0, -1.0}
    up = st["supertrend_dir"] == 1.0
    down = st["supertrend_dir"] == -1.0
    assert up.sum() > 0 and down.sum() > 0  # the real series trends both ways
    assert (st["supertrend"][up] <= daily["high"][up] + 1e-9).all()  # a stop below price in an up-trend
    assert (st["supertrend"][down] >= daily["low"][down] - 1e-9).all()  # and above it in a down-trend


def test_too_little_history_returns_all_nan_with_names(daily):
    short = daily.iloc[:5]
    assert ind.adx(short).isna().all().all() and list(ind.adx(short).columns) == ["adx", "plus_di", "minus_di"]
    assert ind.supertrend(short, 10).isna().all().all()
    assert ind.stoch_rsi(short).isna().all().all()


def test_supertrend_bad_multiplier_raises(daily):
    with pytest.raises(ValidationError, match="multiplier must be > 0"):
        ind.supertrend(daily, 10, 0)


@pytest.mark.parametrize("fn", [ind.adx, ind.supertrend, ind.stoch_rsi])
def test_bad_period_raises(daily, fn):
    with pytest.raises(ValidationError, match="period must be an integer >= 1"):
        fn(daily, 0)


def test_obv_missing_volume_raises(daily):
    with pytest.raises(ValidationError, match="missing columns \\['volume'\\]"):
        ind.obv(daily.drop(columns=["volume"]))
