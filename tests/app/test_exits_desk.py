"""Exits on the desk (``app.trading.exits``): a real trading store (SQLite; PostgreSQL for the OCO
path), the real Redis tick cache fed KiteTicker frames, the one gatekeeper."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.errors import ValidationError
from core.timeutil import IST
from tests.fixtures_trading import INFY, T0, D, desk, intent, later, pg_desk  # noqa: F401
from core.orders import OrderType, Product


def _approved_entry(desk, product=Product.MIS, qty=10, stop=D("990"), target=D("1020")):
    desk.tick(INFY, 1000.0)
    a = desk.svc.propose(intent(qty=qty, product=product, stop_loss=stop, target=target),
                         signal_price=D("1000"), reason="ORB breakout", now=T0)
    assert desk.svc.approve(a.approval_id, user="trader", now=later(5)).ok
    return a


def _by_tag(desk, tag="EXIT"):
    return {o.order_type: o for o in desk.svc.order_book() if o.tag == tag}


@pytest.mark.parametrize("which", ["desk", "pg_desk"])
def test_approved_proposal_fills_places_oco_and_target_fill_cancels_stop(which, request):
    d = request.getfixturevalue(which)
    a = _approved_entry(d)
    exits = _by_tag(d)
    stop, target = exits["SL-M"], exits["LIMIT"]
    assert (stop.side, stop.quantity, stop.trigger_price, stop.status) == ("SELL", 10, D("990"), "TRIGGER PENDING")
    assert (target.side, target.quantity, target.price, target.status) == ("SELL", 10, D("1020"), "OPEN")
    assert stop.trace_id == target.trace_id == a.trace_id and stop.origin == "exit"
    [book] = d.svc.exit_book()
    assert (book.kind, book.status, book.quantity, book.stop, book.target) == ("OCO", "ACTIVE", 10, D("990"), D("1020"))
    d.tick(INFY, 1020.5, at=later(60))
    d.svc.match_open_orders(later(61))
    exits = _by_tag(d)
    assert exits["LIMIT"].status == "COMPLETE" and exits["SL-M"].status == "CANCELLED"
    assert d.svc.positions(later(62))[0].quantity == 0
    assert d.svc.exit_book()[0].status == "DONE"
    d.tick(INFY, 980.0, at=later(120))  # the cancelled stop never fills
    d.svc.match_open_orders(later(121))
    assert d.store.count_fills() == 2


def test_partial_stop_fill_resizes_the_target(desk):
    _approved_entry(desk)
    # the stop triggers on a tick with 4 shares bid: partial fills on (config), else whole
    desk.svc._engine.broker_config = type(desk.svc._engine.broker_config)(partial_fills=True,
                                                                         schedules=desk.svc._engine.schedules)
    desk.tick(INFY, 989.0, at=later(60), qty=4)
    desk.svc.match_open_orders(later(61))
    exits = _by_tag(desk)
    assert exits["SL-M"].filled_quantity == 4
    assert exits["LIMIT"].quantity == 6 and exits["LIMIT"].status == "OPEN"
    assert desk.svc.exit_book()[0].quantity == 6


def test_square_off_cancels_the_positions_exits_first(desk):
    _approved_entry(desk)
    cut = datetime(2016, 8, 17, 15, 20, 30, tzinfo=IST)
    desk.tick(INFY, 1001.0, at=cut)
    assert desk.svc.square_off_mis(cut) == 1
    exits = _by_tag(desk)
    assert exits["SL-M"].status == exits["LIMIT"].status == "CANCELLED"
    assert desk.svc.exit_book()[0].status == "CANCELLED"
    assert desk.svc.positions(cut)[0].quantity == 0
    assert [o.status for o in desk.svc.order_book() if o.tag == "SQUAREOFF"] == ["COMPLETE"]


def test_trailing_stop_follows_the_ltp_up_only_through_a_modify(desk):
    _approved_entry(desk)
    [g] = desk.svc.exit_book()
    assert desk.svc.set_trailing(g.group_id, "RUPEES", "8", user="trader", now=later(30)).ok
    for seconds, ltp in ((60, 1005.0), (90, 1002.0), (120, 1011.3)):
        desk.tick(INFY, ltp, at=later(seconds))
        desk.svc.match_open_orders(later(seconds + 1))
    stop = _by_tag(desk)["SL-M"]
    assert stop.trigger_price == D("1003.30") and stop.status == "TRIGGER PENDING"  # 1011.3 − 8, never back to 994
    trail = [e for e in desk.svc.audit(stop.trace_id).audit if e.action == "modify"]
    assert [e.details["trigger_price"] for e in trail] == ["997.00", "1003.30"]


def test_trader_moves_and_cancels_exits(desk):
    _approved_entry(desk)
    [g] = desk.svc.exit_book()
    assert desk.svc.move_exits(g.group_id, stop="995", target="1030", user="trader", now=later(30)).ok
    exits = _by_tag(desk)
    assert exits["SL-M"].trigger_price == D("995") and exits["LIMIT"].price == D("1030")
    with pytest.raises(ValidationError, match="stay below the LTP"):
        desk.svc.move_exits(g.group_id, stop="1005", user="trader", now=later(31))
    assert _by_tag(desk)["SL-M"].trigger_price == D("995")
    assert desk.svc.cancel_exits(g.group_id, user="trader", now=later(40)).ok
    assert {o.status for o in _by_tag(desk).values()} == {"CANCELLED"}
    assert desk.svc.exit_book()[0].status == "CANCELLED"


def test_cnc_entry_gets_a_two_leg_gtt_that_fires_a_limit_on_the_ltp(desk):
    _approved_entry(desk, product=Product.CNC, qty=5)
    assert not _by_tag(desk)  # a GTT places nothing until it triggers
    [g] = desk.svc.exit_book()
    assert (g.kind, g.status, g.quantity, g.stop, g.target) == ("GTT", "active", 5, D("990"), D("1020"))
    assert g.expires_at.date().isoformat() == "2017-08-17"
    desk.tick(INFY, 1020.0, at=later(60))
    desk.svc.match_open_orders(later(61))
    [order] = _by_tag(desk).values()
    assert (order.order_type, order.side, order.price, order.quantity, order.product) == ("LIMIT", "SELL", D("1020"),
                                                                                        5, "CNC")
    assert desk.svc.exit_book()[0].status == "triggered"


@pytest.mark.parametrize("kw,message", [
    (dict(stop_loss=D("1010")), "stop must be below its entry"),
    (dict(target=D("990")), "target must be above its entry"),
    (dict(stop_loss=D("990.03")), "multiple of the tick size"),
])
def test_bad_exit_levels_create_nothing(desk, kw, message):
    desk.tick(INFY, 1000.0)
    before = desk.ledger_snapshot()
    with pytest.raises(ValidationError, match=message):
        desk.svc.propose(intent(**kw), signal_price=D("1000"), reason="x", now=T0)
    with pytest.raises(ValidationError, match=message):
        desk.svc.place_manual(intent(order_type=OrderType.LIMIT, price=D("1000"), **kw), user="t", now=T0)
    assert desk.svc.pending(T0) == [] and desk.svc.order_book() == [] and desk.ledger_snapshot() == before


def test_zero_trailing_step_changes_nothing(desk):
    _approved_entry(desk)
    [g] = desk.svc.exit_book()
    orders = desk.svc.order_book()
    with pytest.raises(ValidationError, match="trailing step must be > 0"):
        desk.svc.set_trailing(g.group_id, "RUPEES", "0", user="trader", now=later(30))
    assert desk.svc.exit_book() == [g] and desk.svc.order_book() == orders


def test_exits_are_placed_in_safe_mode_as_reducing_orders(desk):
    from core.timeutil import to_utc

    desk.tick(INFY, 1000.0)
    out = desk.svc.place_manual(intent(order_type=OrderType.LIMIT, price=D("999"), stop_loss=D("990"),
                                       target=D("1020")), user="trader", now=T0)
    assert out.ok and not _by_tag(desk)  # the entry rests; no exits before it fills
    desk.store.set_desk_state(dict(safe_mode=True, safe_mode_day=T0.date(), updated_at=to_utc(later(10))))
    desk.tick(INFY, 998.0, at=later(30))  # best ask 998.10 <= 999: the entry fills
    desk.svc.match_open_orders(later(31))
    exits = _by_tag(desk)
    assert exits["SL-M"].status == "TRIGGER PENDING" and exits["LIMIT"].status == "OPEN"
    # an entry is still refused in safe mode: only the exits passed
    assert not desk.svc.place_manual(intent(), user="trader", now=later(40)).ok


def test_kill_switch_cancels_exits_before_it_flattens(desk):
    _approved_entry(desk)
    desk.tick(INFY, 1001.0, at=later(30))
    assert desk.svc.kill_switch(user="trader", now=later(31)).ok
    assert {o.status for o in _by_tag(desk).values()} == {"CANCELLED"}
    assert desk.svc.exit_book()[0].status == "CANCELLED"
    assert desk.svc.positions(later(32))[0].quantity == 0
    desk.tick(INFY, 1030.0, at=later(60))
    desk.svc.match_open_orders(later(61))  # nothing is re-placed behind the flatten
    assert desk.store.count_fills() == 2


def test_an_exit_stored_but_never_placed_is_placed_by_the_next_pass(desk):
    from app.trading.exit_rows import group_from_json, group_to_json
    from core.exits import Leg, LegKind

    _approved_entry(desk)
    [g] = desk.svc.exit_book()
    row = desk.svc._engine.exit_store.get(g.group_id)
    group = group_from_json(row["state"])
    # as if the worker died after storing the group with a third leg's key: rename the target's key
    lost = group.__class__(**{**{f: getattr(group, f) for f in group.__slots__},
                              "take": Leg(LegKind.TARGET, key=f"{g.group_id}-T2", quantity=10)})
    assert desk.svc._engine.exit_store.update(g.group_id, row["version"], dict(state=group_to_json(lost),
                                                                              status=row["status"],
                                                                              updated_at=row["updated_at"]))
    desk.svc.match_open_orders(later(30))
    assert desk.store.get_order(f"O-{g.group_id}-T2")["status"] == "OPEN"


def test_atr_trailing_takes_a_multiple_of_the_atr_and_says_when_it_cannot_measure_one(desk):
    _approved_entry(desk)
    [g] = desk.svc.exit_book()
    with pytest.raises(ValidationError, match="no market data to measure the ATR of INFY"):
        desk.svc.set_trailing(g.group_id, "ATR", "2", user="trader", now=later(30))  # this desk has no market service
    assert desk.svc.exit_book()[0].trailing == ""
    assert desk.svc.set_trailing(g.group_id, "ATR", "2", atr="3.1", user="trader", now=later(31)).ok
    desk.tick(INFY, 1004.0, at=later(60))
    desk.svc.match_open_orders(later(61))
    assert _by_tag(desk)["SL-M"].trigger_price == D("997.80")  # 1004 − 2 × 3.10
    assert desk.svc.exit_book()[0].trailing == "trails 2 × ATR ₹3.1 behind"
