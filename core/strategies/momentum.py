"""Momentum (long only, intraday): buy when the rate of change over ``lookback`` bars exceeds
``entry_roc_pct`` and the close is above its EMA(``trend``); sell when the rate of change
turns negative or the close falls below the EMA."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from core.orders import Side
from core.strategies.base import Active, Param, Signal, Strategy, exit_signal, nan_false, ohlcv

if TYPE_CHECKING:  # pragma: no cover (pandas/numpy load on first use: issue 16 item 7)
    import pandas as pd


class Momentum(Strategy):
    name = "momentum"
    title = "Momentum"
    description = "Long on a strong rate of change above the EMA trend; flat when momentum fades."
    PARAMS = (
        Param("lookback", int, 15, 2, 240, "rate-of-change window, bars"),
        Param("entry_roc_pct", float, 0.3, 0.01, 10.0, "minimum % change over the lookback to enter"),
        Param("trend", int, 50, 2, 500, "EMA period of the trend filter, bars"),
    )

    @property
    def warmup(self) -> int:
        return max(int(self.params["lookback"]), int(self.params["trend"])) + 1

    def features(self, bars: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd
        from core import indicators as ind

        b = ohlcv(bars)
        n = int(self.params["lookback"])
        roc = (b["close"] / b["close"].shift(n) - 1.0) * 100.0
        return pd.DataFrame({"close": b["close"], "roc": roc, "ema": ind.ema(b, int(self.params["trend"]))},
                            index=b.index)

    def active(self, feats: pd.DataFrame, bar_end: pd.DatetimeIndex) -> Active:
        roc, close, ema = (nan_false(feats[c]) for c in ("roc", "close", "ema"))
        se = self.session_exit_mask(bar_end)
        enter = self.may_enter_mask(bar_end) & (roc >= self.params["entry_roc_pct"]) & (close > ema)
        return Active(enter, se | (roc < 0) | (close < ema), se)

    def decide(self, bar_end: datetime, f: Mapping[str, float], position: int) -> Signal | None:
        if (s := self.session_exit(bar_end, position)) is not None:
            return s
        roc, close, ema = f["roc"], f["close"], f["ema"]
        if position > 0 and (roc < 0 or close < ema):
            return exit_signal(position, f"momentum faded: ROC {roc:.2f}% / close {close:.2f} vs EMA {ema:.2f}")
        if position == 0 and self.may_enter(bar_end) and roc >= self.params["entry_roc_pct"] and close > ema:
            return Signal(Side.BUY, self.quantity, f"ROC({self.params['lookback']}) {roc:.2f}% above EMA trend")
        return None
