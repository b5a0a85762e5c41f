"""NSE session rules for order entry (core.risk.market_rules.check_session), one exact test
per rule. Source: NSE market timings as summarised in ``../shared/docs/indian-market.md`` §1
(marketopenindia.site market sessions; forum.5paisa.com pre-market and post-market sessions;
support.geojit.com): pre-open 09:00–09:08 takes MARKET/LIMIT DAY orders (no SL, no IOC);
post-close 15:40–16:00 takes CNC MARKET orders only, filled at the closing price.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.orders import OrderType, Product, Validity
from core.risk import ReasonCode
from core.risk.market_rules import check_session
from core.sessions import SessionPhase
from tests.factories import INFY, intent

D = Decimal


def test_ioc_is_refused_in_pre_open_with_the_rule_named():
    """NSE pre-open (indian-market.md §1, support.geojit.com): IOC is not allowed."""
    denial = check_session(intent(INFY, validity=Validity.IOC), SessionPhase.PRE_OPEN)
    assert denial is not None and denial.code is ReasonCode.PRE_OPEN_IOC
    assert "IOC" in denial.message and "allowed: DAY" in denial.message and "NSE" in denial.message


def test_ioc_limit_is_refused_in_pre_open_too():
    """NSE pre-open (indian-market.md §1): no IOC whatever the order type."""
    i = intent(INFY, order_type=OrderType.LIMIT, price=D("1000"), validity=Validity.IOC)
    assert check_session(i, SessionPhase.PRE_OPEN).code is ReasonCode.PRE_OPEN_IOC


def test_day_orders_are_accepted_in_pre_open():
    """NSE pre-open (indian-market.md §1): MARKET and LIMIT DAY orders queue for the open."""
    assert check_session(intent(INFY), SessionPhase.PRE_OPEN) is None
    assert check_session(intent(INFY, order_type=OrderType.LIMIT, price=D("1000")), SessionPhase.PRE_OPEN) is None


def test_ioc_is_allowed_in_the_normal_market():
    """IOC is a normal-market validity (indian-market.md §1); only pre-open refuses it."""
    assert check_session(intent(INFY, validity=Validity.IOC), SessionPhase.NORMAL) is None


@pytest.mark.parametrize(
    "kw",
    [
        dict(order_type=OrderType.LIMIT, price=D("1000")),
        dict(order_type=OrderType.SL, price=D("1002"), trigger_price=D("1001")),
        dict(order_type=OrderType.SL_M, trigger_price=D("1001")),
    ],
)
def test_post_close_refuses_everything_but_market(kw):
    """NSE post-close 15:40–16:00 (indian-market.md §1; forum.5paisa.com): MARKET orders only."""
    denial = check_session(intent(INFY, product=Product.CNC, **kw), SessionPhase.POST_CLOSE)
    assert denial is not None and denial.code is ReasonCode.POST_CLOSE_MARKET_ONLY
    assert "allowed: MARKET" in denial.message and "closing price" in denial.message
    assert "NSE market timings" in denial.message and "forum.5paisa.com" in denial.message  # the source


def test_post_close_accepts_cnc_market():
    """NSE post-close (indian-market.md §1): a CNC MARKET order is accepted, at the close."""
    assert check_session(intent(INFY, product=Product.CNC), SessionPhase.POST_CLOSE) is None


def test_post_close_refuses_mis_first():
    """NSE post-close (indian-market.md §1): CNC only; an MIS order names the product rule."""
    denial = check_session(intent(INFY, product=Product.MIS), SessionPhase.POST_CLOSE)
    assert denial.code is ReasonCode.POST_CLOSE_CNC_ONLY and "allowed: CNC" in denial.message
    assert "NSE market timings" in denial.message  # the source


@pytest.mark.parametrize("phase", [SessionPhase.PRE_OPEN_MATCHING, SessionPhase.CLOSING, SessionPhase.CLOSED])
def test_post_close_market_cnc_is_the_only_after_hours_order(phase):
    """NSE sessions (indian-market.md §1): outside pre-open entry, normal and post-close
    nothing is accepted, not even a CNC MARKET order."""
    assert check_session(intent(INFY, product=Product.CNC), phase) is not None
