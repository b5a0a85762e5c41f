"""Sectors read model: the sector heatmap, the sector table and relative-strength lines.

Data (bundled, ``app/data/nse``; see its README):

* constituents and industries: ``ind_nifty500list_2026-03.csv`` (NSE's NIFTY 500 list);
* stock closes: ``daily_nifty500_yahoo_splitadj_2025-03_2026-06.csv.gz`` (split/bonus-adjusted
  daily bars, 491 of the 500 names, 2025-03-03 → 2026-06-12);
* NIFTY 50: ``index_daily_nifty50_2015-01_2025-12.csv`` (Kite daily, **ends 2025-12-19**, so
  RS against NIFTY 50 is blank for sessions after that date).

**As-of** is the latest bundled daily bar (the last session in the stock file), stated by
:meth:`SectorService.as_of`; every table and line is computed "after that day's close". The
bundled files do not change while the process runs, so the wide close matrix is built once
(lazily, under a lock) and each period's table is memoised. The math is ``core.sectors``.
"""

from __future__ import annotations

from typing import Any

import threading
from collections.abc import Callable
from datetime import date, datetime

import pandas as pd

from app.adapters.bundled_market import (
    BENCHMARK_SYMBOL, NIFTY500_DAILY_FILE, nifty500_constituents, sector_bars, sector_benchmark,
)
from core import sectors as core
from core.errors import ValidationError
from core.timeutil import IST

class SectorService:
    """Sector returns and relative strength over the bundled NIFTY 500 daily bars.

    Parameters
    ----------
    load_bars, load_benchmark : callables returning long daily bars
        ``symbol``, ``date`` (``datetime.date``), ``close`` (₹ / index points), as
        ``app.adapters.nse_data.load_daily`` returns them. Defaults: the bundled files.
    load_constituents : callable returning the NSE list frame
        ``Company Name``, ``Industry``, ``Symbol``. Default: the bundled NIFTY 500 list.

    Thread-safe for reads: one instance is shared by every Streamlit session.
    """

    def __init__(
        self,
        load_bars: Callable[[], pd.DataFrame] = sector_bars,
        load_constituents: Callable[[], pd.DataFrame] = nifty500_constituents,
        load_benchmark: Callable[[], pd.DataFrame] | None = sector_benchmark,
        market: Any = None,
    ) -> None:
        self.market = market
        self._load_bars = load_bars
        self._load_constituents = load_constituents
        self._load_benchmark = load_benchmark
        self._lock = threading.Lock()
        self._closes: pd.DataFrame | None = None
        self._classification: pd.DataFrame | None = None
        self._benchmark: pd.Series | None = None
        self._tables: dict[tuple[str, str], pd.DataFrame] = {}

    # ---- data -----------------------------------------------------------------------------------

    def _data(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series | None]:
        with self._lock:
            if self._closes is None:
                classification = core.classify(self._load_constituents())
                bars = self._load_bars()
                bars = bars[bars["symbol"].isin(classification.index)]
                if bars.empty:
                    raise ValidationError("empty universe: no bundled daily bars for any NIFTY 500 symbol; "
                                          f"check {NIFTY500_DAILY_FILE.name} in app/data/nse")
                bench = None
                if self._load_benchmark is not None:
                    raw = self._load_benchmark()
                    if len(raw):
                        bench = core.close_matrix(raw).iloc[:, 0].rename(BENCHMARK_SYMBOL)
                self._classification, self._benchmark = classification, bench
                self._closes = core.close_matrix(bars)
            return self._closes, self._classification, self._benchmark

    def as_of(self) -> date:
        """The latest bundled daily bar's IST trading date: every result is "after its close"."""
        return self._data()[0].index[-1].date()

    def as_of_time(self) -> datetime:
        """:meth:`as_of` at the NSE close, 15:30 IST (tz-aware)."""
        return datetime.combine(self.as_of(), core.SESSION_CLOSE, tzinfo=IST)

    def first_date(self) -> date:
        """The first bundled session (IST date)."""
        return self._data()[0].index[0].date()

    def benchmark_last_date(self) -> date | None:
        """The last bundled NIFTY 50 session, or ``None`` without a benchmark."""
        bench = self._data()[2]
        return None if bench is None or bench.empty else bench.index[-1].date()

    def periods(self) -> list[str]:
        """Heatmap periods: ``["1D", "1W", "1M"]`` (1, 5 and 21 sessions)."""
        return list(core.PERIODS)

    def rs_windows(self) -> list[str]:
        """Relative-strength windows: ``["1M", "3M", "6M", "1Y"]`` (21, 63, 126, 250 sessions)."""
        return list(core.RS_WINDOWS)

    def industries(self) -> list[str]:
        """NSE industries of the NIFTY 500 list, sorted."""
        return sorted(self._data()[1]["industry"].unique())

    def symbols(self, industry: str | None = None) -> list[str]:
        """Classified tradingsymbols that have bundled bars (optionally one industry), sorted.

        Raises ``ValidationError`` for an unknown industry.
        """
        closes, classification, _ = self._data()
        if industry is not None:
            if industry not in set(classification["industry"]):
                raise ValidationError(f"unknown industry {industry!r}; choose one of {self.industries()}")
            classification = classification[classification["industry"] == industry]
        return sorted(classification.index.intersection(closes.columns))

    # ---- tables ---------------------------------------------------------------------------------

    def _memo(self, kind: str, period: str) -> pd.DataFrame:
        sessions = core.period_sessions(period)
        key = (kind, period)
        if key not in self._tables:
            closes, classification, _ = self._data()
            fn = core.sector_returns if kind == "sectors" else core.symbol_table
            self._tables[key] = fn(closes, classification, self.as_of(), sessions)
        return self._tables[key].copy()

    def sector_table(self, period: str) -> pd.DataFrame:
        """Equal-weighted return of each NSE industry over ``period`` ending at :meth:`as_of`.

        Shape as ``core.sectors.sector_returns``: index ``industry``; ``return_pct`` (%),
        ``members``, ``constituents``, ``advancers``, ``decliners``, ``best``/``best_pct``,
        ``worst``/``worst_pct``; ``attrs`` ``as_of`` and ``base`` (dates). Raises
        ``ValidationError`` for an unknown period.
        """
        return self._memo("sectors", period)

    def symbol_table(self, period: str) -> pd.DataFrame:
        """Each constituent's ``company_name``, ``industry`` and ``return_pct`` (%) over ``period``
        (index ``tradingsymbol``), for the heatmap's leaves."""
        return self._memo("symbols", period)

    def benchmark_return_pct(self, period: str) -> float | None:
        """NIFTY 50's return (%) over the same two sessions as :meth:`sector_table`, or ``None``
        when the bundled index does not cover them."""
        bench = self._data()[2]
        attrs = self.sector_table(period).attrs
        if bench is None:
            return None
        at = {d: bench.get(pd.Timestamp(d, tz=IST)) for d in (attrs["base"], attrs["as_of"])}
        if any(v is None or pd.isna(v) for v in at.values()):
            return None
        return float(at[attrs["as_of"]] / at[attrs["base"]] * 100.0 - 100.0)

    # ---- relative strength ----------------------------------------------------------------------

    def relative_strength(self, symbol: str, window: str) -> pd.DataFrame:
        """RS of ``symbol`` vs its sector and NIFTY 50 over ``window`` sessions ending at :meth:`as_of`.

        Shape as ``core.sectors.relative_strength`` (index IST sessions; ``close_rebased``,
        ``sector_rebased``, ``nifty50_rebased``, ``rs_vs_sector``, ``rs_vs_nifty50``; 100 at the
        window start). Raises ``ValidationError`` for an unknown symbol or window, or a symbol
        listed after the window starts.
        """
        closes, classification, bench = self._data()
        sessions = core.period_sessions(window, core.RS_WINDOWS)
        as_of = self.as_of()
        start = core.window_start(closes, as_of, sessions)
        return core.relative_strength(closes, classification, symbol, bench, start, as_of)

    def company(self, symbol: str) -> tuple[str, str]:
        """``(company_name, industry)`` of a classified symbol; ``ValidationError`` if unknown."""
        classification = self._data()[1]
        sym = core.resolve_symbol(symbol, classification)
        row = classification.loc[sym]
        return str(row["company_name"]), str(row["industry"])
