"""Sectors read model: the sector heatmap, the sector table and relative-strength lines, read
from the connected market through :class:`app.market.history.MarketDataService`.

Data
----
* constituents and industries: NSE's NIFTY 500 list (a reference list,
  ``bundled_market.nifty500_constituents``);
* member daily closes: ``market.panel(["NSE:<symbol>", ...], "day", as_of=market time)``, i.e.
  the daily bars in the store (no network: the members are filled by backfill jobs, see
  :meth:`SectorService.fetch_missing`);
* NIFTY 50 (the RS benchmark) and the NSE sector indices of :data:`core.sectors.SECTOR_INDEX`:
  filled from the market through ``market.ohlcv(key, "day", fill=True)`` once per closed
  session, then read with ``panel`` like the members, so every number comes from one market.

As-of
-----
Market time (``market.now()``) bounds every read: the service never returns a bar after it. A
day's bar counts only once that session has closed (15:30 IST); before then the tables end at
the previous close, unless ``view(forming=True)`` is asked for "today so far" (the forming day
bar built from the latest ticks). One :class:`SectorView` is one consistent snapshot (one
market time, one set of bars) and memoises its tables; the service reuses the last view for
``VIEW_MAX_AGE_S`` seconds while the market time's cut (the last closed session, or the minute
for "today so far") is the same. The math is ``core.sectors``.
"""

from __future__ import annotations

import logging
import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from app.adapters.bundled_market import nifty500_constituents
from core import bars_asof
from core import sectors as core
from core.errors import DeskError, ValidationError
from core.timeutil import IST

log = logging.getLogger(__name__)

BENCHMARK_SYMBOL = "NIFTY 50"
BENCHMARK_KEY = f"NSE:{BENCHMARK_SYMBOL}"
#: The indices read besides the members: NIFTY 50 and every mapped sector index.
INDEX_KEYS: tuple[str, ...] = (BENCHMARK_KEY, *(f"NSE:{n}" for n in dict.fromkeys(core.SECTOR_INDEX.values())))
#: Daily bars asked for: the longest RS window (250 sessions) and its base session, with room.
LOOKBACK_BARS = max(core.RS_WINDOWS.values()) + 10
#: Seconds before an index fill that failed (market unreachable) is tried again.
FILL_RETRY_S = 60.0
#: Seconds a view is reused for the same as-of cut (a page rerun on every click), so bars that
#: a backfill stores show up within this long (a warm 500-member panel read is ~0.1 s, a cold one seconds).
VIEW_MAX_AGE_S = 15.0


@dataclass
class SectorView:
    """One snapshot of the sector data as of one market time (see the module docstring).

    ``market_time``: the market time of the read (tz-aware IST). ``closes``: wide member
    closes (``core.sectors`` shape); ``classification``: ``core.sectors.classify`` of the list;
    ``benchmark``: NIFTY 50 closes or ``None``; ``index_closes``: wide closes of the sector
    indices (columns index names). ``forming``: the last session is today's forming bar.
    ``requested`` / ``with_data`` / ``unknown`` / ``empty``: the members' panel coverage.
    ``warnings``: why index bars may be missing (market unreachable, unknown index).
    """

    market_time: datetime
    closes: pd.DataFrame
    classification: pd.DataFrame
    benchmark: pd.Series | None
    index_closes: pd.DataFrame
    forming: bool
    requested: int
    with_data: int
    unknown: tuple[str, ...]
    empty: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    _tables: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)

    # ---- as-of and coverage ---------------------------------------------------------------------

    def _cut(self) -> date | datetime:
        """The as-of handed to ``core.sectors``: market time (a day counts after 15:30), or
        today's date when today's forming bar is asked for."""
        return self.market_time.date() if self.forming else self.market_time

    def as_of(self) -> date:
        """The IST date of the last session used: every result is "after its close" (or, when
        :attr:`forming`, "today so far")."""
        return core.visible(self.closes, self._cut()).index[-1].date()

    def as_of_label(self) -> str:
        """``"As of the close of Thu 08 Sep 2016"`` or ``"As of 11:05 IST on Fri 09 Sep 2016
        (today so far)"``."""
        day = self.as_of()
        if self.forming and day == self.market_time.date():
            return f"As of {self.market_time:%H:%M} IST on {day:%a %d %b %Y} (today so far)"
        return f"As of the close of {day:%a %d %b %Y}"

    def coverage(self) -> str:
        """E.g. ``"275 of 500 members have bars"``, naming the symbols the master lacks."""
        text = f"{self.with_data} of {self.requested} members have bars"
        if self.unknown:
            text += f" ({len(self.unknown)} not in the instruments master)"
        return text

    def members_on(self, day: date) -> int:
        """Members with a close on the IST session ``day``."""
        ts = pd.Timestamp(day, tz=IST)
        return int(self.closes.loc[ts].notna().sum()) if ts in self.closes.index else 0

    def first_date(self) -> date:
        """The first session with a member bar (IST date)."""
        return self.closes.index[0].date()

    def benchmark_last_date(self) -> date | None:
        """The last NIFTY 50 session up to the as-of, or ``None`` without NIFTY 50 bars."""
        if self.benchmark is None or self.benchmark.empty:
            return None
        return self.benchmark.index[-1].date()

    # ---- lists ----------------------------------------------------------------------------------

    def periods(self) -> list[str]:
        """Heatmap periods: ``["1D", "1W", "1M"]`` (1, 5 and 21 sessions)."""
        return list(core.PERIODS)

    def rs_windows(self) -> list[str]:
        """Relative-strength windows: ``["1M", "3M", "6M", "1Y"]`` (21, 63, 126, 250 sessions)."""
        return list(core.RS_WINDOWS)

    def industries(self) -> list[str]:
        """NSE industries of the NIFTY 500 list, sorted."""
        return sorted(self.classification["industry"].unique())

    def symbols(self, industry: str | None = None) -> list[str]:
        """Classified tradingsymbols that have bars (optionally of one industry), sorted.

        Raises ``ValidationError`` for an unknown industry.
        """
        classification = self.classification
        if industry is not None:
            if industry not in set(classification["industry"]):
                raise ValidationError(f"unknown industry {industry!r}; choose one of {self.industries()}")
            classification = classification[classification["industry"] == industry]
        return sorted(classification.index.intersection(self.closes.columns))

    # ---- tables ---------------------------------------------------------------------------------

    def _memo(self, kind: str, period: str) -> pd.DataFrame:
        sessions = core.period_sessions(period)
        key = (kind, period)
        if key not in self._tables:
            fn = core.sector_returns if kind == "sectors" else core.symbol_table
            self._tables[key] = fn(self.closes, self.classification, self._cut(), sessions)
        return self._tables[key].copy()

    def sector_table(self, period: str) -> pd.DataFrame:
        """Equal-weighted return of each NSE industry over ``period`` ending at :meth:`as_of`.

        Shape as ``core.sectors.sector_returns``: index ``industry``; ``return_pct`` (%),
        ``members``, ``constituents``, ``advancers``, ``decliners``, ``best``/``best_pct``,
        ``worst``/``worst_pct``; plus ``index`` (the mapped NSE sector index, ``""`` if none)
        and ``index_pct`` (its return over the same sessions, %, ``NaN`` without its bars);
        ``attrs`` ``as_of`` and ``base`` (dates). Raises ``ValidationError`` for an unknown
        period or too little history.
        """
        table = self._memo("sectors", period)
        idx = core.index_returns(self.index_closes, list(table.index), table.attrs["base"], table.attrs["as_of"])
        out = table.join(idx)
        out.attrs.update(table.attrs)
        return out

    def symbol_table(self, period: str) -> pd.DataFrame:
        """Each constituent's ``company_name``, ``industry`` and ``return_pct`` (%) over ``period``
        (index ``tradingsymbol``), for the heatmap's leaves."""
        return self._memo("symbols", period)

    def benchmark_return_pct(self, period: str) -> float | None:
        """NIFTY 50's return (%) over the same two sessions as :meth:`sector_table`, or ``None``
        when the market has no NIFTY 50 bar on either day."""
        attrs = self._memo("sectors", period).attrs
        return core.index_return_pct(self.benchmark, attrs["base"], attrs["as_of"])

    # ---- relative strength ----------------------------------------------------------------------

    def relative_strength(self, symbol: str, window: str) -> pd.DataFrame:
        """RS of ``symbol`` vs its sector and NIFTY 50 over ``window`` sessions ending at :meth:`as_of`.

        Shape as ``core.sectors.relative_strength`` (index IST sessions; ``close_rebased``,
        ``sector_rebased``, ``nifty50_rebased``, ``rs_vs_sector``, ``rs_vs_nifty50``; 100 at the
        window start). Raises ``ValidationError`` for an unknown symbol or window, or a symbol
        with no bar at the window start.
        """
        sessions = core.period_sessions(window, core.RS_WINDOWS)
        start = core.window_start(self.closes, self._cut(), sessions)
        return core.relative_strength(self.closes, self.classification, symbol, self.benchmark, start, self._cut())

    def company(self, symbol: str) -> tuple[str, str]:
        """``(company_name, industry)`` of a classified symbol; ``ValidationError`` if unknown."""
        sym = core.resolve_symbol(symbol, self.classification)
        row = self.classification.loc[sym]
        return str(row["company_name"]), str(row["industry"])


def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    """A panel's long frame → ``core.sectors.close_matrix`` (IST trading date per bar)."""
    if frame.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz=IST, name="date"), dtype="float64")
    long = pd.DataFrame({"symbol": frame["symbol"].astype(str),
                         "date": pd.DatetimeIndex(frame["ts"]).tz_convert(IST).date,
                         "close": frame["close"]})
    return core.close_matrix(long)


class SectorService:
    """Sector returns and relative strength over the market's NIFTY 500 daily bars.

    Parameters
    ----------
    market : MarketDataService
        The desk's market-data reads (``now``, ``panel``, ``ohlcv``); the container passes it.
    load_constituents : callable returning the NSE list frame
        ``Company Name``, ``Industry``, ``Symbol``. Default: the bundled NIFTY 500 list.
    lookback_bars : int
        Daily bars read per instrument (default: the 1Y RS window and its base, with room).
    max_age_s : float
        How long a view is reused for the same as-of cut (``0``: read the store every time).

    Thread-safe: one instance is shared by every Streamlit session.
    """

    def __init__(self, market: Any = None,
                 load_constituents: Callable[[], pd.DataFrame] = nifty500_constituents,
                 lookback_bars: int = LOOKBACK_BARS, max_age_s: float = VIEW_MAX_AGE_S) -> None:
        self.market = market
        self._load_constituents = load_constituents
        self.lookback_bars = lookback_bars
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._classification: pd.DataFrame | None = None
        self._filled: dict[date, float | None] = {}  # closed session → None (done) or failure time
        self._fill_warning: str | None = None
        self._last: tuple[tuple, float, SectorView] | None = None

    def _market(self) -> Any:
        if self.market is None:
            raise ValidationError("SectorService has no market: build it with market=MarketDataService "
                                  "(the container does)")
        return self.market

    def classification(self) -> pd.DataFrame:
        """``core.sectors.classify`` of the constituents list (loaded once)."""
        with self._lock:
            if self._classification is None:
                self._classification = core.classify(self._load_constituents())
            return self._classification

    def member_keys(self) -> list[str]:
        """``"NSE:<symbol>"`` of every constituent, in list order."""
        return [f"NSE:{sym}" for sym in self.classification().index]

    # ---- index bars ---------------------------------------------------------------------------

    def _fill_indices(self, now: datetime) -> tuple[str, ...]:
        """Backfill NIFTY 50 and the sector indices from the market once per closed session
        (``ohlcv(fill=True)``); a failure is retried after ``FILL_RETRY_S``. Returns warnings."""
        market = self._market()
        closed = core.as_of_date(now)
        with self._lock:
            state = self._filled.get(closed, 0.0)
            if state is None or (state and _time.monotonic() - state < FILL_RETRY_S):
                return (self._fill_warning,) if state and self._fill_warning else ()
            self._filled[closed] = None
        warnings: list[str] = []
        for key in INDEX_KEYS:
            try:
                frame = market.ohlcv(key, "day", as_of=now, bars=self.lookback_bars, fill=True)
            except ValidationError as exc:  # not in the instruments master
                warnings.append(f"{key}: {exc}")
                continue
            except (DeskError, OSError) as exc:
                frame = pd.DataFrame()
                frame.attrs["warning"] = f"the market's historical API failed ({exc})"
            if frame.attrs.get("warning"):
                warnings.append(f"index bars from the store only: {frame.attrs['warning']}")
                with self._lock:
                    self._filled[closed] = _time.monotonic()
                    self._fill_warning = warnings[-1]
                break  # the market is unreachable: do not wait on every index in turn
        if warnings:
            log.warning("sector index fill as of %s: %s", now.isoformat(), "; ".join(warnings))
        return tuple(warnings)

    # ---- views --------------------------------------------------------------------------------

    def view(self, forming: bool = False) -> SectorView:
        """The sector data as of market time (module docstring).

        ``forming``: include today's forming day bar ("today so far", from the latest ticks)
        while the session is open; after 15:30 the day's bar is closed anyway. Raises
        ``ValidationError`` for an empty universe (no member has a daily bar up to market time;
        the message says how to fill them) or a malformed constituents list.
        """
        market = self._market()
        now = market.now()
        classification = self.classification()
        forming = bool(forming) and not bars_asof.day_closed(pd.Timestamp(now.date()), now)
        key = (now.replace(second=0, microsecond=0) if forming else core.as_of_date(now), forming)
        with self._lock:
            if (self._last is not None and self._last[0] == key
                    and _time.monotonic() - self._last[1] < self.max_age_s):
                return self._last[2]
        warnings = self._fill_indices(now)
        members = market.panel(self.member_keys(), "day", as_of=now, bars=self.lookback_bars, forming=forming)
        indices = market.panel(list(INDEX_KEYS), "day", as_of=now, bars=self.lookback_bars, forming=forming)
        if members.frame.empty:
            raise ValidationError(
                f"empty universe: none of the {members.requested} NIFTY 500 members has a daily bar up to "
                f"{now:%d %b %Y %H:%M} IST in the store; fetch them from the market (Sectors page: "
                "'Fetch daily bars') or run the backfill worker")
        closes = _wide(members.frame)
        index_wide = _wide(indices.frame)
        bench = index_wide[BENCHMARK_SYMBOL].dropna() if BENCHMARK_SYMBOL in index_wide.columns else None
        view = SectorView(market_time=now, closes=closes, classification=classification, benchmark=bench,
                          index_closes=index_wide.drop(columns=[BENCHMARK_SYMBOL], errors="ignore"),
                          forming=forming, requested=members.requested, with_data=members.with_data,
                          unknown=members.unknown, empty=members.empty, warnings=warnings)
        with self._lock:
            self._last = (key, _time.monotonic(), view)
        return view

    def fetch_missing(self, tasks: Any, view: SectorView | None = None) -> list[str]:
        """Queue one daily backfill job per member without bars (``tasks.enqueue_backfill``, the
        backfill worker runs them through the market's rate limit); return the job ids.

        Job ids are ``sectors:<market date>:day:<symbol>``, so asking twice on one market day
        queues nothing twice (a failed job is queued again). ``view``: the snapshot whose
        ``empty`` members to fetch (default: the members that the instruments master knows and
        the store has no daily bar of up to market time). Symbols the master lacks are skipped.
        """
        market = self._market()
        now = market.now()
        if view is not None:
            symbols = view.empty
        else:
            symbols = market.panel(self.member_keys(), "day", as_of=now, bars=self.lookback_bars).empty
        start = bars_asof.default_start("day", now, self.lookback_bars)
        ids = []
        for sym in symbols:
            ids.append(tasks.enqueue_backfill(f"NSE:{sym}", "day", start, now,
                                              job_id=f"sectors:{now.date().isoformat()}:day:{sym}"))
        log.info("queued %d sector member daily backfills", len(ids))
        return ids
