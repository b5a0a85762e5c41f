"""StochRSI + EMA trend (long only, intraday).

StochRSI %K = SMA(``smooth_k``) of 100·(RSI − min RSI) / (max RSI − min RSI) over
``stoch_period`` bars of Wilder's RSI(``rsi_period``) (``core.indicators.rsi``); %D = SMA(``smooth_d``)
of %K. Buy when the close is above EMA(``trend``) and %K crosses above %D from below
``oversold``; sell when %K crosses below %D above ``overbought`` or the close falls below the EMA.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from core.errors import ValidationError
from core.orders import Side
from core.strategies.base import (Active, Param, Signal, Strategy, crossed_above, crossed_below, crosses,
                                  exit_signal, nan_false, ohlcv)

if TYPE_CHECKING:  # pragma: no cover (pandas/numpy load on first use: issue 16 item 7)
    import numpy as np
    import pandas as pd


def stoch_rsi(bars: pd.DataFrame, rsi_period: int, stoch_period: int, smooth_k: int, smooth_d: int) -> pd.DataFrame:
    """Columns ``stochrsi_k`` and ``stochrsi_d`` (0–100, float64), no look-ahead."""
    import numpy as np
    import pandas as pd
    from core import indicators as ind

    r = ind.rsi(bars, rsi_period)
    lo = r.rolling(stoch_period, min_periods=stoch_period).min()
    hi = r.rolling(stoch_period, min_periods=stoch_period).max()
    raw = 100.0 * (r - lo) / (hi - lo).where(hi > lo)
    k = raw.rolling(smooth_k, min_periods=smooth_k).mean()
    d = k.rolling(smooth_d, min_periods=smooth_d).mean()
    return pd.DataFrame({"stochrsi_k": k.astype(np.float64), "stochrsi_d": d.astype(np.float64)}, index=bars.index)


class StochRsiEma(Strategy):
    name = "stochrsi_ema"
    title = "StochRSI + EMA trend"
    description = "Buy StochRSI turns up from oversold while above the EMA trend; exit on a turn down from overbought."
    PARAMS = (
        Param("rsi_period", int, 14, 2, 100, "RSI period, bars"),
        Param("stoch_period", int, 14, 2, 100, "StochRSI window, bars"),
        Param("smooth_k", int, 3, 1, 20, "%K smoothing, bars"),
        Param("smooth_d", int, 3, 1, 20, "%D smoothing, bars"),
        Param("trend", int, 50, 2, 500, "EMA trend period, bars"),
        Param("oversold", float, 20, 1, 50, "%K below this counts as oversold"),
        Param("overbought", float, 80, 50, 99, "%K above this counts as overbought"),
    )

    def check_params(self) -> None:
        if self.params["oversold"] >= self.params["overbought"]:
            raise ValidationError("stochrsi_ema.oversold must be below overbought")

    @property
    def warmup(self) -> int:
        p = self.params
        return max(int(p["rsi_period"] + p["stoch_period"] + p["smooth_k"] + p["smooth_d"]), int(p["trend"])) + 1

    def features(self, bars: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd
        from core import indicators as ind

        b = ohlcv(bars)
        p = self.params
        s = stoch_rsi(b, int(p["rsi_period"]), int(p["stoch_period"]), int(p["smooth_k"]), int(p["smooth_d"]))
        k, d = s["stochrsi_k"], s["stochrsi_d"]
        return pd.DataFrame({"close": b["close"], "ema": ind.ema(b, int(p["trend"])), "k": k, "d": d,
                             "k_prev": k.shift(1), "d_prev": d.shift(1)}, index=b.index)

    def active(self, feats: pd.DataFrame, bar_end: pd.DatetimeIndex) -> Active:
        p = self.params
        up, down = crosses(feats, "k", "d")
        k_prev, close, ema = (nan_false(feats[c]) for c in ("k_prev", "close", "ema"))
        se = self.session_exit_mask(bar_end)
        enter = self.may_enter_mask(bar_end) & up & (k_prev <= p["oversold"]) & (close > ema)
        return Active(enter, se | (down & (k_prev >= p["overbought"])) | (close < ema), se)

    def decide(self, bar_end: datetime, f: Mapping[str, float], position: int) -> Signal | None:
        if (s := self.session_exit(bar_end, position)) is not None:
            return s
        p = self.params
        up = crossed_above(f["k"], f["d"], f["k_prev"], f["d_prev"])
        down = crossed_below(f["k"], f["d"], f["k_prev"], f["d_prev"])
        if position > 0 and ((down and f["k_prev"] >= p["overbought"]) or f["close"] < f["ema"]):
            return exit_signal(position, f"StochRSI %K {f['k']:.1f} turned down / close vs EMA {f['ema']:.2f}")
        if (position == 0 and self.may_enter(bar_end) and up and f["k_prev"] <= p["oversold"]
                and f["close"] > f["ema"]):
            return Signal(Side.BUY, self.quantity, f"StochRSI %K crossed %D from oversold ({f['k_prev']:.1f}) above EMA")
        return None
