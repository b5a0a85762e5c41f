"""app.market.open_book: the ticker's store-backed book gives the same instruments as the
TradingService it stands in for (real SQLite trading store, real Redis)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.market.open_book import StoreOpenBook
from app.market.subscriptions import DeskSubscriptions
from core.errors import ValidationError
from tests.fixtures_trading import INFY, SBIN, T0, desk, intent  # noqa: F401

TCS = 2953217


def _tokens(views) -> list[int]:
    return sorted(int(v.instrument_token) for v in views)


def test_positions_and_pending_match_the_trading_service(desk):  # noqa: F811
    book = StoreOpenBook(desk.store)
    assert book.positions(T0) == [] and book.pending(T0) == []
    desk.tick(SBIN, 250.0)
    assert desk.svc.place_manual(intent(SBIN, "SBIN", qty=10), user="test", now=T0).ok
    desk.svc.propose(intent(TCS, "TCS", qty=1), signal_price="2000", reason="test", ttl_seconds=60, now=T0)
    now = T0 + timedelta(seconds=30)
    assert _tokens(book.positions(now)) == _tokens(p for p in desk.svc.positions(now) if p.quantity) == [SBIN]
    assert book.positions(now)[0].quantity == 10
    assert _tokens(book.pending(now)) == _tokens(desk.svc.pending(now)) == [TCS]
    later = T0 + timedelta(seconds=61)  # past the TTL: no longer pending, as the service says
    assert _tokens(book.pending(later)) == _tokens(desk.svc.pending(later)) == []
    wanted = DeskSubscriptions(lambda: [INFY], book).wanted(now)
    assert wanted.modes == {INFY: "full", SBIN: "full", TCS: "full"}
    assert wanted.sources == {"watchlist": 1, "positions": 1, "approvals": 1}


def test_closed_position_is_not_streamed(desk):  # noqa: F811
    desk.tick(SBIN, 250.0)
    assert desk.svc.place_manual(intent(SBIN, "SBIN", qty=10), user="test", now=T0).ok
    from core.orders import Side

    assert desk.svc.place_manual(intent(SBIN, "SBIN", side=Side.SELL, qty=10), user="test",
                                 now=T0 + timedelta(minutes=1)).ok
    assert StoreOpenBook(desk.store).positions(T0 + timedelta(minutes=2)) == []


def test_naive_time_is_refused(desk):  # noqa: F811
    with pytest.raises(ValidationError, match="timezone-aware"):
        StoreOpenBook(desk.store).pending(datetime(2016, 8, 17, 10, 0))
