"""One profit/loss colour everywhere (issue 14): the watchlist's change %, the Chart page's
candles and volume bars and the Backtest page's candles take ``app.ui.colours``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.ui import charts
from app.ui.colours import LOSS, PROFIT
from app.ui.widgets import watchlist_styler


def test_watchlist_change_is_green_up_and_red_down() -> None:
    frame = pd.DataFrame({"symbol": ["INFY", "SBIN", "TCS"], "LTP": [1000.0, 250.0, None],
                          "change %": [1.25, -0.5, 0.0], "volume": [840069, 1_23_45_678, None]})
    html = watchlist_styler(frame).to_html()
    assert f"color: {PROFIT}" in html and f"color: {LOSS}" in html
    assert html.count(f"color: {PROFIT}") == 1 and html.count(f"color: {LOSS}") == 1  # 0.00 % stays plain
    assert "+1.25 %" in html and "₹1,000.00" in html and "1,23,45,678" in html and "—" in html


def test_chart_candles_and_volume_bars_use_the_desk_colours() -> None:
    idx = pd.date_range("2016-09-09 09:15", periods=4, freq="5min", tz="Asia/Kolkata")
    bars = pd.DataFrame({"open": [100.0, 102.0, 101.0, 103.0], "high": 104.0, "low": 99.0,
                         "close": [102.0, 101.0, 103.0, 103.0], "volume": np.arange(4) * 1000.0}, index=idx)
    fig = charts.price_figure(bars, "5minute", overlays=())
    candle = next(t for t in fig.data if t.type == "candlestick")
    assert (candle.increasing.line.color, candle.decreasing.line.color) == (PROFIT, LOSS)
    volume = next(t for t in fig.data if t.type == "bar")
    assert list(volume.marker.color) == [PROFIT, LOSS, PROFIT, PROFIT]  # close ≥ open is up


def test_backtest_candles_use_the_desk_colours_and_the_one_time_axis_rule() -> None:
    from app.ui import backtest_charts

    # Fri 09 Sep 2016 and Tue 13 Sep 2016 (Mon 12 Sep: Bakri Id, no bars), 1-minute bars.
    idx = pd.DatetimeIndex([*pd.date_range("2016-09-09 09:15", periods=3, freq="1min", tz="Asia/Kolkata"),
                            *pd.date_range("2016-09-13 09:15", periods=3, freq="1min", tz="Asia/Kolkata")])
    bars = pd.DataFrame({"open": 100.0, "high": 101.0, "low": 99.0, "close": [100.5, 99.5] * 3}, index=idx)
    trades = pd.DataFrame(columns=["tradingsymbol", "entry_at", "entry_price", "exit_at", "exit_price"])
    fig = backtest_charts.trades_price_figure("INFY", bars, trades)
    candle = fig.data[0]
    assert (candle.increasing.line.color, candle.decreasing.line.color) == (PROFIT, LOSS)
    breaks = [b.to_plotly_json() for b in fig.layout.xaxis.rangebreaks]
    assert breaks == charts.rangebreaks(idx, "minute")  # the Chart page's rule, not one of its own
    holiday = next(b for b in breaks if "values" in b)
    # The holiday hides only its session (a whole-day value beside the hour break blanks the chart).
    assert holiday == {"values": ["2016-09-12 09:15:00"], "dvalue": 22_500_000}
