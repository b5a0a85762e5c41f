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
