"""Plotly figures for the Chart page: candlesticks, volume, overlays and an RSI panel.

The x axis is a *category* axis of bar labels (IST), so nights, weekends and holidays leave no
gaps and special sessions (a Saturday, a Muhurat evening) still show. Indicator math lives in
``core.indicators``; this module only lays out traces.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core import indicators as ind
from core.timeutil import IST

OVERLAYS = ("EMA", "VWAP", "Bollinger")
EMA_PERIODS = (20, 50)
BOLLINGER_PERIOD, BOLLINGER_STD = 20, 2.0
RSI_PERIOD = 14
_UP, _DOWN = "#26a69a", "#ef5350"


def bar_labels(index: pd.DatetimeIndex, interval: str) -> list[str]:
    """Category labels in IST: ``"2016-08-16"`` for daily and weekly bars, ``"16 Aug 09:15"`` intraday."""
    local = index.tz_convert(IST) if index.tz is not None else index
    fmt = "%Y-%m-%d" if interval in ("day", "week") else "%d %b %H:%M"
    return [ts.strftime(fmt) for ts in local]


def price_figure(
    bars: pd.DataFrame,
    interval: str,
    title: str = "",
    overlays: Iterable[str] = ("EMA",),
    rsi_panel: bool = False,
) -> go.Figure:
    """Candlestick + volume (+ RSI) figure of ``bars``.

    Parameters
    ----------
    bars : pd.DataFrame
        Index tz-aware ``DatetimeIndex`` (bar open time), float columns ``open high low close
        volume``; as ``core.indicators`` expects.
    interval : str
        Kite interval name; ``"day"`` labels bars by date and drops the VWAP overlay (VWAP
        resets each day, so on daily bars it would only repeat the typical price).
    overlays : iterable of ``"EMA"``, ``"VWAP"``, ``"Bollinger"``
    rsi_panel : bool
        Add an RSI(14) panel with 30/70 guides.

    Raises ``ValidationError`` (from ``core.indicators``) for malformed bars.
    """
    rows = 3 if rsi_panel else 2
    heights = [0.62, 0.18, 0.20] if rsi_panel else [0.75, 0.25]
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=heights)
    x = bar_labels(bars.index, interval)

    fig.add_trace(
        go.Candlestick(x=x, open=bars["open"], high=bars["high"], low=bars["low"], close=bars["close"],
                       name="OHLC", increasing_line_color=_UP, decreasing_line_color=_DOWN),
        row=1, col=1,
    )
    _add_overlays(fig, bars, x, set(overlays), interval)
    _add_volume(fig, bars, x)
    if rsi_panel:
        _add_rsi(fig, bars, x)

    fig.update_xaxes(type="category", categoryorder="array", categoryarray=x, nticks=12,
                     rangeslider_visible=False, showgrid=False)
    fig.update_yaxes(title_text="₹", row=1, col=1)
    fig.update_yaxes(title_text="Volume", row=2, col=1)
    fig.update_layout(
        title=title, height=700 if rsi_panel else 580, margin={"l": 40, "r": 20, "t": 40, "b": 20},
        legend={"orientation": "h", "y": 1.02, "x": 0}, hovermode="x unified",
        xaxis_rangeslider_visible=False,
    )
    return fig


def _add_overlays(fig: go.Figure, bars: pd.DataFrame, x: list[str], chosen: set[str], interval: str) -> None:
    """EMA 20/50, session VWAP (intraday only) and Bollinger bands on the price panel (row 1)."""
    if "EMA" in chosen:
        for period, colour in zip(EMA_PERIODS, ("#ffb74d", "#ba68c8"), strict=True):
            fig.add_trace(go.Scatter(x=x, y=ind.ema(bars, period), name=f"EMA {period}", mode="lines",
                                     line={"width": 1.2, "color": colour}), row=1, col=1)
    if "VWAP" in chosen and interval not in ("day", "week"):
        fig.add_trace(go.Scatter(x=x, y=ind.session_vwap(bars.tz_convert(IST)), name="VWAP", mode="lines",
                                 line={"width": 1.4, "color": "#4fc3f7", "dash": "dot"}), row=1, col=1)
    if "Bollinger" in chosen:
        bb = ind.bollinger(bars, BOLLINGER_PERIOD, BOLLINGER_STD)
        band = {"width": 1, "color": "rgba(200,200,200,0.6)"}
        fig.add_trace(go.Scatter(x=x, y=bb["bb_upper"], name="BB upper", mode="lines", line=band),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=bb["bb_lower"], name="BB lower", mode="lines", line=band,
                                 fill="tonexty", fillcolor="rgba(200,200,200,0.08)"), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=bb["bb_mid"], name="BB mid", mode="lines",
                                 line={"width": 1, "color": "rgba(200,200,200,0.6)", "dash": "dash"}),
                      row=1, col=1)


def _add_volume(fig: go.Figure, bars: pd.DataFrame, x: list[str]) -> None:
    """Volume bars coloured by candle direction, with their 20-bar SMA (row 2)."""
    colours = [_UP if c >= o else _DOWN for o, c in zip(bars["open"], bars["close"], strict=True)]
    fig.add_trace(go.Bar(x=x, y=bars["volume"], name="Volume", marker_color=colours, showlegend=False),
                  row=2, col=1)
    fig.add_trace(go.Scatter(x=x, y=ind.volume_sma(bars, 20), name="Vol SMA 20", mode="lines",
                             line={"width": 1, "color": "#ffb74d"}, showlegend=False), row=2, col=1)


def _add_rsi(fig: go.Figure, bars: pd.DataFrame, x: list[str]) -> None:
    """RSI(14) with 30/70 guides on a 0–100 axis (row 3)."""
    fig.add_trace(go.Scatter(x=x, y=ind.rsi(bars, RSI_PERIOD), name=f"RSI {RSI_PERIOD}", mode="lines",
                             line={"width": 1.2, "color": "#ce93d8"}), row=3, col=1)
    for level in (30, 70):
        fig.add_hline(y=level, line={"width": 1, "dash": "dot", "color": "grey"}, row=3, col=1)
    fig.update_yaxes(range=[0, 100], title_text="RSI", row=3, col=1)
