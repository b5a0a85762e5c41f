"""The risk limits editor's validator (issue 16): table-driven bad input through the real
``TradingService.save_risk_limits`` on a SQLite store, each asserting the message (field, bad
value, allowed range) and that the stored limits and their audit trail are unchanged; strict
parsing of the good forms; the bounds on ``RiskLimits`` itself."""

from __future__ import annotations

from datetime import time

import pytest

from core.errors import ValidationError
from core.risk import RiskLimits
from core.risk.limits import LIMIT_BOUNDS
from core.risk.limits_input import limits_from_input
from tests.fixtures_trading import D, make_desk


@pytest.fixture(scope="module")
def shared(tmp_path_factory, redis_server):
    """One real desk (SQLite file, the session's Redis) for the module: building one costs
    seconds, and every test compares the store before and after its own calls."""
    d = make_desk(f"sqlite:///{tmp_path_factory.mktemp('limits') / 'desk.db'}", redis_server)
    yield d
    d.sql.dispose()


@pytest.fixture()
def desk(shared):
    return shared

BASE = {"max_order_notional": "150000", "max_order_quantity": 400, "risk_per_trade_pct": "2",
        "require_stop": False, "square_off_cutoff": "15:10"}

BAD = [
    # (values, fragments the message must contain)
    ({"square_off_cutoff": "09:00"},
     ["square_off_cutoff", "09:00", "inside the session and before the close", "after 09:15 and before 15:30"]),
    ({"square_off_cutoff": time(9, 15)}, ["square_off_cutoff", "09:15", "after 09:15 and before 15:30"]),
    ({"square_off_cutoff": time(15, 30)}, ["square_off_cutoff", "15:30", "before 15:30"]),
    ({"square_off_cutoff": time(15, 45)}, ["square_off_cutoff", "15:45", "before 15:30"]),
    ({"square_off_cutoff": "25:00"}, ["square_off_cutoff", "time must be HH:MM between 09:15 and 15:30", "'25:00'"]),
    ({"square_off_cutoff": "3pm"}, ["square_off_cutoff", "time must be HH:MM between 09:15 and 15:30", "'3pm'"]),
    ({"risk_per_trade_pct": 500}, ["risk_per_trade_pct", "500", ">= 0 and <= 100 (% of capital)"]),
    ({"risk_per_trade_pct": "500"}, ["risk_per_trade_pct", "500", ">= 0 and <= 100"]),
    ({"max_drawdown_pct": "-0.5"}, ["max_drawdown_pct", "-0.5", ">= 0 and <= 100 (% from peak equity)"]),
    ({"max_drawdown_pct": 100.5}, ["max_drawdown_pct", "100.5", "<= 100"]),
    ({"max_order_quantity": 1.5}, ["max_order_quantity", "1.5", "a whole number", "<= 10,000,000 (shares per order)"]),
    ({"max_order_quantity": "1.5"}, ["max_order_quantity", "'1.5'", "a whole number"]),
    ({"max_open_positions": True}, ["max_open_positions", "True", "not a bool"]),
    ({"max_orders_per_day": -1}, ["max_orders_per_day", "-1", ">= 0 and <= 100,000"]),
    ({"cooldown_minutes": 10_000}, ["cooldown_minutes", "10000", "<= 1,440 (minutes, up to one day)"]),
    ({"require_stop": "yes"}, ["require_stop", "'yes'", "true or false"]),
    ({"require_stop": 1}, ["require_stop", "1", "true or false"]),
    ({"require_stop": None}, ["require_stop", "None", "true or false"]),
    ({"max_order_notional": float("nan")}, ["max_order_notional", "nan", "not NaN or infinity", "<= ₹100 crore"]),
    ({"max_order_notional": "NaN"}, ["max_order_notional", "'NaN'", "not NaN or infinity"]),
    ({"daily_loss_limit": "Infinity"}, ["daily_loss_limit", "'Infinity'", "not NaN or infinity"]),
    ({"daily_loss_limit": float("-inf")}, ["daily_loss_limit", "-inf", "not NaN or infinity"]),
    ({"max_order_notional": D("1e12")}, ["max_order_notional", "1E+12", "<= ₹100 crore"]),
    ({"max_order_notional": "ten lakh"}, ["max_order_notional", "'ten lakh'", "a number"]),
    ({"max_order_notional": "9" * 5000}, ["max_order_notional", "'9999", "…", "a number"]),
    ({"max_order_quantity": "1e99999"}, ["max_order_quantity", "'1e99999'", "<= 10,000,000"]),
    ({"max_order_notional": [1]}, ["max_order_notional", "[1]", "a number"]),
    ({"wash_trade_minutes": {"a": 1}}, ["wash_trade_minutes", "{'a': 1}", "a number"]),
    ({"max_lots": 3}, ["unknown risk limit fields", "max_lots"]),
    ({1: 3}, ["field names must be strings", "1"]),
    ([("max_order_quantity", 10)], ["risk limits must be a mapping", "was a list"]),
    ("max_order_quantity=10", ["risk limits must be a mapping", "was a str"]),
    (None, ["risk limits must be a mapping", "was a NoneType"]),
]


def _stored(desk):
    row = desk.store.latest_limits()
    return (row["version"] if row else None, dict(row["limits"]) if row else None,
            len(desk.store.audit_rows("risk-limits")))


@pytest.mark.parametrize("values,fragments", BAD, ids=[str(v)[:40] for v, _ in BAD])
def test_bad_limits_are_refused_with_field_value_and_range_and_nothing_is_saved(desk, values, fragments):
    desk.svc.save_risk_limits(BASE, user="risk")
    before, view = _stored(desk), desk.svc.risk_limits()
    with pytest.raises(ValidationError) as err:
        desk.svc.save_risk_limits(values, user="risk")
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message
    assert len(message) < 400, message  # the bad value is cut short
    assert _stored(desk) == before and desk.svc.risk_limits() == view


def test_strict_forms_parse_to_the_right_values(desk):
    saved = desk.svc.save_risk_limits({"require_stop": "false", "max_order_notional": "1,00,000",
                                       "cooldown_minutes": "10.0", "max_order_quantity": 250.0,
                                       "risk_per_trade_pct": 0.5, "square_off_cutoff": " 15:05 "}, user="risk")
    assert saved.require_stop is False  # the text "false" is not truthy
    assert (saved.max_order_notional, saved.cooldown_minutes, saved.max_order_quantity) == (D("100000"), 10, 250)
    assert saved.risk_per_trade_pct == D("0.5") and saved.square_off_cutoff == time(15, 5)
    assert desk.svc.save_risk_limits({"require_stop": "TRUE"}, user="risk").require_stop is True
    again = desk.svc.risk_limits()  # read back from the store, parsed by the same validator
    assert again.require_stop is True and again.version == saved.version + 1


def test_a_saved_view_round_trips_and_the_bounds_are_inclusive(desk):
    edge = {"risk_per_trade_pct": 100, "max_drawdown_pct": 0, "square_off_cutoff": "09:16",
            "max_order_notional": "1000000000", "cooldown_minutes": 1440}
    saved = desk.svc.save_risk_limits(edge, user="risk")
    assert desk.svc.save_risk_limits(saved, user="risk").version == saved.version + 1
    assert desk.svc.risk_limits().square_off_cutoff == time(9, 16)


@pytest.mark.parametrize("name,value,fragment", [
    ("risk_per_trade_pct", D(500), "RiskLimits.risk_per_trade_pct must be >= 0 and <= 100"),
    ("square_off_cutoff", time(9, 0), "RiskLimits.square_off_cutoff must be an IST time HH:MM inside the session"),
    ("square_off_cutoff", time(15, 20, 30), "was 15:20:30"),
    ("max_order_quantity", 5.0, "RiskLimits.max_order_quantity must be a whole number"),
    ("require_stop", "false", "RiskLimits.require_stop must be a bool"),
    ("daily_loss_limit", D("NaN"), "not NaN or infinity"),
])
def test_risk_limits_model_refuses_out_of_bounds_values(name, value, fragment):
    with pytest.raises(ValidationError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        RiskLimits(**{name: value})


def test_every_field_has_a_bound_and_the_defaults_lie_inside():
    names = {f for f in RiskLimits.__dataclass_fields__}
    assert set(LIMIT_BOUNDS) == names
    assert limits_from_input({}) == RiskLimits()
