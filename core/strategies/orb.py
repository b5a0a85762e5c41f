"""Opening-range breakout (long and short, intraday).

The opening range is the high and low of the bars that open in the first ``range_minutes``
after 09:15 IST. After it is complete, the *first* close above the range high buys and the
first close below the range low sells short (one entry per side per day). A position is
closed when the close crosses back through the range midpoint, or at the intraday exit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from core.orders import Side
from core.strategies.base import Active, Param, Signal, Strategy, exit_signal, nan_false, ohlcv
from core.timeutil import IST

if TYPE_CHECKING:  # pragma: no cover (pandas/numpy load on first use: issue 16 item 7)
    import numpy as np
    import pandas as pd

SESSION_OPEN_MINUTES = 9 * 60 + 15


def opening_range(bars: pd.DataFrame, range_minutes: int) -> pd.DataFrame:
    """``or_high``/``or_low`` (₹) per IST day, NaN until the range's last bar has closed."""
    import numpy as np
    import pandas as pd

    idx = bars.index.tz_convert(IST)
    minutes = idx.hour * 60 + idx.minute
    in_range = (minutes >= SESSION_OPEN_MINUTES) & (minutes < SESSION_OPEN_MINUTES + range_minutes)
    day = pd.Series(idx.date, index=bars.index)
    hi = bars["high"].where(in_range)
    lo = bars["low"].where(in_range)
    # bars ≥ range end carry the day's complete range; bars inside it are NaN (not known yet)
    done = minutes >= SESSION_OPEN_MINUTES + range_minutes
    or_hi = hi.groupby(day).cummax().groupby(day).ffill().where(done)
    or_lo = lo.groupby(day).cummin().groupby(day).ffill().where(done)
    return pd.DataFrame({"or_high": or_hi.astype(np.float64), "or_low": or_lo.astype(np.float64)}, index=bars.index)


class OpeningRangeBreakout(Strategy):
    name = "orb"
    title = "Opening-range breakout"
    description = "Trade the first close outside the opening range; exit back through its midpoint."
    PARAMS = (
        Param("range_minutes", int, 15, 5, 120, "opening-range length after 09:15, minutes"),
        Param("buffer_pct", float, 0.0, 0.0, 2.0, "% beyond the range a close must be to count"),
    )

    @property
    def warmup(self) -> int:
        return int(self.params["range_minutes"])

    def features(self, bars: pd.DataFrame) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        b = ohlcv(bars)
        rng = opening_range(b, int(self.params["range_minutes"]))
        k = 1 + self.params["buffer_pct"] / 100.0
        up = (b["close"] > rng["or_high"] * k)
        dn = (b["close"] < rng["or_low"] / k)
        day = pd.Series(b.index.tz_convert(IST).date, index=b.index)
        first_up = up & (up.astype(int).groupby(day).cumsum() == 1)
        first_dn = dn & (dn.astype(int).groupby(day).cumsum() == 1)
        return pd.DataFrame({"close": b["close"], "or_high": rng["or_high"], "or_low": rng["or_low"],
                             "mid": (rng["or_high"] + rng["or_low"]) / 2,
                             "first_up": first_up.astype(np.float64), "first_down": first_dn.astype(np.float64)},
                            index=b.index)

    def active(self, feats: pd.DataFrame, bar_end: pd.DatetimeIndex) -> Active:
        close, mid, up, dn = (nan_false(feats[c]) for c in ("close", "mid", "first_up", "first_down"))
        se = self.session_exit_mask(bar_end)
        enter = self.may_enter_mask(bar_end) & ((up == 1.0) | (dn == 1.0))
        return Active(enter, se | (close < mid), se | (close > mid))

    def decide(self, bar_end: datetime, f: Mapping[str, float], position: int) -> Signal | None:
        if (s := self.session_exit(bar_end, position)) is not None:
            return s
        close, mid = f["close"], f["mid"]
        if position > 0 and close < mid:
            return exit_signal(position, f"close {close:.2f} fell back below the range midpoint {mid:.2f}")
        if position < 0 and close > mid:
            return exit_signal(position, f"close {close:.2f} rose back above the range midpoint {mid:.2f}")
        if position == 0 and self.may_enter(bar_end):
            if f["first_up"] == 1.0:
                return Signal(Side.BUY, self.quantity, f"first close {close:.2f} above the opening-range high {f['or_high']:.2f}")
            if f["first_down"] == 1.0:
                return Signal(Side.SELL, self.quantity, f"first close {close:.2f} below the opening-range low {f['or_low']:.2f}")
        return None


