"""Post-close orders on the desk (15:40–16:00 IST): CNC MARKET only, filled at NSE's closing price.

Sources: NSE post-close session — MARKET orders only, CNC only, at the closing price
(``../shared/docs/indian-market.md`` §1: marketopenindia.site, forum.5paisa.com); NSE's closing
price is the volume-weighted average of the last 30 minutes' trades, 15:00–15:30 IST
(tradingqna.com, "Why is there a difference between last trading price and closing price on
NSE?"); ``core.closing_price``.

A real ``TradingService`` (SQLite, Redis ticks) reading the day's 1-minute bars through a real
``MarketDataService`` backed by the replay server's historical API (the replay of 2016-08-17
serves the 2016-08-16 session), with the market clock pinned to 15:45 that day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from app.adapters.calendar_source import load_nse_calendar
from app.adapters.kite_historical import historical_client
from app.adapters.redis_client import redis_client
from app.market.history import MarketDataService
from app.market.instruments import InstrumentService
from app.trading.config import TradingConfig
from app.trading.service import TradingService
from core.closing_price import LTP_BASIS, VWAP_BASIS
from core.orders import OrderType, Product, Side, tick_size_for
from core.timeutil import IST
from tests.app.test_market_data import replay_settings
from tests.fixtures_trading import INFY, D, desk, intent  # noqa: F401

AUG16 = date(2016, 8, 16)
POST = datetime(2016, 8, 16, 15, 45, tzinfo=IST)


@pytest.fixture()
def market(desk, replay_server, redis_url) -> MarketDataService:  # noqa: F811
    """The replay's market data on the desk's store, and the desk rebuilt the way the container
    builds it: ``TradingService(..., market=market_data)``."""
    settings = replay_settings(replay_server, redis_url)
    md = MarketDataService(desk.sql, InstrumentService(desk.sql), historical_client(settings, redis_client(redis_url)),
                           clock=lambda: POST)
    desk.svc = TradingService(None, desk.store, InstrumentService(desk.sql), desk.ticks, calendar=load_nse_calendar(),
                              config=TradingConfig(slippage_bps=D(0)), market=md)
    return md


def _expected_close(replay_server) -> tuple[Decimal, float]:
    """The replay's own 1-minute bars of INFY, 15:00–15:29 on 2016-08-16, averaged here by
    hand: Σ typical × volume / Σ volume, typical = (high + low + close) / 3; and the 15:29 close."""
    kite = replay_server.kite()
    rows = kite.historical_data(INFY, datetime(2016, 8, 16, 15, 0), datetime(2016, 8, 16, 15, 29), "minute")
    rows = [r for r in rows if 15 * 60 <= r["date"].hour * 60 + r["date"].minute < 15 * 60 + 30]
    assert len(rows) == 30 and sum(r["volume"] for r in rows) > 0
    pv = sum((r["high"] + r["low"] + r["close"]) / 3 * r["volume"] for r in rows)
    return Decimal(repr(pv / sum(r["volume"] for r in rows))), rows[-1]["close"]


def _fill_audit(desk, trace_id: str) -> dict:  # noqa: F811
    [fill] = [a for a in desk.svc.audit(trace_id).audit if a.action == "fill"]
    return fill.details


def test_post_close_market_cnc_fills_at_the_vwap_of_15_00_to_15_30(desk, market, replay_server):  # noqa: F811
    """NSE post-close: a CNC MARKET order fills at the closing price = VWAP of 15:00–15:30."""
    raw, last_close = _expected_close(replay_server)
    desk.tick(INFY, last_close, at=POST)
    out = desk.svc.place_manual(intent(qty=7, product=Product.CNC), user="trader", now=POST)
    assert out.ok, out.messages
    [trade] = desk.svc.trade_book()
    inst = desk.svc.instruments.by_token(INFY)
    tick = tick_size_for(inst, AUG16, Decimal(repr(last_close)))
    expected = ((raw / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick).quantize(D("0.01"))
    assert trade.price == expected and trade.quantity == 7 and trade.product == "CNC"
    # the fill is the 30-minute average, not the last traded price (the fallback)
    assert trade.price != D(repr(last_close)).quantize(D("0.01")), (raw, last_close)
    details = _fill_audit(desk, out.trace_id)
    assert details["price_basis"] == VWAP_BASIS and "15:00–15:30" in details["price_reason"]


def test_post_close_without_bars_fills_at_the_last_traded_price_labelled(desk):  # noqa: F811
    """No market data service (no bars): the close cannot be computed; the fill is at the
    day's last traded price and its audit row says why (NSE takes the LTP when nothing traded)."""
    desk.tick(INFY, 1001.3, at=POST)
    out = desk.svc.place_manual(intent(qty=3, product=Product.CNC), user="trader", now=POST)
    assert out.ok, out.messages
    [trade] = desk.svc.trade_book()
    assert trade.price == D("1001.30")
    details = _fill_audit(desk, out.trace_id)
    assert details["price_basis"] == LTP_BASIS and "no 1-minute bars" in details["price_reason"]


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        (dict(product=Product.CNC, order_type=OrderType.LIMIT, price=D("1000.0")), "POST_CLOSE_MARKET_ONLY"),
        (dict(product=Product.CNC, order_type=OrderType.SL, price=D("1010.0"), trigger_price=D("1009.0")),
         "POST_CLOSE_MARKET_ONLY"),
        (dict(product=Product.CNC, order_type=OrderType.SL_M, trigger_price=D("1009.0")), "POST_CLOSE_MARKET_ONLY"),
        (dict(product=Product.MIS), "POST_CLOSE_CNC_ONLY"),
    ],
    ids=["limit", "sl", "sl_m", "mis"],
)
def test_post_close_refuses_all_but_cnc_market_and_leaves_the_ledger(desk, kw, code):  # noqa: F811
    """NSE post-close (indian-market.md §1; forum.5paisa.com): CNC MARKET only; anything else
    is refused naming the rule and its source, with funds and ledger unchanged."""
    desk.tick(INFY, 1000.0, at=POST)
    desk.svc.funds(POST)  # the opening capital entry is written on first use
    before = desk.ledger_snapshot()
    out = desk.svc.place_manual(intent(**kw), user="trader", now=POST + timedelta(seconds=1))
    assert not out.ok and code in out.reasons
    msg = " ".join(out.messages)
    assert "post-close (15:40–16:00 IST)" in msg and "NSE market timings" in msg
    assert desk.ledger_snapshot() == before and desk.svc.trade_book() == []


def test_a_normal_session_limit_still_open_does_not_fill_post_close(desk, market):  # noqa: F811
    """Only orders placed post-close trade at the close (core.broker rule 12)."""
    desk.tick(INFY, 1000.0, at=POST - timedelta(hours=2))
    out = desk.svc.place_manual(intent(qty=2, product=Product.CNC, order_type=OrderType.LIMIT, price=D("900.0"),
                                       side=Side.BUY), user="trader", now=POST - timedelta(hours=2))
    assert out.ok
    desk.tick(INFY, 1000.0, at=POST)
    assert desk.svc.match_open_orders(POST) == 0 and desk.svc.trade_book() == []
