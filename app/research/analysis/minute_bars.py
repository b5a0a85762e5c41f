"""1-minute bars for analyses: the bar store first, the bundled replay bars as a fallback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import pandas as pd

from core.models import Instrument

log = logging.getLogger(__name__)

#: How far back the store is read for one snapshot (the snapshot itself uses today's bars).
LOOKBACK = timedelta(days=7)


class BarFrames(Protocol):
    """The bar store's read side (``app.adapters.store.ports.BarRepository.frame``)."""

    def frame(self, instrument_token: int, interval: str, start: datetime, end: datetime) -> pd.DataFrame: ...


class MinuteBars:
    """``frame(instrument, at)``: the last week of 1-minute OHLCV bars up to ``at``.

    ``store``: the bar store, or ``None`` (no store). ``bundled``: ``symbol → frame`` of the
    bundled replay bars (``app.adapters.nse_data.minute_bars_for``), used when the store has
    nothing; ``None`` outside replay. A store outage is logged and falls back to the bundle.
    """

    def __init__(self, store: BarFrames | None = None,
                 bundled: Callable[[str], pd.DataFrame] | None = None) -> None:
        self._store = store
        self._bundled = bundled

    def frame(self, inst: Instrument, at: datetime) -> pd.DataFrame:
        frame = None
        if self._store is not None:
            try:
                frame = self._store.frame(inst.instrument_token, "minute", at - LOOKBACK, at)
            except Exception as exc:  # the store being down should not hide bundled data
                log.warning("minute bars of %s unavailable from the store: %s", inst.key, exc)
        if (frame is None or frame.empty) and self._bundled is not None:
            frame = self._bundled(inst.tradingsymbol)
        return frame if frame is not None else pd.DataFrame()

    def bundled_frame(self, symbol: str) -> pd.DataFrame | None:
        """The bundled replay bars of ``symbol`` (an index too), or ``None`` outside replay."""
        return self._bundled(symbol) if self._bundled is not None else None
