"""Maintainer script: the bundled price-band files (not run at run time).

Usage: ``python app/data/nse/make_price_bands.py /path/to/shared/data/nse``.

* ``fno_underlyings_2025-12.csv``: the stock underlyings of NFO futures in Kite's NFO dump of
  2025-12 (``instrument_type == FUT``, index names dropped). Real: copied names only.
* ``price_bands_2016-08_derived.csv``: a *derived* fixed band for each recorded replay stock
  that is not an F&O underlying in that list. ../shared holds no NSE price-band file, so the
  band is the narrowest NSE band (2/5/10/20 %) that contains every day's high and low move
  against the previous close in the bundled daily rows from 2016-01-01 to the first replay
  date (2016-08-16), i.e. the narrowest band consistent with what the stock traded at.
  Labelled ``derived`` in the ``source`` column; a real list replaces it with NSE's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
INDEX_NAMES = {"NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50"}
BANDS = (2, 5, 10, 20)
EFFECTIVE = "2016-08-16"
SOURCE = ("derived: narrowest NSE band (2/5/10/20 %) containing every daily high/low move vs previous close, "
          "bundled daily 2016-01..2016-08 (no NSE price-band file in ../shared)")


def main(src: Path) -> None:
    nfo = pd.read_csv(src / "instruments/kite_instruments_NFO_2025-12.csv", usecols=["name", "instrument_type"])
    names = sorted(set(nfo.loc[nfo["instrument_type"] == "FUT", "name"]) - INDEX_NAMES)
    pd.DataFrame({"name": names}).to_csv(HERE / "fno_underlyings_2025-12.csv", index=False)
    minute = pd.concat([pd.read_csv(HERE / f, usecols=["symbol"]) for f in
                        ("minute_2016-08-16_2016-09-09.csv.gz", "minute_2016-09-08_2016-09-09_fno.csv.gz")])
    daily = pd.concat([pd.read_csv(HERE / f) for f in
                       ("daily_eod_unadjusted_2016-08_2026-08.csv.gz",
                        "daily_nifty500_yahoo_rescaled_2016-01_2016-08_derived.csv.gz")])
    daily = daily[daily["date"] < EFFECTIVE].sort_values(["symbol", "date"])
    rows = []
    for sym in sorted(set(minute["symbol"]) - set(names)):
        d = daily[daily["symbol"] == sym]
        if len(d) < 2:
            continue
        prev = d["close"].shift(1)
        move = pd.concat([(d["high"] / prev - 1).abs(), (d["low"] / prev - 1).abs()]).max() * 100
        band = next((b for b in BANDS if move <= b), 20)
        rows.append(dict(symbol=sym, band_pct=band, effective_from=EFFECTIVE, source=SOURCE))
    pd.DataFrame(rows).to_csv(HERE / "price_bands_2016-08_derived.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
