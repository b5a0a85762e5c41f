"""Panels: one timeframe's bars of a whole universe as ``(T, N)`` NumPy arrays.

Column ``j`` holds symbol ``symbols[j]``'s last ``T`` bars in time order, right-aligned: row
``T - 1`` is each symbol's latest bar (``[0]`` in a scan), row ``T - 2`` the one before, and a
symbol with fewer bars has leading ``NaN`` rows. ``ts`` holds each cell's bar-open time (UTC
nanoseconds since the epoch as ``int64``; ``NaT`` value where there is no bar), so a latest bar
that is older than the universe's (a suspended symbol) can be spotted, and a scan backtest can
count matches per date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import ValidationError
from core.timeutil import IST

NAT = np.iinfo("int64").min
_IST_OFFSET_NS = 19_800 * 1_000_000_000
_DAY_NS = 86_400 * 1_000_000_000
PANEL_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass
class Panel:
    timeframe: str
    symbols: list[str]
    fields: dict[str, np.ndarray]
    ts: np.ndarray  # (T, N) int64 ns UTC, NAT where no bar
    cache: dict = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.ts.shape

    @property
    def bars(self) -> int:
        return self.ts.shape[0]

    def day_numbers(self) -> np.ndarray:
        """IST day number of each cell (for session resets)."""
        return (self.ts + _IST_OFFSET_NS) // _DAY_NS

    def latest_times(self) -> pd.Series:
        """Each symbol's latest bar time (IST), ``NaT`` for symbols without bars."""
        last = self.ts[-1] if self.bars else np.full(len(self.symbols), NAT)
        vals = pd.to_datetime(np.where(last == NAT, np.datetime64("NaT"), last.astype("datetime64[ns]")), utc=True)
        return pd.Series(vals, index=self.symbols).dt.tz_convert(IST)


def build_panel(bars: pd.DataFrame, symbols: Sequence[str], timeframe: str, max_bars: int | None = None) -> Panel:
    """Build a panel from long bars.

    ``bars``: columns ``symbol`` (str), ``ts`` (tz-aware bar-open time), ``open high low close
    volume`` (numbers), any order, one row per symbol and bar. ``symbols``: the universe, in
    output column order (symbols without bars get all-``NaN`` columns). ``max_bars``: keep
    each symbol's last ``max_bars`` bars. Raises ``ValidationError`` for missing columns, a
    naive ``ts``, or a duplicate (symbol, ts).
    """
    missing = [c for c in ("symbol", "ts", *PANEL_FIELDS) if c not in bars.columns]
    if missing:
        raise ValidationError(f"bars are missing columns {missing}; need symbol, ts and {list(PANEL_FIELDS)}")
    syms = list(dict.fromkeys(symbols))
    n = len(syms)
    sel = bars[bars["symbol"].isin(syms)]
    ts = pd.DatetimeIndex(sel["ts"])
    if ts.tz is None:
        raise ValidationError("bars ts must be tz-aware (bar-open time)")
    t_ns = ts.tz_convert("UTC").as_unit("ns").asi8
    codes = pd.Categorical(sel["symbol"], categories=syms).codes.astype(np.int64)
    order = np.lexsort((t_ns, codes))
    codes, t_ns = codes[order], t_ns[order]
    if len(codes) > 1 and np.any((codes[1:] == codes[:-1]) & (t_ns[1:] == t_ns[:-1])):
        raise ValidationError("bars have duplicate (symbol, ts) rows; drop duplicates first")
    counts = np.bincount(codes, minlength=n)
    T = int(counts.max()) if len(codes) else 0
    if max_bars is not None:
        T = min(T, int(max_bars))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    within = np.arange(len(codes)) - starts[codes]
    row = T - counts[codes] + within
    keep = row >= 0
    r, c = row[keep], codes[keep]
    out_ts = np.full((T, n), NAT, dtype=np.int64)
    out_ts[r, c] = t_ns[keep]
    fields = {}
    for name in PANEL_FIELDS:
        arr = np.full((T, n), np.nan)
        arr[r, c] = sel[name].to_numpy(dtype="float64")[order][keep]
        fields[name] = arr
    return Panel(timeframe, syms, fields, out_ts)
