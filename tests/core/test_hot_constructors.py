"""The fill path's direct constructions (``Order`` in the broker's ``_fill``, ``Position`` in the
portfolio's ``_trade``, ``Portfolio`` in ``apply_fill``) stand in for ``dataclasses.replace``
because they run on every fill: each must name every field of its class (a field added later
and not carried would silently fall back to its default), and carry the untouched ones as
``replace`` would."""

from __future__ import annotations

import ast
import inspect
from dataclasses import fields, replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from core.broker import BrokerConfig
from core.broker import engine as broker_engine
from core.charges import backfilled_schedules, schedule_for
from core.orders import Order, OrderIntent, OrderStatus, OrderType, Product, Side
from core.portfolio import Portfolio, Position, apply_fill, new_portfolio
from core import portfolio as portfolio_module
from core.timeutil import IST

NOW = datetime(2016, 8, 17, 10, 0, 5, tzinfo=IST)


def constructed_keywords(func, cls: type) -> list[set[str]]:
    """The keyword names of every ``cls(...)`` call in ``func``'s source."""
    tree = ast.parse(inspect.getsource(func).lstrip())
    return [{k.arg for k in node.keywords} for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == cls.__name__]


@pytest.mark.parametrize("func, cls", [(broker_engine._fill, Order), (portfolio_module._trade, Position),
                                       (apply_fill, Portfolio)])
def test_hot_path_constructors_name_every_field(func, cls):
    calls = constructed_keywords(func, cls)
    assert calls, f"{func.__name__} no longer builds {cls.__name__}; drop it from this test"
    want = {f.name for f in fields(cls)}
    for got in calls:
        assert got == want, (f"{func.__module__}.{func.__name__} builds {cls.__name__} without "
                             f"{sorted(want - got)}: name every field (or use dataclasses.replace)")


def test_fill_carries_every_untouched_order_field():
    intent = OrderIntent(408065, "INFY", Side.BUY, 10, Product.MIS, OrderType.MARKET, trace_id="t-1")
    order = Order("BT-9", intent, OrderStatus.OPEN, NOW, NOW, Decimal("0.05"), filled_quantity=4,
                  filled_turnover=Decimal("4000.00"), fill_count=1, queued_for_open=False,
                  status_message="part filled", protection_price=Decimal("1010.00"))
    later = NOW.replace(second=9)
    got, fill = broker_engine._fill(order, 6, Decimal("1000.05"), later,
                                    BrokerConfig(schedules=backfilled_schedules()))
    assert got == replace(order, filled_quantity=10, filled_turnover=Decimal("10000.30"), fill_count=2,
                          status=OrderStatus.COMPLETE, updated_at=later)
    assert fill.fill_id == "BT-9-2" and fill.quantity == 6


def test_apply_fill_carries_every_untouched_portfolio_and_position_field():
    pf = new_portfolio(opened_at=NOW, capital=Decimal("500000.00"), mis_leverage=Decimal(4))
    pf = replace(pf, squared_off=frozenset({(1, Product.MIS)}), realized_today=Decimal("12.00"),
                 charges_today=Decimal("3.00"), mis_realized_today=Decimal("12.00"),
                 btst_proceeds_today=Decimal("7.00"))
    intent = OrderIntent(408065, "INFY", Side.BUY, 10, Product.MIS, OrderType.MARKET)
    order = Order("BT-1", intent, OrderStatus.OPEN, NOW, NOW, Decimal("0.05"))
    schedule = schedule_for(date(2016, 8, 17), backfilled_schedules())
    _, buy = broker_engine._fill(order, 10, Decimal("1000.00"), NOW, BrokerConfig(schedules=backfilled_schedules()))
    booked = apply_fill(pf, buy, schedule=schedule).portfolio
    pos = booked.positions[(408065, Product.MIS)]
    assert pos == Position(408065, "INFY", Product.MIS, 10, Decimal("10000.00"), Decimal("0.00"), 10,
                           Decimal("10000.00"), 0, Decimal("0.00"))
    untouched = {"capital", "mis_leverage", "trading_day", "lots", "squared_off", "margins", "cnc_day_legs"}
    for name in untouched:
        assert getattr(booked, name) == getattr(pf, name), name
    assert booked.realized_today == Decimal("12.00") and booked.mis_realized_today == Decimal("12.00")
    assert booked.btst_proceeds_today == Decimal("7.00")
    assert booked.charges_today == Decimal("3.00") + buy.charges.total
