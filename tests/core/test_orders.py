"""Orders: intent validation, admission (session, cut-off, circuit, holdings), modify/cancel."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time
from decimal import Decimal

import pytest

from core.errors import ValidationError
from core.models import Instrument
from core.orders import (
    Admission,
    CircuitBand,
    Order,
    OrderIntent,
    OrderReason,
    OrderStatus,
    OrderType,
    Product,
    Side,
    Validity,
    admit,
    cancel_order,
    modify_order,
    price_from_float,
    round_to_tick,
    session_phase,
    validate_intent,
)
from core.sessions import SessionPhase
from core.timeutil import IST

D = Decimal
INFY = Instrument(408065, 1594, "INFY", "INFOSYS", "NSE", "NSE", "EQ", D("0.05"), 1)
NIFTY = Instrument(256265, 1001, "NIFTY 50", "NIFTY 50", "NSE", "INDICES", "EQ", D("0"), 0)
LOT25 = Instrument(111, 1, "LOTTY", "LOTTY", "NSE", "NSE", "EQ", D("0.05"), 25)
NOON = datetime(2025, 1, 6, 12, 0, tzinfo=IST)


def intent(**kw) -> OrderIntent:
    base = dict(
        instrument_token=408065,
        tradingsymbol="INFY",
        side=Side.BUY,
        quantity=10,
        product=Product.MIS,
        order_type=OrderType.LIMIT,
        price=D("1500.00"),
    )
    base.update(kw)
    return OrderIntent(**base)


def open_order(**kw) -> Order:
    return Order("o1", intent(**kw), OrderStatus.OPEN, NOON, NOON, D("0.05"))


def admit_at(i: OrderIntent, when: datetime = NOON, phase: SessionPhase = SessionPhase.NORMAL, **kw):
    return admit(i, INFY, now=when, phase=phase, **kw)


# ---- money helpers


def test_price_from_float_rounds_via_paise():
    assert price_from_float(1234.549999) == D("1234.55")


def test_price_from_float_nan_raises():
    with pytest.raises(ValidationError):
        price_from_float(float("nan"))


def test_round_to_tick_up_and_down_land_on_tick():
    assert round_to_tick(D("100.01"), D("0.05"), up=True) == D("100.05")
    assert round_to_tick(D("100.04"), D("0.05"), up=False) == D("100.00")


# ---- intent construction


def test_intent_zero_quantity_raises():
    with pytest.raises(ValidationError, match="quantity"):
        intent(quantity=0)


def test_intent_float_price_raises():
    with pytest.raises(ValidationError, match="price"):
        intent(price=1500.0)


def test_intent_limit_without_price_raises():
    with pytest.raises(ValidationError, match="need a price"):
        intent(price=None)


def test_intent_market_with_price_raises():
    with pytest.raises(ValidationError, match="take no price"):
        intent(order_type=OrderType.MARKET)


def test_intent_sl_without_trigger_raises():
    with pytest.raises(ValidationError, match="trigger_price"):
        intent(order_type=OrderType.SL)


def test_intent_slm_needs_trigger_only():
    i = intent(order_type=OrderType.SL_M, price=None, trigger_price=D("1510.00"))
    assert i.trigger_price == D("1510.00") and i.price is None


def test_intent_buy_sl_trigger_above_price_raises():
    with pytest.raises(ValidationError, match="BUY SL needs trigger_price <= price"):
        intent(order_type=OrderType.SL, price=D("1500.00"), trigger_price=D("1505.00"))


def test_intent_sell_sl_trigger_below_price_raises():
    with pytest.raises(ValidationError, match="SELL SL needs trigger_price >= price"):
        intent(side=Side.SELL, order_type=OrderType.SL, price=D("1500.00"), trigger_price=D("1495.00"))


# ---- validate against the instrument


def test_validate_index_not_tradable_raises():
    with pytest.raises(ValidationError, match="index"):
        validate_intent(intent(instrument_token=256265, tradingsymbol="NIFTY 50"), NIFTY)


def test_validate_quantity_not_lot_multiple_raises():
    with pytest.raises(ValidationError, match="lot_size 25"):
        validate_intent(intent(instrument_token=111, tradingsymbol="LOTTY", quantity=30), LOT25)


def test_validate_price_off_tick_raises_and_suggests_neighbours():
    with pytest.raises(ValidationError, match="1500.00 or 1500.05"):
        validate_intent(intent(price=D("1500.02")), INFY)


def test_validate_token_mismatch_raises():
    with pytest.raises(ValidationError, match="token"):
        validate_intent(intent(instrument_token=1), INFY)


def test_validate_buy_stop_trigger_below_ltp_raises():
    i = intent(order_type=OrderType.SL_M, price=None, trigger_price=D("1490.00"))
    with pytest.raises(ValidationError, match="above the LTP"):
        validate_intent(i, INFY, ltp=D("1495.00"))


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


# ---- admission


def test_admit_normal_session_limit_accepted():
    assert admit_at(intent()) == Admission(True)


def test_admit_pre_open_limit_queued_for_open():
    a = admit_at(intent(), datetime(2025, 1, 6, 9, 3, tzinfo=IST), SessionPhase.PRE_OPEN)
    assert a.accepted and a.queued_for_open


def test_admit_pre_open_stop_refused():
    i = intent(order_type=OrderType.SL_M, price=None, trigger_price=D("1510.00"))
    a = admit_at(i, datetime(2025, 1, 6, 9, 3, tzinfo=IST), SessionPhase.PRE_OPEN)
    assert a.reasons == (OrderReason.PRE_OPEN_ORDER_TYPE,)


def test_admit_pre_open_matching_refused():
    a = admit_at(intent(), datetime(2025, 1, 6, 9, 10, tzinfo=IST), SessionPhase.PRE_OPEN_MATCHING)
    assert not a.accepted and a.reasons == (OrderReason.PRE_OPEN_MATCHING,)


def test_admit_closed_refused():
    assert admit_at(intent(), phase=SessionPhase.CLOSED).reasons == (OrderReason.MARKET_CLOSED,)


def test_admit_post_close_mis_refused():
    assert admit_at(intent(), phase=SessionPhase.POST_CLOSE).reasons == (OrderReason.POST_CLOSE_CNC_ONLY,)


def test_admit_mis_entry_at_cutoff_refused():
    a = admit_at(intent(), datetime(2025, 1, 6, 15, 20, tzinfo=IST))
    assert a.reasons == (OrderReason.MIS_CUTOFF,)


def test_admit_mis_exit_after_cutoff_accepted():
    a = admit_at(intent(side=Side.SELL), datetime(2025, 1, 6, 15, 25, tzinfo=IST), position_quantity=10)
    assert a.accepted


def test_admit_mis_entry_before_configured_cutoff_accepted():
    a = admit_at(intent(), datetime(2025, 1, 6, 15, 20, tzinfo=IST), square_off_cutoff=time(15, 25))
    assert a.accepted


def test_admit_price_above_upper_circuit_refused():
    a = admit_at(intent(price=D("1650.00")), circuit=CircuitBand(D("1350.00"), D("1649.95")))
    assert a.reasons == (OrderReason.OUTSIDE_CIRCUIT,)


def test_admit_cnc_sell_without_holdings_refused():
    a = admit_at(intent(side=Side.SELL, product=Product.CNC), holding_quantity=5)
    assert a.reasons == (OrderReason.INSUFFICIENT_HOLDINGS,)


def test_admit_mis_short_sell_accepted():
    assert admit_at(intent(side=Side.SELL)).accepted


def test_admit_collects_every_reason():
    i = intent(side=Side.SELL, product=Product.CNC, price=D("2000.00"))
    a = admit_at(i, phase=SessionPhase.CLOSED, circuit=CircuitBand(D("1000.00"), D("1900.00")))
    assert a.reasons == (OrderReason.MARKET_CLOSED, OrderReason.OUTSIDE_CIRCUIT, OrderReason.INSUFFICIENT_HOLDINGS)


def test_admit_naive_time_raises():
    with pytest.raises(ValidationError, match="timezone-aware"):
        admit(intent(), INFY, now=datetime(2025, 1, 6, 12), phase=SessionPhase.NORMAL)


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
        modify_order(open_order(), INFY, now=NOON, price=D("1499.01"))


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
