"""Sectors: industry classification, sector returns and relative strength (pure).

Classification is NSE's own: the ``Industry`` column of the NIFTY 500 constituents list
(``ind_nifty500list.csv``, published by NSE Indices; 21 macro-sectors such as "Financial
Services" or "Information Technology").

Shapes
------
``closes`` (every function) is a *wide* frame of daily closes, built by :func:`close_matrix`:
index a strictly increasing, tz-aware ``DatetimeIndex`` of IST trading dates (midnight
``Asia/Kolkata``, one row per session), one ``float64`` column per ``tradingsymbol`` (₹,
as the market serves them), ``NaN`` where that symbol has no bar that day (not yet listed, suspended,
missing from the source). The session axis is the union of every symbol's dates.

Rules
-----
* **Periods** count sessions, not calendar days: ``1D`` = 1, ``1W`` = 5, ``1M`` = 21 sessions
  (:data:`PERIODS`). A symbol's return over ``n`` sessions at ``as_of`` is
  ``close[as_of] / close[as_of - n sessions] - 1``; it is ``NaN`` (and the symbol is left out of
  its sector's average) if either close is missing.
* **Sector return is equal-weighted**: the plain mean of its members' returns, which is the
  return of holding the same rupee amount of each member over the period. NSE's sector indices
  are free-float-market-cap weighted, but daily bars carry no shares outstanding or free-float
  factors, so a cap-weighted return cannot be computed honestly from them; equal weight is
  stated instead, and it reads as "how the typical stock of the sector did". The NSE sector
  index mapped to an industry (:data:`SECTOR_INDEX`) is shown beside it over the same two
  sessions (:func:`index_returns`), where the market has its bars.
* **Relative strength** of a symbol over a window ``[start, as_of]`` is its price rebased to 100
  at ``start`` divided by a benchmark rebased the same way, × 100: above 100 means the symbol
  out-performed since ``start``. The sector benchmark is the equal-weighted buy-and-hold index
  of the sector's members that have a close at ``start`` (the symbol itself included, so it is
  the same sector as on the heatmap); a member missing a later bar (suspension) holds its last
  close. The market benchmark is NIFTY 50.
* **No look-ahead.** Every function uses only rows dated ``<= as_of``. A tz-aware ``datetime``
  ``as_of`` counts a day's bar only once that day's session has closed (15:30 IST); a ``date``
  means "after that day's close". Tests check that results at ``t`` do not change when bars
  after ``t`` are dropped or altered.
"""

from __future__ import annotations

import difflib
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from core.errors import ValidationError
from core.timeutil import IST, require_aware

#: Return periods shown on the heatmap, in sessions.
PERIODS: dict[str, int] = {"1D": 1, "1W": 5, "1M": 21}
#: Relative-strength windows, in sessions (≈ 21 sessions per month, 250 per year).
RS_WINDOWS: dict[str, int] = {"1M": 21, "3M": 63, "6M": 126, "1Y": 250}
#: NSE normal-market close (IST); a daily bar is final after it.
SESSION_CLOSE = time(15, 30)
#: NIFTY 500 industry (NSE's macro-sector) → the NSE sector index shown beside it. An index
#: covers part of its industry only (NIFTY PHARMA of Healthcare, NIFTY BANK of Financial
#: Services, NIFTY ENERGY of Oil Gas and Power), which is why the page names the index.
SECTOR_INDEX: dict[str, str] = {
    "Information Technology": "NIFTY IT",
    "Automobile and Auto Components": "NIFTY AUTO",
    "Fast Moving Consumer Goods": "NIFTY FMCG",
    "Metals & Mining": "NIFTY METAL",
    "Healthcare": "NIFTY PHARMA",
    "Oil Gas & Consumable Fuels": "NIFTY ENERGY",
    "Power": "NIFTY ENERGY",
    "Realty": "NIFTY REALTY",
    "Financial Services": "NIFTY BANK",
    "Construction": "NIFTY INFRA",
}

CLASSIFICATION_COLUMNS = ("company_name", "industry")
SECTOR_COLUMNS = ("return_pct", "members", "constituents", "advancers", "decliners",
                  "best", "best_pct", "worst", "worst_pct")
RS_COLUMNS = ("close_rebased", "sector_rebased", "nifty50_rebased", "rs_vs_sector", "rs_vs_nifty50")
_LIST_COLUMNS = {"Company Name": "company_name", "Industry": "industry", "Symbol": "tradingsymbol"}


# ---- classification -------------------------------------------------------------------------------


def classify(constituents: pd.DataFrame) -> pd.DataFrame:
    """Industry of each constituent, from an NSE index list (``ind_nifty500list.csv``).

    Parameters
    ----------
    constituents : pd.DataFrame
        NSE list format: ``Company Name``, ``Industry``, ``Symbol`` (other columns such as
        ``Series`` and ``ISIN Code`` are ignored), one row per company.

    Returns
    -------
    pd.DataFrame
        Index ``tradingsymbol`` (str, upper case, sorted, unique); columns ``company_name`` and
        ``industry`` (str).

    Raises
    ------
    ValidationError
        If a column is missing, the list is empty, a symbol is blank or repeated, or an
        industry is blank.
    """
    if not isinstance(constituents, pd.DataFrame):
        raise ValidationError(f"constituents must be a DataFrame, got {type(constituents).__name__}")
    missing = [c for c in _LIST_COLUMNS if c not in constituents.columns]
    if missing:
        raise ValidationError(f"constituents list is missing columns {missing}; expected NSE's list format "
                              f"{list(_LIST_COLUMNS)} (e.g. ind_nifty500list.csv)")
    out = constituents[list(_LIST_COLUMNS)].rename(columns=_LIST_COLUMNS)
    out = out.astype(str).apply(lambda col: col.str.strip())
    if out.empty:
        raise ValidationError("empty universe: the constituents list has no rows; pass the NIFTY 500 list")
    out["tradingsymbol"] = out["tradingsymbol"].str.upper()
    if (out["tradingsymbol"] == "").any() or out["tradingsymbol"].isin(["NAN", "NONE"]).any():
        raise ValidationError("constituents list has a blank Symbol; fix or drop that row")
    dup = sorted(set(out.loc[out["tradingsymbol"].duplicated(), "tradingsymbol"]))
    if dup:
        raise ValidationError(f"constituents list repeats symbols {dup}; keep one row per symbol")
    blank = out.loc[(out["industry"] == "") | (out["industry"] == "nan"), "tradingsymbol"].tolist()
    if blank:
        raise ValidationError(f"constituents list has no Industry for {blank}; fill it in")
    return out.set_index("tradingsymbol").sort_index()[list(CLASSIFICATION_COLUMNS)]


# ---- closes and as-of ---------------------------------------------------------------------------


def close_matrix(bars: pd.DataFrame) -> pd.DataFrame:
    """Pivot long daily bars into the wide ``closes`` frame (see the module docstring).

    Parameters
    ----------
    bars : pd.DataFrame
        Long daily bars as ``app.adapters.nse_data.load_daily`` returns them: ``symbol`` (str),
        ``date`` (``datetime.date``, IST trading date) and ``close`` (₹); other columns ignored.

    Raises
    ------
    ValidationError
        If a column is missing, a (symbol, date) pair repeats, or a close is not positive.
    """
    missing = [c for c in ("symbol", "date", "close") if c not in bars.columns]
    if missing:
        raise ValidationError(f"bars is missing columns {missing}; expected long daily bars "
                              "symbol, date, close (as nse_data.load_daily returns)")
    if bars[["symbol", "date"]].duplicated().any():
        raise ValidationError("bars repeats a (symbol, date); keep one daily bar per symbol and day")
    close = pd.to_numeric(bars["close"], errors="coerce")
    if close.isna().any() or (close <= 0).any():
        raise ValidationError("bars has a missing or non-positive close; drop those rows first")
    wide = pd.DataFrame({"symbol": bars["symbol"].astype(str), "date": pd.to_datetime(bars["date"]),
                         "close": close.astype("float64")}).pivot(index="date", columns="symbol", values="close")
    wide.index = pd.DatetimeIndex(wide.index).tz_localize(IST)
    wide.index.name = "date"
    wide.columns.name = None
    return wide.sort_index()


def as_of_date(as_of: date | datetime) -> date:
    """The last IST trading date whose daily bar is final at ``as_of``.

    A ``date`` is taken as "after that day's close". A ``datetime`` must be tz-aware; before
    15:30 IST the same day's bar is still forming, so the previous date is returned.
    Raises ``ValidationError`` for a naive ``datetime``.
    """
    if isinstance(as_of, datetime):
        local = require_aware(as_of, "as_of").astimezone(IST)
        return local.date() if local.time() >= SESSION_CLOSE else local.date() - timedelta(days=1)
    if isinstance(as_of, date):
        return as_of
    raise ValidationError(f"as_of must be a date or a tz-aware datetime, got {type(as_of).__name__}")


def visible(closes: pd.DataFrame, as_of: date | datetime) -> pd.DataFrame:
    """Rows of ``closes`` whose bar is final at ``as_of`` (no look-ahead past this cut).

    Raises ``ValidationError`` if ``closes`` is malformed or has no session on or before ``as_of``.
    """
    _check_closes(closes)
    cut = pd.Timestamp(as_of_date(as_of), tz=IST)
    out = closes.loc[closes.index <= cut]
    if out.empty:
        first = closes.index[0].date() if len(closes) else None
        raise ValidationError(f"no daily bars on or before {cut.date()} (bars start {first}); "
                              "pick a later as_of")
    return out


def _check_closes(closes: pd.DataFrame) -> None:
    if not isinstance(closes, pd.DataFrame):
        raise ValidationError(f"closes must be a DataFrame, got {type(closes).__name__}")
    idx = closes.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        raise ValidationError("closes index must be a tz-aware DatetimeIndex of IST trading dates; "
                              "build it with close_matrix()")
    if not idx.is_monotonic_increasing or idx.has_duplicates:
        raise ValidationError("closes index must be strictly increasing; build it with close_matrix()")


def _check_sessions(sessions: int, what: str = "sessions") -> None:
    if isinstance(sessions, bool) or not isinstance(sessions, (int, np.integer)) or sessions < 1:
        raise ValidationError(f"{what} must be an integer >= 1, got {sessions!r}")


def period_sessions(period: str, table: dict[str, int] = PERIODS) -> int:
    """Sessions in a named period (``"1D"``, ``"1W"``, ``"1M"``; or an ``RS_WINDOWS`` key)."""
    try:
        return table[period]
    except (KeyError, TypeError):
        raise ValidationError(f"unknown period {period!r}; choose one of {list(table)}") from None


# ---- returns ------------------------------------------------------------------------------------


def symbol_returns(closes: pd.DataFrame, as_of: date | datetime, sessions: int) -> pd.Series:
    """Each symbol's simple return over the last ``sessions`` sessions ending at ``as_of``.

    Returns
    -------
    pd.Series
        ``float64`` fraction (0.02 = +2 %), index = ``closes.columns``, named ``"return"``;
        ``NaN`` where the close at ``as_of``'s session or at the base session is missing.
        ``attrs["as_of"]`` and ``attrs["base"]`` are the two session dates (``datetime.date``).

    Raises
    ------
    ValidationError
        If fewer than ``sessions + 1`` sessions are on or before ``as_of``.
    """
    _check_sessions(sessions)
    seen = visible(closes, as_of)
    if len(seen) <= sessions:
        raise ValidationError(f"a {sessions}-session return needs {sessions + 1} sessions on or before "
                              f"{seen.index[-1].date()}, only {len(seen)} have bars (from "
                              f"{seen.index[0].date()}); pick a shorter period or a later as_of")
    last, base = seen.iloc[-1], seen.iloc[-1 - sessions]
    out = (last / base - 1.0).astype("float64").rename("return")
    out.attrs.update(as_of=seen.index[-1].date(), base=seen.index[-1 - sessions].date())
    return out


def sector_returns(closes: pd.DataFrame, classification: pd.DataFrame, as_of: date | datetime,
                   sessions: int) -> pd.DataFrame:
    """Equal-weighted return of each industry over ``sessions`` sessions ending at ``as_of``.

    Parameters
    ----------
    closes : pd.DataFrame
        Wide daily closes (module docstring).
    classification : pd.DataFrame
        From :func:`classify`: index ``tradingsymbol``, column ``industry``.

    Returns
    -------
    pd.DataFrame
        Index ``industry`` (str), sorted by ``return_pct`` descending (industries with no
        member return last). Columns: ``return_pct`` (float, %, mean of members' returns),
        ``members`` (int, constituents with a return), ``constituents`` (int, in the list),
        ``advancers`` / ``decliners`` (int, members up / down), ``best`` / ``worst`` (str,
        tradingsymbol, ``""`` if none) with ``best_pct`` / ``worst_pct`` (float, %).
        ``attrs`` carries ``as_of`` and ``base`` (dates) as in :func:`symbol_returns`.

    Raises
    ------
    ValidationError
        Empty universe (no constituents, or none of them has bars), or too little history.
    """
    table = symbol_table(closes, classification, as_of, sessions)
    rows = []
    for industry, grp in table.groupby("industry", sort=True):
        got = grp["return_pct"].dropna()
        rows.append({
            "industry": industry,
            "return_pct": float(got.mean()) if len(got) else np.nan,
            "members": int(len(got)),
            "constituents": int(len(grp)),
            "advancers": int((got > 0).sum()),
            "decliners": int((got < 0).sum()),
            "best": str(got.idxmax()) if len(got) else "",
            "best_pct": float(got.max()) if len(got) else np.nan,
            "worst": str(got.idxmin()) if len(got) else "",
            "worst_pct": float(got.min()) if len(got) else np.nan,
        })
    out = pd.DataFrame(rows).set_index("industry")[list(SECTOR_COLUMNS)]
    out = out.sort_values("return_pct", ascending=False, na_position="last", kind="stable")
    out.attrs.update(table.attrs)
    return out


def symbol_table(closes: pd.DataFrame, classification: pd.DataFrame, as_of: date | datetime,
                 sessions: int) -> pd.DataFrame:
    """Every constituent with its industry and period return (the heatmap's leaves).

    Returns
    -------
    pd.DataFrame
        Index ``tradingsymbol``; columns ``company_name``, ``industry`` (str) and
        ``return_pct`` (float, %; ``NaN`` without bars at both ends). Same order as
        ``classification``. ``attrs``: ``as_of``, ``base``.

    Raises
    ------
    ValidationError
        Empty universe (no constituents, or none with bars in ``closes``), or too little history.
    """
    _check_classification(classification)
    have = classification.index.intersection(closes.columns)
    if have.empty:
        raise ValidationError(f"empty universe: none of the {len(classification)} constituents has daily bars; "
                              "load bars for the list's symbols")
    rets = symbol_returns(closes[have], as_of, sessions)
    out = classification[list(CLASSIFICATION_COLUMNS)].copy()
    out["return_pct"] = (rets.reindex(out.index) * 100.0).astype("float64")
    out.attrs.update(rets.attrs)
    return out


def _check_classification(classification: pd.DataFrame) -> None:
    if not isinstance(classification, pd.DataFrame) or "industry" not in classification.columns:
        raise ValidationError("classification must be the frame classify() returns (index tradingsymbol, "
                              "column industry)")
    if classification.empty:
        raise ValidationError("empty universe: the classification has no symbols; pass the NIFTY 500 list")


# ---- relative strength --------------------------------------------------------------------------


def window_start(closes: pd.DataFrame, as_of: date | datetime, sessions: int) -> date:
    """The session ``sessions`` sessions before ``as_of``'s session (the RS base date).

    Raises ``ValidationError`` if fewer than ``sessions + 1`` sessions are on or before ``as_of``.
    """
    _check_sessions(sessions, "window")
    seen = visible(closes, as_of)
    if len(seen) <= sessions:
        raise ValidationError(f"a {sessions}-session window needs {sessions + 1} sessions on or before "
                              f"{seen.index[-1].date()}, only {len(seen)} have bars (from "
                              f"{seen.index[0].date()}); pick a shorter window")
    return seen.index[-1 - sessions].date()


def resolve_symbol(symbol: str, classification: pd.DataFrame) -> str:
    """Upper-case ``symbol`` (``"NSE:INFY"`` or ``"infy"`` → ``"INFY"``) and check it is classified.

    Raises ``ValidationError`` naming close matches if it is not in the list.
    """
    _check_classification(classification)
    if not isinstance(symbol, str) or not symbol.strip():
        raise ValidationError("symbol is blank; pass a tradingsymbol such as INFY")
    sym = symbol.strip().upper().removeprefix("NSE:")
    if sym not in classification.index:
        close = difflib.get_close_matches(sym, list(classification.index), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValidationError(f"unknown symbol {sym!r}: not in the NIFTY 500 list{hint}")
    return sym


def relative_strength(closes: pd.DataFrame, classification: pd.DataFrame, symbol: str,
                      benchmark: pd.Series | None, start: date, as_of: date | datetime) -> pd.DataFrame:
    """Relative strength of ``symbol`` against its sector and NIFTY 50 over ``[start, as_of]``.

    Parameters
    ----------
    closes, classification
        As in :func:`sector_returns`.
    symbol : str
        A classified tradingsymbol (``"INFY"``; ``"NSE:INFY"`` accepted).
    benchmark : pd.Series or None
        NIFTY 50 daily closes (points), tz-aware IST ``DatetimeIndex`` of trading dates. Dates
        the benchmark lacks are ``NaN`` in its columns (the market may have fewer NIFTY 50 bars
        than stock bars); ``None`` leaves them all ``NaN``.
    start : date
        Base session (see :func:`window_start`); everything is rebased to 100 there.
    as_of : date or tz-aware datetime
        Last bar used (module docstring).

    Returns
    -------
    pd.DataFrame
        Index: the sessions from ``start`` to ``as_of`` (tz-aware IST). ``float64`` columns:
        ``close_rebased`` (symbol, 100 at ``start``), ``sector_rebased`` (equal-weighted sector
        index), ``nifty50_rebased``, ``rs_vs_sector`` = 100 × close_rebased / sector_rebased,
        ``rs_vs_nifty50`` = 100 × close_rebased / nifty50_rebased. ``attrs``: ``industry``,
        ``sector_members`` (int), ``start``, ``as_of`` (dates).

    Raises
    ------
    ValidationError
        Unknown symbol, a symbol without bars, no close at ``start`` (listed later: pick a
        shorter window), or ``start`` after ``as_of``.
    """
    sym = resolve_symbol(symbol, classification)
    if sym not in closes.columns:
        raise ValidationError(f"no daily bars for {sym} up to the as-of date; pick another symbol")
    seen = visible(closes, as_of)
    base = pd.Timestamp(start, tz=IST)
    if base not in seen.index:
        raise ValidationError(f"start {start} is not a session on or before {seen.index[-1].date()}; "
                              "use window_start() to pick it")
    win = seen.loc[base:]
    if pd.isna(win.at[base, sym]):
        first = closes[sym].first_valid_index()
        raise ValidationError(f"{sym} has no close on {start} (its bars start {first.date() if first else None}); "
                              "pick a shorter window")
    industry = str(classification.at[sym, "industry"])
    peers = [s for s in classification.index[classification["industry"] == industry] if s in win.columns]
    peers = [s for s in peers if pd.notna(win.at[base, s])]
    held = win[peers].ffill()  # a suspended member holds its last close (past values only)
    sector = (held / held.iloc[0]).mean(axis=1) * 100.0
    own = held[sym] / held[sym].iloc[0] * 100.0
    if benchmark is None:
        nifty = pd.Series(np.nan, index=win.index)
    else:
        bench = benchmark.astype("float64").reindex(win.index)
        b0 = bench.iloc[0]
        nifty = bench / b0 * 100.0 if pd.notna(b0) and b0 > 0 else pd.Series(np.nan, index=win.index)
    out = pd.DataFrame({
        "close_rebased": own, "sector_rebased": sector, "nifty50_rebased": nifty,
        "rs_vs_sector": own / sector * 100.0, "rs_vs_nifty50": own / nifty * 100.0,
    }, index=win.index).astype("float64")
    out.attrs.update(industry=industry, sector_members=len(peers), start=start, as_of=win.index[-1].date())
    return out


# ---- sector indices -----------------------------------------------------------------------------


def index_return_pct(closes: pd.Series | None, base: date, as_of: date) -> float | None:
    """An index's return (%) from the close of ``base`` to the close of ``as_of``, or ``None``
    when ``closes`` (points, tz-aware IST ``DatetimeIndex`` of trading dates) lacks either day."""
    if closes is None or closes.empty:
        return None
    at = [closes.get(pd.Timestamp(d, tz=IST)) for d in (base, as_of)]
    if any(v is None or pd.isna(v) or v <= 0 for v in at):
        return None
    return float(at[1] / at[0] * 100.0 - 100.0)


def index_returns(index_closes: pd.DataFrame, industries: list[str], base: date, as_of: date,
                  mapping: dict[str, str] = SECTOR_INDEX) -> pd.DataFrame:
    """The mapped NSE sector index of each industry and its return over the sector table's sessions.

    Parameters
    ----------
    index_closes : pd.DataFrame
        Wide daily closes of indices (points), as :func:`close_matrix` builds them, columns
        index names (``"NIFTY IT"``); may lack any index.
    industries : list of str
        The industries to report (e.g. the sector table's index).
    base, as_of : date
        The two sessions of the sector table (its ``attrs``).

    Returns
    -------
    pd.DataFrame
        Index ``industry`` (in the given order); ``index`` (str, ``""`` when no index is mapped)
        and ``index_pct`` (float %, ``NaN`` when the index has no close on either day).
    """
    rows = []
    for industry in industries:
        name = mapping.get(industry, "")
        col = index_closes[name] if name and name in index_closes.columns else None
        pct = index_return_pct(col.dropna() if col is not None else None, base, as_of)
        rows.append({"industry": industry, "index": name, "index_pct": np.nan if pct is None else pct})
    out = pd.DataFrame(rows, columns=["industry", "index", "index_pct"]).set_index("industry")
    out["index_pct"] = out["index_pct"].astype("float64")
    return out
