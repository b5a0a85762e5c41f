"""NSE's closing price from 1-minute bars (core.closing_price), one exact test per rule.

Source: NSE's closing price of an equity is the volume-weighted average price of the trades in
the last 30 minutes of continuous trading, 15:00–15:30 IST; with no trade in that window, the
last traded price (tradingqna.com, "Why is there a difference between last trading price and
closing price on NSE?"). Post-close orders (15:40–16:00) trade only at it
(``../shared/docs/indian-market.md`` §1).
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pandas as pd
import pytest

from core.closing_price import LTP_BASIS, VWAP_BASIS, closing_price, closing_vwap, closing_window
from core.errors import ValidationError
from core.timeutil import IST

D = Decimal
DAY = date(2016, 8, 16)


def bars(rows: list[tuple[int, int, float, float, float, int]]) -> pd.DataFrame:
    """(hour, minute, high, low, close, volume) → a minute frame indexed by IST bar open."""
    idx = pd.DatetimeIndex([pd.Timestamp(datetime(DAY.year, DAY.month, DAY.day, h, m, tzinfo=IST))
                            for h, m, *_ in rows], name="ts")
    return pd.DataFrame({"open": [r[4] for r in rows], "high": [r[2] for r in rows], "low": [r[3] for r in rows],
                         "close": [r[4] for r in rows], "volume": [r[5] for r in rows]}, index=idx)


def test_window_is_the_last_30_minutes_before_the_close():
    """NSE: the closing price is taken over 15:00–15:30 IST on a regular day."""
    assert closing_window(DAY) == (datetime(2016, 8, 16, 15, 0, tzinfo=IST), datetime(2016, 8, 16, 15, 30, tzinfo=IST))
    # a special session (e.g. Muhurat closing 19:15) uses its own close
    assert closing_window(DAY, time(19, 15))[0] == datetime(2016, 8, 16, 18, 45, tzinfo=IST)


def test_closing_price_is_the_vwap_of_the_bars_15_00_to_15_29():
    """NSE closing price = volume-weighted average of the last 30 minutes (15:00–15:30 IST);
    bars opening before 15:00 or at/after 15:30 are outside it. Typical price (H+L+C)/3."""
    frame = bars([
        (14, 59, 1000, 990, 995, 1_000_000),  # outside: before 15:00
        (15, 0, 1002, 998, 1000, 100),  # typical 1000.00
        (15, 10, 1012, 1006, 1009, 300),  # typical 1009.00
        (15, 29, 1020, 1017, 1020.5, 100),  # typical 1019.1666…
        (15, 30, 2000, 2000, 2000, 1_000_000),  # outside: the close itself
    ])
    # (1000×100 + 1009×300 + 1019.1667×100) / 500 = 1009.2333…
    assert closing_vwap(frame, DAY) == D("1009.23")
    assert closing_vwap(frame, DAY, tick_size=D("0.05")) == D("1009.25")  # nearest tick, half up
    assert closing_vwap(frame, DAY, tick_size=D("0.10")) == D("1009.20")


def test_bars_of_another_day_are_ignored():
    """The window is the day's own 15:00–15:30."""
    assert closing_vwap(bars([(15, 5, 10, 10, 10, 50)]), date(2016, 8, 17)) is None


def test_no_volume_in_the_window_falls_back_to_the_last_traded_price_with_the_reason():
    """NSE: with no trade in the last 30 minutes the close is the last traded price."""
    quiet = bars([(14, 50, 101, 99, 100, 40), (15, 5, 100, 100, 100, 0)])
    assert closing_vwap(quiet, DAY) is None
    cp = closing_price(quiet, DAY, D("100.35"))
    assert (cp.price, cp.basis) == (D("100.35"), LTP_BASIS)
    assert "no traded volume" in cp.reason and "15:00–15:30" in cp.reason


def test_no_bars_falls_back_to_the_last_traded_price_labelled():
    """Without bars the desk cannot compute the close: it fills at the LTP and says so."""
    cp = closing_price(None, DAY, D("1001.20"))
    assert (cp.price, cp.basis) == (D("1001.20"), LTP_BASIS) and "no 1-minute bars" in cp.reason
    empty = closing_price(bars([]), DAY, D("1001.20"))
    assert empty.basis == LTP_BASIS


def test_vwap_basis_names_its_source():
    """The fill's reason names the rule and its source."""
    cp = closing_price(bars([(15, 0, 11, 9, 10, 10)]), DAY, D("12"), tick_size=D("0.05"))
    assert (cp.price, cp.basis) == (D("10.00"), VWAP_BASIS)
    assert "VWAP" in cp.reason and "NSE closing price" in cp.reason


def test_bad_input_is_refused_with_what_to_fix():
    """Naive index, missing columns, no price at all: ValidationError saying what to fix."""
    naive = bars([(15, 0, 11, 9, 10, 10)]).tz_localize(None)
    with pytest.raises(ValidationError, match="tz-aware"):
        closing_vwap(naive, DAY)
    with pytest.raises(ValidationError, match="volume"):
        closing_vwap(bars([(15, 0, 11, 9, 10, 10)]).drop(columns=["volume"]), DAY)
    with pytest.raises(ValidationError, match="cannot be filled"):
        closing_price(None, DAY, D("0"))
