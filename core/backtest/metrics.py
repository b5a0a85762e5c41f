"""Backtest metrics from an equity curve and round-trip trades (floats: analytics).

Definitions (hand-checked in ``tests/core/test_backtest.py``):

* ``total_return_pct`` = (last equity / initial capital − 1) × 100.
* Daily returns: the equity at each IST day's last bar, against the previous day's (the first
  day against the initial capital). ``days`` = number of trading days.
* ``annualized_return_pct`` = ((1 + total) ^ (252 / days) − 1) × 100 (252 NSE sessions a year).
* ``sharpe`` = mean(daily) / stdev(daily, ddof=1) × √252 (risk-free rate 0); NaN with fewer
  than 2 days or zero deviation.
* ``sortino`` = mean(daily) / √mean(min(daily, 0)²) × √252; NaN without a losing day.
* ``max_drawdown_pct`` = min over bars of (equity / running peak − 1) × 100 (≤ 0).
* Trades are round trips (flat → position → flat). ``win_rate_pct`` = share of trades with
  net P&L > 0; ``profit_factor`` = Σ winning net / |Σ losing net| (inf without losses, NaN
  without trades); ``expectancy`` = mean net P&L per trade, ₹.
* ``exposure_pct`` = share of bars closing with an open position.
* ``charges_pct_of_gross`` = total charges / |gross P&L| × 100 (NaN when gross is 0), where
  gross P&L is before charges and charges include auto square-off fees.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.timeutil import IST

TRADING_DAYS = 252
TRADE_COLUMNS = ["tradingsymbol", "instrument_token", "direction", "quantity", "entry_at", "entry_price",
                 "exit_at", "exit_price", "gross", "charges", "net", "bars_held"]


def round_trips(fills: pd.DataFrame) -> pd.DataFrame:
    """Round trips from a fills frame (``core.backtest.engine.FILL_COLUMNS``), in exit order.

    Columns: ``tradingsymbol``, ``instrument_token``, ``direction`` ("LONG"/"SHORT"),
    ``quantity`` (shares), ``entry_at``/``exit_at`` (IST), ``entry_price``/``exit_price``
    (float ₹, quantity-weighted), ``gross``/``charges``/``net`` (float ₹), ``bars_held``
    (minutes). A trade still open at the end is not listed.
    """
    out: list[dict] = []
    open_: dict[int, dict] = {}
    columns = ("side", "quantity", "price", "charges", "instrument_token", "tradingsymbol", "filled_at")
    for side, quantity, fprice, fcharges, token, symbol, at in zip(*(fills[c].tolist() for c in columns)):
        sign = 1 if side == "BUY" else -1
        qty, price, charges = int(quantity), float(fprice), float(fcharges)
        tr = open_.get(token)
        if tr is None:
            open_[token] = dict(symbol=symbol, sign=sign, qty=qty, entry_at=at, entry_value=qty * price,
                                charges=charges, exit_qty=0, exit_value=0.0, peak_qty=qty)
            continue
        if sign == tr["sign"]:  # scale in
            tr["qty"] += qty
            tr["peak_qty"] += qty
            tr["entry_value"] += qty * price
            tr["charges"] += charges
            continue
        close = min(qty, tr["qty"])
        tr["exit_qty"] += close
        tr["exit_value"] += close * price
        tr["charges"] += charges * close / qty
        tr["qty"] -= close
        if tr["qty"] == 0:
            n = tr["exit_qty"]
            entry = tr["entry_value"] / tr["peak_qty"]
            exit_ = tr["exit_value"] / n
            gross = (exit_ - entry) * n * tr["sign"]
            out.append(dict(tradingsymbol=tr["symbol"], instrument_token=token,
                            direction="LONG" if tr["sign"] > 0 else "SHORT", quantity=n, entry_at=tr["entry_at"],
                            entry_price=entry, exit_at=at, exit_price=exit_, gross=gross,
                            charges=tr["charges"], net=gross - tr["charges"],
                            bars_held=(pd.Timestamp(at) - pd.Timestamp(tr["entry_at"])).total_seconds() / 60))
            del open_[token]
            rest = qty - close
            if rest:  # reversed through zero: the remainder opens a new trade
                open_[token] = dict(symbol=symbol, sign=sign, qty=rest, entry_at=at, entry_value=rest * price,
                                    charges=charges * rest / qty, exit_qty=0, exit_value=0.0, peak_qty=rest)
    return pd.DataFrame(out, columns=TRADE_COLUMNS)


def _nan_if(cond: bool, value: float) -> float:
    return float("nan") if cond else float(value)


def daily_returns(equity: pd.Series, capital: float) -> pd.Series:
    """Daily returns (fractions) from an equity curve indexed by tz-aware times."""
    if not len(equity):
        return pd.Series(dtype=float)
    days = equity.index.tz_convert(IST).date
    eod = equity.groupby(days).last()
    prev = eod.shift(1)
    prev.iloc[0] = capital
    return (eod / prev - 1.0).astype(float)


def compute_metrics(equity: pd.DataFrame, trades: pd.DataFrame, capital: float, *,
                    extra_charges: float = 0.0) -> dict[str, float]:
    """The metrics listed in the module docstring, as a dict of floats (plus counts).

    ``equity``: frame with column ``equity`` (₹) indexed by bar close time and ``exposure``
    (gross open value ₹); ``trades``: :func:`round_trips`; ``extra_charges``: fees outside the
    trades (auto square-off ₹50 + GST)."""
    eq = equity["equity"].astype(float)
    final = float(eq.iloc[-1]) if len(eq) else capital
    total = final / capital - 1.0
    r = daily_returns(eq, capital)
    days = len(r)
    annual = (1.0 + total) ** (TRADING_DAYS / days) - 1.0 if days and total > -1 else float("nan")
    sd = float(r.std(ddof=1)) if days >= 2 else float("nan")
    sharpe = _nan_if(days < 2 or not sd or math.isnan(sd), r.mean() / sd * math.sqrt(TRADING_DAYS) if sd else 0)
    downside = np.minimum(r.to_numpy(), 0.0)
    dd_dev = math.sqrt(float(np.mean(downside ** 2))) if days else 0.0
    sortino = _nan_if(days < 2 or dd_dev == 0.0, r.mean() / dd_dev * math.sqrt(TRADING_DAYS) if dd_dev else 0)
    peak = eq.cummax()
    max_dd = float(((eq / peak) - 1.0).min() * 100.0) if len(eq) else 0.0
    n = len(trades)
    net = trades["net"].astype(float) if n else pd.Series(dtype=float)
    wins = float(net[net > 0].sum()) if n else 0.0
    losses = float(net[net < 0].sum()) if n else 0.0
    gross = float(trades["gross"].sum()) if n else 0.0
    charges = (float(trades["charges"].sum()) if n else 0.0) + float(extra_charges)
    exposure = float((equity["exposure"] > 0).mean() * 100.0) if "exposure" in equity and len(equity) else 0.0
    return {
        "initial_capital": float(capital),
        "final_equity": final,
        "net_pnl": final - capital,
        "total_return_pct": total * 100.0,
        "annualized_return_pct": annual * 100.0,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown_pct": max_dd,
        "trades": float(n),
        "win_rate_pct": _nan_if(n == 0, (net > 0).mean() * 100.0 if n else 0),
        "profit_factor": float("nan") if n == 0 else (float("inf") if losses == 0 else wins / abs(losses)),
        "expectancy": _nan_if(n == 0, net.mean() if n else 0),
        "exposure_pct": exposure,
        "gross_pnl": gross,
        "charges": charges,
        "charges_pct_of_gross": _nan_if(gross == 0, charges / abs(gross) * 100.0 if gross else 0),
        "days": float(days),
    }


