"""TEST/DEMO option of the replay server: serve *adjusted* history, as Kite does after a split.

Kite's historical candles are adjusted for corporate actions: after a 1:2 split every bar
before the ex-date is served with prices halved (and volumes doubled). The replay's bundled
history is unadjusted, so ``python -m workers.replay --adjust INFY:2:2016-08-10`` makes its
historical endpoint divide the OHLC of every INFY bar that opens before 10 Aug 2016 (IST) by 2
and multiply its volume by 2, in every interval. Quotes and ticks are unchanged (they are of
the replay date, after the ex-date). The option may be repeated for several symbols; a symbol
may appear once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

import pandas as pd

from core.timeutil import IST


@dataclass(frozen=True, slots=True)
class Adjustment:
    """Prices of ``symbol`` (NSE tradingsymbol) before ``ex_date`` divided by ``factor`` (> 0)."""

    symbol: str
    factor: float
    ex_date: date

    @property
    def cutoff(self) -> datetime:
        return datetime.combine(self.ex_date, time(0), IST)


def parse_adjustment(spec: str) -> Adjustment:
    """``"SYMBOL:FACTOR:YYYY-MM-DD"`` → :class:`Adjustment`; ``ValueError`` saying what to fix."""
    parts = spec.split(":")
    if len(parts) != 3:
        raise ValueError(f"--adjust {spec!r} must be SYMBOL:FACTOR:YYYY-MM-DD, e.g. INFY:2:2016-08-10")
    symbol, factor_s, day_s = (p.strip() for p in parts)
    if not symbol:
        raise ValueError(f"--adjust {spec!r}: the symbol is empty")
    try:
        factor = float(factor_s)
    except ValueError:
        raise ValueError(f"--adjust {spec!r}: factor {factor_s!r} is not a number") from None
    if not factor > 0:
        raise ValueError(f"--adjust {spec!r}: factor must be > 0")
    try:
        ex_date = date.fromisoformat(day_s)
    except ValueError:
        raise ValueError(f"--adjust {spec!r}: date {day_s!r} is not YYYY-MM-DD") from None
    return Adjustment(symbol.upper(), factor, ex_date)


def parse_adjustments(specs: Iterable[str]) -> tuple[Adjustment, ...]:
    """Every spec parsed; ``ValueError`` for a bad one or a symbol given twice."""
    out = tuple(parse_adjustment(s) for s in specs)
    seen = [a.symbol for a in out]
    dupes = sorted({s for s in seen if seen.count(s) > 1})
    if dupes:
        raise ValueError(f"--adjust names {', '.join(dupes)} more than once; give one factor per symbol")
    return out


def adjust_frame(frame: pd.DataFrame, adjustment: Adjustment | None) -> pd.DataFrame:
    """``frame`` (IST-indexed OHLCV) with bars before the ex-date adjusted; unchanged if ``None``."""
    if adjustment is None or frame.empty:
        return frame
    out = frame.copy()
    before = out.index < pd.Timestamp(adjustment.cutoff)
    prices = ["open", "high", "low", "close"]
    out[prices] = out[prices].astype("float64")
    out.loc[before, prices] = (out.loc[before, prices] / adjustment.factor).round(2)
    out["volume"] = out["volume"].astype("int64")
    out.loc[before, "volume"] = (out.loc[before, "volume"] * adjustment.factor).round().astype("int64")
    return out
