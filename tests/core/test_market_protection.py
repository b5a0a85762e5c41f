"""Market protection table (core.market_protection): one exact test per dated row and band
boundary, the rounding, explicit values, and bad input.

Source of every row: Kite Connect market protection from 1 Apr 2026 (kite.trade forum
discussion 15912 and comment 52940; Zerodha's market-protection support article;
``../shared/docs/indian-market.md`` §3b): 2% below ₹100, 1% for ₹100–500, 0.5% above ₹500.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.errors import ValidationError
from core.market_protection import PROTECTION_SCHEDULES, protection_percent, protection_price, schedule_on
from core.orders import OrderType
from tests.factories import SBIN, intent

D = Decimal
DAY = date(2026, 6, 1)
TICK = D("0.05")


@pytest.mark.parametrize(
    ("ltp", "percent", "buy_at", "sell_at"),
    [
        # 99.95 × 1.02 = 101.949 → down 101.90; 99.95 × 0.98 = 97.951 → up 98.00
        (D("99.95"), D(2), D("101.90"), D("98.00")),
        # 100 × 1.01 = 101.00; 100 × 0.99 = 99.00
        (D("100.00"), D(1), D("101.00"), D("99.00")),
        # 500 × 1.01 = 505.00; 500 × 0.99 = 495.00
        (D("500.00"), D(1), D("505.00"), D("495.00")),
        # 500.05 × 1.005 = 502.55025 → down 502.55; 500.05 × 0.995 = 497.54975 → up 497.55
        (D("500.05"), D("0.5"), D("502.55"), D("497.55")),
    ],
)
def test_automatic_band_rows_and_boundaries(ltp, percent, buy_at, sell_at):
    """Zerodha's automatic market protection (kite.trade forum 15912 / comment 52940): 2% below
    ₹100, 1% ₹100–500 inclusive, 0.5% above ₹500; BUY rounds down and SELL up to the tick."""
    assert protection_percent(ltp, DAY) == percent
    assert protection_price(True, ltp, TICK, DAY) == buy_at
    assert protection_price(False, ltp, TICK, DAY) == sell_at


def test_table_starts_on_2026_04_01():
    """Kite API market protection is mandatory from 1 Apr 2026 (kite.trade forum 15912):
    none the day before, the table on the day."""
    assert schedule_on(date(2026, 3, 31)) is None
    assert schedule_on(date(2026, 4, 1)) is PROTECTION_SCHEDULES[0]
    assert protection_price(True, D("1000"), TICK, date(2026, 3, 31)) is None
    assert protection_price(True, D("1000"), TICK, date(2026, 4, 1)) == D("1005.00")


def test_2016_replay_date_has_no_protection():
    """Before Kite's 1 Apr 2026 rule (kite.trade forum 15912) MARKET orders are unprotected."""
    assert protection_percent(D("1000"), date(2016, 8, 17)) is None


def test_explicit_percentage_is_used_as_given():
    """Kite: ``market_protection`` 0 < p <= 100 converts to a LIMIT at that protection
    (kite.trade forum comment 52940). 3% of ₹1,000 for a BUY is ₹1,030."""
    assert protection_percent(D("1000"), DAY, D(3)) == D(3)
    assert protection_price(True, D("1000"), TICK, DAY, D(3)) == D("1030.00")
    assert protection_price(False, D("1000"), TICK, DAY, D("0.25")) == D("997.50")


def test_minus_one_is_the_automatic_band():
    """Kite: ``market_protection = -1`` is automatic protection (kite.trade forum comment 52940)."""
    assert protection_price(True, D("250"), TICK, DAY, D(-1)) == protection_price(True, D("250"), TICK, DAY)
    assert protection_price(True, D("250"), TICK, DAY, D(-1)) == D("252.50")


def test_full_sell_band_is_floored_at_one_tick():
    """A 100% SELL band would reach ₹0; the protection price is never below one tick."""
    assert protection_price(False, D("10"), TICK, DAY, D(100)) == TICK


@pytest.mark.parametrize("bad", [D(0), D("-0.5"), D(-2), D("100.01"), D("NaN"), 1, 0.5, True])
def test_bad_market_protection_is_refused_naming_the_field_and_range(bad):
    """Kite refuses 0 and accepts only -1 or 0 < p <= 100 (kite.trade forum comment 52970)."""
    with pytest.raises(ValidationError, match=r"market_protection must be .*-1.*0 < p <= 100"):
        intent(SBIN, market_protection=bad)
    with pytest.raises(ValidationError, match="market_protection"):
        protection_percent(D("100"), DAY, bad)


def test_intent_carries_market_protection_for_market_and_slm():
    """The Kite parameter rides on the intent (kite.trade forum comment 52940); None is the
    desk's default (automatic)."""
    assert intent(SBIN).market_protection is None
    assert intent(SBIN, market_protection=D("1.5")).market_protection == D("1.5")
    slm = intent(SBIN, order_type=OrderType.SL_M, trigger_price=D("600"), market_protection=D(-1))
    assert slm.market_protection == D(-1) and slm.is_market
