"""Bars for analyses, read through the market-data service as of the analysis time.

Every read is :meth:`app.market.history.MarketDataService.ohlcv`: only bars closed by the
analysis time ``at`` (itself capped at market time), backfilled first from the connected
market (Kite, or the replay server) into the store. Nothing here reads bundled bar files.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

import pandas as pd

from core.models import Instrument

#: How far back the minute bars of one snapshot go (the snapshot itself uses today's bars;
#: earlier sessions warm up its indicators and give the previous close).
LOOKBACK = timedelta(days=7)
#: Daily bars read for a snapshot's previous close and 20-session context.
DAILY_BARS = 60


class MarketReads(Protocol):
    """The read side of ``app.market.history.MarketDataService``."""

    def now(self) -> datetime: ...

    def ohlcv(self, key_or_token: str | int, interval: str, *, as_of: datetime | None = None,
              start: Any = None, bars: int | None = None, forming: bool = False,
              fill: bool = True) -> pd.DataFrame: ...


class MinuteBars:
    """Bars of one instrument as of a market time, from ``market`` (the market-data service).

    ``fill``: backfill missing ranges from the connected market before reading (``True`` in
    the desk; ``False`` reads the store only). Frames are indexed by IST bar open, float
    ``open high low close`` (₹), int ``volume`` (shares); ``attrs["warning"]`` is set when the
    market's historical API failed and only stored bars are shown. Unknown symbols raise
    ``ValidationError``.
    """

    def __init__(self, market: MarketReads, *, fill: bool = True) -> None:
        self.market = market
        self.fill = fill

    def now(self) -> datetime:
        """Market time (tz-aware IST)."""
        return self.market.now()

    def frame(self, inst: Instrument | str, at: datetime, start: datetime | None = None) -> pd.DataFrame:
        """1-minute bars closed by ``at`` from ``start`` (default ``at - LOOKBACK``)."""
        key = inst.instrument_token if isinstance(inst, Instrument) else inst
        return self.market.ohlcv(key, "minute", as_of=at, start=start or at - LOOKBACK, fill=self.fill)

    def daily(self, inst: Instrument | str, at: datetime, bars: int = DAILY_BARS) -> pd.DataFrame:
        """Daily bars closed by ``at`` (about the last ``bars`` sessions; today's only after the close)."""
        key = inst.instrument_token if isinstance(inst, Instrument) else inst
        return self.market.ohlcv(key, "day", as_of=at, bars=bars, fill=self.fill)
