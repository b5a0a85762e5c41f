"""Plotly axis helpers (app.ui.charts): Indian-grouped ₹ ticks, no SI suffixes, rangebreaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.ui import charts


def _bars(start: str, periods: int, freq: str) -> pd.DataFrame:
    idx = pd.date_range(start, periods=periods, freq=freq, tz="Asia/Kolkata")
    return pd.DataFrame({"open": 1000.0, "high": 1010.0, "low": 990.0, "close": 1005.0,
                         "volume": np.arange(periods) * 5000.0}, index=idx)


def test_inr_ticks_group_in_lakhs_not_millions() -> None:
    vals, text = charts.inr_ticks([999_600.0, 1_000_400.0])
    assert "₹10,00,000" in text  # not "1,000,000" or "1M"
    assert all(t.startswith("₹") for t in text)
    assert len(vals) == len(text)
    assert charts.inr_ticks([float("nan")]) == ([], [])


def test_inr_axis_sets_ticktext_and_turns_off_si_suffixes() -> None:
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[999_600.0, 1_000_374.75, 1_000_400.0], name="equity"))
    charts.desk_layout(fig)
    charts.inr_axis(fig)
    y = fig.layout.yaxis
    assert fig.layout.separators == ".,"
    assert y.exponentformat == "none"
    assert y.tickmode == "array"
    assert "₹10,00,000" in y.ticktext
    assert fig.data[0].customdata[1] == "₹10,00,374.75"  # hover text with Indian grouping


def test_count_axis_groups_volumes_the_indian_way() -> None:
    _, text = charts.count_ticks([0, 1_234_567])
    assert "10,00,000" in text or "12,00,000" in text, text


def test_intraday_time_axis_hides_nights_weekends_and_holidays() -> None:
    # Fri 09 Sep 2016 and Tue 13 Sep 2016 (Mon 12 Sep: Bakri Id, no data)
    idx = pd.DatetimeIndex([*pd.date_range("2016-09-09 09:15", periods=3, freq="5min", tz="Asia/Kolkata"),
                            *pd.date_range("2016-09-13 09:15", periods=3, freq="5min", tz="Asia/Kolkata")])
    breaks = charts.rangebreaks(idx, "5minute")
    assert {"bounds": [15.5, 9.25], "pattern": "hour"} in breaks
    assert {"bounds": ["sat", "mon"]} in breaks
    assert {"values": ["2016-09-12 09:15:00"], "dvalue": 22_500_000} in breaks  # its session hours only
    fig = go.Figure(go.Scatter(x=charts.ist_x(idx), y=list(range(6))))
    charts.time_axis(fig, idx, "5minute")
    assert fig.layout.xaxis.rangebreaks[0].pattern == "hour"
    assert str(charts.ist_x(idx)[0]) == "2016-09-09 09:15:00"  # IST wall time, tz-naive


def test_daily_time_axis_shows_dates_and_no_hour_break() -> None:
    idx = pd.date_range("2016-09-05", periods=5, freq="B", tz="Asia/Kolkata")
    fig = go.Figure(go.Scatter(x=charts.ist_x(idx), y=list(range(5))))
    charts.time_axis(fig, idx, "day")
    assert fig.layout.xaxis.tickformat == "%d %b %Y"
    assert all(getattr(b, "pattern", None) != "hour" for b in fig.layout.xaxis.rangebreaks)


def test_price_figure_uses_indian_axes_and_date_labels_for_daily_bars() -> None:
    fig = charts.price_figure(_bars("2016-09-05", 5, "B"), "day")
    assert list(fig.data[0].x)[:2] == ["05 Sep 2016", "06 Sep 2016"]  # no "00:00", no ISO
    assert fig.layout.yaxis.ticktext[0].startswith("₹")
    assert fig.layout.yaxis2.exponentformat == "none"
    intraday = charts.price_figure(_bars("2016-09-09 09:15", 300, "5min"), "5minute")
    assert "10,00,000" in intraday.layout.yaxis2.ticktext  # volume axis in lakhs


def test_intraday_and_daily_axes_draw_in_chromium_without_gaps_or_errors() -> None:
    """plotly.js draws the rangebreaks (a Monday holiday beside a weekend once made it throw and
    draw nothing) and the Babel ticks, with no night, weekend or holiday on the axis."""
    from pathlib import Path

    import plotly
    from playwright.sync_api import sync_playwright

    from tests.e2e.desk import launch_chromium

    intraday = pd.DatetimeIndex([*pd.date_range("2016-09-09 09:16", "2016-09-09 15:30", freq="1min", tz="Asia/Kolkata"),
                                 *pd.date_range("2016-09-13 09:16", "2016-09-13 15:30", freq="1min", tz="Asia/Kolkata")])
    daily = pd.DatetimeIndex(["2016-09-08", "2016-09-09", "2016-09-13", "2016-09-14"]).tz_localize("Asia/Kolkata")
    figures = {}
    for name, idx, interval in (("intraday", intraday, "minute"), ("daily", daily, "day")):
        y = 1_000_000 + np.sin(np.arange(len(idx)) / 40) * 2_000
        fig = go.Figure(go.Scatter(x=charts.ist_x(idx), y=y, name="equity"))
        charts.inr_axis(charts.desk_layout(fig))
        charts.time_axis(fig, idx, interval)
        fig.update_layout(width=900, height=400)
        figures[name] = fig.to_json()
    js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.set_default_timeout(120_000)  # a 4.8 MB plotly.js on 2 shared cores
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_content('<html><body><div id="g"></div></body></html>')
            page.add_script_tag(path=str(js))
            page.wait_for_function("typeof Plotly !== 'undefined'")
            ticks = {}
            for name, spec in figures.items():
                page.evaluate("j => { const f = JSON.parse(j); return Plotly.newPlot('g', f.data, f.layout); }", spec)
                ticks[name] = (page.eval_on_selector_all(".xtick text", "els => els.map(e => e.textContent)"),
                               page.eval_on_selector_all(".ytick text", "els => els.map(e => e.textContent)"))
        finally:
            browser.close()
    assert not errors, errors
    x, y = ticks["intraday"]
    assert x and not any(day in t for t in x for day in ("10 Sep", "11 Sep", "12 Sep")), x  # no gap days
    assert all(t.startswith("₹") for t in y) and any(",00," in t or t == "₹10,00,000" for t in y), y
    x, y = ticks["daily"]
    assert x and all(t.endswith("2016") for t in x) and not any("12 Sep" in t for t in x), x  # dates only
