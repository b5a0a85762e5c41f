"""52-week-high breakout on daily bars (long only, swing, CNC delivery).

Entry: the day's close is above the highest high of the previous ``lookback`` sessions (252
sessions ≈ 52 weeks, the 52-week high as NSE's quote pages show it, on daily bars). Exit: the
close falls below the lowest low of the previous ``exit_days`` sessions (a trailing channel
stop, the Donchian exit). Decisions are taken at the day's close; the backtester places the
order in the next session's pre-open and it fills at that session's open
(``core.backtest.daily``). Shares are bought CNC (delivery): they settle T+1 and a sell of
them is charged the DP fee (``core.portfolio``), nothing is squared off at 15:20.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from core.orders import Product, Side
from core.strategies.base import Active, Param, Signal, Strategy, exit_signal, nan_false, ohlcv


class Breakout52w(Strategy):
    name = "breakout_52w"
    title = "52-week-high breakout (daily, CNC)"
    description = ("Daily bars, delivery (CNC): buy when the close clears the highest high of the previous "
                   "52 weeks; sell when it falls below the lowest low of the previous exit-days sessions.")
    interval = "day"
    product = Product.CNC
    PARAMS = (
        Param("lookback", int, 252, 20, 500, "sessions in the high to break (252 ≈ 52 weeks)"),
        Param("exit_days", int, 50, 5, 250, "sessions in the trailing low that ends the trade"),
    )

    @property
    def warmup(self) -> int:
        return int(self.params["lookback"]) + 1

    def features(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Columns ``close``, ``high_prior`` (max high of the ``lookback`` sessions before this
        one, ₹) and ``low_prior`` (min low of the ``exit_days`` sessions before it, ₹); NaN until
        enough sessions. Bar ``t`` uses bars ``< t`` and its own close only."""
        b = ohlcv(bars)
        high_prior = b["high"].shift(1).rolling(int(self.params["lookback"])).max()
        low_prior = b["low"].shift(1).rolling(int(self.params["exit_days"])).min()
        return pd.DataFrame({"close": b["close"], "high_prior": high_prior, "low_prior": low_prior}, index=b.index)

    def active(self, feats: pd.DataFrame, bar_end: pd.DatetimeIndex) -> Active:
        close, hi, lo = (nan_false(feats[c]) for c in ("close", "high_prior", "low_prior"))
        return Active(close > hi, close < lo, np.zeros(len(feats), dtype=bool))

    def decide(self, bar_end: datetime, f: Mapping[str, float], position: int) -> Signal | None:
        if position > 0 and f["close"] < f["low_prior"]:
            return exit_signal(position, f"close below the {self.params['exit_days']}-session low")
        if position == 0 and f["close"] > f["high_prior"]:
            return Signal(Side.BUY, self.quantity, f"close above the {self.params['lookback']}-session high")
        return None
