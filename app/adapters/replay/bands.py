"""The replay's circuit limits: realistic NSE price bands for a recorded session.

* **F&O stocks** (an underlying in ``fno_underlyings_2025-12.csv``, from Kite's NFO dump of
  2025-12; membership as of that dump, applied to every replayed date): no fixed band, the
  dynamic price range of ``core.risk.price_bands.dynamic_range`` (10 % of the previous close,
  flexed in 5 % steps by the day's recorded high/low so far; NSE's rule in force that day).
* **Other stocks**: the fixed band of ``price_bands_2016-08_derived.csv`` (a *derived* list,
  see ``app/data/nse/make_price_bands.py``); a stock with no row gets 20 %, NSE's widest
  fixed band (labelled as an assumption, so the replay never refuses a recorded price).
* **Indices**: (0, 0), as Kite sends for instruments without limits.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache

import pandas as pd

from app.settings import DATA_DIR
from core.risk.price_bands import FixedBand, dynamic_range, dynamic_rule_for, fixed_band, fixed_band_for

FNO_FILE = "fno_underlyings_2025-12.csv"
BANDS_FILE = "price_bands_2016-08_derived.csv"
DEFAULT_BAND_PCT = 20


@lru_cache(maxsize=1)
def fno_underlyings() -> frozenset[str]:
    """Stock underlyings of NFO futures (Kite NFO dump, 2025-12)."""
    return frozenset(pd.read_csv(DATA_DIR / FNO_FILE)["name"])


@lru_cache(maxsize=1)
def fixed_bands() -> tuple[FixedBand, ...]:
    """The bundled dated band list (derived; its ``source`` column says how)."""
    d = pd.read_csv(DATA_DIR / BANDS_FILE)
    return tuple(FixedBand(r.symbol, int(r.band_pct), date.fromisoformat(r.effective_from), r.source)
                 for r in d.itertuples())


def limits_paise(symbol: str, day: date, prev_close: int, high: int, low: int, tick: int) -> tuple[int, int]:
    """(lower, upper) circuit limits in paise for ``symbol`` on ``day`` after a day's high/low (paise)."""
    p = Decimal(100)
    base, t = Decimal(prev_close) / p, Decimal(tick) / p
    if symbol in fno_underlyings():
        band = dynamic_range(base, Decimal(high) / p, Decimal(low) / p, t, dynamic_rule_for(day))
    else:
        row = fixed_band_for(symbol, day, fixed_bands())
        band = fixed_band(base, row.band_pct if row else DEFAULT_BAND_PCT, t)
    return int(band.lower * p), int(band.upper * p)
