"""Plotly figures and display frames for the Backtest page's results.

Rupee axes carry Indian digit grouping (``₹10,00,000``) through explicit tick labels from
``app.ui.formatting`` (Plotly's own tick formats group only in thousands); hover text is the
same formatting. Intraday time axes skip nights, weekends and weekday holidays with the one rule
of ``app.ui.charts.time_axis`` (a holiday's break covers only its 09:15–15:30 session: a
whole-day break beside the night break makes plotly.js draw nothing), times as IST wall-clock
time. Up/down candles and the drawdown use ``app.ui.colours``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
import plotly.graph_objects as go

from app.ui import charts
from app.ui import formatting as fmt
from app.ui import labels
from app.ui.colours import LOSS, PROFIT
from core.timeutil import IST

#: Up and down candles: the desk's profit green and loss red.
_UP, _DOWN = PROFIT, LOSS
_BENCH = "#7f7f7f"
_MARGIN = dict(l=10, r=10, t=40, b=10)

def ist_wall(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Tz-aware times as naive IST wall-clock times (what Plotly draws as given)."""
    return index.tz_convert(IST).tz_localize(None) if index.tz is not None else index


def session_breaks(index: pd.DatetimeIndex) -> list[dict]:
    """``rangebreaks`` for an intraday (1-minute) IST axis: ``app.ui.charts.rangebreaks``
    (nights, weekends, each weekday without bars as its 09:15–15:30 session only)."""
    return charts.rangebreaks(index, "minute") if len(index) else []


def _time_axis(fig: go.Figure, index: pd.DatetimeIndex) -> None:
    charts.time_axis(fig, index, "minute")


def equity_figure(curves: Mapping[str, pd.DataFrame], benchmark: tuple[str, pd.Series] | None = None) -> go.Figure:
    """Equity (₹) of each run, with a benchmark bought and held on the same dates (dashed).

    ``curves``: legend name → frame with ``equity`` (₹) on an IST bar-close index;
    ``benchmark``: ``(name, series ₹ on the same kind of index)`` or ``None``.
    """
    fig = go.Figure()
    values: list[float] = []
    index = pd.DatetimeIndex([], tz=IST)
    for name, eq in curves.items():
        if not len(eq):
            continue
        y = eq["equity"].astype(float)
        values += y.tolist()
        index = index.union(eq.index)
        fig.add_scatter(x=ist_wall(eq.index), y=y, name=name, mode="lines",
                        customdata=[fmt.money(v) for v in y], hovertemplate="%{customdata}<extra>%{fullData.name}</extra>")
    if benchmark is not None:
        bname, held = benchmark
        held = held.astype(float)
        if held.notna().any():
            values += held.dropna().tolist()
            fig.add_scatter(x=ist_wall(held.index), y=held, name=bname, mode="lines",
                            line=dict(dash="dash", color=_BENCH),
                            customdata=[fmt.money(v) for v in held],
                            hovertemplate="%{customdata}<extra>%{fullData.name}</extra>")
    fig.update_layout(title="Equity (₹)", height=340, margin=_MARGIN, hovermode="x unified",
                      legend=dict(orientation="h", y=-0.15))
    charts.inr_axis(fig, values, hover=False)
    _time_axis(fig, index)
    return fig


def drawdown_figure(name: str, eq: pd.DataFrame) -> go.Figure:
    """Drawdown % (≤ 0) of one run's equity curve (``drawdown_pct`` on an IST index)."""
    dd = eq["drawdown_pct"].astype(float) if len(eq) else pd.Series(dtype=float)
    fig = go.Figure(go.Scatter(x=ist_wall(eq.index), y=dd, fill="tozeroy", name="Drawdown",
                               line=dict(color=_DOWN), customdata=[fmt.pct(v) for v in dd],
                               hovertemplate="%{customdata}<extra>Drawdown</extra>"))
    fig.update_layout(title=f"Drawdown — {name}", height=240, margin=_MARGIN)
    fig.update_yaxes(ticksuffix=" %", tickformat=".2~f")
    _time_axis(fig, eq.index)
    return fig


def trades_price_figure(symbol: str, bars: pd.DataFrame, trades: pd.DataFrame) -> go.Figure:
    """1-minute candles of ``symbol`` with each trade's entry (▲) and exit (▼) fills."""
    x = ist_wall(bars.index) if len(bars) else []
    fig = go.Figure(go.Candlestick(x=x, open=bars["open"], high=bars["high"], low=bars["low"], close=bars["close"],
                                   name=symbol, increasing_line_color=_UP, decreasing_line_color=_DOWN))
    t = trades[trades["tradingsymbol"] == symbol] if len(trades) else trades
    if len(t):
        fig.add_scatter(x=ist_wall(pd.DatetimeIndex(t["entry_at"])), y=t["entry_price"], mode="markers", name="Entry",
                        marker=dict(symbol="triangle-up", size=11, color="#1f77b4"),
                        customdata=[fmt.inr(v) for v in t["entry_price"]],
                        hovertemplate="Entry %{customdata}<extra></extra>")
        fig.add_scatter(x=ist_wall(pd.DatetimeIndex(t["exit_at"])), y=t["exit_price"], mode="markers", name="Exit",
                        marker=dict(symbol="triangle-down", size=11, color="#ff7f0e"),
                        customdata=[fmt.inr(v) for v in t["exit_price"]],
                        hovertemplate="Exit %{customdata}<extra></extra>")
    fig.update_layout(title=f"{symbol} · 1-minute bars with the run's trades", height=420,
                      xaxis_rangeslider_visible=False, margin=_MARGIN)
    if len(bars):
        charts.inr_axis(fig, [*bars["low"].astype(float), *bars["high"].astype(float)], hover=False)
        _time_axis(fig, bars.index)
    return fig


TRADE_KINDS = {"tradingsymbol": "text", "direction": "text", "quantity": "qty", "entry_at": "ist_time",
               "entry_price": "inr", "exit_at": "ist_time", "exit_price": "inr", "gross": "inr_signed",
               "charges": "inr", "net": "inr_signed", "return_pct": "signed_pct", "minutes_held": "number"}


def trades_display(trades: pd.DataFrame) -> pd.DataFrame:
    """The trade list as display strings with human headers (IST times, ₹, signed %)."""
    cols = [c for c in TRADE_KINDS if c in trades.columns]
    return fmt.frame_for_display(trades[cols], TRADE_KINDS, {c: labels.label(c) for c in cols})


def monthly_display(monthly: pd.DataFrame) -> pd.DataFrame:
    """The monthly returns table (years × months, Year) as signed percent strings."""
    out = fmt.frame_for_display(monthly, {c: "signed_pct" for c in monthly.columns})
    out.index = [str(y) for y in monthly.index]
    return out


def compare_display(metrics_by_run: Mapping[str, Mapping[str, float]], keys: Iterable[str]) -> pd.DataFrame:
    """Metrics side by side: one row per metric (human label), one column per run."""
    keys = list(keys)
    data = {run: [labels.format_metric(k, m.get(k)) for k in keys] for run, m in metrics_by_run.items()}
    return pd.DataFrame(data, index=pd.Index([labels.label(k) for k in keys], name="Metric"))


__all__ = ["compare_display", "drawdown_figure", "equity_figure", "monthly_display", "nice_ticks", "rupee_axis",
           "session_breaks", "trades_display", "trades_price_figure"]
