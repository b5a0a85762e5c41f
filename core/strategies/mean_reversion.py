"""Mean reversion (long and short, intraday): z = (close − SMA(n)) / stdev(n). Buy when
z <= −``entry_z``, sell short when z >= ``entry_z``; close when |z| <= ``exit_z``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from core.errors import ValidationError
from core.orders import Side
from core.strategies.base import Active, Param, Signal, Strategy, exit_signal, nan_false, ohlcv

if TYPE_CHECKING:  # pragma: no cover (pandas/numpy load on first use: issue 16 item 7)
    import numpy as np
    import pandas as pd


class MeanReversion(Strategy):
    name = "mean_reversion"
    title = "Mean reversion"
    description = "Fade stretches of the close away from its SMA (z-score); exit near the mean."
    PARAMS = (
        Param("period", int, 20, 5, 500, "SMA / stdev window, bars"),
        Param("entry_z", float, 2.0, 0.5, 5.0, "|z| to enter"),
        Param("exit_z", float, 0.25, 0.0, 3.0, "|z| to exit; below entry_z"),
    )

    def check_params(self) -> None:
        if self.params["exit_z"] >= self.params["entry_z"]:
            raise ValidationError(
                f"mean_reversion.exit_z ({self.params['exit_z']}) must be below entry_z ({self.params['entry_z']})")

    @property
    def warmup(self) -> int:
        return int(self.params["period"])

    def features(self, bars: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd
        from core import indicators as ind

        b = ohlcv(bars)
        n = int(self.params["period"])
        mid = ind.sma(b, n)
        sd = b["close"].rolling(n, min_periods=n).std(ddof=0)
        z = (b["close"] - mid) / sd.where(sd > 0)
        return pd.DataFrame({"close": b["close"], "mid": mid, "z": z}, index=b.index)

    def active(self, feats: pd.DataFrame, bar_end: pd.DatetimeIndex) -> Active:
        import numpy as np

        z = nan_false(feats["z"])
        held = self.session_exit_mask(bar_end) | (np.abs(z) <= self.params["exit_z"])
        e = self.params["entry_z"]
        return Active(self.may_enter_mask(bar_end) & ((z <= -e) | (z >= e)), held, held)

    def decide(self, bar_end: datetime, f: Mapping[str, float], position: int) -> Signal | None:
        if (s := self.session_exit(bar_end, position)) is not None:
            return s
        z = f["z"]
        if z != z:  # NaN: warm-up or flat prices
            return None
        if position and abs(z) <= self.params["exit_z"]:
            return exit_signal(position, f"z-score {z:.2f} back near the mean")
        if position == 0 and self.may_enter(bar_end):
            if z <= -self.params["entry_z"]:
                return Signal(Side.BUY, self.quantity, f"z-score {z:.2f} below −{self.params['entry_z']}")
            if z >= self.params["entry_z"]:
                return Signal(Side.SELL, self.quantity, f"z-score {z:.2f} above {self.params['entry_z']}")
        return None
