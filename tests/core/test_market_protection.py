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
from core.orders import OrderType, Product, Side
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


# ------------------------------------------------------------------ margin price, preview, price band


def test_margin_price_is_the_protection_price_of_a_market_or_slm_order():
    """``core.margins`` rule 6 (Kite blocks margin for the LIMIT a protected order becomes; Kite
    Connect market protection, kite.trade forum 15912 / comment 52940): MARKET BUY at LTP
    ₹600.00, 0.5 % → ₹603.00; SELL → ₹597.00; SL-M BUY trigger ₹610.00 → ₹613.05; a LIMIT
    at its price; before 2026-04-01 the LTP."""
    from core.margins import margin_price

    ltp = D("600.00")
    assert margin_price(intent(SBIN), ltp, TICK, DAY) == D("603.00")
    assert margin_price(intent(SBIN, side=Side.SELL), ltp, TICK, DAY) == D("597.00")
    slm = intent(SBIN, order_type=OrderType.SL_M, trigger_price=D("610.00"))
    assert margin_price(slm, ltp, TICK, DAY) == D("613.05")  # 610 × 1.005 = 613.05
    assert margin_price(intent(SBIN, order_type=OrderType.LIMIT, price=D("590.00")), ltp, TICK, DAY) == D("590.00")
    assert margin_price(intent(SBIN), ltp, TICK, date(2026, 3, 31)) == ltp
    assert margin_price(intent(SBIN), None, TICK, DAY) is None


def test_open_order_price_keeps_the_protection_price_it_was_given():
    """A resting protected order blocks at its stored protection price (Kite's LIMIT does not
    move with the LTP); an unprotected MARKET order blocks nothing (it fills on the next tick)."""
    from dataclasses import replace
    from datetime import datetime

    from core.margins import open_order_price
    from core.orders import Order, OrderStatus
    from core.timeutil import IST

    at = datetime(2026, 6, 1, 10, 0, tzinfo=IST)
    order = Order("o1", intent(SBIN), OrderStatus.OPEN, at, at, TICK)
    assert open_order_price(order) is None
    assert open_order_price(replace(order, protection_price=D("603.00"))) == D("603.00")
    slm = Order("o2", intent(SBIN, order_type=OrderType.SL_M, trigger_price=D("610.00")),
                OrderStatus.TRIGGER_PENDING, at, at, TICK)
    assert open_order_price(slm) == D("613.05")
    old = Order("o3", intent(SBIN, order_type=OrderType.SL_M, trigger_price=D("610.00")),
                OrderStatus.TRIGGER_PENDING, at.replace(year=2016), at.replace(year=2016), TICK)
    assert open_order_price(old) == D("610.00")  # no protection in 2016: at the trigger


def test_describe_protection_names_price_base_band_and_mode():
    from core.market_protection import describe_protection

    assert describe_protection(intent(SBIN), D("600.00"), TICK, DAY) == (
        "MARKET, protected at ₹603.00 (LTP ₹600.00 + 0.5 %, automatic)")
    slm = intent(SBIN, side=Side.SELL, order_type=OrderType.SL_M, trigger_price=D("590.00"), market_protection=D(2))
    assert describe_protection(slm, D("600.00"), TICK, DAY) == (
        "SL-M, protected at ₹578.20 (trigger ₹590.00 − 2 %, market_protection)")
    assert describe_protection(intent(SBIN), D("600.00"), TICK, date(2016, 8, 17)) is None


def test_protection_beyond_the_price_band_is_refused_naming_rule_and_source():
    """A protected order is a LIMIT at the protection price; NSE rejects limits outside the
    price band (kite.trade comment 52940; NSE price bands): 20 % at ₹600.00 → ₹720.00 > ₹660.00."""
    from core.market_protection import check_protection_in_band, intent_protection
    from core.orders import CircuitBand
    from core.risk.reasons import ReasonCode

    band = CircuitBand(D("540.00"), D("660.00"))
    wide = intent(SBIN, market_protection=D(20))
    price = intent_protection(wide, D("600.00"), TICK, DAY)
    assert price == D("720.00")
    denial = check_protection_in_band(wide, price, band)
    assert denial.code is ReasonCode.OUTSIDE_CIRCUIT
    assert "beyond the upper circuit ₹660.00" in denial.message and "kite.trade forum 15912" in denial.message
    assert check_protection_in_band(intent(SBIN), intent_protection(intent(SBIN), D("600.00"), TICK, DAY), band) is None
    assert check_protection_in_band(wide, price, None) is None


def test_gatekeeper_judges_margin_at_the_protection_price():
    """``core.gatekeeper.check``: ``required_margin`` at ``margin_price`` (rule 6), the
    decision carries the protection price (Kite Connect market protection, comment 52940).
    CNC BUY 10 SBIN at LTP ₹600.00 → ₹603.00 → ₹6,030.00."""
    from datetime import datetime

    from core.gatekeeper import ChangeKind, GateContext, OrderChange, check
    from core.risk.limits import RiskLimits, RiskState
    from core.sessions import SessionPhase
    from core.timeutil import IST

    now = datetime(2026, 6, 1, 10, 0, tzinfo=IST)
    money = D(1_000_000)
    state = RiskState(capital=money, equity=money, equity_peak=money)
    ctx = GateContext(SBIN, now, SessionPhase.NORMAL, ltp=D("600.00"), state=state, limits=RiskLimits())
    d = check(OrderChange(ChangeKind.PLACE, intent(SBIN, product=Product.CNC)), ctx)
    assert (d.expected_price, d.margin_price, d.protection_price, d.required_margin) == (
        D("600.00"), D("603.00"), D("603.00"), D("6030.00"))


def test_automatic_protection_stops_at_the_circuit_and_an_explicit_one_does_not():
    """Automatic protection is held inside the day's band (a LIMIT at the circuit is the furthest
    NSE accepts), so an automatic MARKET buy of a stock at its upper circuit — an MIS square-off
    of a short in a rally — is not refused; an explicit ``market_protection`` is the trader's own
    price and is judged, not moved (kite.trade comment 52940; NSE price bands)."""
    from core.market_protection import clamp_auto_protection, intent_protection
    from core.orders import CircuitBand

    band = CircuitBand(D("540.00"), D("660.00"))
    auto = intent(SBIN)
    at_edge = intent_protection(auto, D("659.00"), TICK, DAY)
    assert at_edge > band.upper and clamp_auto_protection(auto, at_edge, band) == band.upper
    sell = intent(SBIN, side=Side.SELL)
    assert clamp_auto_protection(sell, intent_protection(sell, D("541.00"), TICK, DAY), band) == band.lower
    wide = intent(SBIN, market_protection=D(20))
    assert clamp_auto_protection(wide, D("720.00"), band) == D("720.00")
    assert clamp_auto_protection(auto, at_edge, None) == at_edge
