"""Maintainer script: cut the bundled sample from ``../shared/data/nse`` (not run at run time).

Usage: ``python app/data/nse/make_sample.py /path/to/shared/data/nse``. Prices are copied as
they are; only rows and columns are selected. See this folder's README for what and why.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

STOCKS = [
    "RELIANCE", "HDFCBANK", "INFY", "TCS", "ICICIBANK", "SBIN", "ITC", "LT", "AXISBANK",
    "KOTAKBANK", "BHARTIARTL", "MARUTI", "HINDUNILVR", "WIPRO", "HCLTECH", "SUNPHARMA",
    "ASIANPAINT", "M&M", "TATASTEEL", "NTPC",
]
INDICES_1MIN = {"NIFTYIT": "NIFTY IT", "INDIAVIX": "INDIA VIX"}


def main(src: Path, dst: Path) -> None:
    minute = pd.read_csv(src / "intraday/1min_kite_2016-08-16_2016-09-09/all_instruments_1min.csv.gz")
    minute = minute[minute["symbol"].isin(STOCKS + list(INDICES_1MIN))].copy()
    minute["symbol"] = minute["symbol"].replace(INDICES_1MIN)
    minute.to_csv(dst / "minute_2016-08-16_2016-09-09.csv.gz", index=False, compression="gzip")

    eod = pd.read_csv(src / "daily/nifty500_nse_eod_unadjusted_2016-08_2026-08.csv.gz")
    eod = eod[eod["symbol"].isin(STOCKS)].drop(columns=["delivery_pct"])
    eod.to_csv(dst / "daily_eod_unadjusted_2016-08_2026-08.csv.gz", index=False, compression="gzip")

    nifty = pd.read_csv(src / "indices/NIFTY50_index_daily_kite_1990-07_2025-12.csv")
    nifty = nifty[nifty["date"] >= "2015-01-01"]
    nifty.insert(0, "symbol", "NIFTY 50")
    nifty.to_csv(dst / "index_daily_nifty50_2015-01_2025-12.csv", index=False)

    inst = pd.read_csv(src / "instruments/kite_instruments_NSE_2025-12.csv", dtype=str)
    inst.to_csv(dst / "kite_instruments_NSE_2025-12.csv.gz", index=False, compression="gzip")

    for name in ("constituents/ind_nifty500list_2026-03.csv",
                 "calendar/nse_weekend_special_sessions_2019_2025.csv"):
        (dst / Path(name).name).write_bytes((src / name).read_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent)


# ---- scanner sample (NIFTY 50/100/500 universes and ~15 months of NIFTY 500 daily bars) ----------

SCANNER_DAILY_FROM = "2025-03-01"


def make_scanner_sample(src: Path, dst: Path) -> None:
    """Cut the scanner's data: NIFTY 500 × daily bars since ``SCANNER_DAILY_FROM`` (Yahoo,
    split/bonus-adjusted ``close``) and the NIFTY 50 / NIFTY Next 50 lists (see the README)."""
    n500 = pd.read_csv(src / "constituents/ind_nifty500list_2026-03.csv")
    daily = pd.read_csv(src / "daily/nse750_yahoo_splitadj_2016-01_2026-06.csv.gz")
    daily = daily[daily["symbol"].isin(n500["Symbol"]) & (daily["date"] >= SCANNER_DAILY_FROM)]
    daily = daily[["symbol", "date", "open", "high", "low", "close", "volume"]]
    daily.to_csv(dst / "daily_nifty500_yahoo_splitadj_2025-03_2026-06.csv.gz", index=False, compression="gzip")
    for name in ("constituents/nifty50_constituents_2025-10_derived.csv",
                 "constituents/ind_niftynext50list_2025-03.csv"):
        (dst / Path(name).name).write_bytes((src / name).read_bytes())


if __name__ == "__main__":
    make_scanner_sample(Path(sys.argv[1]), Path(__file__).resolve().parent)


# ---- backtest benchmark sample (issue 17: >= 50 liquid stocks × the 18 recorded sessions) ----------

BENCH_EXTRA = 32  # extra stocks beyond the 20 of the minute file: 52 in all


def make_bench_sample(src: Path, dst: Path) -> None:
    """Cut ``minute_2016-08-16_2016-09-09_bench50.csv.gz``: the ``BENCH_EXTRA`` stocks with the
    highest traded value (Σ close × volume) over the 18 sessions among those with all 6,750
    bars, in the 2025 Kite NSE dump (so they have a token) and not already in the minute file."""
    minute = pd.read_csv(src / "intraday/1min_kite_2016-08-16_2016-09-09/all_instruments_1min.csv.gz")
    inst = pd.read_csv(src / "instruments/kite_instruments_NSE_2025-12.csv", dtype=str)
    listed = set(inst.loc[inst["segment"] == "NSE", "tradingsymbol"])
    counts = minute.groupby("symbol")["close"].size()
    value = (minute["close"] * minute["volume"]).groupby(minute["symbol"]).sum()
    ok = counts.index[(counts >= 6750) & counts.index.isin(listed) & ~counts.index.isin(STOCKS)]
    pick = value[ok].sort_values(ascending=False).index[:BENCH_EXTRA]
    out = dst / "minute_2016-08-16_2016-09-09_bench50.csv.gz"
    minute[minute["symbol"].isin(pick)].to_csv(out, index=False, compression="gzip")


if __name__ == "__main__":
    make_bench_sample(Path(sys.argv[1]), Path(__file__).resolve().parent)


# ---- daily backtest benchmark sample (issue 17: NIFTY 500 × 5 years of daily bars) ----------

DAILY_BENCH_FROM = "2021-06-12"  # 5 years before the Yahoo set's last date, 2026-06-12


def make_daily_bench_sample(src: Path, dst: Path) -> None:
    """Cut ``daily_nifty500_yahoo_splitadj_2021-06_2025-02.csv.gz``: the scanner's NIFTY 500 daily
    bars (same source, columns and symbols) from ``DAILY_BENCH_FROM`` up to the day before
    ``SCANNER_DAILY_FROM``, so the two files join into five years without a repeated row."""
    n500 = pd.read_csv(src / "constituents/ind_nifty500list_2026-03.csv")
    daily = pd.read_csv(src / "daily/nse750_yahoo_splitadj_2016-01_2026-06.csv.gz")
    keep = daily["symbol"].isin(n500["Symbol"]) & (daily["date"] >= DAILY_BENCH_FROM) & (daily["date"] < SCANNER_DAILY_FROM)
    daily = daily.loc[keep, ["symbol", "date", "open", "high", "low", "close", "volume"]]
    daily.to_csv(dst / "daily_nifty500_yahoo_splitadj_2021-06_2025-02.csv.gz", index=False, compression="gzip")


if __name__ == "__main__":
    make_daily_bench_sample(Path(sys.argv[1]), Path(__file__).resolve().parent)
