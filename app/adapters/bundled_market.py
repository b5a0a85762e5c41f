"""The bundled market files as the Scanner reads them today: index universes and bars.

One adapter for every read of ``app/data/nse`` outside the replay server (see that folder's
README for where each file comes from):

* universes: NSE's index lists (``ind_nifty500list_2026-03.csv``, ``ind_niftynext50list_2025-03.csv``,
  ``nifty50_constituents_2025-10_derived.csv``) → ``symbol``, ``company``, ``industry``;
* bars: NIFTY 500 daily (Yahoo, split-adjusted, Mar 2025 – Jun 2026), NSE EOD daily
  (unadjusted, from Aug 2016) and the recorded 1-minute sessions, as long frames
  ``symbol``, ``ts`` (IST), ``open``, ``high``, ``low``, ``close``, ``volume``;
* sectors: the NIFTY 500 list (constituents and industries; the bars come from the market).

Every loader is cached per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pandas as pd

from app.adapters.nse_data import DAILY_FILE, load_minute_bars
from app.settings import DATA_DIR
from core.errors import ValidationError
from core.margins import MarginRow, MarginTable
from core.timeutil import IST

NIFTY500_DAILY_FILE = DATA_DIR / "daily_nifty500_yahoo_splitadj_2025-03_2026-06.csv.gz"
NIFTY500_LIST = DATA_DIR / "ind_nifty500list_2026-03.csv"
NIFTY50_LIST = DATA_DIR / "nifty50_constituents_2025-10_derived.csv"
NEXT50_LIST = DATA_DIR / "ind_niftynext50list_2025-03.csv"
INDEX_UNIVERSES = ("NIFTY 50", "NIFTY 100", "NIFTY 500")
SESSION_CLOSE = time(15, 30)
_COLS = ["open", "high", "low", "close", "volume"]


# ---- margins ----------------------------------------------------------------------------------

MARGINS_FILE = DATA_DIR / "margins_2026-06-12_derived.csv"
MARGINS_SOURCE = ("derived, not Zerodha's file: tools/build_margins.py (NSE VaR method: EWMA λ 0.94, "
                  "max(3.5σ, 7.5 %); ELM 3.5 %; ad hoc 0; MIS list = NIFTY 500 ∩ F&O underlyings)")


@lru_cache(maxsize=1)
def margin_table() -> MarginTable:
    """The bundled, dated MIS margin / eligibility list (``core.margins.MarginTable``, as of the
    last close in the file name). Refresh with ``python tools/build_margins.py``."""
    raw = pd.read_csv(MARGINS_FILE, dtype=str)
    rows = {r.tradingsymbol: MarginRow(r.tradingsymbol, Decimal(r.var_pct), Decimal(r.elm_pct), Decimal(r.adhoc_pct),
                                       r.mis_eligible == "true") for r in raw.itertuples()}
    as_of = date.fromisoformat(MARGINS_FILE.stem.split("_")[1])
    return MarginTable(as_of=as_of, source=MARGINS_SOURCE, rows=rows)


# ---- universes --------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def nse_list(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path)
    return pd.DataFrame({"symbol": raw["Symbol"].astype(str).str.strip(), "company": raw["Company Name"],
                         "industry": raw["Industry"]})


def index_members(name: str) -> pd.DataFrame:
    """Members of ``NIFTY 50``/``NIFTY 100``/``NIFTY 500``: columns ``symbol``, ``company``,
    ``industry`` (NSE's macro-sector), by symbol. NIFTY 100 = NIFTY 50 ∪ NIFTY Next 50."""
    n500 = nse_list(NIFTY500_LIST)
    if name == "NIFTY 500":
        out = n500
    elif name == "NIFTY 50":
        out = nse_list(NIFTY50_LIST)
    elif name == "NIFTY 100":
        out = pd.concat([nse_list(NIFTY50_LIST), nse_list(NEXT50_LIST)]).drop_duplicates("symbol")
    else:
        raise ValidationError(f"unknown index universe {name!r}; use one of {', '.join(INDEX_UNIVERSES)}")
    return out.sort_values("symbol").reset_index(drop=True)


# ---- bars -------------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _daily_long(path: Path) -> pd.DataFrame:
    d = pd.read_csv(path, dtype={"symbol": str})
    d["ts"] = pd.DatetimeIndex(pd.to_datetime(d["date"])).tz_localize(IST)
    return d[["symbol", "ts", *_COLS]]


@lru_cache(maxsize=1)
def _minute_long() -> pd.DataFrame:
    m = load_minute_bars()
    return m.rename(columns={"datetime": "ts"})[["symbol", "ts", *_COLS]]


@dataclass
class BundledBars:
    """Bars from the bundled files (see the module docstring). Cached per process."""

    daily_file: Path = NIFTY500_DAILY_FILE
    eod_file: Path = DAILY_FILE

    def daily_range(self) -> tuple[date, date]:
        ts = _daily_long(self.daily_file)["ts"]
        return ts.min().date(), ts.max().date()

    def minute_range(self) -> tuple[datetime, datetime]:
        ts = _minute_long()["ts"]
        return ts.min(), ts.max() + timedelta(minutes=1)

    def daily(self, symbols: list[str], as_of: datetime) -> tuple[pd.DataFrame, str]:
        first, last = self.daily_range()
        day = as_of.astimezone(IST).date()
        intraday = as_of.astimezone(IST).time() < SESSION_CLOSE
        if day >= first + timedelta(days=120):
            src, label = _daily_long(self.daily_file), f"NIFTY 500 daily (Yahoo, split-adjusted) {first:%d %b %Y} – {last:%d %b %Y}"
        else:
            src, label = _daily_long(self.eod_file), "NSE EOD daily (unadjusted, 20 bundled stocks) from Aug 2016"
        sel = src[src["symbol"].isin(symbols)]
        cutoff = pd.Timestamp(day, tz=IST) if intraday else pd.Timestamp(day, tz=IST) + pd.Timedelta(days=1)
        sel = sel[sel["ts"] < cutoff]
        if intraday:  # today's daily bar is the one forming from the minutes so far
            today = self.minutes(symbols, as_of)
            today = today[today["ts"].dt.date == day]
            if len(today):
                agg = today.groupby("symbol").agg(open=("open", "first"), high=("high", "max"), low=("low", "min"),
                                                  close=("close", "last"), volume=("volume", "sum")).reset_index()
                agg["ts"] = pd.Timestamp(day, tz=IST)
                sel = pd.concat([sel, agg[["symbol", "ts", *_COLS]]], ignore_index=True)
                label += f" + today's bar from 1-minute bars to {as_of.astimezone(IST):%H:%M} IST"
        return sel, label

    def minutes(self, symbols: list[str], as_of: datetime) -> pd.DataFrame:
        m = _minute_long()
        m = m[m["symbol"].isin(symbols)]
        return m[m["ts"] + pd.Timedelta(minutes=1) <= pd.Timestamp(as_of)]

    def default_as_of(self, intraday: bool) -> datetime:
        if intraday:
            return self.minute_range()[1].astimezone(IST)
        return datetime.combine(self.daily_range()[1], SESSION_CLOSE, IST)


# ---- sectors ----------------------------------------------------------------------------------


def nifty500_constituents(path: Path = NIFTY500_LIST) -> pd.DataFrame:
    """NSE's NIFTY 500 list as published (all columns as strings)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)
