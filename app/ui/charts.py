"""Plotly figures and the axis helpers every desk figure uses.

Axis helpers (use them on every figure so axes read like the tables, ``app.ui.formatting``):

- ``desk_layout(fig)``: ``layout.separators = ".,"``, no SI suffixes (``exponentformat="none"``,
  so never "0.9996M"), thousands separated on plain axes.
- ``inr_axis(fig, values, row=None, col=None, axis="y")``: a ₹ axis with Indian grouping.
  Plotly's d3-format groups only in thousands (``separators`` sets the characters, not the
  group sizes), so the ticks are an explicit ``tickvals``/``ticktext`` array whose text comes
  from Babel's ``en_IN`` (``₹10,00,000``), and hovers on that axis's traces show the same text.
- ``count_axis(fig, values, …)``: the same for volumes/share counts (``1,23,45,678``).
- ``pct_axis(fig, …)``: ``" %"`` suffix, two decimals.
- ``time_axis(fig, index, interval, row=None, col=None)``: ``rangebreaks`` with no overnight or
  weekend/holiday gaps on intraday axes (``bounds=[15.5, 9.25], pattern="hour"`` for the
  09:15–15:30 IST session, ``["sat", "mon"]``, and every weekday without data), dates only on
  daily axes ("09 Sep 2016", never "00:00").
- ``ist_x(index)``: x values as IST wall times (tz-naive), which ``rangebreaks`` expects.
- ``nice_ticks(lo, hi, n)``: round tick values (1, 2, 2.5, 5 × 10^k steps).

The Chart page's ``price_figure`` uses a *category* axis of bar labels (IST) instead, so nights,
weekends and holidays leave no gaps and special sessions (a Saturday, a Muhurat evening, which
an hour rangebreak would hide) still show. Indicator math lives in ``core.indicators``; this
module only lays out traces.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.ui import formatting as fmt
from app.ui.colours import LOSS, PROFIT
from core import indicators as ind
from core.timeutil import IST

SEPARATORS = ".,"
#: NSE's regular session in IST hours (09:15–15:30): the hour rangebreak hides the rest.
SESSION_HOURS = (9.25, 15.5)

OVERLAYS = ("EMA", "VWAP", "Bollinger")
EMA_PERIODS = (20, 50)
BOLLINGER_PERIOD, BOLLINGER_STD = 20, 2.0
RSI_PERIOD = 14
#: Up and down candles (and their volume bars): the desk's profit green and loss red.
_UP, _DOWN = PROFIT, LOSS


def bar_labels(index: pd.DatetimeIndex, interval: str) -> list[str]:
    """Category labels in IST: ``"16 Aug 2016"`` for daily and weekly bars, ``"16 Aug 09:15"`` intraday."""
    local = index.tz_convert(IST) if index.tz is not None else index
    fmt_ = "%d %b %Y" if fmt.is_daily(interval) else "%d %b %H:%M"
    return [ts.strftime(fmt_) for ts in local]


# --------------------------------------------------------------------------- axis helpers
def nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]`` (steps of 1, 2, 2.5 or 5 × 10^k)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.01 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, v = [], start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    if ticks and ticks[-1] < hi:
        ticks.append(round(v, 10))
    return ticks


def _finite(values: Iterable) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(list(values), dtype="object"), errors="coerce").to_numpy(dtype=float)
    return arr[np.isfinite(arr)]


def inr_ticks(values: Iterable, n: int = 6) -> tuple[list[float], list[str]]:
    """``(tickvals, ticktext)`` for a ₹ axis over ``values``: ``["₹9,99,000", "₹10,00,000", …]``.

    Whole rupees when the step is ≥ ₹1, else paise. Empty lists when no value is finite.
    """
    arr = _finite(values)
    if not len(arr):
        return [], []
    ticks = nice_ticks(float(arr.min()), float(arr.max()), n)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = 0 if step >= 1 else 2
    return ticks, [fmt.inr(t, decimals=decimals) for t in ticks]


def count_ticks(values: Iterable, n: int = 5) -> tuple[list[float], list[str]]:
    """``(tickvals, ticktext)`` for a volume/share-count axis: ``["0", "5,00,000", "10,00,000"]``."""
    arr = _finite(values)
    if not len(arr):
        return [], []
    ticks = nice_ticks(min(0.0, float(arr.min())), float(arr.max()), n)
    return ticks, [fmt.qty(t) for t in ticks]


def desk_layout(fig: go.Figure) -> go.Figure:
    """Separators and no SI suffixes on every axis (``fig`` is changed and returned)."""
    fig.update_layout(separators=SEPARATORS)
    fig.update_xaxes(exponentformat="none")
    fig.update_yaxes(exponentformat="none", separatethousands=True)
    return fig


def _axis_traces(fig: go.Figure, axis: str, row: int | None, col: int | None) -> list:
    """Traces drawn against the ``axis`` ("x"/"y") of subplot (row, col) (all when no row)."""
    if row is None:
        return list(fig.data)
    ref = fig.get_subplot(row, col or 1)
    name = getattr(ref, "yaxis" if axis == "y" else "xaxis").plotly_name  # e.g. "yaxis2"
    short = name.replace("axis", "")  # "y2"
    return [t for t in fig.data if (getattr(t, f"{axis}axis", None) or axis) == short]


#: Below this, Indian and Western grouping are the same digits (``99,999``), so hovers can use
#: Plotly's own ``,.2f`` (fast); at or above it they get Babel text per point.
_SAME_GROUPING_BELOW = 100_000


def _hover_text(fig: go.Figure, axis: str, row: int | None, col: int | None, fn: Callable[[object], str],
                native: str, prefix: str = "") -> None:
    """Hovers of the traces on ``axis`` in the desk's format: Plotly's ``native`` format when
    every value is below ₹1,00,000 (same digits either way), else ``fn`` text per point."""
    for trace in _axis_traces(fig, axis, row, col):
        if trace.type == "candlestick":
            values = _finite([*trace.low, *trace.high])
            if not len(values) or np.abs(values).max() < _SAME_GROUPING_BELOW:
                trace.yhoverformat = native
            else:
                trace.hovertext = [f"O {fn(o)}  H {fn(h)}  L {fn(lo)}  C {fn(c)}" for o, h, lo, c in
                                   zip(trace.open, trace.high, trace.low, trace.close, strict=True)]
                trace.hoverinfo = "x+text+name"
            continue
        ys = getattr(trace, axis, None)
        if ys is None or not hasattr(trace, "hovertemplate"):
            continue
        values = _finite(ys)
        if not len(values) or np.abs(values).max() < _SAME_GROUPING_BELOW:
            trace.hovertemplate = prefix + "%{" + axis + ":" + native + "}<extra>%{fullData.name}</extra>"
        else:
            trace.customdata = [fn(v) for v in ys]
            trace.hovertemplate = "%{customdata}<extra>%{fullData.name}</extra>"


def _all_values(fig: go.Figure, axis: str, row: int | None, col: int | None) -> list:
    out: list = []
    for trace in _axis_traces(fig, axis, row, col):
        if trace.type == "candlestick":
            out += [*trace.low, *trace.high]
        elif getattr(trace, axis, None) is not None:
            out += list(getattr(trace, axis))
    return out


def inr_axis(fig: go.Figure, values: Iterable | None = None, *, row: int | None = None, col: int | None = None,
             axis: str = "y", title: str | None = None, n: int = 6, hover: bool = True) -> go.Figure:
    """Make ``axis`` of subplot (row, col) a ₹ axis with Indian-grouped ticks (see module doc).

    ``values`` default to the data of the traces on that axis. ``hover`` also formats those
    traces' hover text (``money``). Returns ``fig`` (changed in place).
    """
    return _array_axis(fig, values, inr_ticks, n, row=row, col=col, axis=axis, title=title,
                       hover=(fmt.inr, ",.2f", fmt.RUPEE) if hover else None)


def count_axis(fig: go.Figure, values: Iterable | None = None, *, row: int | None = None, col: int | None = None,
               axis: str = "y", title: str | None = None, n: int = 5, hover: bool = True) -> go.Figure:
    """Make ``axis`` a volume/share-count axis with Indian grouping (``8,40,069``)."""
    return _array_axis(fig, values, count_ticks, n, row=row, col=col, axis=axis, title=title,
                       hover=(fmt.volume, ",.0f", "") if hover else None)


def _array_axis(fig: go.Figure, values: Iterable | None, ticks: Callable, n: int, *, row: int | None,
                col: int | None, axis: str, title: str | None, hover: tuple | None) -> go.Figure:
    """Set ``axis`` of subplot (row, col) to the ``ticks(values, n)`` array ticks; ``hover`` is
    ``(formatter, d3 fallback, prefix)`` for the traces' hover text, or ``None``."""
    vals = list(values) if values is not None else _all_values(fig, axis, row, col)
    tickvals, ticktext = ticks(vals, n)
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    kw = dict(row=row, col=col) if row is not None else {}
    update(tickmode="array", tickvals=tickvals, ticktext=ticktext, exponentformat="none", **kw)
    if title is not None:
        update(title_text=title, **kw)
    if hover is not None:
        formatter, d3, prefix = hover
        _hover_text(fig, axis, row, col, formatter, d3, prefix=prefix)
    return fig


def pct_axis(fig: go.Figure, *, row: int | None = None, col: int | None = None, axis: str = "y",
             title: str | None = None) -> go.Figure:
    """A percent axis: ticks ``"-2.50 %"`` (values already in percent)."""
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    kw = dict(row=row, col=col) if row is not None else {}
    update(ticksuffix=" %", tickformat=".2f", hoverformat=".2f", exponentformat="none", **kw)
    if title is not None:
        update(title_text=title, **kw)
    return fig


def ist_x(index: Sequence | pd.DatetimeIndex | pd.Series) -> pd.DatetimeIndex:
    """Times as tz-naive IST wall times (what ``rangebreaks`` hour bounds are written in).

    Tz-aware times are converted to IST; naive times are taken as UTC (as in ``formatting``).
    """
    if isinstance(index, pd.DatetimeIndex):
        idx = index
    else:
        idx = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(index), dtype="object"), utc=True))
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.tz_convert(IST).tz_localize(None)


def rangebreaks(index: Iterable, interval: str) -> list[dict]:
    """The ``rangebreaks`` for an x axis of ``index`` (times) at ``interval``.

    Weekends (``["sat", "mon"]``) and every weekday between the first and last time without any
    data (holidays) are hidden; intraday also hides 15:30–09:15 IST (``pattern="hour"``), and a
    holiday's break covers only its 09:15–15:30 (see the comment). A special weekend session
    (e.g. a Saturday budget day) is hidden too: the Chart page uses a category axis for that.
    """
    x = ist_x(index)
    daily = fmt.is_daily(interval)
    breaks: list[dict] = [dict(bounds=["sat", "mon"])]
    if len(x):
        have = set(x.normalize())
        weekdays = pd.bdate_range(x.min().normalize(), x.max().normalize())
        gaps = [d for d in weekdays if d not in have]
        if gaps and daily:
            breaks.append(dict(values=[d.strftime("%Y-%m-%d") for d in gaps]))
        elif gaps:
            # Only the session hours of a holiday: a whole-day break overlapping the hour and
            # weekend breaks makes plotly.js fail ("Cannot read properties of undefined (reading
            # 'val')", plotly.py#3134) and draw nothing; checked in Chromium.
            open_h, close_h = SESSION_HOURS
            breaks.append(dict(values=[(d + pd.Timedelta(hours=open_h)).strftime("%Y-%m-%d %H:%M:%S") for d in gaps],
                               dvalue=int((close_h - open_h) * 3_600_000)))
    if not daily:
        breaks.insert(0, dict(bounds=[SESSION_HOURS[1], SESSION_HOURS[0]], pattern="hour"))
    return breaks


def time_axis(fig: go.Figure, index: Iterable, interval: str, *, row: int | None = None,
              col: int | None = None) -> go.Figure:
    """A date axis without gaps: ``rangebreaks`` (see :func:`rangebreaks`) and IST tick labels,
    ``"09 Sep 2016"`` on daily axes, ``"09 Sep 09:15"`` intraday. Plot ``ist_x(index)`` as x."""
    kw = dict(row=row, col=col) if row is not None else {}
    daily = fmt.is_daily(interval)
    fig.update_xaxes(type="date", rangebreaks=rangebreaks(index, interval),
                     tickformat="%d %b %Y" if daily else "%d %b %H:%M",
                     hoverformat="%d %b %Y" if daily else "%d %b %Y %H:%M IST", **kw)
    return fig


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
    desk_layout(fig)
    inr_axis(fig, [*bars["low"], *bars["high"]], row=1, col=1, title="₹")
    count_axis(fig, bars["volume"], row=2, col=1, title="Volume")
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
