"""Orders: money helpers, intent validation, session phases, modify/cancel (admission is the
gatekeeper's: tests/core/test_gatekeeper.py)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from core.errors import ValidationError
from core.orders import (
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    Validity,
    cancel_order,
    is_tick_multiple,
    modified_intent,
    modify_order,
    price_from_float,
    round_to_paisa,
    round_to_tick,
    session_phase,
    validate_intent,
)
from core.sessions import SessionPhase
from core.timeutil import IST
from tests.factories import INFY, NIFTY, SBIN, TCS, equity, intent

D = Decimal
LOT25 = equity(111, "LOTTY", tick_size="0.05", lot_size=25)  # made up: a 25-share lot
NOON = datetime(2025, 1, 6, 12, 0, tzinfo=IST)


def limit_intent(token=INFY, **kw) -> OrderIntent:
    """``factories.intent`` as a LIMIT at ₹1500.00 (default: BUY 10 INFY MIS LIMIT 1500.00)."""
    return intent(token, **{"order_type": OrderType.LIMIT, "price": D("1500.00"), **kw})


def open_order(**kw) -> Order:
    return Order("o1", limit_intent(**kw), OrderStatus.OPEN, NOON, NOON, INFY.tick_size)


# ---- money helpers


def test_price_from_float_rounds_via_paise():
    assert price_from_float(1234.549999) == D("1234.55")


def test_price_from_float_nan_raises():
    with pytest.raises(ValidationError):
        price_from_float(float("nan"))


def test_round_to_paisa_rounds_half_up_and_returns_rupees():
    assert round_to_paisa(D("10.005")) == D("10.01") and round_to_paisa(D("10.004")) == D("10.00")


def test_is_tick_multiple_exact_decimal():
    assert is_tick_multiple(D("1500.05"), D("0.05")) and not is_tick_multiple(D("1500.02"), D("0.05"))
    assert not is_tick_multiple(D("1500"), D("0"))


def test_round_to_tick_up_and_down_land_on_tick():
    assert round_to_tick(D("100.01"), D("0.05"), up=True) == D("100.05")
    assert round_to_tick(D("100.04"), D("0.05"), up=False) == D("100.00")


# ---- intent construction


def test_intent_zero_quantity_raises():
    with pytest.raises(ValidationError, match="quantity"):
        limit_intent(qty=0)


def test_intent_float_price_raises():
    with pytest.raises(ValidationError, match="price"):
        limit_intent(price=1500.0)


def test_intent_limit_without_price_raises():
    with pytest.raises(ValidationError, match="need a price"):
        limit_intent(price=None)


def test_intent_market_with_price_raises():
    with pytest.raises(ValidationError, match="take no price"):
        limit_intent(order_type=OrderType.MARKET)


def test_intent_sl_without_trigger_raises():
    with pytest.raises(ValidationError, match="trigger_price"):
        limit_intent(order_type=OrderType.SL)


def test_intent_slm_needs_trigger_only():
    i = limit_intent(order_type=OrderType.SL_M, price=None, trigger_price=D("1510.00"))
    assert i.trigger_price == D("1510.00") and i.price is None


def test_intent_buy_sl_trigger_above_price_raises():
    with pytest.raises(ValidationError, match="BUY SL needs trigger_price <= price"):
        limit_intent(order_type=OrderType.SL, price=D("1500.00"), trigger_price=D("1505.00"))


def test_intent_sell_sl_trigger_below_price_raises():
    with pytest.raises(ValidationError, match="SELL SL needs trigger_price >= price"):
        limit_intent(side=Side.SELL, order_type=OrderType.SL, price=D("1500.00"), trigger_price=D("1495.00"))


# ---- validate against the instrument


def test_validate_index_not_tradable_raises():
    with pytest.raises(ValidationError, match="index"):
        validate_intent(limit_intent(NIFTY), NIFTY)


def test_validate_quantity_not_lot_multiple_raises():
    with pytest.raises(ValidationError, match="lot_size 25"):
        validate_intent(limit_intent(LOT25, qty=30), LOT25)


@pytest.mark.parametrize(
    ("inst", "price", "neighbours"),
    [(SBIN, "800.02", "800.00 or 800.05"), (INFY, "1500.05", "1500.00 or 1500.10")],  # ticks ₹0.05 and ₹0.10
    ids=lambda v: getattr(v, "tradingsymbol", None),
)
def test_validate_price_off_tick_raises_and_suggests_neighbours(inst, price, neighbours):
    message = re.escape(f"is not a multiple of tick_size {inst.tick_size} (listed tick_size); use {neighbours}") + "$"
    with pytest.raises(ValidationError, match=message):
        validate_intent(limit_intent(inst, price=D(price)), inst)


def test_validate_on_a_2016_date_uses_the_uniform_005_grid_not_the_listed_tick():
    """NSE's uniform ₹0.05 tick before 10 Jun 2024 (NSE circular of 24 May 2024 names it as the
    tick it replaced): TCS lists ₹0.10 today, but 2300.05 was a valid 2016 limit price."""
    tcs_limit = limit_intent(TCS, price=D("2300.05"))
    validate_intent(tcs_limit, TCS, on=date(2016, 9, 9))
    with pytest.raises(ValidationError, match=r"tick_size 0\.1 \(listed"):
        validate_intent(tcs_limit, TCS)


def test_validate_off_the_dates_grid_names_the_regime_and_its_source():
    """A 2016 limit off the ₹0.05 grid is refused with the regime (from 2000-01-01) and its NSE source."""
    with pytest.raises(ValidationError) as err:
        validate_intent(limit_intent(TCS, price=D("2300.03")), TCS, on=date(2016, 9, 9))
    msg = str(err.value)
    assert "price 2300.03 is not a multiple of tick_size 0.05" in msg
    assert "NSE tick regime from 2000-01-01" in msg and "NSE circular of 24 May 2024" in msg
    assert msg.endswith("on 2016-09-09); use 2300.00 or 2300.05")


def test_validate_trigger_on_the_2025_grid_by_reference_price():
    """From 15 Apr 2025 (NSE CM circular of March 2025) a ₹1,000–5,000 stock ticks ₹0.10: a trigger
    of 1500.05 is off that grid when the reference close is 1,500."""
    sl = intent(SBIN, order_type=OrderType.SL, price=D("1500.10"), trigger_price=D("1500.05"))
    with pytest.raises(ValidationError, match=r"trigger_price 1500\.05 .* tick_size 0\.10 \(NSE tick regime from 2025-04-15"):
        validate_intent(sl, SBIN, on=date(2025, 5, 2), reference_price=D("1500"))
    validate_intent(sl, SBIN, on=date(2025, 4, 14), reference_price=D("1500"))  # the day before: ₹0.05


def test_modify_uses_the_order_days_regime():
    """A 2016 order (uniform ₹0.05, NSE circular of 24 May 2024) may move to 1499.05 though INFY lists ₹0.10."""
    day = datetime(2016, 9, 9, 11, 0, tzinfo=IST)
    order = replace(open_order(), placed_at=day, updated_at=day)
    assert modify_order(order, INFY, now=day, price=D("1499.05")).intent.price == D("1499.05")


def test_validate_token_mismatch_raises():
    with pytest.raises(ValidationError, match="token"):
        validate_intent(limit_intent(1), INFY)


# ---- session phase


@pytest.mark.parametrize(
    ("hhmm", "phase"),
    [
        ((8, 59), SessionPhase.CLOSED),
        ((9, 0), SessionPhase.PRE_OPEN),
        ((9, 8), SessionPhase.PRE_OPEN_MATCHING),
        ((9, 15), SessionPhase.NORMAL),
        ((15, 29), SessionPhase.NORMAL),
        ((15, 30), SessionPhase.CLOSING),
        ((15, 40), SessionPhase.POST_CLOSE),
        ((16, 0), SessionPhase.CLOSED),
    ],
)
def test_session_phase_boundaries_match_nse_timings(hhmm, phase):
    assert session_phase(datetime(2025, 1, 6, *hhmm, tzinfo=IST)) is phase


# ---- modify / cancel


def test_modify_open_order_changes_price():
    o = modify_order(open_order(), INFY, now=NOON, price=D("1499.00"))
    assert o.intent.price == D("1499.00") and o.status is OrderStatus.OPEN


def test_modify_limit_to_market_drops_price():
    o = modify_order(open_order(), INFY, now=NOON, order_type=OrderType.MARKET)
    assert o.intent.order_type is OrderType.MARKET and o.intent.price is None


def test_modify_limit_to_sl_becomes_trigger_pending():
    o = modify_order(open_order(), INFY, now=NOON, order_type=OrderType.SL, trigger_price=D("1495.00"))
    assert o.status is OrderStatus.TRIGGER_PENDING


def test_modify_quantity_below_filled_raises():
    o = replace(open_order(), filled_quantity=6, filled_turnover=D("9000"), fill_count=1)
    with pytest.raises(ValidationError, match="already filled"):
        modify_order(o, INFY, now=NOON, quantity=5)


def test_modify_complete_order_raises():
    o = replace(open_order(), status=OrderStatus.COMPLETE)
    with pytest.raises(ValidationError, match="it is COMPLETE"):
        modify_order(o, INFY, now=NOON, price=D("1499.00"))


def test_modify_off_tick_price_raises():
    with pytest.raises(ValidationError, match="tick_size"):
        modify_order(open_order(), INFY, now=NOON, price=D("1499.05"))  # on a ₹0.05 grid, off INFY's ₹0.10


def test_modified_intent_changes_only_given_fields_and_leaves_order_alone():
    o = open_order()
    new = modified_intent(o, INFY, quantity=20)
    assert (new.quantity, new.price, new.order_type) == (20, D("1500.00"), OrderType.LIMIT)
    assert o.intent.quantity == 10


def test_modify_nothing_raises():
    with pytest.raises(ValidationError, match="at least one"):
        modify_order(open_order(), INFY, now=NOON)


def test_cancel_open_order_cancelled():
    assert cancel_order(open_order(), now=NOON).status is OrderStatus.CANCELLED


def test_cancel_cancelled_order_raises():
    o = cancel_order(open_order(), now=NOON)
    with pytest.raises(ValidationError, match="it is CANCELLED"):
        cancel_order(o, now=NOON)


def test_order_average_price_from_turnover():
    o = replace(open_order(), filled_quantity=3, filled_turnover=D("4500.15"), fill_count=2)
    assert o.average_price == D("1500.05") and o.pending_quantity == 7


def test_validity_ioc_value_matches_kite():
    assert Validity.IOC == "IOC" and OrderType.SL_M == "SL-M" and OrderStatus.TRIGGER_PENDING == "TRIGGER PENDING"
