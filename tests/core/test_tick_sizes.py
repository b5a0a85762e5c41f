"""NSE's dated tick-size table (core.orders.ticks): one test per regime row and band boundary."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from core.errors import ValidationError
from core.orders import TICK_REGIMES, regime_for, tick_size_for
from core.orders.ticks import equity_tick_size
from tests.factories import INFY, NIFTY, SBIN, TCS
from tests.factories import equity as make_equity

D = Decimal
REGIME_2 = date(2024, 6, 10)
REGIME_3 = date(2025, 4, 15)


def test_table_has_three_dated_rows_each_with_its_source():
    """The three NSE regimes (indian-market.md §4): uniform ₹0.05; NSE circular of 24 May 2024
    from 2024-06-10; NSE CM circular of March 2025 from 2025-04-15."""
    assert [r.effective_from for r in TICK_REGIMES] == [date(2000, 1, 1), REGIME_2, REGIME_3]
    assert "24 May 2024" in TICK_REGIMES[1].source and "bulletin/380460" in TICK_REGIMES[1].source
    assert "March 2025" in TICK_REGIMES[2].source


@pytest.mark.parametrize("price", ["0.50", "249.99", "2300.05", "30000"])
def test_regime_1_before_2024_06_10_is_005_for_every_price(price):
    """Before 10 Jun 2024 NSE's tick was ₹0.05 for all equities (the uniform tick the NSE circular
    of 24 May 2024 replaced); the listed ₹0.10 of today's dump does not apply."""
    assert tick_size_for(TCS, date(2024, 6, 7), D(price)) == D("0.05")
    assert tick_size_for(TCS, date(2016, 9, 9)) == D("0.05")


def test_regime_1_ends_the_day_before_2024_06_10():
    """NSE circular of 24 May 2024: the price-linked tick starts on 10 Jun 2024 (a Monday)."""
    assert regime_for(date(2024, 6, 9)) is TICK_REGIMES[0]
    assert regime_for(REGIME_2) is TICK_REGIMES[1]


@pytest.mark.parametrize(("price", "tick"), [("249.99", "0.01"), ("250.00", "0.05"), ("20001", "0.05")])
def test_regime_2_below_250_is_001_from_250_is_005(price, tick):
    """NSE circular of 24 May 2024 (Zerodha bulletin 380460): below ₹250 → ₹0.01, ₹250 and above
    → ₹0.05, by the previous month's last close."""
    assert tick_size_for(SBIN, REGIME_2, D(price)) == D(tick)
    assert tick_size_for(SBIN, date(2025, 4, 14), D(price)) == D(tick)  # the regime's last day


def test_regime_3_starts_on_2025_04_15():
    """NSE CM circular of March 2025: the revised table applies from 15 Apr 2025 (14 Apr was a holiday)."""
    assert tick_size_for(SBIN, date(2025, 4, 14), D("1500")) == D("0.05")
    assert tick_size_for(SBIN, REGIME_3, D("1500")) == D("0.10")


@pytest.mark.parametrize(
    ("price", "tick"),
    [("249.99", "0.01"), ("250.00", "0.05"),
     ("999.95", "0.05"), ("1000.00", "0.05"), ("1000.05", "0.10"),
     ("5000.00", "0.10"), ("5000.10", "0.50"),
     ("10000.00", "0.50"), ("10000.50", "1.00"),
     ("20000.00", "1.00"), ("20001.00", "5.00")],
)
def test_regime_3_band_boundaries(price, tick):
    """NSE CM circular of March 2025 (fyers.in notice of 17 Mar 2025): below 250 → 0.01;
    250–1,000 → 0.05; >1,000–5,000 → 0.10; >5,000–10,000 → 0.50; >10,000–20,000 → 1.00;
    >20,000 → 5.00. Each upper bound belongs to its own band (₹1,000.00 ticks ₹0.05)."""
    assert tick_size_for(SBIN, date(2026, 12, 1), D(price)) == D(tick)


def test_without_a_reference_the_listed_monthly_tick_is_used_from_2024_06_10():
    """NSE reviews the band monthly and publishes it in the contract master (NSE circular of
    24 May 2024), so without a reference close the dump's ``tick_size`` is the month's figure."""
    assert tick_size_for(INFY, date(2026, 12, 1)) == D("0.1")
    assert tick_size_for(make_equity(9, tick_size="0.01"), REGIME_2) == D("0.01")


def test_rows_outside_nse_cash_equity_keep_their_listed_tick():
    """The dated table is NSE's CM-segment rule; an index (or a BSE/NFO row) keeps its listed tick."""
    assert tick_size_for(NIFTY, date(2016, 9, 9)) == D("0")
    from dataclasses import replace

    bse = replace(INFY, exchange="BSE", segment="BSE")
    assert tick_size_for(bse, date(2016, 9, 9)) == D("0.1")


@pytest.mark.parametrize("bad", [D("0"), D("-1")])
def test_non_positive_reference_price_is_bad_input(bad):
    """A reference close must be positive rupees (NSE circular of 24 May 2024: the band is chosen by it)."""
    with pytest.raises(ValidationError, match="reference_price must be positive"):
        equity_tick_size(REGIME_3, D("0.05"), bad)


def test_regime_for_needs_a_date():
    with pytest.raises(ValidationError, match="on_date must be a date"):
        regime_for("2025-04-15")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="IST trading day"):
        regime_for(datetime(2025, 4, 15, 10))


# ---- backtests use the bar date's regime (core.backtest.ticks.day_instruments)

ROWS_2300 = [(2300, 2301, 2299, 2300, 6000), (2300, 2302, 2299, 2301, 6000), (2301, 2303, 2300, 2302, 6000),
             (2302, 2303, 2301, 2302, 6000)]


def _buy_then_sell(frame, first: int = 0):
    """BUY at the close of bar ``first``, SELL at the close of bar ``first + 2`` (fills: the next opens)."""
    from core.backtest import InstrumentBars, run_backtest
    from tests.core.test_backtest import Script

    return run_backtest(Script(first, first + 2), [InstrumentBars(TCS, frame)]).fills


def test_backtest_over_2016_bars_fills_on_the_005_grid():
    """NSE's uniform ₹0.05 tick before 10 Jun 2024 (NSE circular of 24 May 2024): a 2016 BUY pays
    the ask one ₹0.05 tick above the open (TCS lists ₹0.10 today) and the SELL gets the bid one below."""
    from tests.factories import T0, ohlcv_frame

    fills = _buy_then_sell(ohlcv_frame(ROWS_2300, T0))
    assert [f for f in fills["price"]] == [D("2300.05"), D("2301.95")]


def test_backtest_from_2025_04_15_ticks_by_the_previous_months_close():
    """NSE CM circular of March 2025: reviewed monthly on the previous month's last close. TCS closed
    April 2025 at ₹2,300 (> ₹1,000–5,000 → ₹0.10), so May's fills are one ₹0.10 tick off the open."""
    import pandas as pd

    from core.timeutil import IST
    from tests.factories import ohlcv_frame

    april = ohlcv_frame([(2300, 2300, 2300, 2300, 100)], datetime(2025, 4, 30, 15, 29, tzinfo=IST))
    may = ohlcv_frame(ROWS_2300, datetime(2025, 5, 2, 10, 0, tzinfo=IST))
    fills = _buy_then_sell(pd.concat([april, may]), first=1)
    assert list(fills["price"]) == [D("2300.10"), D("2301.90")]


def test_backtest_in_regime_2_uses_005_above_250_though_the_dump_lists_010():
    """NSE circular of 24 May 2024 (10 Jun 2024 – 14 Apr 2025): ₹250 and above → ₹0.05; in the
    backtest's first month the reference is its first open (₹2,300)."""
    from core.timeutil import IST
    from tests.factories import ohlcv_frame

    fills = _buy_then_sell(ohlcv_frame(ROWS_2300, datetime(2024, 8, 14, 10, 0, tzinfo=IST)))
    assert list(fills["price"]) == [D("2300.05"), D("2301.95")]


def test_day_instruments_take_the_last_close_of_an_earlier_month():
    """NSE's monthly review (NSE circular of 24 May 2024): a ₹240 June close gives July ₹0.01,
    whatever July's own prices (₹260 here)."""
    import numpy as np

    from core.backtest.ticks import day_instruments

    days = np.array([date(2024, 6, 28), date(2024, 7, 1), date(2024, 7, 2)], dtype=object)
    day_id, insts = day_instruments(SBIN, days, np.array([240.0, 260.0, 262.0]), 238.0)
    assert list(day_id) == [0, 1, 2]
    assert [i.tick_size for i in insts] == [D("0.01"), D("0.01"), D("0.01")]  # June: first open ₹238
