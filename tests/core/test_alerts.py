"""core.alerts: Kite-style alert rules and the tick-batch evaluator (exact, no I/O)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core import alerts as al
from core.errors import ValidationError
from core.kite_wire import encode_frame, encode_packet
from core.models import Tick
from core.orders import OrderType, Product, Side
from core.tick_batch import decode_frame
from core.timeutil import IST

INFY, TCS, NIFTY = 408065, 2953217, 256265
TS = datetime(2016, 8, 17, 4, 0, tzinfo=UTC)


def tick(token=INFY, ltp=1000.0, mode="full", **kw) -> Tick:
    base = dict(open=990.0, high=1010.0, low=985.0, close=995.0, volume_traded=50_000, exchange_timestamp=TS,
                last_trade_time=TS)
    base.update(kw)
    if token == NIFTY:
        base.pop("volume_traded")
        return Tick(token, ltp, mode=mode, tradable=False, **{k: base[k] for k in ("open", "high", "low", "close")},
                    exchange_timestamp=TS)
    return Tick(token, ltp, mode=mode, **base)


def batch(*ticks: Tick):
    return decode_frame(encode_frame([encode_packet(t) for t in ticks]))


def alert(alert_id="AL-1", attribute=al.Attribute.LTP, operator=al.Operator.GE, value=1000.0, **kw) -> al.Alert:
    return al.Alert(alert_id, kw.pop("name", "test"), kw.pop("token", INFY), kw.pop("symbol", "INFY"), attribute,
                    operator, rhs_constant=value, **kw)


@pytest.mark.parametrize("op,value,fires", [
    (al.Operator.GE, 1000.0, True), (al.Operator.GE, 1000.05, False), (al.Operator.GT, 1000.0, False),
    (al.Operator.GT, 999.95, True), (al.Operator.LE, 1000.0, True), (al.Operator.LT, 1000.0, False),
    (al.Operator.EQ, 1000.0, True), (al.Operator.EQ, 1000.05, False),
])
def test_operator_on_ltp_fires_exactly_when_the_comparison_holds(op, value, fires):
    ev = al.AlertEvaluator([alert(operator=op, value=value)])
    got = ev.evaluate(batch(tick(ltp=1000.0)))
    assert bool(got) is fires
    if fires:
        assert got[0].lhs_value == 1000.0 and got[0].rhs_value == value and got[0].sequence == 1


@pytest.mark.parametrize("attribute,value,expected", [
    (al.Attribute.DAY_HIGH, 1010.0, 1010.0), (al.Attribute.DAY_LOW, 985.0, 985.0),
    (al.Attribute.VOLUME, 50_000, 50_000.0), (al.Attribute.CHANGE_PCT, 0.5, (1000 - 995) * 100 / 995),
])
def test_each_attribute_reads_its_tick_field(attribute, value, expected):
    ev = al.AlertEvaluator([alert(attribute=attribute, value=value)])
    (t,) = ev.evaluate(batch(tick()))
    assert t.lhs_value == pytest.approx(expected)
    assert t.tick["instrument_token"] == INFY and t.tick["last_price"] == 1000.0
    assert t.tick["exchange_timestamp"] == int(TS.timestamp())


def test_ltp_packet_has_no_volume_so_a_volume_alert_does_not_compare_with_zero():
    ev = al.AlertEvaluator([alert(attribute=al.Attribute.VOLUME, operator=al.Operator.LE, value=10)])
    assert ev.evaluate(batch(tick(mode="ltp"))) == []
    assert len(ev.evaluate(batch(tick(volume_traded=5)))) == 1


def test_an_alert_fires_once_then_leaves_the_index_even_within_one_batch():
    ev = al.AlertEvaluator([alert(value=1000.0)])
    got = ev.evaluate(batch(tick(ltp=1001.0), tick(ltp=1002.0)))
    assert [t.lhs_value for t in got] == [1001.0]
    assert ev.evaluate(batch(tick(ltp=1003.0))) == [] and len(ev) == 0


def test_the_trigger_sequence_follows_alert_count_and_the_key_and_trace_are_stable():
    a = alert(alert_count=2)
    (t,) = al.AlertEvaluator([a]).evaluate(batch(tick()))
    assert t.sequence == 3 and t.key == "AL-1:3"
    assert t.trace_id == al.trigger_trace_id("AL-1", 3) and t.trace_id.startswith("T-") and len(t.trace_id) == 22
    assert al.trigger_trace_id("AL-1", 4) != t.trace_id
    assert al.triggered(a, 3).status is al.AlertStatus.DISABLED and al.triggered(a, 3).alert_count == 3


def test_instrument_right_hand_side_uses_the_other_instruments_latest_value():
    a = al.Alert("AL-2", "infy over tcs", INFY, "INFY", al.Attribute.LTP, al.Operator.GT, rhs_token=TCS,
                 rhs_tradingsymbol="TCS", rhs_attribute=al.Attribute.LTP)
    ev = al.AlertEvaluator([a])
    assert ev.evaluate(batch(tick(ltp=1000.0))) == []  # TCS not seen yet: nothing to compare with
    assert ev.evaluate(batch(tick(TCS, ltp=1200.0))) == []
    (t,) = ev.evaluate(batch(tick(TCS, ltp=999.0)))  # the other side moving fires it too
    assert (t.lhs_value, t.rhs_value) == (1000.0, 999.0)


def test_disabled_alerts_and_untracked_tokens_cost_nothing():
    ev = al.AlertEvaluator([alert(status=al.AlertStatus.DISABLED), alert("AL-3", token=TCS, symbol="TCS")])
    assert ev.evaluate(batch(tick(ltp=5000.0))) == []  # INFY's alert is disabled
    assert len(ev) == 1


def test_index_packet_has_ltp_and_change_but_no_volume():
    ev = al.AlertEvaluator([alert(token=NIFTY, symbol="NIFTY 50", attribute=al.Attribute.VOLUME, value=0),
                            alert("AL-4", token=NIFTY, symbol="NIFTY 50", attribute=al.Attribute.CHANGE_PCT,
                                  operator=al.Operator.GT, value=-100)])
    got = ev.evaluate(batch(tick(NIFTY, ltp=8600.0, close=8500.0)))
    assert [t.alert.alert_id for t in got] == ["AL-4"]


def test_evaluate_values_serves_a_backtest_bar():
    ev = al.AlertEvaluator([alert(attribute=al.Attribute.DAY_HIGH, value=1020)])
    assert ev.evaluate_values(INFY, {al.Attribute.LTP: 1015.0, al.Attribute.DAY_HIGH: 1019.0}) == []
    assert len(ev.evaluate_values(INFY, {al.Attribute.DAY_HIGH: 1020.0}, {"bar": "09:20"})) == 1


def test_json_round_trip_keeps_every_field():
    a = al.Alert("AL-5", "buy infy", INFY, "INFY", al.Attribute.LTP, al.Operator.LE, 900.0,
                 kind=al.AlertType.ATO, alert_count=1,
                 order=al.ato_order(dict(side="BUY", quantity=10, product="MIS", order_type="LIMIT", price="899.5")))
    assert al.alert_from_dict(al.alert_to_dict(a)) == a
    assert a.order.intent(a, trace_id="T-1").trace_id == "T-1"
    assert a.order.price == Decimal("899.5") and a.order.order_type is OrderType.LIMIT
    assert a.order.side is Side.BUY and a.order.product is Product.MIS


@pytest.mark.parametrize("value,attribute,message", [
    (math.nan, al.Attribute.LTP, "finite"), (math.inf, al.Attribute.LTP, "finite"),
    (-1, al.Attribute.LTP, "cannot be negative"), ("abc", al.Attribute.LTP, "must be a number"),
    (True, al.Attribute.LTP, "must be a number"), (10.5, al.Attribute.VOLUME, "whole number"),
    (-150, al.Attribute.CHANGE_PCT, "between -100 and 100"), (None, al.Attribute.LTP, "must be a number"),
])
def test_parse_value_refuses_bad_constants(value, attribute, message):
    with pytest.raises(ValidationError, match=message):
        al.parse_value("value", value, attribute)


def test_change_pct_may_be_negative():
    assert al.parse_value("value", "-2.5", al.Attribute.CHANGE_PCT) == -2.5


@pytest.mark.parametrize("spec,message", [
    (dict(side="HOLD", quantity=1, product="MIS", order_type="MARKET"), "side must be one of"),
    (dict(side="BUY", quantity=0, product="MIS", order_type="MARKET"), "quantity must be a positive"),
    (dict(side="BUY", quantity=1, product="NRML", order_type="MARKET"), "product must be one of"),
    (dict(side="BUY", quantity=1, product="MIS", order_type="LIMIT"), "price"),
    (dict(side="BUY", quantity=1, product="MIS", order_type="SL-M"), "trigger"),
    (dict(side="BUY", quantity=1, product="MIS", order_type="LIMIT", price="nan"), "positive rupees"),
    ("BUY 1", "needs an order"),
])
def test_ato_order_refuses_what_the_ticket_refuses(spec, message):
    with pytest.raises(ValidationError, match=message):
        al.ato_order(spec)


def test_check_alert_requires_exactly_one_right_hand_side_and_ato_with_order():
    with pytest.raises(ValidationError, match="give one"):
        al.check_alert(alert(value=None))
    with pytest.raises(ValidationError, match="not both"):
        al.check_alert(alert(rhs_token=TCS, rhs_attribute=al.Attribute.LTP))
    with pytest.raises(ValidationError, match="needs the order"):
        al.check_alert(alert(kind=al.AlertType.ATO))
    with pytest.raises(ValidationError, match="compared with itself"):
        al.check_alert(alert(value=None, rhs_token=INFY, rhs_attribute=al.Attribute.LTP))
    with pytest.raises(ValidationError, match="name"):
        al.check_alert(alert(name="x" * 81))


def test_evaluate_bars_runs_alerts_on_a_backtests_bars_with_running_day_values():
    from datetime import timedelta

    from core.models import Bar

    day1 = datetime(2016, 8, 16, 9, 15, tzinfo=IST)
    bars = [Bar(INFY, "minute", day1, 1000, 1005, 995, 1000, 100),
            Bar(INFY, "minute", day1 + timedelta(days=1), 1001, 1012, 1000, 1010, 300),
            Bar(INFY, "minute", day1 + timedelta(days=1, minutes=1), 1010, 1011, 990, 995, 200)]
    ev = al.AlertEvaluator([
        alert("AL-up", attribute=al.Attribute.CHANGE_PCT, operator=al.Operator.GE, value=0.9),
        alert("AL-vol", attribute=al.Attribute.VOLUME, operator=al.Operator.GE, value=500),
        alert("AL-low", attribute=al.Attribute.DAY_LOW, operator=al.Operator.LE, value=990)])
    got = [(b.ts, t.alert.alert_id, t.lhs_value) for b, t in al.evaluate_bars(ev, bars)]
    assert got == [(bars[1].ts, "AL-up", pytest.approx(1.0)),  # +1 % on the previous day's close
                   (bars[2].ts, "AL-vol", 500.0),  # the day's volume so far, not the bar's
                   (bars[2].ts, "AL-low", 990.0)]
    assert len(ev) == 0
