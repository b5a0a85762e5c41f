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
