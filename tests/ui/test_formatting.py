"""Unit tests for app.ui.formatting: Babel en_IN grouping, signs, the paise rule, IST times."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from app.ui import formatting as fmt
from core.errors import ValidationError


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("327774"), "₹3,27,774.00"),
        (100037475, "₹10,00,37,475.00"),  # crore
        (Decimal("1000000"), "₹10,00,000.00"),  # ten lakh
        (999, "₹999.00"),
        ("1234.5", "₹1,234.50"),
        (Decimal("0.025"), "₹0.03"),  # half-up, not Babel's half-even
    ],
)
def test_inr_lakh_crore_grouping_groups_the_indian_way(amount: object, expected: str) -> None:
    assert fmt.inr(amount) == expected


def test_inr_negative_and_sign_puts_sign_before_rupee() -> None:
    assert fmt.inr(Decimal("-1234.5")) == "-₹1,234.50"
    assert fmt.inr(1234.5, sign=True) == "+₹1,234.50"
    assert fmt.inr(-1234.5, sign=True) == "-₹1,234.50"
    assert fmt.inr(0, sign=True) == "₹0.00"
    assert fmt.inr(-0.001) == "₹0.00"  # no "-₹0.00"
    assert fmt.inr(1234.567, decimals=0) == "₹1,235"


@pytest.mark.parametrize("missing", [None, float("nan"), Decimal("NaN"), np.nan, pd.NA, pd.NaT, "", "abc", math.inf])
def test_missing_values_show_dash_in_every_formatter(missing: object) -> None:
    for f in (fmt.inr, fmt.money, fmt.qty, fmt.volume, fmt.number, fmt.pct, fmt.signed_pct, fmt.fraction_pct,
              fmt.ist, fmt.ist_time, fmt.ist_date):
        assert f(missing) == "—", f.__name__
    if not (isinstance(missing, str) and missing == "abc"):  # unparseable text is still text
        assert fmt.text(missing) == "—"
    assert fmt.bar_time(missing, "day") == "—"


def test_money_paise_rule_drops_paise_from_a_lakh_and_on_whole_rupees() -> None:
    assert fmt.money(Decimal("327774.25")) == "₹3,27,774"  # ≥ ₹1,00,000: whole rupees
    assert fmt.money(Decimal("99999.99")) == "₹99,999.99"  # below: paise matter
    assert fmt.money(1234.5) == "₹1,234.50"
    assert fmt.money(500) == "₹500"  # whole rupees: no ".00"
    assert fmt.money(-250000.75, sign=True) == "-₹2,50,001"
    assert fmt.money(12.5, sign=True) == "+₹12.50"
    assert fmt.PAISE_BELOW == Decimal(100000)


def test_qty_and_volume_group_counts_without_decimals() -> None:
    assert fmt.qty(12345678) == "1,23,45,678"
    assert fmt.qty(-5) == "-5"
    assert fmt.volume(840069) == "8,40,069"
    assert fmt.volume(840069.0) == "8,40,069"
    assert fmt.volume(np.int64(99)) == "99"


def test_number_groups_and_signs() -> None:
    assert fmt.number(1234.567) == "1,234.57"
    assert fmt.number(1.25, sign=True) == "+1.25"
    assert fmt.number(-0.004) == "0.00"


def test_percentages_plain_signed_and_fraction() -> None:
    assert fmt.pct(12.345) == "12.35 %"
    assert fmt.pct(-0.001) == "0.00 %"
    assert fmt.signed_pct(1.25) == "+1.25 %"
    assert fmt.signed_pct(Decimal("-0.5")) == "-0.50 %"
    assert fmt.signed_pct(0) == "0.00 %"
    assert fmt.fraction_pct(0.4) == "40 %"  # confidence 0.4 is shown as 40 %
    assert fmt.fraction_pct(0.4567, 1) == "45.7 %"


def test_ist_time_formats_in_ist_with_minutes() -> None:
    utc = datetime(2016, 9, 9, 3, 53, 11, tzinfo=timezone.utc)
    assert fmt.ist_time(utc) == "09 Sep 2016 09:23 IST"
    assert fmt.ist(utc) == "09 Sep 2016 09:23:11 IST"
    assert fmt.ist(utc, with_date=False) == "09:23:11 IST"
    assert fmt.ist_time("2016-09-09T09:23:11+05:30") == "09 Sep 2016 09:23 IST"  # ISO text
    assert fmt.ist_time(pd.Timestamp("2016-09-09 03:53", tz="UTC")) == "09 Sep 2016 09:23 IST"
    assert fmt.ist_time(datetime(2016, 9, 9, 3, 53)) == "09 Sep 2016 09:23 IST"  # naive = UTC


def test_daily_bar_shows_date_only_and_intraday_bar_its_time() -> None:
    midnight_ist = pd.Timestamp("2016-09-09 00:00", tz="Asia/Kolkata")
    assert fmt.bar_time(midnight_ist, "day") == "09 Sep 2016"
    assert fmt.bar_time(midnight_ist, "week") == "09 Sep 2016"
    assert fmt.bar_time(pd.Timestamp("2016-09-09 09:15", tz="Asia/Kolkata"), "5minute") == "09 Sep 2016 09:15 IST"
    assert fmt.ist_date(date(2016, 9, 9)) == "09 Sep 2016"
    assert fmt.ist_date("2016-09-09") == "09 Sep 2016"


@pytest.mark.parametrize(
    ("interval", "label"),
    [("minute", "1 min"), ("5minute", "5 min"), ("15minute", "15 min"), ("60minute", "60 min"),
     ("day", "Daily"), ("week", "Weekly"), (None, "—")],
)
def test_interval_label_reads_as_words(interval: str | None, label: str) -> None:
    assert fmt.interval_label(interval) == label


def test_countdown_and_reason_codes_unchanged() -> None:
    assert fmt.countdown(timedelta(minutes=4, seconds=5)) == "4:05"
    assert fmt.countdown(timedelta(0)) == "expired"
    assert fmt.reason_codes_text(("A", "B")) == "[A, B]"


def test_indian_group_uses_babel_and_rejects_non_digits() -> None:
    assert fmt.indian_group("1000000") == "10,00,000"
    with pytest.raises(ValidationError, match="digits"):
        fmt.indian_group("-12")


def test_frame_for_display_formats_columns_and_leaves_no_none() -> None:
    df = pd.DataFrame({
        "ltp": [1234.5, None],
        "volume": [840069, np.nan],
        "ts": [pd.Timestamp("2016-09-09 09:23", tz="Asia/Kolkata"), pd.NaT],
        "note": [None, "ok"],
    })
    out = fmt.frame_for_display(df, {"ltp": "inr", "volume": "volume", "ts": "ist_time"}, {"ltp": "LTP"})
    assert list(out.columns) == ["LTP", "volume", "ts", "note"]
    assert out.iloc[0].tolist() == ["₹1,234.50", "8,40,069", "09 Sep 2016 09:23 IST", "—"]
    assert out.iloc[1].tolist() == ["—", "—", "—", "ok"]
    assert df["ltp"].iloc[0] == 1234.5  # the input is not modified
    with pytest.raises(ValidationError, match="unknown kind"):
        fmt.frame_for_display(df, {"ltp": "rupees"})


def test_every_backtest_metric_has_a_label_kind_and_tooltip() -> None:
    from app.ui import labels
    from core.backtest.metrics import compute_metrics

    idx = pd.date_range("2016-09-05 09:16", periods=3, freq="1D", tz="Asia/Kolkata")
    equity = pd.DataFrame({"equity": [100000.0, 101000.0, 100500.0], "exposure": [0.0, 1.0, 0.0]}, index=idx)
    keys = compute_metrics(equity, pd.DataFrame(columns=["net", "gross", "charges"]), 100000.0).keys()
    for key in keys:
        m = labels.METRICS[key]  # KeyError names a metric without a label
        assert m.label and m.help and m.kind in fmt.KINDS, key
        assert "_" not in m.label, key


def test_format_metric_uses_the_metric_kind() -> None:
    from app.ui import labels

    assert labels.label("total_return_pct") == "Total return"
    assert labels.format_metric("total_return_pct", 2.5) == "+2.50 %"
    assert labels.format_metric("net_pnl", 250000.4) == "+₹2,50,000"
    assert labels.format_metric("trades", 12.0) == "12"
    assert labels.format_metric("sharpe", float("nan")) == "—"
    assert labels.format_metric("profit_factor", float("inf")) == "∞ (no losing trade)"
    assert labels.label("foo_bar_pct") == "Foo bar %"
    frame = labels.metrics_frame({"sharpe": 1.234, "net_pnl": -5.5})
    assert frame["Metric"].tolist() == ["Net P&L", "Sharpe ratio"]  # headline order
    assert frame["Value"].tolist() == ["-₹5.50", "1.23"]


def test_style_for_display_shows_text_over_unchanged_numbers() -> None:
    df = pd.DataFrame({"LTP": [1234.5, np.nan], "volume": [840069, 12], "note": [None, "x"]})
    styled = fmt.style_for_display(df, {"LTP": "inr", "volume": "volume"})
    html = styled.to_html()
    assert "₹1,234.50" in html and "8,40,069" in html and "—" in html and "None" not in html
    assert styled.data["volume"].tolist() == [840069, 12]  # still numbers: sortable


def test_sector_columns_have_kinds_and_tooltips() -> None:
    from app.ui import labels

    for key, m in labels.SECTOR_COLUMNS.items():
        assert m.kind in fmt.KINDS and m.help and m.label, key
    assert labels.SECTOR_COLUMNS["return_pct"].label == "return %"
    assert "equal-weighted" in labels.SECTOR_COLUMNS["return_pct"].help.lower()
