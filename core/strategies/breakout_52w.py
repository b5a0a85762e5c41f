"""52-week-high breakout on daily bars (long only, swing, CNC delivery).

Entry: the day's close is above the highest high of the previous ``lookback`` sessions (252
sessions ≈ 52 weeks, the 52-week high as NSE's quote pages show it, on daily bars). Exit: the
close falls below the lowest low of the previous ``exit_days`` sessions (a trailing channel
stop, the Donchian exit). Decisions are taken at the day's close; the backtester places the
order in the next session's pre-open and it fills at that session's open
(``core.backtest.daily``). Shares are bought CNC (delivery): they settle T+1 and a sell of
them is charged the DP fee (``core.portfolio``), nothing is squared off at 15:20. The live
strategy runner (``app.research.strategies``) feeds 1-minute bars only, so this strategy runs in
backtests, not live.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from core.errors import ValidationError
from core.orders import Product, Side
from core.strategies.base import Active, Param, Signal, Strategy, exit_signal, nan_false, ohlcv

if TYPE_CHECKING:  # pragma: no cover (pandas/numpy load on first use: issue 16 item 7)
    import numpy as np
    import pandas as pd


class Breakout52w(Strategy):
    name = "breakout_52w"
    title = "52-week-high breakout (daily, CNC)"
    description = ("Daily bars, delivery (CNC): buy when the close clears the highest high of the previous "
                   "52 weeks; sell when it falls below the lowest low of the previous exit-days sessions. "
                   "Backtests only for now: the live runner trades the 1-minute strategies.")
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
        import pandas as pd

        b = ohlcv(bars)
        high_prior = b["high"].shift(1).rolling(int(self.params["lookback"])).max()
        low_prior = b["low"].shift(1).rolling(int(self.params["exit_days"])).min()
        return pd.DataFrame({"close": b["close"], "high_prior": high_prior, "low_prior": low_prior}, index=b.index)

    def stacked_features(self, bars: pd.DataFrame, starts: np.ndarray) -> pd.DataFrame:
        """:meth:`features` of every part in one pass: the previous bar's high/low is blanked at
        each part's first row, so no window reaches into the part before (a window holding a
        NaN is NaN, as before the first ``lookback`` sessions of one instrument)."""
        import numpy as np
        import pandas as pd

        missing = {"high", "low", "close"} - set(bars.columns)
        if missing:
            raise ValidationError(f"bars is missing columns {sorted(missing)}")
        high, low, close = (bars[c].to_numpy(np.float64) for c in ("high", "low", "close"))
        if np.isnan(high).any() or np.isnan(low).any() or np.isnan(close).any():
            raise ValidationError("bars has NaN in high, low or close; drop or fill those rows first")
        prev_high, prev_low = np.empty_like(high), np.empty_like(low)
        prev_high[1:], prev_low[1:] = high[:-1], low[:-1]
        prev_high[starts], prev_low[starts] = np.nan, np.nan
        hi = pd.Series(prev_high).rolling(int(self.params["lookback"])).max()
        lo = pd.Series(prev_low).rolling(int(self.params["exit_days"])).min()
        return pd.DataFrame({"close": close, "high_prior": hi.to_numpy(), "low_prior": lo.to_numpy()})

    def active(self, feats: pd.DataFrame, bar_end: pd.DatetimeIndex) -> Active:
        import numpy as np

        close, hi, lo = (nan_false(feats[c]) for c in ("close", "high_prior", "low_prior"))
        return Active(close > hi, close < lo, np.zeros(len(feats), dtype=bool))

    def decide(self, bar_end: datetime, f: Mapping[str, float], position: int) -> Signal | None:
        if position > 0 and f["close"] < f["low_prior"]:
            return exit_signal(position, f"close below the {self.params['exit_days']}-session low")
        if position == 0 and f["close"] > f["high_prior"]:
            return Signal(Side.BUY, self.quantity, f"close above the {self.params['lookback']}-session high")
        return None
