"""TradingService boundary (issue 16, item 1): bad types, enum-like strings out of their enum,
huge numbers and over-long free text are refused with the desk's ValidationError naming the
field, the bad value and what is allowed, and nothing changes in the store, Redis or funds."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.orders import OrderType
from tests.app.boundaries import redis_snapshot, sql_snapshot
from tests.fixtures_trading import INFY, T0, D, desk, intent, later  # noqa: F401

MB = "x" * 1_048_576


def _snapshot(desk):
    return (desk.ledger_snapshot(), sql_snapshot(desk.sql.engine), redis_snapshot(desk.ticks.client),
            desk.svc.funds(later(1)))


@pytest.fixture()
def booked(desk):
    """A desk with one PENDING approval and one open LIMIT order."""
    desk.tick(INFY, 1000.0)
    pending = desk.svc.propose(intent(), signal_price=D("1000"), reason="ORB breakout", now=T0)
    placed = desk.svc.place_manual(intent(order_type=OrderType.LIMIT, price=D("990")), user="trader", now=later(1))
    assert placed.ok and placed.order_id
    return desk, pending.approval_id, placed.order_id


CASES = [
    # (id, call(svc, approval_id, order_id), message fragments)
    ("propose reason 1 MB", lambda s, a, o: s.propose(intent(), signal_price=D("1000"), reason=MB, now=T0),
     ["reason is 1,048,576 characters", "limit is 500"]),
    ("propose ttl 1e15", lambda s, a, o: s.propose(intent(), signal_price=D("1000"), reason="r", ttl_seconds=10**15, now=T0),
     ["ttl_seconds must be from 1 to 86400 seconds", "1000000000000000"]),
    ("propose ttl str", lambda s, a, o: s.propose(intent(), signal_price=D("1000"), reason="r", ttl_seconds="300", now=T0),
     ["ttl_seconds must be a whole number", "'300'"]),
    ("propose intent dict", lambda s, a, o: s.propose({"side": "BUY"}, signal_price=D("1000"), reason="r", now=T0),
     ["intent must be a core.orders.OrderIntent"]),
    ("propose now str", lambda s, a, o: s.propose(intent(), signal_price=D("1000"), reason="r", now="2016-08-17"),
     ["now must be a tz-aware datetime", "'2016-08-17'"]),
    ("tag 1 MB", lambda s, a, o: s.place_manual(intent(tag=MB), user="trader", now=later(2)),
     ["tag is 1,048,576 characters", "limit is 20"]),
    ("strategy 1 MB", lambda s, a, o: s.propose(intent(strategy=MB), signal_price=D("1000"), reason="r", now=T0),
     ["strategy is 1,048,576 characters", "limit is 64"]),
    ("quantity 1e15", lambda s, a, o: s.place_manual(intent(qty=10**15), user="trader", now=later(2)),
     ["quantity must be from 1 to 10000000 shares"]),
    ("modify price text", lambda s, a, o: s.modify_order(o, price="abc", user="trader", now=later(2)),
     ["price must be a number of rupees 0 < p <= 10000000", "'abc'"]),
    ("modify trigger 1e999", lambda s, a, o: s.modify_order(o, trigger_price=D("1e999"), user="trader", now=later(2)),
     ["trigger_price must be a number of rupees"]),
    ("propose signal NaN", lambda s, a, o: s.propose(intent(), signal_price=float("nan"), reason="r", now=T0),
     ["signal_price must be a number of rupees", "nan"]),
    ("propose signal 1 MB", lambda s, a, o: s.propose(intent(), signal_price="9" * 1_048_576, reason="r", now=T0),
     ["signal_price must be a number of rupees", "…"]),
    ("side HOLD", lambda s, a, o: s.place_manual(intent(side="HOLD"), user="trader", now=later(2)),
     ["side must be one of BUY, SELL", "'HOLD'"]),
    ("product NRML", lambda s, a, o: s.place_manual(intent(product="NRML"), user="trader", now=later(2)),
     ["product must be one of MIS, CNC", "'NRML'"]),
    ("order type BRACKET", lambda s, a, o: s.modify_order(o, order_type="BRACKET", user="trader", now=later(2)),
     ["order_type must be one of MARKET, LIMIT, SL, SL-M", "'BRACKET'"]),
    ("modify quantity float", lambda s, a, o: s.modify_order(o, quantity=1.5, user="trader", now=later(2)),
     ["quantity must be a whole number shares", "1.5"]),
    ("modify quantity 1e15", lambda s, a, o: s.modify_order(o, quantity=10**15, user="trader", now=later(2)),
     ["quantity must be from 1 to 10000000 shares"]),
    ("reject reason 1 MB", lambda s, a, o: s.reject(a, user="trader", reason=MB, now=later(2)),
     ["reason is 1,048,576 characters", "limit is 500"]),
    ("reject blank reason", lambda s, a, o: s.reject(a, user="trader", reason="   ", now=later(2)),
     ["a reject needs a reason (e.g. 'spread too wide')"]),
    ("approve blank user", lambda s, a, o: s.approve(a, user=" ", now=later(2)),
     ["user is required (who is acting, e.g. 'trader')"]),
    ("reject reason list", lambda s, a, o: s.reject(a, user="trader", reason=["no"], now=later(2)),
     ["reason must be text", "['no']"]),
    ("approve user 1 MB", lambda s, a, o: s.approve(a, user=MB, now=later(2)),
     ["user is 1,048,576 characters", "limit is 64"]),
    ("approve id int", lambda s, a, o: s.approve(12, user="trader", now=later(2)),
     ["approval_id must be text", "12"]),
    ("approve_many one string", lambda s, a, o: s.approve_many(a, user="trader", now=later(2)),
     ["approval_ids must be a list", "was 'A-"]),
    ("cancel id huge", lambda s, a, o: s.cancel_order("O-" + MB, user="trader", now=later(2)),
     ["order_id is 1,048,578 characters", "limit is 64"]),
    ("cancel now naive", lambda s, a, o: s.cancel_order(o, user="trader", now=later(2).replace(tzinfo=None)),
     ["now must be tz-aware"]),
]


@pytest.mark.parametrize(("call", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_refused_with_message_and_nothing_changed(booked, call, fragments):
    desk, approval_id, order_id = booked
    before = _snapshot(desk)
    with pytest.raises(ValidationError) as err:
        call(desk.svc, approval_id, order_id)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message
    assert len(message) < 400, "the bad value is truncated in the message"
    assert _snapshot(desk) == before
