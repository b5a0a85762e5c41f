"""Paper broker: one test per fill rule in core.broker.matching, plus book semantics."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from core.broker import (
    BrokerConfig,
    BrokerState,
    NoOp,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    cancel,
    cancel_all,
    modify,
    process_tick,
    submit,
)
from core.charges import equity_charges, schedule_for
from core.errors import ValidationError
from core.models import DepthLevel, Instrument, Tick
from core.orders import CircuitBand, OrderIntent, OrderStatus, OrderType, Product, Side, Validity
from core.risk import ReasonCode
from core.sessions import SessionPhase
from core.timeutil import IST
from tests.factories import INFY, SBIN, intent

D = Decimal
#: INFY (tick ₹0.10) by default; tests whose prices sit one ₹0.05 tick from a limit, trigger or
#: band, or round to a ₹0.05 tick, trade SBIN (tick ₹0.05).
BY_TOKEN = {inst.instrument_token: inst for inst in (INFY, SBIN)}
T0 = datetime(2025, 1, 6, 10, 0, tzinfo=IST)
T1 = T0 + timedelta(seconds=1)
T2 = T0 + timedelta(seconds=2)


def tick(inst: Instrument, ltp: float, *, bid: float | None = None, ask: float | None = None, qty: int = 1000,
         open_: float = 0.0) -> Tick:
    """A tick for ``inst`` with at most one depth level a side (LTP mode when neither is given);
    unlike ``factories.depth_tick`` the bid and ask are set apart from the LTP, and so is the open."""
    bids = (DepthLevel(bid, qty, 3),) if bid is not None else ()
    asks = (DepthLevel(ask, qty, 3),) if ask is not None else ()
    return Tick(inst.instrument_token, ltp, mode="full" if bids or asks else "ltp", bids=bids, asks=asks,
                open=open_)


def placed(i: OrderIntent, *, at: datetime = T0, phase: SessionPhase = SessionPhase.NORMAL) -> BrokerState:
    """A book holding ``i`` as order ``o1``, submitted against the instrument of its token."""
    state, events = submit(BrokerState(), i, BY_TOKEN[i.instrument_token], order_id="o1", now=at, phase=phase)
    assert isinstance(events[0], OrderAccepted)
    return state


def fills(events) -> list:
    return [e.fill for e in events if isinstance(e, OrderFilled)]


# ---- rule 1: reference price


def test_market_buy_with_depth_fills_at_best_ask():
    _, ev = process_tick(placed(intent()), tick(INFY, 1500.0, bid=1499.9, ask=1500.1), now=T1)
    assert fills(ev)[0].price == D("1500.10")


def test_market_sell_with_depth_fills_at_best_bid():
    _, ev = process_tick(placed(intent(side=Side.SELL)), tick(INFY, 1500.0, bid=1499.9, ask=1500.1), now=T1)
    assert fills(ev)[0].price == D("1499.90")


def test_market_buy_without_depth_fills_at_ltp_plus_slippage_rounded_up_to_tick():
    # 1500 × (1 + 10/10000) = 1501.50 exactly; 1500.02 × 1.001 = 1501.52002 → up to 1501.55
    cfg = BrokerConfig(slippage_bps=D("10"))
    _, ev = process_tick(placed(intent(SBIN)), tick(SBIN, 1500.02), now=T1, config=cfg)
    assert fills(ev)[0].price == D("1501.55")


def test_market_sell_without_depth_fills_at_ltp_minus_slippage_rounded_down_to_tick():
    cfg = BrokerConfig(slippage_bps=D("10"))
    _, ev = process_tick(placed(intent(side=Side.SELL)), tick(INFY, 1500.0), now=T1, config=cfg)
    assert fills(ev)[0].price == D("1498.50")


# ---- rule 2: MARKET on the next tick


def test_market_order_fills_completely_on_next_tick():
    state, ev = process_tick(placed(intent()), tick(INFY, 1500.0), now=T1)
    assert state.get("o1").status is OrderStatus.COMPLETE and fills(ev)[0].quantity == 10


def test_tick_older_than_order_does_not_fill():
    state, ev = process_tick(placed(intent(), at=T1), tick(INFY, 1500.0), now=T0)
    assert ev == () and state.get("o1").status is OrderStatus.OPEN


def test_tick_for_other_instrument_does_not_fill():
    other = Tick(999, 10.0)
    assert process_tick(placed(intent()), other, now=T1)[1] == ()


# ---- rule 3: LIMIT fills only when crossed


def test_limit_buy_with_ask_at_limit_fills_at_ask():
    state = placed(intent(order_type=OrderType.LIMIT, price=D("1500.00")))
    _, ev = process_tick(state, tick(INFY, 1500.5, bid=1499.9, ask=1500.0), now=T1)
    assert fills(ev)[0].price == D("1500.00")


def test_limit_buy_with_ask_below_limit_fills_at_better_ask():
    state = placed(intent(order_type=OrderType.LIMIT, price=D("1500.00")))
    _, ev = process_tick(state, tick(INFY, 1499.0, bid=1498.9, ask=1499.0), now=T1)
    assert fills(ev)[0].price == D("1499.00")


def test_limit_buy_with_ask_above_limit_does_not_fill():
    state = placed(intent(SBIN, order_type=OrderType.LIMIT, price=D("1500.00")))
    _, ev = process_tick(state, tick(SBIN, 1500.0, bid=1500.0, ask=1500.05), now=T1)  # ask one tick above
    assert ev == ()


def test_limit_buy_ltp_touch_without_depth_does_not_fill():
    state = placed(intent(order_type=OrderType.LIMIT, price=D("1500.00")))
    assert process_tick(state, tick(INFY, 1500.0), now=T1)[1] == ()


def test_limit_buy_ltp_through_limit_fills_at_slipped_ltp_capped_by_limit():
    state = placed(intent(SBIN, order_type=OrderType.LIMIT, price=D("1500.00")))
    _, ev = process_tick(state, tick(SBIN, 1499.95), now=T1, config=BrokerConfig(slippage_bps=D("10")))
    assert fills(ev)[0].price == D("1500.00")  # 1499.95 × 1.001 = 1501.45 → capped at 1500


def test_limit_sell_ltp_through_limit_fills_at_ltp_without_slippage():
    state = placed(intent(side=Side.SELL, order_type=OrderType.LIMIT, price=D("1500.00")))
    _, ev = process_tick(state, tick(INFY, 1502.0), now=T1)
    assert fills(ev)[0].price == D("1502.00")


# ---- rules 4 and 5: stops


def test_sl_buy_below_trigger_stays_trigger_pending():
    state = placed(intent(SBIN, order_type=OrderType.SL, price=D("1510.00"), trigger_price=D("1505.00")))
    state, ev = process_tick(state, tick(SBIN, 1504.95), now=T1)  # one tick below the trigger
    assert ev == () and state.get("o1").status is OrderStatus.TRIGGER_PENDING


def test_sl_buy_triggers_then_fills_as_limit_same_tick():
    state = placed(intent(order_type=OrderType.SL, price=D("1510.00"), trigger_price=D("1505.00")))
    _, ev = process_tick(state, tick(INFY, 1505.0), now=T1)
    assert isinstance(ev[0], OrderTriggered) and fills(ev)[0].price == D("1505.00")


def test_sl_buy_triggered_but_above_limit_rests_open():
    state = placed(intent(order_type=OrderType.SL, price=D("1510.00"), trigger_price=D("1505.00")))
    state, ev = process_tick(state, tick(INFY, 1515.0), now=T1)
    assert [type(e) for e in ev] == [OrderTriggered] and state.get("o1").status is OrderStatus.OPEN


def test_slm_sell_triggers_at_or_below_trigger_and_fills_as_market():
    state = placed(intent(side=Side.SELL, order_type=OrderType.SL_M, trigger_price=D("1490.00")))
    _, ev = process_tick(state, tick(INFY, 1490.0, bid=1489.8, ask=1490.1), now=T1)
    assert fills(ev)[0].price == D("1489.80")


# ---- rule 6: IOC


def test_ioc_limit_not_crossed_is_cancelled_after_first_tick():
    state = placed(intent(order_type=OrderType.LIMIT, price=D("1500.00"), validity=Validity.IOC))
    state, ev = process_tick(state, tick(INFY, 1501.0), now=T1)
    assert isinstance(ev[-1], OrderCancelled) and state.get("o1").status is OrderStatus.CANCELLED


def test_ioc_partial_fill_cancels_remainder():
    state = placed(intent(validity=Validity.IOC))
    state, _ = process_tick(state, tick(INFY, 1500.0, bid=1499.9, ask=1500.1, qty=4), now=T1,
                            config=BrokerConfig(partial_fills=True))
    order = state.get("o1")
    assert (order.filled_quantity, order.status) == (4, OrderStatus.CANCELLED)


# ---- rule 7: partial fills


def test_partial_fill_limited_by_best_level_quantity():
    state, ev = process_tick(placed(intent()), tick(INFY, 1500.0, ask=1500.1, bid=1499.9, qty=4), now=T1,
                        config=BrokerConfig(partial_fills=True))
    assert fills(ev)[0].quantity == 4 and state.get("o1").status is OrderStatus.OPEN


def test_partial_fill_remainder_fills_on_next_tick_with_next_sequence():
    cfg = BrokerConfig(partial_fills=True)
    state, _ = process_tick(placed(intent()), tick(INFY, 1500.0, ask=1500.1, bid=1499.9, qty=4), now=T1, config=cfg)
    state, ev = process_tick(state, tick(INFY, 1500.0, ask=1500.2, bid=1499.9, qty=100), now=T2, config=cfg)
    f = fills(ev)[0]
    assert (f.quantity, f.seq, f.fill_id) == (6, 2, "o1-2") and state.get("o1").status is OrderStatus.COMPLETE


def test_partial_fills_off_fills_whole_quantity_despite_depth():
    _, ev = process_tick(placed(intent()), tick(INFY, 1500.0, ask=1500.1, bid=1499.9, qty=4), now=T1)
    assert fills(ev)[0].quantity == 10


# ---- rule 8: pre-open


def test_pre_open_market_order_fills_at_open_of_first_normal_tick():
    state = placed(intent(), at=datetime(2025, 1, 6, 9, 5, tzinfo=IST), phase=SessionPhase.PRE_OPEN)
    _, ev = process_tick(state, tick(INFY, 1512.0, bid=1511.9, ask=1512.1, open_=1510.0), now=datetime(2025, 1, 6, 9, 15, tzinfo=IST))
    assert fills(ev)[0].price == D("1510.00")


def test_pre_open_order_does_not_fill_on_pre_open_matching_tick():
    state = placed(intent(), at=datetime(2025, 1, 6, 9, 5, tzinfo=IST), phase=SessionPhase.PRE_OPEN)
    _, ev = process_tick(state, tick(INFY, 1510.0, open_=1510.0), now=datetime(2025, 1, 6, 9, 10, tzinfo=IST),
                    phase=SessionPhase.PRE_OPEN_MATCHING)
    assert ev == ()


def test_pre_open_limit_above_open_fills_at_open():
    state = placed(intent(order_type=OrderType.LIMIT, price=D("1515.00")), at=datetime(2025, 1, 6, 9, 5, tzinfo=IST),
                   phase=SessionPhase.PRE_OPEN)
    _, ev = process_tick(state, tick(INFY, 1511.0, open_=1510.0), now=datetime(2025, 1, 6, 9, 15, tzinfo=IST))
    assert fills(ev)[0].price == D("1510.00")


def test_pre_open_limit_below_open_rests_as_normal_order():
    state = placed(intent(order_type=OrderType.LIMIT, price=D("1500.00")), at=datetime(2025, 1, 6, 9, 5, tzinfo=IST),
                   phase=SessionPhase.PRE_OPEN)
    state, ev = process_tick(state, tick(INFY, 1511.0, open_=1510.0), now=datetime(2025, 1, 6, 9, 15, tzinfo=IST))
    order = state.get("o1")
    assert ev == () and order.is_open and not order.queued_for_open


# ---- rule 9: circuit


def test_fill_price_outside_circuit_does_not_fill():
    band = CircuitBand(D("1400.00"), D("1500.00"))
    state, ev = process_tick(placed(intent(SBIN)), tick(SBIN, 1500.0, bid=1499.9, ask=1500.05), now=T1,
                             circuit=band)  # best ask one tick above the upper band
    assert ev == () and state.get("o1").is_open


# ---- rule 10: phase


def test_tick_in_closing_session_does_not_fill():
    assert process_tick(placed(intent()), tick(INFY, 1500.0), now=T1, phase=SessionPhase.CLOSING)[1] == ()


# ---- charges and idempotency keys


def test_fill_carries_charges_for_its_date_and_product():
    _, ev = process_tick(placed(intent(qty=100)), tick(INFY, 1000.0), now=T1)
    expected = equity_charges(Side.BUY, Product.MIS, 100, D("1000.00"), schedule_for(T1.date()))
    assert fills(ev)[0].charges == expected


def test_fill_id_is_order_id_and_sequence():
    _, ev = process_tick(placed(intent(trace_id="tr-1")), tick(INFY, 1500.0), now=T1)
    f = fills(ev)[0]
    assert (f.fill_id, f.seq, f.trace_id) == ("o1-1", 1, "tr-1")


def test_replayed_tick_after_complete_does_not_fill_again():
    state, _ = process_tick(placed(intent()), tick(INFY, 1500.0), now=T1)
    assert process_tick(state, tick(INFY, 1500.0), now=T1)[1] == ()


def test_on_tick_is_deterministic():
    state = placed(intent())
    assert process_tick(state, tick(INFY, 1500.0), now=T1) == process_tick(state, tick(INFY, 1500.0), now=T1)


# ---- book: submit / modify / cancel


def test_submit_duplicate_order_id_is_noop():
    state = placed(intent())
    again, ev = submit(state, intent(), INFY, order_id="o1", now=T1, phase=SessionPhase.NORMAL)
    assert again is state and isinstance(ev[0], NoOp)


def test_submit_refused_leaves_book_unchanged():
    state = BrokerState()
    after, ev = submit(state, intent(), INFY, order_id="o1", now=T0, phase=SessionPhase.CLOSED)
    assert after == state and isinstance(ev[0], OrderRejected)
    assert ev[0].reasons == (ReasonCode.MARKET_CLOSED,) and ev[0].order.status is OrderStatus.REJECTED


def test_submit_bad_tick_price_raises():
    with pytest.raises(ValidationError, match="tick_size"):
        submit(BrokerState(), intent(order_type=OrderType.LIMIT, price=D("1500.05")), INFY, order_id="o1", now=T0,
               phase=SessionPhase.NORMAL)


def test_modify_filled_order_raises():
    state, _ = process_tick(placed(intent()), tick(INFY, 1500.0), now=T1)
    with pytest.raises(ValidationError, match="it is COMPLETE"):
        modify(state, "o1", INFY, now=T2, quantity=20)


def test_cancel_unknown_order_raises():
    with pytest.raises(ValidationError, match="unknown order_id"):
        cancel(BrokerState(), "nope", now=T0)


def test_cancel_all_cancels_open_orders():
    state, ev = cancel_all(placed(intent(order_type=OrderType.LIMIT, price=D("1400.00"))), now=T1)
    assert state.get("o1").status is OrderStatus.CANCELLED and isinstance(ev[0], OrderCancelled)


def test_cancel_all_with_nothing_open_is_noop():
    assert isinstance(cancel_all(BrokerState(), now=T1)[1][0], NoOp)


def test_negative_slippage_raises():
    with pytest.raises(ValidationError, match="slippage_bps"):
        BrokerConfig(slippage_bps=D("-1"))


def test_book_mapping_is_read_only():
    state = placed(intent())
    with pytest.raises(TypeError, match="immutable"):
        state.orders["o2"] = state.get("o1")  # type: ignore[index]


def test_book_survives_pickle_roundtrip():
    import pickle

    state = placed(intent())
    assert pickle.loads(pickle.dumps(state)) == state


# ---- rule 11: market protection (Kite API from 2026-04-01) and rule 12: post-close

P0 = datetime(2026, 6, 1, 10, 0, tzinfo=IST)  # a Monday after Kite's 1 Apr 2026 rule
P1 = P0 + timedelta(seconds=1)
P2 = P0 + timedelta(seconds=2)
PARTIAL = BrokerConfig(partial_fills=True)


def book_tick(inst: Instrument, ltp: float, *, asks=(), bids=()) -> Tick:
    """A full tick with the given ``(price, quantity)`` levels, best first."""
    return Tick(inst.instrument_token, ltp, mode="full",
                asks=tuple(DepthLevel(p, q, 1) for p, q in asks), bids=tuple(DepthLevel(p, q, 1) for p, q in bids))


def placed_at(i: OrderIntent, at: datetime, *, ltp: Decimal | None = None,
              phase: SessionPhase = SessionPhase.NORMAL) -> BrokerState:
    state, events = submit(BrokerState(), i, BY_TOKEN[i.instrument_token], order_id="o1", now=at, phase=phase,
                           ltp=ltp)
    assert isinstance(events[0], OrderAccepted), events
    return state


def test_market_buy_through_thin_book_fills_to_protection_price_and_rests_the_rest():
    """Kite market protection (kite.trade forum 15912, comment 52940): LTP ₹1,000 above ₹500 →
    0.5% → protection ₹1,005.00; the asks at ₹1,001 and ₹1,004 (5 + 5) fill, priced at the worst
    level taken, ₹1,006 is beyond the band, and the other 10 shares rest as a LIMIT at ₹1,005."""
    state = placed_at(intent(qty=20), P0, ltp=D("1000"))
    assert state.get("o1").protection_price == D("1005.00")
    state, ev = process_tick(state, book_tick(INFY, 1000.0, asks=((1001.0, 5), (1004.0, 5), (1006.0, 100))),
                             now=P1, config=PARTIAL)
    assert [(f.quantity, f.price) for f in fills(ev)] == [(10, D("1004.00"))]
    order = state.get("o1")
    assert order.status is OrderStatus.OPEN and order.pending_quantity == 10
    state, ev = process_tick(state, book_tick(INFY, 1006.0, asks=((1006.0, 100),)), now=P2, config=PARTIAL)
    assert fills(ev) == [] and state.get("o1").pending_quantity == 10
    state, ev = process_tick(state, book_tick(INFY, 1005.0, asks=((1005.0, 100),)), now=P2 + timedelta(seconds=1),
                             config=PARTIAL)
    assert [(f.quantity, f.price) for f in fills(ev)] == [(10, D("1005.00"))]
    assert state.get("o1").status is OrderStatus.COMPLETE


def test_market_sell_without_depth_does_not_fill_below_protection():
    """Kite market protection (kite.trade forum 15912): LTP ₹200 → 1% → SELL no lower than ₹198;
    a gap to ₹197 leaves it resting, ₹198.50 fills there."""
    state = placed_at(intent(SBIN, side=Side.SELL), P0, ltp=D("200"))
    assert state.get("o1").protection_price == D("198.00")
    state, ev = process_tick(state, tick(SBIN, 197.0), now=P1)
    assert fills(ev) == [] and state.get("o1").is_open
    state, ev = process_tick(state, tick(SBIN, 198.5), now=P2)
    assert fills(ev)[0].price == D("198.50")


def test_market_without_ltp_at_submit_is_protected_from_first_tick():
    """Kite market protection (kite.trade forum 15912): the band is taken from the LTP; when
    the order was placed without one, the first tick's LTP (₹50 → 2% → ₹51.00) sets it."""
    state = placed_at(intent(SBIN), P0)
    assert state.get("o1").protection_price is None
    state, ev = process_tick(state, book_tick(SBIN, 50.0, asks=((51.05, 100),)), now=P1)
    assert fills(ev) == [] and state.get("o1").protection_price == D("51.00")


def test_explicit_market_protection_is_honoured():
    """Kite: a positive market_protection is the protection percent (kite.trade forum comment
    52940). 2% of ₹1,000 allows a BUY up to ₹1,020: the ₹1,015 ask fills (automatic 0.5% would not)."""
    state = placed_at(intent(market_protection=D(2)), P0, ltp=D("1000"))
    assert state.get("o1").protection_price == D("1020.00")
    _, ev = process_tick(state, book_tick(INFY, 1000.0, asks=((1015.0, 100),)), now=P1)
    assert fills(ev)[0].price == D("1015.00")
    auto = placed_at(intent(), P0, ltp=D("1000"))
    _, ev = process_tick(auto, book_tick(INFY, 1000.0, asks=((1015.0, 100),)), now=P1)
    assert fills(ev) == []


def test_sl_m_triggered_is_protected_from_the_triggering_ltp():
    """Kite market protection applies to SL-M (kite.trade forum comment 52940): a SELL SL-M
    triggered at LTP ₹989 gets 989 × 0.995 = ₹984.055 → up to ₹984.10; the ₹980 bid is refused
    and the order rests OPEN; a ₹985 bid fills."""
    slm = intent(side=Side.SELL, order_type=OrderType.SL_M, trigger_price=D("990"))
    state = placed_at(slm, P0, ltp=D("1000"))
    assert state.get("o1").protection_price is None  # set at the trigger, not at placement
    state, ev = process_tick(state, book_tick(INFY, 989.0, bids=((980.0, 100),)), now=P1)
    assert any(isinstance(e, OrderTriggered) for e in ev) and fills(ev) == []
    order = state.get("o1")
    assert order.status is OrderStatus.OPEN and order.protection_price == D("984.10")
    state, ev = process_tick(state, book_tick(INFY, 986.0, bids=((985.0, 100),)), now=P2)
    assert fills(ev)[0].price == D("985.00")


def test_protected_ioc_cancels_the_unfilled_rest():
    """Kite market protection (kite.trade forum 15912) with IOC validity: what the band allows
    fills, the remainder is cancelled rather than resting."""
    state = placed_at(intent(qty=20, validity=Validity.IOC), P0, ltp=D("1000"))
    state, ev = process_tick(state, book_tick(INFY, 1000.0, asks=((1001.0, 5), (1010.0, 100))), now=P1,
                             config=PARTIAL)
    assert [f.quantity for f in fills(ev)] == [5]
    assert state.get("o1").status is OrderStatus.CANCELLED


def test_before_2026_04_01_market_fills_at_any_price():
    """Before Kite's 1 Apr 2026 market protection (kite.trade forum 15912) behaviour is
    unchanged: a MARKET buy placed at LTP ₹1,000 fills at a ₹1,100 ask."""
    state = placed_at(intent(), T0, ltp=D("1000"))
    assert state.get("o1").protection_price is None
    _, ev = process_tick(state, book_tick(INFY, 1100.0, asks=((1100.0, 100),)), now=T1)
    assert fills(ev)[0].price == D("1100.00")


def test_post_close_limit_is_refused_with_the_rule_named():
    """NSE post-close 15:40–16:00 (indian-market.md §1): MARKET orders only; a CNC LIMIT is
    refused and the book stays empty."""
    state, ev = submit(BrokerState(), intent(product=Product.CNC, order_type=OrderType.LIMIT, price=D("1000")),
                       INFY, order_id="o1", now=datetime(2026, 6, 1, 15, 45, tzinfo=IST),
                       phase=SessionPhase.POST_CLOSE)
    assert isinstance(ev[0], OrderRejected) and ev[0].reasons == (ReasonCode.POST_CLOSE_MARKET_ONLY,)
    assert state.orders == {}


def test_post_close_market_fills_at_the_closing_price():
    """NSE post-close (indian-market.md §1): a CNC MARKET order fills at the day's closing
    price, whole, without slippage or protection."""
    at = datetime(2026, 6, 1, 15, 45, tzinfo=IST)
    state = placed_at(intent(product=Product.CNC, qty=7), at, ltp=D("1000"), phase=SessionPhase.POST_CLOSE)
    assert state.get("o1").protection_price is None
    state, ev = process_tick(state, tick(INFY, 1003.0, ask=1003.5), now=at + timedelta(seconds=5),
                             phase=SessionPhase.POST_CLOSE, closing_price=D("1002.35"),
                             config=BrokerConfig(slippage_bps=D(50)))
    assert [(f.quantity, f.price) for f in fills(ev)] == [(7, D("1002.35"))]
    assert state.get("o1").status is OrderStatus.COMPLETE


def test_post_close_without_official_close_fills_at_the_last_traded_price():
    """NSE post-close (indian-market.md §1): without the official close passed in, the tick's
    LTP (the last trade, ₹1,001.20) stands for it."""
    at = datetime(2026, 6, 1, 15, 50, tzinfo=IST)
    state = placed_at(intent(product=Product.CNC), at, phase=SessionPhase.POST_CLOSE)
    _, ev = process_tick(state, tick(INFY, 1001.2), now=at + timedelta(seconds=1), phase=SessionPhase.POST_CLOSE)
    assert fills(ev)[0].price == D("1001.20")


def test_post_close_tick_does_not_fill_normal_session_orders():
    """NSE post-close fills only post-close MARKET orders at the close (indian-market.md §1);
    a resting normal-session LIMIT is untouched."""
    state = placed_at(intent(order_type=OrderType.LIMIT, price=D("1010")), P0)
    state2, ev = process_tick(state, tick(INFY, 1000.0), now=datetime(2026, 6, 1, 15, 45, tzinfo=IST),
                              phase=SessionPhase.POST_CLOSE, closing_price=D("1000"))
    assert ev == () and state2 == state


def test_ioc_in_pre_open_is_refused_with_the_rule_named():
    """NSE pre-open 09:00–09:08 (indian-market.md §1, support.geojit.com): no IOC."""
    state, ev = submit(BrokerState(), intent(validity=Validity.IOC), INFY, order_id="o1",
                       now=datetime(2026, 6, 1, 9, 3, tzinfo=IST), phase=SessionPhase.PRE_OPEN)
    assert isinstance(ev[0], OrderRejected) and ev[0].reasons == (ReasonCode.PRE_OPEN_IOC,)
    assert "IOC" in ev[0].messages[0] and state.orders == {}
