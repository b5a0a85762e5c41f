"""Backtest results shaped for a trader: monthly returns, buy-and-hold benchmark, trade rows.

Pure (no I/O): frames in, frames out. Floats are rupees or percent, as in
``core.backtest.metrics``. Definitions (hand-checked in ``tests/core/test_backtest_report.py``):

* **Monthly return** of IST month *m* = equity at *m*'s last bar / equity at the previous
  month's last bar − 1 (the first month against the initial capital), × 100. **Year** is the
  same with years (compounded months of that year).
* **Buy and hold** of a benchmark (NIFTY 50) on the same dates: ``capital × close(t) /
  close(t0)``, where ``close(t)`` is the benchmark's last close *known* at ``t`` (its bar closed
  at or before ``t``: no look-ahead) and ``t0`` the first equity time with a known close.
* **Trade return %** = net P&L / (entry price × quantity) × 100 (net of that trade's charges).
"""

from __future__ import annotations

import pandas as pd

from core.errors import ValidationError
from core.timeutil import IST

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

#: Headline metrics in the order a trader reads them (keys of ``compute_metrics``).
HEADLINE = ["net_pnl", "total_return_pct", "max_drawdown_pct", "sharpe", "win_rate_pct", "trades",
            "profit_factor", "expectancy", "charges", "charges_pct_of_gross", "exposure_pct",
            "annualized_return_pct", "sortino", "gross_pnl", "final_equity", "days"]

TRADE_ROW_COLUMNS = ["tradingsymbol", "direction", "quantity", "entry_at", "entry_price", "exit_at", "exit_price",
                     "gross", "charges", "net", "return_pct", "minutes_held"]


def _ist_index(frame: pd.Series | pd.DataFrame, name: str) -> pd.DatetimeIndex:
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        raise ValidationError(f"{name} must be indexed by tz-aware times (IST), was {type(idx).__name__}")
    if not idx.is_monotonic_increasing:
        raise ValidationError(f"{name} index must be increasing")
    return idx.tz_convert(IST)


def monthly_returns(equity: pd.Series, capital: float) -> pd.DataFrame:
    """Monthly returns table of an equity curve.

    Parameters
    ----------
    equity : pd.Series
        Equity in ₹ (float), indexed by increasing tz-aware bar close times.
    capital : float
        Initial capital, ₹ (> 0): the base of the first month.

    Returns
    -------
    pd.DataFrame
        Index: calendar years (int, ascending), named ``"year"``. Columns ``Jan`` … ``Dec``
        and ``Year``: returns in percent (float), ``NaN`` for a month without bars. Empty
        (same columns) for an empty curve.

    Raises
    ------
    ValidationError
        If ``capital`` is not positive or the index is not increasing tz-aware time.
    """
    if not capital or capital <= 0:
        raise ValidationError(f"capital must be positive rupees, was {capital!r}")
    cols = [*MONTHS, "Year"]
    if not len(equity):
        return pd.DataFrame(columns=cols, index=pd.Index([], name="year", dtype="int64"), dtype="float64")
    idx = _ist_index(equity, "equity")
    values = pd.Series(equity.to_numpy(dtype="float64"), index=idx)
    month_end = values.groupby([idx.year, idx.month]).last()
    prev = month_end.shift(1)
    prev.iloc[0] = float(capital)
    ret = (month_end / prev - 1.0) * 100.0
    years = sorted({y for y, _ in month_end.index})
    table = pd.DataFrame(float("nan"), index=pd.Index(years, name="year", dtype="int64"), columns=cols)
    for (y, m), r in ret.items():
        table.loc[y, MONTHS[m - 1]] = float(r)
    year_end = values.groupby(idx.year).last()
    year_prev = year_end.shift(1)
    year_prev.iloc[0] = float(capital)
    for y, r in ((year_end / year_prev - 1.0) * 100.0).items():
        table.loc[y, "Year"] = float(r)
    return table


def buy_and_hold(times: pd.DatetimeIndex, closes: pd.Series, capital: float) -> pd.Series:
    """Equity of buying ``capital`` worth of a benchmark at ``times[0]`` and holding it.

    Parameters
    ----------
    times : pd.DatetimeIndex
        The strategy's equity times (tz-aware, increasing).
    closes : pd.Series
        Benchmark closes (float ₹ or index points), indexed by the tz-aware time each close
        became known (bar *close* time), increasing.
    capital : float
        ₹ invested at the first time with a known close (> 0).

    Returns
    -------
    pd.Series
        float ₹, indexed by ``times``, named ``"buy_and_hold"``: ``capital × close(t) /
        close(t0)`` with ``close(t)`` the last close known at ``t``; ``NaN`` before the first
        known close, all ``NaN`` when ``closes`` is empty.

    Raises
    ------
    ValidationError
        If ``capital`` is not positive or an index is not increasing tz-aware time.
    """
    if not capital or capital <= 0:
        raise ValidationError(f"capital must be positive rupees, was {capital!r}")
    if not isinstance(times, pd.DatetimeIndex) or times.tz is None:
        raise ValidationError("times must be a tz-aware DatetimeIndex")
    if not len(closes):
        return pd.Series(float("nan"), index=times, name="buy_and_hold", dtype="float64")
    cidx = _ist_index(closes, "closes")
    known = pd.Series(closes.to_numpy(dtype="float64"), index=cidx.tz_convert("UTC"))
    known = known[~known.index.duplicated(keep="last")]
    at = known.reindex(known.index.union(times.tz_convert("UTC"))).ffill().reindex(times.tz_convert("UTC"))
    first = at.dropna()
    if not len(first):
        return pd.Series(float("nan"), index=times, name="buy_and_hold", dtype="float64")
    out = float(capital) * at / float(first.iloc[0])
    return pd.Series(out.to_numpy(), index=times, name="buy_and_hold", dtype="float64")


def trade_rows(trades: pd.DataFrame) -> pd.DataFrame:
    """Round trips (``core.backtest.metrics.round_trips`` columns) as a trader's trade list.

    Returns the columns ``TRADE_ROW_COLUMNS``, in entry order: the trade's own columns, times
    in IST, ``return_pct`` (net ÷ entry value × 100) and ``minutes_held`` (float minutes).
    Empty frame with those columns when there are no trades.

    Raises
    ------
    ValidationError
        If a required column is missing.
    """
    if not len(trades):
        return pd.DataFrame(columns=TRADE_ROW_COLUMNS)
    need = {"tradingsymbol", "direction", "quantity", "entry_at", "entry_price", "exit_at", "exit_price", "gross",
            "charges", "net"}
    missing = need - set(trades.columns)
    if missing:
        raise ValidationError(f"trades is missing columns {sorted(missing)}")
    out = trades.copy()
    for c in ("entry_at", "exit_at"):
        out[c] = pd.to_datetime(out[c], utc=True).dt.tz_convert(IST)
    value = out["entry_price"].astype(float) * out["quantity"].astype(float)
    out["return_pct"] = (out["net"].astype(float) / value.where(value > 0)) * 100.0
    out["minutes_held"] = (out["exit_at"] - out["entry_at"]).dt.total_seconds() / 60.0
    return out.sort_values("entry_at", kind="stable").reset_index(drop=True)[TRADE_ROW_COLUMNS]


__all__ = ["HEADLINE", "MONTHS", "TRADE_ROW_COLUMNS", "buy_and_hold", "monthly_returns", "trade_rows"]
