"""Maintainer script: cut the replay's NIFTY 500 daily history from ``../shared/data/nse``.

Usage: ``.venv/bin/python tools/build_replay_history.py [/path/to/shared/data/nse]``.
Not needed at run time: the built files are committed in ``app/data/nse`` (see its README).

Writes:

* ``daily_nifty500_eod_unadjusted_2016-08-16_2016-09-09.csv.gz`` — real NSE bhavcopy EOD
  (unadjusted) for every NIFTY 500 symbol, rows copied unchanged (``delivery_pct`` dropped).
* ``daily_nifty500_yahoo_rescaled_2016-01_2016-08_derived.csv.gz`` — **derived**: Yahoo
  split/bonus-adjusted daily bars before the symbol's first NSE EOD row (2016-08-16, or up
  to 2016-08-22 where the EOD series starts later), multiplied per symbol by
  ``factor = median(NSE EOD close / Yahoo close)`` over the overlap 2016-08-16 → 2016-09-09
  (prices rounded to the 2016 tick ₹0.05, volume divided by the factor). A symbol whose
  overlap ratio is not constant (max deviation from the median > ``MAX_RATIO_DEV``, i.e. a
  corporate action inside the overlap, or a bad series) gets no derived rows.
* ``index_daily_niftybank_2015-01_2025-12.csv`` — real Kite NIFTY BANK daily (copied).
* ``minute_2016-09-08_2016-09-09_fno.csv.gz`` — 1-minute Kite bars of the two last recorded
  sessions for the F&O stocks and sector indices *not* in the 20-stock minute file (copied).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

DST = Path(__file__).resolve().parent.parent / "app" / "data" / "nse"
EOD_FROM, EOD_TO = "2016-08-16", "2016-09-09"
YAHOO_FROM = "2016-01-01"
MAX_RATIO_DEV = 0.01
TICK = 0.05
GZ = {"method": "gzip", "mtime": 0}  # reproducible bytes
EXTRA_MINUTE_SESSIONS = ("2016-09-08", "2016-09-09")
SECTOR_INDICES = {"NIFTYAUTO": "NIFTY AUTO", "NIFTYCOMMODITIES": "NIFTY COMMODITIES",
                  "NIFTYENERGY": "NIFTY ENERGY", "NIFTYFMCG": "NIFTY FMCG", "NIFTYINFRA": "NIFTY INFRA",
                  "NIFTYMETAL": "NIFTY METAL", "NIFTYPHARMA": "NIFTY PHARMA",
                  "NIFTYPSUBANK": "NIFTY PSU BANK", "NIFTYREALTY": "NIFTY REALTY"}
COLS = ["symbol", "date", "open", "high", "low", "close", "volume"]


def rescale(yahoo: pd.DataFrame, eod: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float], list[str]]:
    """Yahoo rows before EOD_FROM at the NSE EOD price level; (rows, factor by symbol, rejected)."""
    both = yahoo.merge(eod[["symbol", "date", "close"]], on=["symbol", "date"], suffixes=("_y", "_n"))
    both["ratio"] = both["close_n"] / both["close_y"]
    factors, rejected = {}, []
    for sym, g in both.groupby("symbol"):
        med = float(g["ratio"].median())
        if len(g) < 5 or float((g["ratio"] / med - 1).abs().max()) > MAX_RATIO_DEV:
            rejected.append(sym)
            continue
        factors[sym] = med
    first_eod = eod.groupby("symbol")["date"].min()  # NSE EOD series start staggered (08-16 … 08-22)
    pre = yahoo[yahoo["symbol"].isin(factors)]
    pre = pre[pre["date"] < pre["symbol"].map(first_eod)].copy()
    f = pre["symbol"].map(factors)
    for c in ("open", "high", "low", "close"):
        pre[c] = (np.floor(pre[c] * f / TICK + 0.5) * TICK).round(2)
    pre["high"] = pre[["open", "high", "low", "close"]].max(axis=1)
    pre["low"] = pre[["open", "high", "low", "close"]].min(axis=1)
    pre["volume"] = (pre["volume"] / f).round().astype("int64")
    pre = pre[(pre[["open", "high", "low", "close"]] > 0).all(axis=1)]
    return pre[COLS], factors, sorted(rejected)


def main(src: Path, dst: Path = DST) -> None:
    n500 = set(pd.read_csv(src / "constituents/ind_nifty500list_2026-03.csv")["Symbol"])
    eod = pd.read_csv(src / "daily/nifty500_nse_eod_unadjusted_2016-08_2026-08.csv.gz")
    eod = eod[eod["symbol"].isin(n500) & (eod["date"] >= EOD_FROM) & (eod["date"] <= EOD_TO)][COLS]
    eod = eod.sort_values(["symbol", "date"])
    eod.to_csv(dst / "daily_nifty500_eod_unadjusted_2016-08-16_2016-09-09.csv.gz", index=False,
               compression=GZ)

    yahoo = pd.read_csv(src / "daily/nse750_yahoo_splitadj_2016-01_2026-06.csv.gz")
    yahoo = yahoo[yahoo["symbol"].isin(n500) & (yahoo["date"] >= YAHOO_FROM) & (yahoo["date"] <= EOD_TO)]
    derived, factors, rejected = rescale(yahoo[COLS], eod)
    derived.sort_values(["symbol", "date"]).to_csv(
        dst / "daily_nifty500_yahoo_rescaled_2016-01_2016-08_derived.csv.gz", index=False, compression=GZ)

    bank = pd.read_csv(src / "indices/NIFTYBANK_index_daily_kite_2000-01_2025-12.csv")
    bank = bank[bank["date"] >= "2015-01-01"]
    bank.insert(0, "symbol", "NIFTY BANK")
    bank.to_csv(dst / "index_daily_niftybank_2015-01_2025-12.csv", index=False)

    bundled = set(pd.read_csv(dst / "minute_2016-08-16_2016-09-09.csv.gz", usecols=["symbol"])["symbol"])
    minute = pd.read_csv(src / "intraday/1min_kite_2016-08-16_2016-09-09/all_instruments_1min.csv.gz")
    minute = minute[minute["datetime"].str[:10].isin(EXTRA_MINUTE_SESSIONS)]
    minute["symbol"] = minute["symbol"].replace(SECTOR_INDICES)
    minute = minute[~minute["symbol"].isin(bundled | {"NIFTYIT", "INDIAVIX"})]
    minute.to_csv(dst / "minute_2016-09-08_2016-09-09_fno.csv.gz", index=False, compression=GZ)

    print(f"EOD: {len(eod)} rows, {eod['symbol'].nunique()} symbols")
    print(f"derived: {len(derived)} rows, {derived['symbol'].nunique()} symbols; factor != 1: "
          f"{sum(abs(v - 1) > 0.005 for v in factors.values())}; rejected ({len(rejected)}): {' '.join(rejected)}")
    print(f"NIFTY 500 without Yahoo rows: {' '.join(sorted(n500 - set(yahoo['symbol'])))}")
    print(f"NIFTY 500 without EOD rows: {len(n500 - set(eod['symbol']))}")
    print(f"extra minute: {len(minute)} rows, {minute['symbol'].nunique()} symbols")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared/data/nse")
