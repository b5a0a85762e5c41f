"""The desk's ticket on a replayed 2016 session uses that date's NSE tick regime (issue 13, tick sizes)."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.errors import ValidationError
from core.orders import OrderType
from core.timeutil import IST
from tests.fixtures_trading import D, desk, intent  # noqa: F401

TCS = 2953217  # the bundled dump lists tick 0.10 (today's band for > ₹1,000–5,000)
REPLAY_DAY = datetime(2016, 9, 9, 11, 0, tzinfo=IST)  # a recorded replay session; TCS near ₹2,300


def _tcs_limit(price: str):
    return intent(TCS, "TCS", order_type=OrderType.LIMIT, qty=5, price=D(price))


def test_visible_2016_ltp_is_a_valid_limit_price_on_the_replay_date(desk):
    """NSE's uniform ₹0.05 tick before 10 Jun 2024 (NSE circular of 24 May 2024): an LTP of
    ₹2,300.05 seen in the 2016 replay is a valid TCS limit price, though the dump lists ₹0.10."""
    desk.tick(TCS, 2300.05, at=REPLAY_DAY, spread=0.05)
    out = desk.svc.place_manual(_tcs_limit("2300.05"), user="trader", now=REPLAY_DAY)
    assert out.ok, out.messages
    [order] = desk.svc.order_book()
    assert order.price == D("2300.05") and order.tradingsymbol == "TCS"


def test_off_the_2016_grid_is_refused_naming_the_regime_and_ledger_unchanged(desk):
    """A 2016 limit off the ₹0.05 grid is bad input naming the regime and its NSE source; nothing is written."""
    desk.tick(TCS, 2300.05, at=REPLAY_DAY, spread=0.05)
    before = desk.ledger_snapshot()
    with pytest.raises(ValidationError) as err:
        desk.svc.place_manual(_tcs_limit("2300.03"), user="trader", now=REPLAY_DAY)
    assert "tick_size 0.05 (NSE tick regime from 2000-01-01" in str(err.value)
    assert "NSE circular of 24 May 2024" in str(err.value) and "use 2300.00 or 2300.05" in str(err.value)
    assert desk.ledger_snapshot() == before and desk.svc.order_book() == []


def test_the_same_price_today_is_off_the_dumps_monthly_tick(desk):
    """From 15 Apr 2025 (NSE CM circular of March 2025) the dump's monthly tick (₹0.10 for TCS) applies."""
    today = datetime(2026, 12, 1, 11, 0, tzinfo=IST)
    desk.tick(TCS, 2300.0, at=today)
    with pytest.raises(ValidationError, match=r"tick_size 0\.1 \(NSE tick regime from 2025-04-15"):
        desk.svc.place_manual(_tcs_limit("2300.05"), user="trader", now=today)
