"""Human labels for every metric key the desk shows: a label, a display kind and a tooltip.

A page never shows a raw key such as ``total_return_pct`` or ``sharpe``: it asks this registry.
Each tooltip says how the number is computed, taken from the code that computes it
(``core.backtest.metrics``, ``core.backtest.report``, ``app.research.backtests``).

Public API
----------
- ``METRICS``: ``dict[str, Metric]``, key → ``Metric(label, kind, help)``. ``kind`` is a
  ``app.ui.formatting.KINDS`` key (``"money"``, ``"pct"``, ``"signed_pct"``, ``"number"``,
  ``"qty"`` …) saying how a value is formatted.
- ``metric(key)`` → the ``Metric`` (an unknown key gets a readable fallback: ``"foo_bar_pct"`` →
  ``"Foo bar %"``, shown with ``number``; never raises).
- ``label(key)`` / ``help_text(key)`` → the label / tooltip text.
- ``format_metric(key, value)`` → the value formatted for display (``"—"`` when missing;
  ``profit_factor`` of ``inf`` → ``"∞ (no losing trade)"``).
- ``metrics_frame(metrics, keys=None)`` → a two-column display frame (``Metric``, ``Value``)
  of a metrics dict, in ``keys`` order (default ``core.backtest.report.HEADLINE`` then the rest).
- ``column_config(keys, registry=None)`` → ``{key: st.column_config.Column(label, help=tooltip)}``
  for ``st.dataframe(column_config=...)``, so headers are human and carry the tooltip.
- ``SECTOR_COLUMNS``: the Sectors page's table columns → ``Metric`` (same shape as ``METRICS``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from app.ui import formatting as fmt


@dataclass(frozen=True, slots=True)
class Metric:
    """How one metric key is shown: ``label`` (header text), ``kind`` (a ``formatting.KINDS``
    key) and ``help`` (a tooltip saying how it is computed)."""

    label: str
    kind: str
    help: str


_DAILY = ("Daily returns are the equity at each IST day's last bar against the previous day's "
          "(the first day against the initial capital).")

METRICS: dict[str, Metric] = {
    # --- core.backtest.metrics.compute_metrics
    "initial_capital": Metric("Initial capital", "money", "The capital the run starts with, ₹."),
    "final_equity": Metric("Final equity", "money", "Cash plus open positions marked at the last bar's close, ₹."),
    "net_pnl": Metric("Net P&L", "money_signed", "Final equity − initial capital, ₹ (after all charges)."),
    "total_return_pct": Metric("Total return", "signed_pct",
                               "(Final equity ÷ initial capital − 1) × 100, after charges."),
    "annualized_return_pct": Metric("Annualised return", "signed_pct",
                                    "((1 + total return) ^ (252 ÷ trading days) − 1) × 100 (252 NSE sessions a year)."),
    "sharpe": Metric("Sharpe ratio", "number",
                     "Mean ÷ standard deviation (ddof 1) of daily returns × √252, risk-free rate 0. "
                     + _DAILY + " Blank with fewer than 2 days."),
    "sortino": Metric("Sortino ratio", "number",
                      "Mean daily return ÷ √mean(min(daily return, 0)²) × √252. " + _DAILY
                      + " Blank without a losing day."),
    "max_drawdown_pct": Metric("Max drawdown", "pct",
                               "Deepest fall of equity below its running peak: min over bars of "
                               "(equity ÷ running peak − 1) × 100 (0 or negative)."),
    "trades": Metric("Trades", "qty", "Round trips (flat → position → flat); a trade still open at the end "
                                      "is not counted."),
    "win_rate_pct": Metric("Win rate", "pct", "Share of round trips with net P&L > 0 (after charges), %."),
    "profit_factor": Metric("Profit factor", "number",
                            "Σ net P&L of winning trades ÷ |Σ net P&L of losing trades|; ∞ without a losing trade."),
    "expectancy": Metric("Expectancy", "money_signed", "Mean net P&L per round trip, ₹ (after charges)."),
    "exposure_pct": Metric("Time in market", "pct", "Share of bars that close with an open position, %."),
    "gross_pnl": Metric("Gross P&L", "money_signed", "Σ (exit − entry) × quantity × direction over round trips, "
                                                     "before charges, ₹."),
    "charges": Metric("Charges", "money", "Brokerage, STT, exchange, SEBI, stamp duty and GST of every fill, "
                                          "plus auto square-off fees (₹50 + GST), ₹."),
    "charges_pct_of_gross": Metric("Charges ÷ gross", "pct",
                                   "Total charges ÷ |gross P&L| × 100; blank when gross P&L is 0."),
    "days": Metric("Trading days", "qty", "IST sessions with at least one bar in the run."),
    # --- core.backtest.report.trade_rows / metrics.round_trips columns
    "tradingsymbol": Metric("Symbol", "text", "NSE trading symbol."),
    "instrument_token": Metric("Instrument token", "text", "Kite's numeric id of the instrument."),
    "direction": Metric("Direction", "text", "LONG (bought first) or SHORT (sold first)."),
    "quantity": Metric("Qty", "qty", "Shares."),
    "entry_at": Metric("Entry (IST)", "ist_time", "Time of the first fill of the round trip."),
    "exit_at": Metric("Exit (IST)", "ist_time", "Time of the fill that made the position flat."),
    "entry_price": Metric("Entry price", "inr", "Quantity-weighted average entry fill price, ₹."),
    "exit_price": Metric("Exit price", "inr", "Quantity-weighted average exit fill price, ₹."),
    "gross": Metric("Gross", "inr_signed", "(Exit − entry) × quantity × direction, before charges, ₹."),
    "net": Metric("Net", "inr_signed", "Gross − this trade's charges, ₹."),
    "return_pct": Metric("Return", "signed_pct", "Net P&L ÷ (entry price × quantity) × 100."),
    "minutes_held": Metric("Held (min)", "number", "Exit time − entry time, minutes."),
    "bars_held": Metric("Held (min)", "number", "Exit time − entry time, minutes."),
    # --- equity curve, runs table
    "equity": Metric("Equity", "money", "Cash plus open positions marked to each bar's close, ₹."),
    "drawdown_pct": Metric("Drawdown", "pct", "(Equity ÷ running peak − 1) × 100 at each bar."),
    "progress": Metric("Progress", "fraction_pct", "Share of bars processed."),
    "status": Metric("Status", "text", "queued, running, complete or failed."),
    "label": Metric("Run", "text", "Strategy, parameters and symbols of the run."),
    "message": Metric("Message", "text", "The job's last progress or error message."),
    "run_id": Metric("Run id", "text", "The run's id (its last 4 characters tag it in comparisons)."),
    # --- watchlist, scanner, sectors
    "ltp": Metric("LTP", "inr", "Last traded price, ₹."),
    "change_pct": Metric("Change", "signed_pct", "(LTP ÷ previous close − 1) × 100."),
    "volume": Metric("Volume", "volume", "Shares traded in the session (or bar)."),
    "confidence": Metric("Confidence", "fraction_pct", "The analyst's confidence, 0–100 %."),
    "bar_ts": Metric("Bar (IST)", "ist_time", "Open time of the bar the signal was computed on."),
    "side": Metric("Side", "text", "BUY or SELL."),
    "reason": Metric("Reason", "text", "Why the strategy proposed the order."),
    "approval_id": Metric("Approval", "text", "The pending approval the signal became (never an order)."),
    "strategy": Metric("Strategy", "text", "The strategy's name."),
}


_SECTOR_RETURN = ("close on the as-of session ÷ close n sessions earlier − 1, × 100 (1D = 1, 1W = 5, "
                  "1M = 21 sessions)")

#: The Sectors page's table (``app.research.sectors`` ``sector_table`` columns): labels as the
#: page shows them, tooltips from ``core.sectors``.
SECTOR_COLUMNS: dict[str, Metric] = {
    "return_pct": Metric("return %", "signed_pct",
                         "Equal-weighted: the plain mean of the members' returns, each " + _SECTOR_RETURN + "."),
    "index": Metric("NSE index", "text", "The NSE sector index mapped to the industry (it may cover part of it)."),
    "index_pct": Metric("index %", "signed_pct", "The NSE index's return over the same two sessions; — without "
                                                 "its bars."),
    "members": Metric("members", "qty", "Constituents with a close on both sessions (in the average)."),
    "constituents": Metric("in list", "qty", "Constituents of the industry in the NIFTY 500 list."),
    "advancers": Metric("up", "qty", "Members whose return is above 0."),
    "decliners": Metric("down", "qty", "Members whose return is below 0."),
    "best": Metric("best", "text", "The member with the highest return."),
    "best_pct": Metric("best %", "signed_pct", "The best member's return: " + _SECTOR_RETURN + "."),
    "worst": Metric("worst", "text", "The member with the lowest return."),
    "worst_pct": Metric("worst %", "signed_pct", "The worst member's return: " + _SECTOR_RETURN + "."),
}


def _fallback(key: str) -> Metric:
    words = key.replace("_pct", " %").replace("_", " ").strip()
    return Metric(words[:1].upper() + words[1:], "pct" if key.endswith("_pct") else "number", "")


def metric(key: str) -> Metric:
    """The registry entry of ``key``; an unknown key gets a readable label and no tooltip."""
    return METRICS.get(key) or _fallback(key)


def label(key: str) -> str:
    """Human label of ``key``: ``"total_return_pct"`` → ``"Total return"``."""
    return metric(key).label


def help_text(key: str) -> str:
    """Tooltip of ``key``: how the number is computed (``""`` for an unknown key)."""
    return metric(key).help


def format_metric(key: str, value: Any) -> str:
    """``value`` formatted the way ``key`` is shown (``"—"`` when missing).

    ``profit_factor`` of ``inf`` (no losing trade) → ``"∞ (no losing trade)"``.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isinf(value):
        return "∞ (no losing trade)" if key == "profit_factor" and value > 0 else fmt.MISSING
    m = metric(key)
    if m.kind == "text":
        return fmt.text(value)
    formatter = fmt.KINDS.get(m.kind, fmt.number)
    return formatter(value)


def metrics_frame(metrics: Mapping[str, Any], keys: Iterable[str] | None = None) -> pd.DataFrame:
    """A display frame of one run's metrics: columns ``Metric`` (label), ``Value`` (string),
    ``How it is computed`` (tooltip), in ``keys`` order (default: the headline order, then the rest)."""
    if keys is None:
        from core.backtest.report import HEADLINE

        keys = [*[k for k in HEADLINE if k in metrics], *[k for k in metrics if k not in HEADLINE]]
    rows = [{"Metric": label(k), "Value": format_metric(k, metrics.get(k)), "How it is computed": help_text(k)}
            for k in keys]
    return pd.DataFrame(rows, columns=["Metric", "Value", "How it is computed"])


def column_config(keys: Iterable[str], registry: Mapping[str, Metric] | None = None) -> dict[str, Any]:
    """``st.dataframe`` column configs giving each key its human header and tooltip (from
    ``registry``, default ``METRICS``; e.g. ``SECTOR_COLUMNS``)."""
    import streamlit as st

    reg = METRICS if registry is None else registry
    out = {}
    for k in keys:
        m = reg.get(k) or metric(k)
        out[k] = st.column_config.Column(m.label, help=m.help or None)
    return out


#: Indicator and order abbreviations kept in capitals in parameter labels.
ABBREVIATIONS = frozenset({"atr", "ema", "mis", "orb", "roc", "rsi", "sl", "sma", "vwap"})


def param_label(name: str) -> str:
    """A strategy parameter's name as words for a form label: ``"entry_roc_pct"`` →
    ``"Entry ROC %"``, ``"stop_pct"`` → ``"Stop %"`` (widget keys keep the name)."""
    words = ["%" if w == "pct" else w.upper() if w in ABBREVIATIONS else w for w in name.split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]
