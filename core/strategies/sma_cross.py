"""SMA crossover (long only, intraday): buy when SMA(fast) crosses above SMA(slow), sell when
it crosses back below. The benchmark strategy (``bench/backtest.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from core.errors import ValidationError
from core.orders import Side
from core.strategies.base import (Active, Param, Signal, Strategy, crossed_above, crossed_below, crosses,
                                  exit_signal, ohlcv)

if TYPE_CHECKING:  # pragma: no cover (pandas/numpy load on first use: issue 16 item 7)
    import pandas as pd


class SmaCross(Strategy):
    name = "sma_cross"
    title = "SMA crossover"
    description = "Long when the fast SMA crosses above the slow SMA; flat when it crosses below."
    PARAMS = (
        Param("fast", int, 10, 2, 200, "fast SMA period, bars"),
        Param("slow", int, 30, 3, 500, "slow SMA period, bars; must exceed fast"),
    )

    def check_params(self) -> None:
        if self.params["fast"] >= self.params["slow"]:
            raise ValidationError(f"sma_cross.fast ({self.params['fast']}) must be below slow ({self.params['slow']})")

    @property
    def warmup(self) -> int:
        return int(self.params["slow"]) + 1

    def features(self, bars: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd
        from core import indicators as ind

        b = ohlcv(bars)
        fast = ind.sma(b, int(self.params["fast"]))
        slow = ind.sma(b, int(self.params["slow"]))
        return pd.DataFrame({"close": b["close"], "fast": fast, "slow": slow,
                             "fast_prev": fast.shift(1), "slow_prev": slow.shift(1)}, index=b.index)

    def active(self, feats: pd.DataFrame, bar_end: pd.DatetimeIndex) -> Active:
        up, down = crosses(feats, "fast", "slow")
        se = self.session_exit_mask(bar_end)
        return Active(self.may_enter_mask(bar_end) & up, se | down, se)

    def decide(self, bar_end: datetime, f: Mapping[str, float], position: int) -> Signal | None:
        if (s := self.session_exit(bar_end, position)) is not None:
            return s
        if position > 0 and crossed_below(f["fast"], f["slow"], f["fast_prev"], f["slow_prev"]):
            return exit_signal(position, f"SMA{self.params['fast']} crossed below SMA{self.params['slow']}")
        if position == 0 and self.may_enter(bar_end) and crossed_above(f["fast"], f["slow"], f["fast_prev"], f["slow_prev"]):
            return Signal(Side.BUY, self.quantity, f"SMA{self.params['fast']} crossed above SMA{self.params['slow']}")
        return None
