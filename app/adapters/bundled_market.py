"""The bundled reference lists of ``app/data/nse``: index universes, the MIS margin list and
the NIFTY 500 constituents (see that folder's README for where each file comes from).

* universes: NSE's index lists (``ind_nifty500list_2026-03.csv``, ``ind_niftynext50list_2025-03.csv``,
  ``nifty50_constituents_2025-10_derived.csv``) → ``symbol``, ``company``, ``industry``;
* margins: the dated MIS margin / eligibility table (``margins_2026-06-12_derived.csv``);
* sectors: the NIFTY 500 list (constituents and industries).

No bars: the desk reads every bar from the market (``app.market.history.MarketDataService``:
the store, filled from Kite or the replay server); only the replay server reads the bundled
bar files (``tests/app/test_bundled_readers.py`` enforces it). Every loader is cached per process.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from app.settings import DATA_DIR
from core.errors import ValidationError
from core.margins import MarginRow, MarginTable

if TYPE_CHECKING:  # pragma: no cover (pandas loads on the first list read: the margin table needs none)
    import pandas as pd

NIFTY500_LIST = DATA_DIR / "ind_nifty500list_2026-03.csv"
NIFTY50_LIST = DATA_DIR / "nifty50_constituents_2025-10_derived.csv"
NEXT50_LIST = DATA_DIR / "ind_niftynext50list_2025-03.csv"
INDEX_UNIVERSES = ("NIFTY 50", "NIFTY 100", "NIFTY 500")


# ---- margins ----------------------------------------------------------------------------------

MARGINS_FILE = DATA_DIR / "margins_2026-06-12_derived.csv"
MARGINS_SOURCE = ("derived, not Zerodha's file: tools/build_margins.py (NSE VaR method: EWMA λ 0.94, "
                  "max(3.5σ, 7.5 %); ELM 3.5 %; ad hoc 0; MIS list = NIFTY 500 ∩ F&O underlyings)")


@lru_cache(maxsize=1)
def margin_table() -> MarginTable:
    """The bundled, dated MIS margin / eligibility list (``core.margins.MarginTable``, as of the
    last close in the file name). Refresh with ``python tools/build_margins.py``. Read with
    ``csv`` (every process that trades needs it; pandas is not needed for 491 text rows)."""
    with MARGINS_FILE.open(newline="", encoding="utf-8") as f:
        rows = {r["tradingsymbol"]: MarginRow(r["tradingsymbol"], Decimal(r["var_pct"]), Decimal(r["elm_pct"]),
                                              Decimal(r["adhoc_pct"]), r["mis_eligible"] == "true")
                for r in csv.DictReader(f)}
    as_of = date.fromisoformat(MARGINS_FILE.stem.split("_")[1])
    return MarginTable(as_of=as_of, source=MARGINS_SOURCE, rows=rows)


# ---- universes --------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def nse_list(path: Path) -> pd.DataFrame:
    import pandas as pd

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
        import pandas as pd

        out = pd.concat([nse_list(NIFTY50_LIST), nse_list(NEXT50_LIST)]).drop_duplicates("symbol")
    else:
        raise ValidationError(f"unknown index universe {name!r}; use one of {', '.join(INDEX_UNIVERSES)}")
    return out.sort_values("symbol").reset_index(drop=True)


# ---- sectors ----------------------------------------------------------------------------------


def nifty500_constituents(path: Path = NIFTY500_LIST) -> pd.DataFrame:
    """NSE's NIFTY 500 list as published (all columns as strings)."""
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False)
