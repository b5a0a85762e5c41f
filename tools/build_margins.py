"""Build the bundled, dated MIS margin / eligibility list ``app/data/nse/margins_<date>_derived.csv``.

There is no official Zerodha margin file in the repository, so this list is **derived** and
says so in its name and in ``core.margins.MarginTable.source``:

* ``var_pct``: NSE's VaR method as the desk implements it: daily log returns of the bundled
  NIFTY 500 closes (``daily_nifty500_yahoo_splitadj_2025-03_2026-06.csv.gz``), an EWMA
  volatility ``σ²_t = λ σ²_{t−1} + (1 − λ) r²_t`` with ``λ = 0.94`` (RiskMetrics, the
  J. R. Varma committee method NSE uses), seeded with the variance of the first 20 returns;
  ``VaR % = max(3.5 σ, 7.5 %)`` (99 % VaR with NSE's Group I floor), to two decimals;
* ``elm_pct`` 3.5 (NSE's extreme loss margin for equities), ``adhoc_pct`` 0;
* ``mis_eligible``: NIFTY 500 (``ind_nifty500list_2026-03.csv``) ∩ F&O underlyings (the
  stock futures of the Kite NFO dump, ``../shared/data/nse/instruments/kite_instruments_NFO_2025-12.csv``),
  a proxy for Zerodha's MIS list (which is broader and changes daily); ``fno`` says which.

The date in the file name is the last close used. Refresh: ``python tools/build_margins.py``
(same inputs → same bytes). With a real Kite account use Kite's ``order_margins`` instead.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "app" / "data" / "nse"
DAILY = DATA / "daily_nifty500_yahoo_splitadj_2025-03_2026-06.csv.gz"
NIFTY500 = DATA / "ind_nifty500list_2026-03.csv"
NFO = ROOT.parent / "shared" / "data" / "nse" / "instruments" / "kite_instruments_NFO_2025-12.csv"
LAMBDA, SIGMAS, VAR_FLOOR, ELM, SEED = 0.94, 3.5, 7.5, "3.50", 20


def ewma_sigma(closes: pd.Series) -> float | None:
    """Last EWMA daily volatility (fraction) of ``closes``; ``None`` with fewer than SEED+1 returns."""
    r = [math.log(b / a) for a, b in zip(closes.iloc[:-1], closes.iloc[1:], strict=True) if a > 0 and b > 0]
    if len(r) <= SEED:
        return None
    var = sum(x * x for x in r[:SEED]) / SEED
    for x in r[SEED:]:
        var = LAMBDA * var + (1 - LAMBDA) * x * x
    return math.sqrt(var)


def main() -> Path:
    daily = pd.read_csv(DAILY, parse_dates=["date"]).sort_values(["symbol", "date"])
    universe = set(pd.read_csv(NIFTY500)["Symbol"])
    nfo = pd.read_csv(NFO, usecols=["name", "instrument_type", "segment"])
    fno = set(nfo[(nfo["instrument_type"] == "FUT") & (nfo["segment"] == "NFO-FUT")]["name"])
    as_of = daily["date"].max().date()
    out = DATA / f"margins_{as_of:%Y-%m-%d}_derived.csv"
    rows = []
    for symbol in sorted(universe):
        series = daily.loc[daily["symbol"] == symbol, "close"]
        sigma = ewma_sigma(series) if len(series) else None
        if sigma is None:
            continue
        var = max(SIGMAS * sigma * 100, VAR_FLOOR)
        rows.append([symbol, f"{var:.2f}", ELM, "0.00", str(symbol in fno).lower(), str(symbol in fno).lower()])
    with out.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["tradingsymbol", "var_pct", "elm_pct", "adhoc_pct", "mis_eligible", "fno"])
        w.writerows(rows)
    return out


if __name__ == "__main__":
    print(main())
