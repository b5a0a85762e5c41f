"""The stale-tick rule (issue 16): a fill needs a fresh price, judged in market time.

Pure unit tests of ``core.broker.freshness``, then the rule through the real
``TradingService`` (SQLite store, the session's real Redis tick cache): an order whose only
tick is hours old stays OPEN and says why, nothing is booked, and the next fresh tick fills
it at its own price and clears the message."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.trading.config import TradingConfig
from core.broker.freshness import WAITING_PREFIX, format_age, stale_tick, waiting_message
from core.errors import ValidationError
from core.timeutil import IST, UTC
from tests.fixtures_trading import INFY, D, intent, make_desk

TICK = datetime(2016, 9, 9, 9, 23, 5, tzinfo=IST)


# ---- the pure rule -----------------------------------------------------------------------------


@pytest.mark.parametrize("age,limit,stale", [
    (0.0, 5.0, False), (5.0, 5.0, False), (5.001, 5.0, True), (-30.0, 5.0, False),  # a tick after now is fresh
    (3 * 3600.0, 5.0, True), (3 * 3600.0, 3600.0, True), (3599.0, 3600.0, False), (10 ** 9, None, False),
])
def test_tick_older_than_the_limit_is_stale(age, limit, stale):
    out = stale_tick(TICK, TICK + timedelta(seconds=age), limit)
    assert (out is not None) is stale
    if stale:
        assert out.age_seconds == pytest.approx(age) and out.max_age_seconds == limit


def test_age_is_market_time_across_zones():
    now = (TICK + timedelta(seconds=4)).astimezone(UTC)  # the same instant, told in UTC
    assert stale_tick(TICK, now, 5.0) is None
    assert stale_tick(TICK, now, 3.0).age_seconds == pytest.approx(4.0)


def test_waiting_message_names_the_last_tick_in_ist_and_its_age():
    out = stale_tick(TICK.astimezone(UTC), TICK + timedelta(hours=3, minutes=7), 5.0)
    assert out.message == waiting_message(out) == "waiting for a fresh tick (last 09 Sep 2016 09:23:05 IST, 3 h old)"
    assert out.message.startswith(WAITING_PREFIX)
    far = stale_tick(TICK, datetime(2099, 9, 9, 10, 0, tzinfo=IST), 5.0)
    assert far.message.endswith("83 years old)")


@pytest.mark.parametrize("seconds,text", [(5.9, "5 s"), (59, "59 s"), (60, "1 min"), (3599, "59 min"),
                                          (3600, "1 h"), (86_399, "23 h"), (86_400, "1 day"), (3 * 86_400, "3 days"),
                                          (800 * 86_400, "2 years")])
def test_format_age(seconds, text):
    assert format_age(seconds) == text


@pytest.mark.parametrize("limit", [0, -1, float("nan"), float("inf"), "5", True])
def test_a_bad_limit_is_a_validation_error(limit):
    with pytest.raises(ValidationError, match="max_age_seconds must be a positive number"):
        stale_tick(TICK, TICK, limit)


def test_naive_times_are_refused():
    with pytest.raises(ValidationError, match="timezone-aware"):
        stale_tick(TICK.replace(tzinfo=None), TICK, 5.0)


# ---- through the real service and tick cache ---------------------------------------------------

T = datetime(2016, 8, 17, 10, 0, tzinfo=IST)  # a regular session day (the fixtures' T0)


def booked(desk) -> tuple:
    """Ledger entries (the seeded capital aside), positions and fills."""
    ledger, positions, fills = desk.ledger_snapshot()
    return tuple(e for e in ledger if not e[0].startswith("capital")), positions, fills


@pytest.fixture()
def fresh_desk(tmp_path, redis_url):
    d = make_desk(f"sqlite:///{tmp_path / 'desk.db'}", redis_url,
                  config=TradingConfig(slippage_bps=D(0), max_tick_age_seconds=5.0))
    yield d
    d.sql.dispose()


def test_order_on_a_stale_tick_waits_says_why_and_fills_on_the_next_fresh_tick(fresh_desk):
    desk = fresh_desk
    desk.tick(INFY, 1000.0, at=T)  # the only tick: 10:00:00
    before = booked(desk)
    placed_at = T + timedelta(hours=3)
    out = desk.svc.place_manual(intent(qty=10), user="trader", now=placed_at)
    assert out.ok, out
    [order] = desk.svc.order_book()
    assert (order.status, order.filled_quantity) == ("OPEN", 0)
    assert order.status_message == "waiting for a fresh tick (last 17 Aug 2016 10:00:00 IST, 3 h old)"
    assert booked(desk) == before  # nothing booked at the 3-hour-old price

    # the matcher runs again at market time: still the old tick, still waiting, still unbooked
    assert desk.svc.match_open_orders(placed_at + timedelta(seconds=30)) == 0
    assert desk.svc.order_book()[0].status == "OPEN" and booked(desk) == before

    desk.tick(INFY, 1010.0, at=placed_at + timedelta(seconds=40))  # a fresh price arrives
    assert desk.svc.match_open_orders(placed_at + timedelta(seconds=42)) == 1
    [order] = desk.svc.order_book()
    assert (order.status, order.filled_quantity, order.average_price) == ("COMPLETE", 10, D("1010.10"))
    assert order.status_message == ""
    [trade] = desk.svc.trade_book()
    assert trade.price == D("1010.10")  # the fresh tick's best ask, not the stale 1000


def test_order_placed_in_2099_never_fills_at_a_2016_price(fresh_desk):
    desk = fresh_desk
    desk.tick(INFY, 1000.0, at=T)
    before = booked(desk)
    now = datetime(2099, 8, 17, 10, 0, tzinfo=IST)
    desk.svc.place_manual(intent(qty=10), user="trader", now=now)
    desk.svc.match_open_orders(now + timedelta(seconds=1))
    assert booked(desk) == before and desk.svc.trade_book() == []
    [order] = desk.svc.order_book()
    assert (order.status, order.filled_quantity) == ("OPEN", 0)
    assert order.status_message == "waiting for a fresh tick (last 17 Aug 2016 10:00:00 IST, 83 years old)"


def test_a_fresh_tick_fills_at_once(fresh_desk):
    desk = fresh_desk
    desk.tick(INFY, 1000.0, at=T)
    desk.svc.place_manual(intent(qty=10), user="trader", now=T + timedelta(seconds=3))
    [order] = desk.svc.order_book()
    assert (order.status, order.status_message) == ("COMPLETE", "")
