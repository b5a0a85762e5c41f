"""Exit rules (core.exits): one test per rule, plus the bad-input table (nothing is created)."""

from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest

from core.errors import ValidationError
from core.exits import (
    Cancel,
    ExitPlan,
    GroupStatus,
    GttLeg,
    GttStatus,
    GttType,
    LegKind,
    Move,
    Place,
    Resize,
    TrailKind,
    Trailing,
    cancel,
    create_gtt,
    evaluate,
    move,
    new_group,
    on_entry_fill,
    on_exit_closed,
    on_exit_fill,
    on_position,
    trail,
)
from core.orders import OrderType, Product, Side
from core.timeutil import IST

T0 = datetime(2016, 8, 17, 10, 0, tzinfo=IST)
TICK = D("0.05")


def group(side=Side.BUY, stop=D("990"), target=D("1020"), trailing=None, **kw):
    plan = ExitPlan(side, stop=stop, target=target, trailing=trailing, **kw)
    return new_group("XG1", plan, instrument_token=408065, tradingsymbol="INFY", product=Product.MIS,
                     tick_size=TICK, trace_id="T-1")


def active(qty=10, **kw):
    g, actions = on_entry_fill(group(**kw), qty, D("1000"))
    return g, actions


def test_entry_fill_places_both_exits_sized_to_the_filled_quantity():
    g, actions = on_entry_fill(group(), 6, D("1000"))
    assert g.status is GroupStatus.ACTIVE
    assert [type(a) for a in actions] == [Place, Place]
    stop, target = (a.intent for a in actions)
    assert (stop.side, stop.order_type, stop.trigger_price, stop.quantity) == (Side.SELL, OrderType.SL_M, D("990"), 6)
    assert (target.side, target.order_type, target.price, target.quantity) == (Side.SELL, OrderType.LIMIT, D("1020"), 6)
    assert stop.tag == target.tag == "EXIT" and stop.trace_id == "T-1"
    g2, more = on_entry_fill(g, 10, D("1000"))  # the rest of the entry fills: both exits grow
    assert more == [Resize(LegKind.STOP, "XG1-S", 10), Resize(LegKind.TARGET, "XG1-T", 10)]
    assert g2.open_quantity == 10


def test_target_fill_cancels_the_stop_oco():
    g, _ = active()
    g, actions = on_exit_fill(g, "XG1-T", 10)
    assert actions == [Cancel(LegKind.STOP, "XG1-S", "the position is closed (one-cancels-other)")]
    assert g.status is GroupStatus.DONE and g.open_quantity == 0
    assert on_exit_fill(g, "XG1-S", 10) == (g, [])  # a late stop fill changes nothing


def test_partial_exit_fill_resizes_the_other_to_the_remaining_position():
    g, _ = active()
    g, actions = on_exit_fill(g, "XG1-S", 4)
    assert actions == [Resize(LegKind.TARGET, "XG1-T", 6)]  # 0 filled + 6 still open
    assert g.status is GroupStatus.ACTIVE and g.open_quantity == 6
    g, actions = on_exit_fill(g, "XG1-T", 2)
    assert actions == [Resize(LegKind.STOP, "XG1-S", 8)]  # 4 filled + 4 still open
    g, actions = on_exit_fill(g, "XG1-S", 8)
    assert actions == [Cancel(LegKind.TARGET, "XG1-T", "the position is closed (one-cancels-other)")]
    assert g.status is GroupStatus.DONE


@pytest.mark.parametrize("side,prices,expected", [
    (Side.BUY, ["1000", "1010", "1005", "995", "1012.37"], ["1000", "1002.30", "1002.30", "1002.30", "1004.65"]),
    (Side.SELL, ["1000", "990", "995", "1005", "987.63"], ["1015", "997.70", "997.70", "997.70", "995.35"]),
])
def test_trailing_stop_moves_only_in_the_traders_favour(side, prices, expected):
    stop, target = (D("985"), D("1050")) if side is Side.BUY else (D("1015"), D("950"))
    g, _ = active(side=side, stop=stop, target=target, trailing=Trailing(TrailKind.RUPEES, D("7.7")))
    seen = []
    for p in prices:
        g, actions = trail(g, D(p))
        seen.append(str(g.stop_trigger))
        for a in actions:
            assert isinstance(a, Move) and a.key == "XG1-S" and a.trigger_price == g.stop_trigger
    # BUY: 1000-7.7=992.30 ≤ 985? no: 992.30 > 985 moves; SELL mirrors; never back
    assert seen[1:] == expected[1:]
    assert seen[0] == str(D("992.30") if side is Side.BUY else D("1007.70"))
    steps = [D(s) for s in seen]
    assert steps == (sorted(steps) if side is Side.BUY else sorted(steps, reverse=True))


def test_trailing_by_percent_and_atr_rounds_away_from_the_price():
    g, _ = active(stop=D("950"), trailing=Trailing(TrailKind.PERCENT, D("1.5")))
    g, [m] = trail(g, D("1003.33"))  # 1003.33 × 0.985 = 988.28 → 988.25 (down)
    assert m.trigger_price == D("988.25")
    g, _ = active(stop=D("950"), trailing=Trailing(TrailKind.ATR, D("2"), atr=D("4.13")))
    g, [m] = trail(g, D("1001"))  # 1001 − 8.26 = 992.74 → 992.70
    assert m.trigger_price == D("992.70")


def test_trailing_sl_moves_its_limit_with_the_trigger():
    g, _ = active(stop=D("990"), stop_type=OrderType.SL, stop_limit=D("989"),
                  trailing=Trailing(TrailKind.RUPEES, D("5")))
    g, [m] = trail(g, D("1000"))
    assert (m.trigger_price, m.price) == (D("995"), D("994"))


def test_cancel_for_square_off_cancels_open_exits_first():
    g, _ = active()
    g, _ = on_exit_fill(g, "XG1-S", 3)
    g, actions = cancel(g, "MIS square-off")
    assert actions == [Cancel(LegKind.STOP, "XG1-S", "MIS square-off"),
                       Cancel(LegKind.TARGET, "XG1-T", "MIS square-off")]
    assert g.status is GroupStatus.CANCELLED
    assert cancel(g, "again") == (g, [])
    assert on_entry_fill(g, 20, D("1000")) == (g, [])  # nothing is re-placed


def test_exit_cancelled_elsewhere_drops_the_leg_and_keeps_the_other():
    g, _ = active()
    g, _ = on_exit_closed(g, "XG1-S", "cancelled by trader")
    assert g.stop.key is None and g.take.key == "XG1-T" and g.status is GroupStatus.ACTIVE
    g, actions = on_exit_fill(g, "XG1-T", 10)
    assert actions == [] and g.status is GroupStatus.DONE


def test_position_closed_elsewhere_resizes_then_cancels_and_a_reversal_counts_as_flat():
    g, _ = active()
    assert on_position(g, 10) == (g, []) and on_position(g, 12) == (g, [])  # the exits cover no more
    g, actions = on_position(g, 6)  # a manual SELL of 4
    assert actions == [Resize(LegKind.STOP, "XG1-S", 6), Resize(LegKind.TARGET, "XG1-T", 6)]
    assert (g.open_quantity, g.closed_elsewhere, g.status) == (6, 4, GroupStatus.ACTIVE)
    g, actions = on_position(g, -5)  # sold 11 more: short 5, nothing left to protect
    assert [type(a) for a in actions] == [Cancel, Cancel] and g.status is GroupStatus.CANCELLED
    assert g.open_quantity == 0 and "closed by another order" in g.message
    assert on_position(g, 0) == (g, [])  # over: a no-op
    again, more = on_entry_fill(g, 20, D("1000"))  # a later fill of the entry does not re-open it
    assert (again, more) == (g, [])


def test_move_checks_sides_and_moves_the_sl_limit():
    g, _ = active()
    g2, actions = move(g, ltp=D("1001"), stop=D("995"), target=D("1030"))
    assert actions == [Move(LegKind.STOP, "XG1-S", trigger_price=D("995")),
                       Move(LegKind.TARGET, "XG1-T", price=D("1030"))]
    assert (g2.stop_trigger, g2.target) == (D("995"), D("1030"))
    for kw, msg in [(dict(stop=D("1002")), "stay below the LTP"), (dict(target=D("1000")), "stay above the LTP"),
                    (dict(stop=D("995.03")), "tick size"), (dict(), "give a new stop")]:
        with pytest.raises(ValidationError, match=msg):
            move(g, ltp=D("1001"), **kw)


def test_gtt_two_leg_triggers_on_ltp_once_and_places_a_limit():
    gtt = create_gtt("G1", instrument_token=408065, tradingsymbol="INFY", side=Side.SELL, quantity=5,
                     legs=(GttLeg(D("1050"), D("1050")), GttLeg(D("980"), D("975"))), last_price=D("1000"),
                     tick_size=TICK, created_at=T0)
    assert gtt.kind is GttType.OCO and gtt.legs[0].trigger == D("980")  # sorted lower first
    assert gtt.expires_at == T0 + timedelta(days=365)
    assert evaluate(gtt, D("990"), T0) == (gtt, None)
    fired, leg = evaluate(gtt, D("979.95"), T0 + timedelta(minutes=5))
    assert (fired.status, leg) == (GttStatus.TRIGGERED, 0)
    order = fired.order_for(leg, "EXIT")
    assert (order.order_type, order.price, order.product, order.quantity) == (OrderType.LIMIT, D("975"), Product.CNC, 5)
    assert evaluate(fired, D("1100"), T0 + timedelta(minutes=6)) == (fired, None)  # never twice


def test_gtt_single_fires_from_the_side_it_was_made_on_and_expires_after_a_year():
    target = create_gtt("G2", instrument_token=408065, tradingsymbol="INFY", side=Side.SELL, quantity=5,
                        legs=(GttLeg(D("1050"), D("1050")),), last_price=D("1000"), tick_size=TICK, created_at=T0)
    assert evaluate(target, D("990"), T0)[1] is None
    assert evaluate(target, D("1050"), T0)[1] == 0
    expired, leg = evaluate(target, D("1060"), T0 + timedelta(days=365))
    assert (expired.status, leg) == (GttStatus.EXPIRED, None)


@pytest.mark.parametrize("make,message", [
    (lambda: ExitPlan(Side.BUY, stop=D("1010")).check_against(D("1000"), TICK), "stop must be below its entry"),
    (lambda: ExitPlan(Side.BUY, target=D("990")).check_against(D("1000"), TICK), "target must be above its entry"),
    (lambda: ExitPlan(Side.SELL, stop=D("990")).check_against(D("1000"), TICK), "stop must be above its entry"),
    (lambda: ExitPlan(Side.SELL, target=D("1010")).check_against(D("1000"), TICK), "target must be below its entry"),
    (lambda: ExitPlan(Side.BUY, stop=D("990"), trailing=Trailing(TrailKind.RUPEES, D("0"))), "trailing step must be > 0"),
    (lambda: Trailing(TrailKind.PERCENT, D("-1")), "trailing step must be > 0"),
    (lambda: Trailing(TrailKind.ATR, D("2")), "needs the ATR"),
    (lambda: ExitPlan(Side.BUY, target=D("1020"), trailing=Trailing(TrailKind.RUPEES, D("1"))), "needs a stop"),
    (lambda: ExitPlan(Side.BUY), "needs a stop, a target or both"),
    (lambda: ExitPlan(Side.BUY, stop=D("990"), stop_type=OrderType.SL), "needs its limit price"),
    (lambda: ExitPlan(Side.BUY, stop=D("990"), stop_type=OrderType.SL, stop_limit=D("991")), "limit 991 <= its trigger"),
    (lambda: ExitPlan(Side.BUY, stop=D("990"), stop_type=OrderType.LIMIT), "SL or an SL-M"),
    (lambda: ExitPlan(Side.BUY, stop=D("990.03")).check_against(D("1000"), TICK), "multiple of the tick size"),
    (lambda: new_group(
        "X", ExitPlan(Side.BUY, stop=D("990")), instrument_token=1, tradingsymbol="INFY", product=Product.CNC,
        tick_size=TICK), "a GTT"),
    (lambda: create_gtt("G", instrument_token=1, tradingsymbol="INFY", side=Side.SELL, quantity=5,
                        legs=(GttLeg(D("990"), D("990")), GttLeg(D("995"), D("995"))), last_price=D("1000"),
                        tick_size=TICK, created_at=T0), "both sides of the LTP"),
    (lambda: create_gtt("G", instrument_token=1, tradingsymbol="INFY", side=Side.SELL, quantity=0,
                        legs=(GttLeg(D("990"), D("990")),), last_price=D("1000"), tick_size=TICK, created_at=T0),
     "positive whole number"),
])
def test_bad_exit_input_is_refused_with_a_clear_message(make, message):
    with pytest.raises(ValidationError, match=message):
        make()
