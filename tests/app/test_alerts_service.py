"""AlertService and AlertActions on real stores (SQLite and PostgreSQL) and a real Redis: create,
modify, delete, list; the bad-input table (nothing stored, nothing published); triggers recorded
once; an ATO trigger → exactly one pending approval with the trigger's trace id."""

from __future__ import annotations

import json
import math

import pytest

from app.adapters.alert_store import AlertStore, alert_triggers, alerts
from app.market.alerts import ACTIVE_KEY, VERSION_KEY, AlertService, trigger_payload
from app.market.instruments import InstrumentService
from app.ops.alert_actions import AlertActions
from core import alerts as al
from core.errors import ValidationError
from tests.app.test_price_bands import _Recorder as Recorder  # a Notifier that keeps what it was told
from tests.fixtures_trading import INFY, T0, Desk, desk, pg_desk  # noqa: F401  (fixtures)

TCS = 2953217


def _service(desk: Desk, **kw) -> AlertService:
    store = AlertStore(desk.sql.engine)
    with desk.sql.engine.begin() as conn:
        conn.execute(alert_triggers.delete())
        conn.execute(alerts.delete())
    return AlertService(store, InstrumentService(desk.sql), desk.ticks.client, clock=lambda: T0, **kw)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_desk(request):
    return request.getfixturevalue("desk" if request.param == "sqlite" else "pg_desk")


def _snapshot(svc: AlertService) -> tuple:
    return (tuple(sorted(str(r) for r in svc.store.list(include_deleted=True))),
            svc.redis.get(VERSION_KEY), svc.redis.get(ACTIVE_KEY))


def test_create_modify_delete_list_and_the_tickers_copy(any_desk):
    svc = _service(any_desk)
    a = svc.create(name="INFY breakout", instrument="NSE:INFY", attribute="LTP", operator=">=", value=1100)
    b = svc.create(name="INFY over TCS", instrument="INFY", attribute="change_pct", operator=">",
                   rhs_instrument="NSE:TCS", rhs_attribute="change_pct")
    assert [v.alert_id for v in svc.list()] == [a.alert_id, b.alert_id]
    assert a.alert.instrument_token == INFY and a.alert.rhs_constant == 1100.0 and a.created_by == "trader"
    assert b.alert.rhs_token == TCS and b.alert.condition() == "INFY change_pct > TCS change_pct"
    cached = json.loads(svc.redis.get(ACTIVE_KEY))
    assert [d["alert_id"] for d in cached] == [a.alert_id, b.alert_id] and int(svc.redis.get(VERSION_KEY)) == 2

    m = svc.modify(a.alert_id, value=1200, operator="<=")
    assert (m.alert.rhs_constant, m.alert.operator) == (1200.0, al.Operator.LE)
    off = svc.modify(b.alert_id, enabled=False)
    assert off.alert.status is al.AlertStatus.DISABLED and off.disabled_reason == "disabled by the trader"
    assert [x.alert_id for x in svc.active()] == [a.alert_id]
    svc.delete(a.alert_id)
    assert [v.alert_id for v in svc.list()] == [b.alert_id] and svc.active() == []
    with pytest.raises(ValidationError, match="unknown alert"):
        svc.get(a.alert_id)

    # survives a restart: a new service on the same store, Redis flushed, rebuilds the copy
    svc.redis.delete(ACTIVE_KEY)
    again = AlertService(AlertStore(any_desk.sql.engine), InstrumentService(any_desk.sql), svc.redis, clock=lambda: T0)
    assert [v.alert_id for v in again.list()] == [b.alert_id]
    again.modify(b.alert_id, enabled=True)
    assert [x.alert_id for x in again.active()] == [b.alert_id]


ATO = dict(side="BUY", quantity=10, product="MIS", order_type="LIMIT", price="1000.50")


@pytest.mark.parametrize("fields,message", [
    (dict(instrument="NSE:NOSUCH"), "instrument: .*NOSUCH"),
    (dict(instrument=""), "instrument must be an instrument"),
    (dict(attribute="vwap"), "attribute must be one of"),
    (dict(operator="=>"), "operator must be one of"),
    (dict(operator="!="), "operator must be one of"),
    (dict(value=math.nan), "finite"),
    (dict(value="inf"), "finite"),
    (dict(value=-5), "cannot be negative"),
    (dict(value=None), "give one"),
    (dict(rhs_instrument="NSE:NOSUCH2", value=None), "rhs_instrument: .*NOSUCH2"),
    (dict(rhs_instrument="NSE:TCS"), "not both"),
    (dict(attribute="volume", value=10.5), "whole number"),
    (dict(name=""), "name is required"),
    (dict(name="x" * 500), "limit is 80"),
    (dict(kind="gtt"), "type must be one of"),
    (dict(kind="ato"), "needs the order"),
    (dict(kind="ato", order=dict(ATO, side="HOLD")), "side must be one of"),
    (dict(kind="ato", order=dict(ATO, quantity=-1)), "quantity must be a positive"),
    (dict(kind="ato", order=dict(ATO, price="1000.53")), "tick"),
    (dict(kind="ato", order=dict(ATO, order_type="SL-M", price=None)), "trigger"),
    (dict(kind="ato", instrument="NSE:NIFTY 50", order=dict(ATO)), "index"),
    (dict(order=dict(ATO)), "simple alert carries no order"),
])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_changes(desk, fields, message):
    svc = _service(desk)
    svc.create(name="existing", instrument="INFY", attribute="LTP", operator=">=", value=1)
    before, approvals = _snapshot(svc), desk.store.list_approvals(("PENDING",))
    args = dict(name="bad", instrument="NSE:INFY", attribute="LTP", operator=">=", value=1000)
    args.update(fields)
    with pytest.raises(ValidationError, match=message):
        svc.create(**args)
    existing = svc.list()[0].alert_id
    if set(fields) <= {"instrument", "attribute", "operator", "value", "name"} and fields.get("value", 0) is not None:
        with pytest.raises(ValidationError, match=message):  # the same field through modify
            svc.modify(existing, **fields)
    assert _snapshot(svc) == before and desk.store.list_approvals(("PENDING",)) == approvals


def test_modify_and_delete_refuse_unknown_alerts_and_fields(desk):
    svc = _service(desk)
    a = svc.create(name="x", instrument="INFY", attribute="LTP", operator=">=", value=1)
    before = _snapshot(svc)
    for call, message in ((lambda: svc.modify("AL-nope", value=2), "unknown alert"),
                          (lambda: svc.delete("AL-nope"), "unknown alert"),
                          (lambda: svc.modify(a.alert_id, colour="red"), "cannot modify"),
                          (lambda: svc.modify(a.alert_id, enabled="yes"), "enabled must be")):
        with pytest.raises(ValidationError, match=message):
            call()
    assert _snapshot(svc) == before


def test_the_kite_cap_counts_disabled_alerts(desk):
    svc = _service(desk, max_alerts=2)
    svc.create(name="a", instrument="INFY", attribute="LTP", operator=">=", value=1)
    b = svc.create(name="b", instrument="INFY", attribute="LTP", operator=">=", value=2)
    svc.modify(b.alert_id, enabled=False)
    with pytest.raises(ValidationError, match="most Kite allows"):
        svc.create(name="c", instrument="INFY", attribute="LTP", operator=">=", value=3)
    svc.delete(b.alert_id)
    svc.create(name="c", instrument="INFY", attribute="LTP", operator=">=", value=3)


def _fire(svc: AlertService, alert_id: str, ltp: float = 1000.0) -> dict:
    """What the ticker sends when ``alert_id`` fires on a full tick at ``ltp`` (the real evaluator)."""
    from tests.core.test_alerts import batch, tick

    (trigger,) = al.AlertEvaluator(svc.active()).evaluate(batch(tick(ltp=ltp)))
    assert trigger.alert.alert_id == alert_id
    return trigger_payload(trigger)


def test_ato_trigger_sent_twice_makes_exactly_one_pending_approval_with_the_trigger_trace(any_desk):
    svc = _service(any_desk)
    any_desk.tick(INFY, 1000.0)
    a = svc.create(name="buy the dip", instrument="INFY", attribute="LTP", operator="<=", value=1000, kind="ato",
                   order=ATO)
    notes = Recorder()
    actions = AlertActions(svc, any_desk.svc, notes, any_desk.ticks, clock=lambda: T0)
    payload = _fire(svc, a.alert_id)
    first = actions.handle(payload)
    second = actions.handle(json.loads(json.dumps(payload)))  # the same trigger again (a restarted ticker)
    pending = any_desk.store.list_approvals(("PENDING",))
    assert len(pending) == 1 and first["approval_id"] == second["approval_id"] == pending[0]["approval_id"]
    ap = pending[0]
    assert ap["trace_id"] == first["trace_id"] == al.trigger_trace_id(a.alert_id, 1)
    assert ap["source"] == "alert" and "buy the dip" in ap["reason"] and ap["side"] == "BUY"
    assert any_desk.store.list_orders() == []  # never an order
    log = svc.triggers()
    assert len(log) == 1 and log[0]["tick"]["last_price"] == 1000.0 and log[0]["lhs_value"] == 1000.0
    assert svc.get(a.alert_id).alert.status is al.AlertStatus.DISABLED and svc.get(a.alert_id).alert.alert_count == 1
    assert svc.active() == []
    assert [e.key for e in notes.events] == [f"alert:{a.alert_id}:1"]
    # re-enabled, it fires as trigger #2 with a new trace and a second approval
    svc.modify(a.alert_id, enabled=True)
    third = actions.handle(_fire(svc, a.alert_id, 990.0))
    assert third["sequence"] == 2 and third["trace_id"] != first["trace_id"]
    assert len(any_desk.store.list_approvals(("PENDING",))) == 2


def test_simple_trigger_is_logged_and_notified_once_and_listed_as_a_notice(desk):
    svc = _service(desk)
    a = svc.create(name="INFY 1000", instrument="INFY", attribute="LTP", operator=">=", value=1000)
    notes = Recorder()
    actions = AlertActions(svc, desk.svc, notes, desk.ticks, clock=lambda: T0)
    payload = _fire(svc, a.alert_id)
    actions.handle(payload)
    actions.handle(payload)
    assert len(notes.events) == 1 and "INFY LTP >= 1000" in notes.events[0].body
    assert desk.store.list_approvals(("PENDING",)) == []
    (notice,) = svc.notices()
    assert notice.notice_id == f"alert:{a.alert_id}:1" and "INFY 1000" in notice.text and notice.kind == "alert"
