"""The replayed market of one recorded session: every derived tick, precomputed as arrays.

What is real and what is derived (also in ``docs/replay.md``):

* **Real:** the 1-minute bars of the 20 bundled stocks, NIFTY IT and INDIA VIX; the stocks'
  NSE EOD bars; NIFTY 50's daily OHLC; the Kite instruments dump (tokens, symbols).
* **Derived ticks:** each 1-minute bar becomes ``K`` ticks by ``core.tickpath`` (one per
  ``60/K`` s; price path open→low→high→close or open→high→low→close; volume split evenly with
  the remainder on the bar's last tick).
* **NIFTY 50 intraday is derived:** no 1-minute NIFTY 50 data for 2016 is bundled, so the
  whole session is one ``375*K``-tick path through that day's *real* daily OHLC, by the same
  ``core.tickpath`` rule (extremes at about 11:20 and 13:25 IST). Its minute bars (historical)
  are rebuilt from that path. Index prices are rounded to ₹0.01 and carry no volume.
* **Daily-only stocks' intraday is derived:** every NSE equity of the dump that has a real NSE
  EOD row on the replay date but no recorded 1-minute bars that day (155 on 2016-09-09, 65 on
  2016-08-17; e.g. SOBHA, 3MINDIA) gets the same treatment as
  NIFTY 50: one ``375*K``-tick ``core.tickpath`` path through that day's real EOD OHLC, rounded
  to the stock's tick, with the EOD volume spread evenly over the session (cumulative volume
  after tick ``i`` = ``floor(V*(i+1)/N)``, so the session ends at exactly ``V``). Its minute
  bars (historical), quotes, LTP, depth, circuit limits and websocket ticks all come from that
  path; ``ReplayMarket.derived_symbols`` lists them. Earlier sessions get no derived minutes
  (daily bars only).
* **Daily bars** (historical ``day``) for every dump instrument with daily history (the
  NIFTY 500's NSE EOD, NIFTY 50, NIFTY BANK, and *derived* rescaled Yahoo bars before
  2016-08-16; see ``nse_data.load_replay_daily``): rows dated before the replay date; a
  recorded session missing from the EOD file (e.g. RELIANCE's EOD starts 2016-08-22) is
  aggregated from its 1-minute bars. Minute-only indices (NIFTY IT, INDIA VIX, the sector
  indices) always come from their 1-minute bars. The replay date's bar appears only after
  15:30, from its 1-minute bars (close = last minute close), else its EOD row.
* **More F&O stocks** on 2016-09-08/09: ``minute_2016-09-08_2016-09-09_fno.csv.gz`` adds the
  other 146 F&O stocks and 9 sector indices of the shared 1-minute set for those two sessions.
* **Previous close** (the tick's ``close``): the previous session's close in the daily file,
  else the previous recorded session's last minute close, else the day's open.
* **Depth (derived, not recorded):** 5 bids at LTP − k·tick and 5 asks at LTP + k·tick
  (k = 1…5, bids floored at one tick); the quantity at level k is ``k × max(1, bar volume // K)``
  shares; orders at a level = ``1 + quantity // 500``. ``total_buy_quantity`` and
  ``total_sell_quantity`` are the sums over the 5 levels.
* **Average traded price:** volume-weighted average of the day's ticks so far (LTP before
  any volume).
* **Circuit limits:** ``replay.bands``: F&O stocks (Kite NFO dump 2025-12) the dynamic price
  range (10 % of the previous close, flexed 5 % by the day's recorded high/low so far); other
  stocks a dated fixed band (2/5/10/20 %, a derived list, else 20 %).
* **Tick size regime:** NSE's of the replay date (``core.orders.ticks``): ₹0.05 for every NSE
  equity before 10 Jun 2024, then the price-linked bands (NSE circulars of 24 May 2024 and
  March 2025) chosen by the previous month's last close; a row without daily history keeps
  the dump's ``tick_size``. The instruments CSV and the ticks' prices and depth use the same tick.
* **--fill-unrecorded (benchmark only):** an NSE-segment token with no replayed row (neither
  recorded nor derived from an EOD row) borrows
  the price path of recorded stock ``STOCKS[token % 20]`` (alphabetical order), so a
  benchmark can subscribe thousands of instruments. Its prices are not its own.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from app.adapters import nse_data
from app.adapters.replay import bands
from core.orders import price_from_float
from core.orders.ticks import equity_tick_size as core_equity_tick_size
from core.orders.ticks import follows_nse_equity_ticks
from core.resample import resample_bars
from core.tickpath import DEFAULT_TICKS_PER_BAR, bars_ticks, turning_offsets
from core.timeutil import IST

log = logging.getLogger(__name__)

SESSION_OPEN = time(9, 15)
SESSION_MINUTES = 375
NIFTY50 = "NIFTY 50"
MINUTE_INDICES = ("NIFTY IT", "INDIA VIX")
SECTOR_MINUTE_INDICES = ("NIFTY AUTO", "NIFTY COMMODITIES", "NIFTY ENERGY", "NIFTY FMCG", "NIFTY INFRA",
                         "NIFTY METAL", "NIFTY PHARMA", "NIFTY PSU BANK", "NIFTY REALTY")
ALL_MINUTE_INDICES = MINUTE_INDICES + SECTOR_MINUTE_INDICES
INDEX_TICK_PAISE = 1


def equity_tick_size(day: date, dump_tick_size: float, reference_close: float | None = None) -> float:
    """NSE cash tick size (₹) on ``day`` by ``core.orders.ticks`` (the dated regimes): the band of
    ``reference_close`` ₹ (the previous month's last close), else the dump's monthly figure."""
    ref = price_from_float(reference_close) if reference_close is not None and reference_close > 0 else None
    return float(core_equity_tick_size(day, Decimal(str(dump_tick_size)), ref))


def _round_to(value: float, step: int) -> int:
    return int(np.floor(value / step + 0.5)) * step


@dataclass(frozen=True)
class Row:
    """One recorded series in the day's arrays."""

    symbol: str
    token: int
    is_index: bool
    tick_paise: int
    derived: bool = False  # intraday derived from the day's EOD OHLC (no recorded 1-minute bars)


@dataclass(frozen=True, slots=True)
class RowSeries:
    """One row's ticks for the session, ``N`` each: ``price high low atp ltq depth_base`` int32
    paise/shares (the KiteTicker wire's width), ``cumvol`` int64 shares."""

    price: np.ndarray
    ltq: np.ndarray
    cumvol: np.ndarray
    high: np.ndarray
    low: np.ndarray
    atp: np.ndarray
    depth_base: np.ndarray

    @classmethod
    def build(cls, prices: np.ndarray, volumes: np.ndarray, k: int) -> RowSeries:
        """From a session path (paise, shares) of ``k`` ticks a bar: running high/low, cumulative
        volume, ``atp = round(cumulative turnover / cumulative volume)`` (the LTP before any
        volume) and the depth base ``max(1, bar volume // k)``."""
        price, ltq = prices.astype(np.int32, copy=False), volumes.astype(np.int32, copy=False)
        cumvol = np.cumsum(ltq, dtype=np.int64)
        atp = price.astype(np.int64)
        atp *= ltq
        np.cumsum(atp, out=atp)
        atp *= 2
        atp += cumvol
        np.floor_divide(atp, 2 * np.maximum(cumvol, 1), out=atp)
        bar_vol = ltq.reshape(-1, k).sum(axis=1, dtype=np.int64)
        return cls(price=price, ltq=ltq, cumvol=cumvol, high=np.maximum.accumulate(price),
                   low=np.minimum.accumulate(price), atp=np.where(cumvol > 0, atp, price).astype(np.int32),
                   depth_base=np.repeat(np.maximum(1, bar_vol // k).astype(np.int32), k))


@dataclass(frozen=True, slots=True)
class TickAt:
    """One row's values at one tick, as ``RowSeries`` holds them at that index (same dtypes)."""

    price: np.int32
    ltq: np.int32
    cumvol: np.int64
    high: np.int32
    low: np.int32
    atp: np.int32
    depth_base: np.int32


class _Column:
    """``market.<name>[row]`` / ``market.<name>[row, i]``: one ``RowSeries`` column by row."""

    def __init__(self, market: ReplayMarket, name: str) -> None:
        self._market, self._name = market, name

    def __getitem__(self, key):
        row, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        values = getattr(self._market.series(int(row)), self._name)
        return values[rest] if rest else values


class _DayOpen:
    """``market.day_open[row]`` (paise, the first tick's price), or for an array of rows."""

    def __init__(self, market: ReplayMarket) -> None:
        self._market = market

    def __getitem__(self, rows):
        if np.ndim(rows):
            return np.array([self._market.path(int(r))[0][0] for r in rows], dtype=np.int32)
        return self._market.path(int(rows))[0][0]


class ReplayMarket:
    """All ticks of ``day`` for the replayed instruments, indexed like ``(rows, N)`` arrays.

    ``N = 375 * ticks_per_bar``; tick ``i`` happens at 09:15 IST + ``i * 60 / K`` seconds.
    Prices are paise, volumes shares: ``price high low atp ltq depth_base`` int32 (the
    KiteTicker wire's width), ``cumvol`` int64, read as ``market.price[row, i]``; a row's
    arrays are built when first read (``series``) and kept. Rows are the recorded series, the
    derived daily-only stocks (``derived_symbols``) and NIFTY 50. Raises ``ValueError`` for a
    date with no recorded bars.
    """

    def __init__(self, day: date, ticks_per_bar: int = DEFAULT_TICKS_PER_BAR,
                 fill_unrecorded: bool = False) -> None:
        sessions = nse_data.recorded_sessions()
        if day not in sessions:
            raise ValueError(f"{day} is not a recorded session; recorded dates: "
                             + ", ".join(d.isoformat() for d in sessions))
        turning_offsets(ticks_per_bar)  # validates K
        self.day = day
        self.k = ticks_per_bar
        self.n = SESSION_MINUTES * ticks_per_bar
        self.tick_seconds = 60.0 / ticks_per_bar
        self.open_dt = datetime.combine(day, SESSION_OPEN, IST)
        self.open_epoch = int(self.open_dt.timestamp())
        self.sessions = sessions
        minute = nse_data.load_minute_bars()
        if day in nse_data.extra_minute_sessions():  # more F&O stocks and sector indices (README)
            minute = pd.concat([minute, nse_data.load_minute_bars(nse_data.EXTRA_MINUTE_FILE)], ignore_index=True)
        self._minutes = {s: g.set_index("datetime")[["open", "high", "low", "close", "volume"]]
                         for s, g in minute.groupby("symbol", sort=False)}
        del minute
        self.close_dt = self.open_dt + timedelta(minutes=SESSION_MINUTES)
        self.daily = nse_data.load_replay_daily()
        # a recorded 1-minute session beats a derived daily row of the same date (same source as ticks)
        recorded_days = {s: set(b.index.date) for s, b in self._minutes.items()}
        self._daily_by_symbol = {
            s: (g[~((g["source"] == "yahoo_rescaled_derived") & g["date"].isin(recorded_days[s]))]
                if s in recorded_days else g)
            for s, g in self.daily.groupby("symbol", sort=False)}
        self._daily_dates: dict[str, list[date]] = {}
        self.instruments = nse_data.load_instruments()
        self.fill_unrecorded = fill_unrecorded
        self._by_token = {int(t): i for i, t in enumerate(self.instruments["instrument_token"])}
        self._by_key = {f"{e}:{s}": int(t) for e, s, t in zip(
            self.instruments["exchange"], self.instruments["tradingsymbol"], self.instruments["instrument_token"])}
        self._build()

    # ------------------------------------------------------------------ construction
    def _token_of(self, symbol: str) -> int | None:
        return self._by_key.get(f"NSE:{symbol}")

    def prev_close(self, symbol: str) -> float | None:
        """Previous session's close (₹) by the documented fallback chain; None if no data.

        The latest session before the replay date wins: its daily row, or its last 1-minute
        close when the daily file lacks that session (e.g. RELIANCE before 2016-08-22).
        """
        d = self._daily_before(symbol, self.day)
        mins = self.minutes_of(symbol)
        m = mins[mins.index < self.open_dt]
        if len(m) and (not len(d) or m.index[-1].date() > d["date"].iloc[-1]):
            return float(m["close"].iloc[-1])
        if len(d):
            return float(d["close"].iloc[-1])
        m = mins[mins.index >= self.open_dt]
        return float(m["open"].iloc[0]) if len(m) else None

    def tick_reference(self, symbol: str) -> float | None:
        """₹ NSE's tick reference for the replay date: ``symbol``'s last close of an earlier month
        (the monthly review), else its previous close; None without data."""
        d = self._daily_before(symbol, self.day.replace(day=1))
        return float(d["close"].iloc[-1]) if len(d) else self.prev_close(symbol)

    def _daily_before(self, symbol: str, day: date) -> pd.DataFrame:
        """``symbol``'s daily rows dated before ``day`` (rows are date-sorted; bisect, not a scan)."""
        d = self._daily_of(symbol)
        dates = self._daily_dates.get(symbol)
        if dates is None:
            dates = self._daily_dates[symbol] = list(d["date"])
        return d.iloc[:bisect_left(dates, day)]

    def _daily_of(self, symbol: str) -> pd.DataFrame:
        d = self._daily_by_symbol.get(symbol)
        return d if d is not None else self.daily.iloc[:0]

    def minutes_of(self, symbol: str, day: date | None = None) -> pd.DataFrame:
        """Recorded 1-minute bars of ``symbol`` known to this replay (IST-indexed), optionally one day."""
        bars = self._minutes.get(symbol)
        if bars is None:
            return pd.DataFrame(columns=["open", "high", "low", "close", "volume"])
        if day is not None:
            bars = bars[bars.index.date == day]
        return bars

    def _day_minutes(self, symbol: str, day: date) -> pd.DataFrame:
        bars = self.minutes_of(symbol, day)
        idx = pd.date_range(datetime.combine(day, SESSION_OPEN, IST), periods=SESSION_MINUTES, freq="1min")
        if len(bars) != SESSION_MINUTES:
            bars = bars.reindex(idx)
            bars["close"] = bars["close"].ffill().bfill()
            for c in ("open", "high", "low"):
                bars[c] = bars[c].fillna(bars["close"])
            bars["volume"] = bars["volume"].fillna(0).astype("int64")
        return bars

    def _nifty_path(self, day: date):
        row = self._daily_of(NIFTY50)
        row = row[row["date"] == day]
        if not len(row):
            return None
        r = row.iloc[0]
        return bars_ticks([r.open], [r.high], [r.low], [r.close], [0], k=self.n, tick_size=0.01)

    def _derived_candidates(self, recorded_today: set[str]) -> list[tuple[str, int, pd.Series]]:
        """(symbol, token, EOD row) of the NSE equities whose intraday is derived (module docstring):
        a real NSE EOD row on the replay date, no recorded 1-minute bars that day, in the dump."""
        daily = self.daily
        eod = daily[(daily["date"] == self.day) & (daily["source"] == "nse_eod")]
        inst = self.instruments
        out = []
        for _, r in eod.iterrows():
            sym = r["symbol"]
            if sym in recorded_today or sym in ALL_MINUTE_INDICES or sym == NIFTY50:
                continue
            token = self._token_of(sym)
            if token is None:
                continue
            i = self._by_token[token]
            if inst.at[i, "segment"] != "NSE" or inst.at[i, "instrument_type"] != "EQ":
                continue
            out.append((sym, token, r))
        return out

    def _derived_minutes(self, prices: np.ndarray, volumes: np.ndarray) -> pd.DataFrame:
        """The replay date's 375 minute bars rebuilt from a derived session path (₹, shares)."""
        p = prices.reshape(SESSION_MINUTES, self.k) / 100.0
        v = volumes.reshape(SESSION_MINUTES, self.k).sum(axis=1)
        idx = pd.date_range(self.open_dt, periods=SESSION_MINUTES, freq="1min")
        return pd.DataFrame({"open": p[:, 0], "high": p.max(axis=1), "low": p.min(axis=1),
                             "close": p[:, -1], "volume": v.astype("int64")}, index=idx)

    def _session_volumes(self, volume: int) -> np.ndarray:
        """``volume`` shares spread evenly over the session's ``N`` ticks (int64, sums to ``volume``)."""
        cum = (int(volume) * np.arange(1, self.n + 1, dtype=np.int64)) // self.n
        return np.diff(cum, prepend=0)

    def _build(self) -> None:
        """The rows and their per-row constants; each row's tick arrays are built on first use
        (:meth:`series`): a desk subscribes a few dozen of the ~300 rows, and all of them as
        arrays are ~0.7 MB a row (~210 MB on 2016-09-09)."""
        recorded = set(self._minutes)  # symbols of the recorded 1-minute files (nothing derived yet)
        stocks = sorted(recorded - set(ALL_MINUTE_INDICES))
        self.stock_symbols = stocks
        # --fill-unrecorded borrows from the 20 stocks of the main minute file only (stable mapping)
        main_symbols = set(nse_data.load_minute_bars()["symbol"].unique())
        self._borrow_symbols = sorted(main_symbols - set(ALL_MINUTE_INDICES))
        indices = [s for s in ALL_MINUTE_INDICES if s in recorded]
        self.minute_indices = frozenset(indices)
        rows: list[Row] = []
        #: how each row's session path is built (see ``_path``): recorded bars, an EOD row, NIFTY 50
        self._sources: list[tuple] = []
        for sym in stocks + indices:
            token = self._token_of(sym)
            if token is None:
                log.warning("replay: %s is not in the instruments dump; skipped", sym)
                continue
            is_index = sym in self.minute_indices
            if is_index:
                tick = INDEX_TICK_PAISE
            else:
                dump_tick = self.instruments.loc[self._by_token[token], "tick_size"]
                tick = int(round(equity_tick_size(self.day, dump_tick, self.tick_reference(sym)) * 100))
            rows.append(Row(sym, token, is_index, tick))
            self._sources.append(("bars",))
        recorded_today = {r.symbol for r in rows}
        derived = []
        for sym, token, r in self._derived_candidates(recorded_today):
            dump_tick = self.instruments.loc[self._by_token[token], "tick_size"]
            tick = int(round(equity_tick_size(self.day, dump_tick, self.tick_reference(sym)) * 100))
            ohlcv = (r["open"], r["high"], r["low"], r["close"], r["volume"])
            prices, vol = self._eod_path(ohlcv, tick)
            rows.append(Row(sym, token, False, tick, derived=True))
            self._sources.append(("eod", ohlcv))
            self._minutes[sym] = self._derived_minutes(prices, vol)  # historical needs them now
            derived.append(sym)
        self.derived_symbols = frozenset(derived)
        if derived:
            log.info("replay: %d stocks without recorded 1-minute bars on %s get a derived session "
                     "through their EOD OHLC", len(derived), self.day)
        token = self._token_of(NIFTY50)
        if token is not None and self._nifty_path(self.day) is not None:
            rows.append(Row(NIFTY50, token, True, INDEX_TICK_PAISE))
            self._sources.append(("nifty",))
        else:
            log.warning("replay: no NIFTY 50 daily bar for %s; NIFTY 50 not replayed", self.day)
        self.rows = rows
        self.row_of_token = {r.token: i for i, r in enumerate(rows)}
        self._paths: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._series: dict[int, RowSeries] = {}
        # per-row tick columns, indexed like the (rows, N) arrays they replace: ``price[row, i]``
        for name in RowSeries.__slots__:
            setattr(self, name, _Column(self, name))
        self.day_open = _DayOpen(self)
        self.tick_paise = np.array([r.tick_paise for r in rows], dtype=np.int64)
        self.is_index = np.array([r.is_index for r in rows], dtype=bool)
        pc = [self.prev_close(r.symbol) for r in rows]
        self.prev_close_paise = np.array(
            [int(round((p if p is not None else self.day_open[i] / 100) * 100)) for i, p in enumerate(pc)],
            dtype=np.int64)
        self.tick_epoch = self.open_epoch + (np.arange(self.n) * self.tick_seconds).astype(np.int64)

    def _eod_path(self, ohlcv: tuple, tick: int) -> tuple[np.ndarray, np.ndarray]:
        """A derived daily-only stock's session: one ``N``-tick path through its EOD OHLC (paise)
        and its EOD volume spread evenly (shares)."""
        o, h, lo, c, volume = ohlcv
        path = bars_ticks([o], [h], [lo], [c], [0], k=self.n, tick_size=tick / 100)
        return path.prices, self._session_volumes(volume)

    def _path(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """``row``'s session path: prices (paise) and volumes (shares), ``N`` ticks each."""
        r, source = self.rows[row], self._sources[row]
        if source[0] == "eod":
            return self._eod_path(source[1], r.tick_paise)
        if source[0] == "nifty":
            nifty = self._nifty_path(self.day)
            return nifty.prices, nifty.volumes
        bars = self._day_minutes(r.symbol, self.day)
        path = bars_ticks(bars["open"], bars["high"], bars["low"], bars["close"], bars["volume"],
                          k=self.k, tick_size=r.tick_paise / 100)
        return path.prices, path.volumes

    def path(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """``row``'s session path as int32 ``(prices paise, volumes shares)``, ``N`` each, built on
        first use and kept (~0.2 MB a row: a quote of every instrument keeps only these)."""
        found = self._paths.get(row)
        if found is None:
            prices, volumes = self._path(row)
            found = self._paths[row] = (prices.astype(np.int32), volumes.astype(np.int32))
        return found

    def series(self, row: int) -> RowSeries:
        """``row``'s tick arrays, built on first use and kept (the same ticks every time): the
        streamed (subscribed) rows; ~0.7 MB a row, sharing the path's arrays."""
        s = self._series.get(row)
        if s is None:
            s = self._series[row] = RowSeries.build(*self.path(row), self.k)
        return s

    def at(self, row: int, i: int) -> TickAt:
        """``row``'s values at tick ``i`` (0 ≤ i < N), equal to ``series(row)``'s at ``i``,
        computed from the path alone when the row is not streamed (a quote)."""
        s = self._series.get(row)
        if s is not None:
            return TickAt(s.price[i], s.ltq[i], s.cumvol[i], s.high[i], s.low[i], s.atp[i], s.depth_base[i])
        prices, volumes = self.path(row)
        p, q = prices[:i + 1], volumes[:i + 1]
        cum = q.sum(dtype=np.int64)
        if cum > 0:
            turnover = (p.astype(np.int64) * q).sum(dtype=np.int64)
            atp = np.int32((turnover * 2 + cum) // (2 * cum))
        else:
            atp = p[-1]
        m0 = i // self.k * self.k
        bar = volumes[m0:m0 + self.k].sum(dtype=np.int64)
        return TickAt(p[-1], q[-1], cum, p.max(), p.min(), atp, np.int32(max(1, bar // self.k)))

    def series_columns(self, rows: np.ndarray, ticks: np.ndarray, name: str) -> np.ndarray:
        """Column ``name`` of ``rows`` at ``ticks``, time-major ``(len(ticks), len(rows))`` (the
        shape of ``array.T[np.ix_(ticks, rows)]`` on the ``(rows, N)`` arrays)."""
        uniq, inverse = np.unique(rows, return_inverse=True)  # borrowed rows repeat (--fill-unrecorded)
        block = np.stack([getattr(self.series(int(r)), name)[ticks] for r in uniq], axis=1)
        return block if len(uniq) == len(rows) and (uniq == rows).all() else block[:, inverse]

    # ------------------------------------------------------------------ lookups
    def instrument_key_token(self, key: str) -> int | None:
        """Token of ``"EX:SYMBOL"`` in the dump, or None."""
        return self._by_key.get(key)

    def in_dump(self, token: int) -> bool:
        return token in self._by_token

    def row_for(self, token: int) -> int | None:
        """Array row that drives ``token`` (recorded, or borrowed under --fill-unrecorded)."""
        r = self.row_of_token.get(token)
        if r is not None or not self.fill_unrecorded:
            return r
        i = self._by_token.get(token)
        if i is None or self.instruments.loc[i, "segment"] != "NSE":
            return None
        return self.row_of_token[self._token_of(self._borrow_symbols[token % len(self._borrow_symbols)])]

    def tick_time(self, i: int) -> datetime:
        return self.open_dt + timedelta(seconds=i * self.tick_seconds)

    def tick_index_at(self, now: datetime) -> int:
        """Index of the last tick at or before ``now`` (−1 before the open, N−1 after the close)."""
        secs = (now - self.open_dt).total_seconds()
        if secs < 0:
            return -1
        return min(int(np.floor(secs / self.tick_seconds + 1e-9)), self.n - 1)

    def circuit_limits(self, row: int, i: int = -1) -> tuple[float, float]:
        """(lower, upper) ₹ at tick ``i`` (−1: before the open) by ``replay.bands``: the dynamic
        range for F&O stocks (flexed by the day's high/low so far), else the fixed band; (0, 0)
        for indices."""
        if self.is_index[row]:
            return 0.0, 0.0
        pc = int(self.prev_close_paise[row])
        if i >= 0:
            at = self.at(row, i)
            high, low = int(at.high), int(at.low)
        else:
            high, low = pc, pc
        lower, upper = bands.limits_paise(self.rows[row].symbol, self.day, pc, high, low, int(self.tick_paise[row]))
        return lower / 100, upper / 100

    def instruments_csv(self) -> str:
        """The dump as Kite CSV, tick_size per the date's regime, last_price = previous close."""
        inst = self.instruments.copy()
        eq = inst["segment"] == "NSE"
        nse_eq = [follows_nse_equity_ticks(e, s, t) for e, s, t in
                  zip(inst["exchange"], inst["segment"], inst["instrument_type"])]
        inst["tick_size"] = [equity_tick_size(self.day, tick) if ok else tick  # the dump's, or the date's uniform
                             for ok, tick in zip(nse_eq, inst["tick_size"])]
        for r in self.rows:  # replayed rows: the tick their prices were built on
            if not r.is_index:
                inst.loc[self._by_token[r.token], "tick_size"] = r.tick_paise / 100
        lp = np.zeros(len(inst))
        for pos, token in enumerate(inst["instrument_token"]):
            r = self.row_of_token.get(int(token))
            if r is None and self.fill_unrecorded and eq.iloc[pos]:
                r = self.row_for(int(token))
            if r is not None:
                lp[pos] = self.prev_close_paise[r] / 100
        inst["last_price"] = lp
        inst["expiry"] = [e.isoformat() if e else "" for e in inst["expiry"]]
        return inst[nse_data.INSTRUMENT_COLUMNS].to_csv(index=False)

    # ------------------------------------------------------------------ historical
    def _symbol_of_token(self, token: int) -> str | None:
        """Symbol of a replayed row, else of a dump instrument that has daily history."""
        r = self.row_of_token.get(token)
        if r is not None:
            return self.rows[r].symbol
        i = self._by_token.get(token)
        if i is None:
            return None
        sym = str(self.instruments.loc[i, "tradingsymbol"])
        return sym if sym in self._daily_by_symbol else None

    def _nifty_minutes(self, until_day: date) -> pd.DataFrame:
        frames = []
        for d in self.sessions:
            if d > until_day:
                break
            path = self._nifty_path(d)
            if path is None:
                continue
            p = path.prices.reshape(SESSION_MINUTES, self.k) / 100.0
            idx = pd.date_range(datetime.combine(d, SESSION_OPEN, IST), periods=SESSION_MINUTES, freq="1min")
            frames.append(pd.DataFrame({"open": p[:, 0], "high": p.max(axis=1), "low": p.min(axis=1),
                                        "close": p[:, -1], "volume": 0}, index=idx))
        return pd.concat(frames) if frames else pd.DataFrame(columns=["open", "high", "low", "close", "volume"])

    def historical(self, token: int, interval: str, frm: datetime, to: datetime,
                   now: datetime) -> pd.DataFrame:
        """Candles (IST-indexed frame) for ``token`` from data known at replay time ``now``.

        Intraday intervals come from 1-minute bars that have closed by ``now`` (NIFTY 50's and
        the daily-only stocks' replay-date bars are derived from their session paths); only
        replayed instruments have them. ``day`` serves every instrument with
        daily history (:func:`nse_data.load_replay_daily`: the NIFTY 500 NSE EOD, derived
        rescaled Yahoo bars before 2016-08-16, NIFTY 50 / NIFTY BANK): bars dated before the
        replay date; recorded sessions missing from it are aggregated from 1-minute bars (the
        minute-only indices always are). The replay date's own day bar is served only once the
        session has closed (``now`` ≥ 15:30), built from its 1-minute bars where it has them
        (so its close is the last 1-minute close), else its EOD row. Rows are those whose open
        time lies in ``[frm, to]``.
        """
        symbol = self._symbol_of_token(token)
        empty = pd.DataFrame(columns=["open", "high", "low", "close", "volume"])
        if symbol is None:
            return empty
        closed = now >= self.close_dt
        if interval == "day":
            d = self._daily_of(symbol)
            d = d[(d["date"] < self.day) | (closed & (d["date"] == self.day))]
            out = d.set_index(pd.DatetimeIndex([datetime.combine(x, time(0), IST) for x in d["date"]]))
            out = out[["open", "high", "low", "close", "volume"]]
            mins = self.minutes_of(symbol) if symbol != NIFTY50 else empty  # NIFTY 50 days are real
            if len(mins):
                mins = resample_bars(mins[mins.index < (self.close_dt if closed else self.open_dt)], "day")
                if closed:  # the replay date: from its minutes when recorded
                    out = out[~out.index.isin(mins.index[mins.index.date == self.day])]
                extra = mins[~mins.index.isin(out.index)]
                if len(extra):
                    out = pd.concat([out, extra]).sort_index() if len(out) else extra
        else:
            if symbol == NIFTY50:
                bars = self._nifty_minutes(self.day)
            else:
                bars = self.minutes_of(symbol)
            bars = bars[bars.index + pd.Timedelta(minutes=1) <= now] if len(bars) else bars
            out = resample_bars(bars, interval) if len(bars) else empty
        if not len(out):
            return empty
        return out[(out.index >= frm) & (out.index <= to)]
