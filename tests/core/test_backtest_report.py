"""core.backtest.report: monthly returns, buy-and-hold on the same dates, trade rows (hand-checked)."""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
import pytest

from core.backtest.report import buy_and_hold, monthly_returns, trade_rows
from core.errors import ValidationError
from core.timeutil import IST


def _ts(*args) -> pd.Timestamp:
    return pd.Timestamp(datetime(*args, tzinfo=IST))


def test_monthly_returns_compound_month_ends_against_capital_then_previous_month():
    # 100 -> 110 at end of Aug (+10 %), 110 -> 99 at end of Sep (-10 %), 99 -> 108.9 in Jan 2017 (+10 %)
    eq = pd.Series([105.0, 110.0, 120.0, 99.0, 108.9],
                   index=pd.DatetimeIndex([_ts(2016, 8, 16, 10), _ts(2016, 8, 31, 15, 30), _ts(2016, 9, 1, 10),
                                           _ts(2016, 9, 30, 15, 30), _ts(2017, 1, 2, 10)]))
    table = monthly_returns(eq, 100.0)
    assert list(table.index) == [2016, 2017]
    assert table.loc[2016, "Aug"] == pytest.approx(10.0)
    assert table.loc[2016, "Sep"] == pytest.approx(-10.0)
    assert math.isnan(table.loc[2016, "Oct"]) and math.isnan(table.loc[2017, "Feb"])
    assert table.loc[2016, "Year"] == pytest.approx(-1.0)  # 100 -> 99
    assert table.loc[2017, "Jan"] == pytest.approx(10.0) and table.loc[2017, "Year"] == pytest.approx(10.0)


def test_monthly_returns_uses_ist_months_not_utc():
    # 01 Sep 2016 02:00 IST is still 31 Aug in UTC: it belongs to September
    eq = pd.Series([110.0, 121.0], index=pd.DatetimeIndex([_ts(2016, 8, 31, 15), _ts(2016, 9, 1, 2)]))
    table = monthly_returns(eq, 100.0)
    assert table.loc[2016, "Aug"] == pytest.approx(10.0) and table.loc[2016, "Sep"] == pytest.approx(10.0)


def test_monthly_returns_refuses_bad_input_and_empty_is_empty():
    with pytest.raises(ValidationError, match="capital must be positive"):
        monthly_returns(pd.Series([1.0], index=pd.DatetimeIndex([_ts(2016, 8, 16, 10)])), 0)
    with pytest.raises(ValidationError, match="tz-aware"):
        monthly_returns(pd.Series([1.0], index=pd.DatetimeIndex([datetime(2016, 8, 16)])), 100.0)
    assert monthly_returns(pd.Series(dtype=float), 100.0).empty


def test_buy_and_hold_uses_only_closes_known_at_each_time():
    times = pd.DatetimeIndex([_ts(2016, 9, 8, 9, 16), _ts(2016, 9, 8, 9, 17), _ts(2016, 9, 8, 9, 18)])
    # closes stamped at their bar close: the 9:17 close (8800) is known at 9:17, the 9:18:30 one not at 9:18
    closes = pd.Series([8000.0, 8800.0, 9999.0],
                       index=pd.DatetimeIndex([_ts(2016, 9, 8, 9, 16), _ts(2016, 9, 8, 9, 17),
                                               _ts(2016, 9, 8, 9, 18, 30)]))
    bh = buy_and_hold(times, closes, 1_000_000.0)
    assert list(bh) == pytest.approx([1_000_000.0, 1_100_000.0, 1_100_000.0])
    assert bh.index.equals(times) and bh.name == "buy_and_hold"


def test_buy_and_hold_starts_at_the_first_known_close_and_empty_is_nan():
    times = pd.DatetimeIndex([_ts(2016, 9, 8, 9, 16), _ts(2016, 9, 8, 9, 20)])
    later = pd.Series([100.0], index=pd.DatetimeIndex([_ts(2016, 9, 8, 9, 18)]))
    bh = buy_and_hold(times, later, 500.0)
    assert math.isnan(bh.iloc[0]) and bh.iloc[1] == pytest.approx(500.0)
    assert buy_and_hold(times, pd.Series(dtype=float), 500.0).isna().all()
    with pytest.raises(ValidationError, match="capital must be positive"):
        buy_and_hold(times, later, -1)


def test_trade_rows_add_return_net_of_charges_and_minutes_held_in_ist():
    trades = pd.DataFrame([dict(tradingsymbol="INFY", direction="LONG", quantity=10,
                                entry_at="2016-09-08T04:00:00+00:00", entry_price=1000.0,
                                exit_at="2016-09-08T05:30:00+00:00", exit_price=1010.0, gross=100.0, charges=20.0,
                                net=80.0, bars_held=90.0)])
    rows = trade_rows(trades)
    assert rows.loc[0, "return_pct"] == pytest.approx(0.8)  # 80 / (1000 x 10)
    assert rows.loc[0, "minutes_held"] == pytest.approx(90.0)
    assert rows.loc[0, "entry_at"] == _ts(2016, 9, 8, 9, 30)
    assert trade_rows(pd.DataFrame()).empty
    with pytest.raises(ValidationError, match="missing columns"):
        trade_rows(trades.drop(columns=["net"]))
