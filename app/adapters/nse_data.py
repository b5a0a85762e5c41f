"""Loaders for the bundled real NSE data in ``app/data/nse`` (see its README.md).

Every loader is cached per path and returns a typed frame. Rows that fail validation
(unparseable, non-positive price, high < low, open/close outside [low, high], negative
volume) are dropped with a logged warning naming the file and the CSV line; the rest load.

Frames:

* :func:`load_minute_bars` — ``symbol`` (str), ``datetime`` (tz-aware IST bar-open time),
  ``open high low close`` (float ₹), ``volume`` (int64 shares); Kite 1-minute bars, 2016.
* :func:`load_daily` — ``symbol``, ``date`` (``datetime.date``, IST trading date), ``open high
  low close`` (float ₹), ``volume`` (int64; 0 for the NIFTY 50 index). NSE bhavcopy EOD
  (unadjusted) for the 20 bundled stocks plus the NIFTY 50 index daily from Kite.
* :func:`load_instruments` — Kite's ``instruments("NSE")`` columns, typed as the kiteconnect
  client types them (token int, prices float, expiry date or None).
"""

from __future__ import annotations

import csv
import gzip
import logging
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.settings import DATA_DIR
from core.timeutil import IST

if TYPE_CHECKING:  # pragma: no cover - pandas/numpy are imported by the readers that use them
    import pandas as pd

log = logging.getLogger(__name__)

MINUTE_FILE = DATA_DIR / "minute_2016-08-16_2016-09-09.csv.gz"
DAILY_FILE = DATA_DIR / "daily_eod_unadjusted_2016-08_2026-08.csv.gz"
INDEX_DAILY_FILE = DATA_DIR / "index_daily_nifty50_2015-01_2025-12.csv"
INSTRUMENTS_FILE = DATA_DIR / "kite_instruments_NSE_2025-12.csv.gz"
#: 32 more liquid stocks' 1-minute bars, same sessions and columns as ``MINUTE_FILE`` (the
#: backtest benchmark's >= 50 symbols); read with ``minute_bars_for(sym, path=BENCH50_MINUTE_FILE)``.
BENCH50_MINUTE_FILE = DATA_DIR / "minute_2016-08-16_2016-09-09_bench50.csv.gz"

INSTRUMENT_COLUMNS = ["instrument_token", "exchange_token", "tradingsymbol", "name", "last_price",
                      "expiry", "strike", "tick_size", "lot_size", "instrument_type", "segment",
                      "exchange"]
_PRICES = ["open", "high", "low", "close"]


def _drop_bad_rows(raw: pd.DataFrame, path: Path, time_col: str, time_format: str | None,
                   has_volume: bool = True) -> pd.DataFrame:
    """Type the columns and drop invalid rows, warning per row (file name and CSV line)."""
    import numpy as np
    import pandas as pd

    out = pd.DataFrame({"symbol": raw["symbol"].astype("string")})
    out[time_col] = pd.to_datetime(raw[time_col], format=time_format, errors="coerce")
    for col in _PRICES:
        out[col] = pd.to_numeric(raw[col], errors="coerce")
    out["volume"] = pd.to_numeric(raw["volume"], errors="coerce") if has_volume else 0
    reasons = pd.Series("", index=raw.index, dtype=object)
    unparsed = out[[time_col, *_PRICES, "volume"]].isna().any(axis=1) | out["symbol"].isna()
    reasons[unparsed] = "unparseable value"
    p = out[_PRICES]
    ok = ~unparsed
    reasons[ok & (p <= 0).any(axis=1)] = "non-positive price"
    reasons[ok & (out["high"] < out["low"])] = "high < low"
    outside = ((out["open"] < out["low"]) | (out["open"] > out["high"])
               | (out["close"] < out["low"]) | (out["close"] > out["high"]))
    reasons[ok & (out["high"] >= out["low"]) & outside] = "open/close outside [low, high]"
    reasons[ok & (out["volume"] < 0)] = "negative volume"
    bad = reasons != ""
    for i in np.flatnonzero(bad.to_numpy()):
        log.warning("dropped corrupt row in %s line %d (%s): %s", path.name, i + 2,
                    reasons.iloc[i], ",".join(str(v) for v in raw.iloc[i].tolist()))
    out = out[~bad].copy()
    out["volume"] = out["volume"].astype("int64")
    out["symbol"] = out["symbol"].astype(str)
    return out.reset_index(drop=True)


@lru_cache(maxsize=4)
def load_minute_bars(path: Path = MINUTE_FILE) -> pd.DataFrame:
    """1-minute bars (see module docstring), sorted by symbol then time."""
    import pandas as pd

    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = _drop_bad_rows(raw, path, "datetime", "ISO8601")
    if len(out):
        out["datetime"] = pd.DatetimeIndex(out["datetime"]).tz_convert(IST)
    return out.sort_values(["symbol", "datetime"], kind="stable").reset_index(drop=True)


@lru_cache(maxsize=4)
def load_daily(path: Path = DAILY_FILE, index_path: Path = INDEX_DAILY_FILE) -> pd.DataFrame:
    """Daily bars: bundled stocks' NSE EOD plus NIFTY 50 (volume 0), sorted by symbol, date."""
    import pandas as pd

    frames = []
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    frames.append(_drop_bad_rows(raw, path, "date", "%Y-%m-%d"))
    if index_path is not None:
        raw_i = pd.read_csv(index_path, dtype=str, keep_default_na=False)
        frames.append(_drop_bad_rows(raw_i, index_path, "date", "%Y-%m-%d", has_volume=False))
    out = pd.concat(frames, ignore_index=True)
    out["date"] = out["date"].dt.date
    return out.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def _number(text: str) -> float:
    """A CSV number, 0.0 when empty or unparseable (NaN included), as the dump's readers expect."""
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return 0.0 if value != value else value


def instrument_records(path: Path = INSTRUMENTS_FILE) -> list[dict[str, Any]]:
    """The bundled Kite NSE instruments dump as rows (``INSTRUMENT_COLUMNS``), typed, with the
    standard library only (the store's seed runs in processes that never load pandas):
    ``instrument_token``/``lot_size`` int, ``last_price``/``strike``/``tick_size`` float
    (0.0 when empty), ``expiry`` ``date`` or ``None``, the rest strings. A row with a
    non-numeric ``instrument_token`` or no ``tradingsymbol`` is dropped with a warning naming
    the file and line."""
    opener = gzip.open if path.suffix == ".gz" else open
    rows: list[dict[str, Any]] = []
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        for line, raw in enumerate(csv.DictReader(fh), 2):
            try:
                token = float(raw["instrument_token"])
            except ValueError:
                token = float("nan")
            if token != token or raw["tradingsymbol"] == "":
                log.warning("dropped corrupt row in %s line %d: bad instrument_token or tradingsymbol", path.name, line)
                continue
            row = {c: raw[c] for c in INSTRUMENT_COLUMNS}
            row["instrument_token"] = int(token)
            for col in ("last_price", "strike", "tick_size"):
                row[col] = _number(row[col])
            row["lot_size"] = int(_number(row["lot_size"]))
            row["expiry"] = date.fromisoformat(row["expiry"]) if row["expiry"] else None
            rows.append(row)
    return rows


@lru_cache(maxsize=2)
def load_instruments(path: Path = INSTRUMENTS_FILE) -> pd.DataFrame:
    """The bundled Kite NSE instruments dump, typed (8,725 rows: NSE equities and INDICES):
    :func:`instrument_records` as a frame (int64 tokens and lot sizes, float64 prices)."""
    import pandas as pd

    rows = instrument_records(path)
    out = pd.DataFrame({c: [r[c] for r in rows] for c in INSTRUMENT_COLUMNS}, columns=INSTRUMENT_COLUMNS)
    return out.astype({"instrument_token": "int64", "lot_size": "int64", "last_price": "float64",
                       "strike": "float64", "tick_size": "float64"})


@lru_cache(maxsize=4)
def _sessions(path: Path) -> tuple[date, ...]:
    bars = load_minute_bars(path)
    return tuple(sorted(set(bars["datetime"].dt.date)))


def recorded_sessions(path: Path = MINUTE_FILE) -> list[date]:
    """The trading dates that have recorded 1-minute bars (ascending)."""
    return list(_sessions(path))


def minute_bars_for(symbol: str, day: date | None = None, path: Path = MINUTE_FILE) -> pd.DataFrame:
    """One symbol's 1-minute bars, indexed by IST bar-open time (optionally one session)."""
    bars = load_minute_bars(path)
    sel = bars[bars["symbol"] == symbol]
    if day is not None:
        sel = sel[sel["datetime"].dt.date == day]
    return sel.set_index("datetime")[["open", "high", "low", "close", "volume"]]


NIFTY500_LIST_FILE = DATA_DIR / "ind_nifty500list_2026-03.csv"


@lru_cache(maxsize=2)
def nifty500_industries(path: Path = NIFTY500_LIST_FILE) -> dict[str, str]:
    """NSE symbol (upper case) → industry, from NSE's bundled NIFTY 500 list; ``{}`` if unreadable."""
    import pandas as pd

    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except OSError:
        return {}
    return {s.strip().upper(): i.strip() for s, i in zip(raw["Symbol"], raw["Industry"], strict=True)}


# ---- the replay's whole-universe daily history and extra 1-minute sessions (issue 12) ----------

REPLAY_EOD_FILE = DATA_DIR / "daily_nifty500_eod_unadjusted_2016-08-16_2016-09-09.csv.gz"
REPLAY_DERIVED_FILE = DATA_DIR / "daily_nifty500_yahoo_rescaled_2016-01_2016-08_derived.csv.gz"
NIFTYBANK_DAILY_FILE = DATA_DIR / "index_daily_niftybank_2015-01_2025-12.csv"
EXTRA_MINUTE_FILE = DATA_DIR / "minute_2016-09-08_2016-09-09_fno.csv.gz"
DAILY_SOURCES = ("nse_eod", "kite_index", "yahoo_rescaled_derived")


@lru_cache(maxsize=2)
def load_replay_daily(eod_path: Path = REPLAY_EOD_FILE, derived_path: Path = REPLAY_DERIVED_FILE,
                      bank_path: Path = NIFTYBANK_DAILY_FILE) -> pd.DataFrame:
    """Daily bars the replay's Kite historical endpoint serves, with a ``source`` column.

    :func:`load_daily` (20 stocks' NSE EOD, NIFTY 50) plus NSE EOD for every NIFTY 500 symbol
    (2016-08-16 → 2016-09-09), NIFTY BANK (Kite), and — **derived** — Yahoo split-adjusted bars
    before 2016-08-16 rescaled to the NSE EOD price level (``tools/build_replay_history.py``).
    One row per (symbol, date); real rows win over derived ones. ``source`` is one of
    :data:`DAILY_SOURCES`.
    """
    import numpy as np
    import pandas as pd

    base = load_daily()
    base = base.assign(source=np.where(base["symbol"] == "NIFTY 50", "kite_index", "nse_eod"))
    frames = [base]
    for path, source, has_volume in ((eod_path, "nse_eod", True), (bank_path, "kite_index", False),
                                     (derived_path, "yahoo_rescaled_derived", True)):
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        f = _drop_bad_rows(raw, path, "date", "%Y-%m-%d", has_volume=has_volume)
        f["date"] = f["date"].dt.date
        frames.append(f.assign(source=source))
    out = pd.concat(frames, ignore_index=True)
    out = out.drop_duplicates(["symbol", "date"], keep="first")
    return out.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def extra_minute_sessions(path: Path = EXTRA_MINUTE_FILE) -> list[date]:
    """Sessions of the extra F&O-stock / sector-index 1-minute file (ascending)."""
    return list(_sessions(path))
