"""Honest bookkeeping (issue 14, item 4) and the Console-style P&L reports (item 5b), through the
real ``TradingService`` on SQLite and the session's real Redis (``tests.fixtures_trading.desk``).

* the approvals history holds only proposals: a ticket order and a kill-switch exit are not in it;
* every order, fill and P&L row carries its origin (approval, ticket, square-off, kill switch);
* an expired or risk-refused proposal becomes a notice and a notification (the real
  ``NotificationService`` enqueueing on a Dramatiq StubBroker);
* the trade-wise and symbol-wise reports are the books of the chosen IST days.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
import redis as redis_lib
from dramatiq.brokers.stub import StubBroker

from app.adapters.notify import parse_channels
from app.adapters.queue import DramatiqTaskQueue
from app.ops.notifications import NotificationService
from core.approvals import Origin, origin_of
from core.errors import ValidationError
from core.orders import Product, Side
from core.timeutil import IST
from tests.fixtures_trading import INFY, SBIN, T0, D, desk, intent, later  # noqa: F401


def _round_trip_and_kill(desk) -> None:
    """A ticket buy of 10 INFY, a proposal of 5 SBIN approved, then the kill switch flattens both."""
    desk.tick(INFY, 1000.0)
    desk.tick(SBIN, 200.0)
    assert desk.svc.place_manual(intent(qty=10), user="trader", now=later(1)).ok
    view = desk.svc.propose(intent(SBIN, "SBIN", qty=5, strategy="orb"), signal_price=D("200"), reason="ORB", source="strategy:orb",
                            now=later(2))
    assert desk.svc.approve(view.approval_id, user="trader", now=later(3)).ok
    desk.tick(INFY, 1002.0, at=later(60))
    desk.tick(SBIN, 199.0, at=later(60))
    assert desk.svc.kill_switch(user="trader", now=later(61)).ok


def test_origin_of_reads_source_id_and_tag():
    assert origin_of(source="ticket", approval_id="M-1") is Origin.TICKET
    assert origin_of(source="manual", approval_id="M-abc") is Origin.TICKET  # rows written before "ticket"
    assert origin_of(source="manual", approval_id="A-abc") is Origin.APPROVAL  # the ticket's "Send to approvals"
    assert origin_of(approval_id="O-KS-12ab-0") is Origin.KILL_SWITCH
    assert origin_of(approval_id="O-A-1", tag="SQUAREOFF") is Origin.SQUARE_OFF
    assert origin_of(source="strategy:orb", approval_id="A-1") is Origin.APPROVAL


def test_history_lists_only_proposals_not_ticket_orders_or_kill_switch_exits(desk):
    _round_trip_and_kill(desk)
    history = desk.svc.history()
    assert [(v.tradingsymbol, v.source, v.status) for v in history] == [("SBIN", "strategy:orb", "APPROVED")]
    origins = {(o.tradingsymbol, o.side): o.origin for o in desk.svc.order_book()}
    assert origins == {("INFY", "BUY"): "ticket", ("SBIN", "BUY"): "approval",
                       ("INFY", "SELL"): "kill switch", ("SBIN", "SELL"): "kill switch"}
    assert {(f.tradingsymbol, f.side): f.origin for f in desk.svc.trade_book()} == origins


def test_pnl_by_strategy_groups_desk_exits_under_their_origin(desk):
    _round_trip_and_kill(desk)
    by = desk.svc.pnl_by_strategy()
    assert "kill switch" not in set(by["strategy"])
    assert set(zip(by["origin"], by["strategy"], strict=True)) == {("ticket", ""), ("approval", "orb"),
                                                                   ("kill switch", "")}
    kill = by.set_index("origin").loc["kill switch"]
    fills = [f for f in desk.svc.trade_book() if f.origin == "kill switch"]
    assert kill["trades"] == 2 and kill["gross"] == pytest.approx(float(sum((f.realized for f in fills), D(0))))
    assert by["charges"].sum() == pytest.approx(desk.svc.pnl_by_symbol()["charges"].sum())


def _notifier(redis_url: str) -> tuple[NotificationService, StubBroker]:
    broker = StubBroker()
    svc = NotificationService(parse_channels("json://127.0.0.1:9/hook"), redis_lib.Redis.from_url(redis_url),
                              DramatiqTaskQueue(broker))
    svc.redis.delete(*(svc.redis.keys("desk:notify:sent:approval_expired:*") or ["-"]))
    return svc, broker


def _sent(broker: StubBroker) -> list[dict]:
    q = broker.queues.get("notify")
    out = []
    while q is not None and not q.empty():
        out.append(json.loads(q.get_nowait())["kwargs"])
    return out


def test_an_expired_proposal_is_a_notice_and_a_notification_once(desk, redis_url):
    notifier, broker = _notifier(redis_url)
    desk.svc.notifier = desk.svc._engine.notifier = notifier
    desk.tick(INFY, 1000.0)
    view = desk.svc.propose(intent(qty=5), signal_price=D("1000"), reason="ORB", source="strategy:orb",
                            ttl_seconds=30, now=later(1))
    _sent(broker)  # the "approval pending" message
    assert desk.svc.notices() == []
    assert desk.svc.expire_approvals(later(40)) == 1
    assert desk.svc.expire_approvals(later(50)) == 0
    [notice] = desk.svc.notices()
    assert (notice.kind, notice.approval_id, notice.tradingsymbol) == ("expired", view.approval_id, "INFY")
    assert "expired undecided" in notice.text and "BUY 5 INFY" in notice.text
    [message] = _sent(broker)
    assert message["kind"] == "approval_expired" and "INFY" in message["title"]
    assert desk.svc.history()[0].status == "EXPIRED"  # and it stays in the history


def test_a_risk_refused_proposal_is_a_notice_and_a_notification(desk, redis_url):
    notifier, broker = _notifier(redis_url)
    desk.svc.notifier = desk.svc._engine.notifier = notifier
    desk.tick(INFY, 1000.0)
    desk.svc.save_risk_limits({"max_order_quantity": 3}, user="risk")
    view = desk.svc.propose(intent(qty=5), signal_price=D("1000"), reason="ORB", source="strategy:orb",
                            now=later(1))
    assert not view.risk_preview.approved
    [notice] = desk.svc.notices()
    assert notice.kind == "refused" and notice.level == "error" and "Risk refused the proposal BUY 5 INFY" in notice.text
    kinds = [m["kind"] for m in _sent(broker)]
    assert "risk_breach" in kinds


def test_trade_and_symbol_reports_are_the_books_of_the_range(desk):
    _round_trip_and_kill(desk)
    next_day = datetime(2016, 8, 18, 10, 0, tzinfo=IST)
    desk.tick(INFY, 1005.0, at=next_day)
    desk.svc.resume(user="trader", now=next_day)
    assert desk.svc.place_manual(intent(qty=1, product=Product.CNC), user="trader", now=next_day).ok
    day1 = T0.date()
    trades = desk.svc.trade_report(day1, day1)
    book = [f for f in desk.svc.trade_book() if f.filled_at.date() == day1]
    assert len(trades) == len(book) == 4
    assert list(trades["filled_at"]) == sorted(f.filled_at for f in book)
    assert set(trades["origin"]) == {"ticket", "approval", "kill switch"}
    assert trades["charges"].sum() == pytest.approx(float(sum((f.charges.total for f in book), D(0))))
    both = desk.svc.trade_report(day1, date(2016, 8, 31))
    assert len(both) == 5
    assert len(desk.svc.trade_report(day1, date(2016, 8, 31), until=next_day - timedelta(seconds=1))) == 4
    symbols = desk.svc.symbol_report(day1, day1).set_index("tradingsymbol")
    infy = [f for f in book if f.tradingsymbol == "INFY"]
    assert symbols.loc["INFY", "realized"] == pytest.approx(float(sum((f.realized for f in infy), D(0))))
    assert symbols.loc["INFY", "buy_quantity"] == 10 and symbols.loc["INFY", "sell_quantity"] == 10
    assert symbols.loc["INFY", "net"] == pytest.approx(symbols.loc["INFY", "realized"] - symbols.loc["INFY", "charges"])
    assert list(symbols.index) == ["INFY", "SBIN"]
    with pytest.raises(ValidationError, match="after the end date"):
        desk.svc.trade_report(date(2016, 8, 18), day1)
    assert Side.SELL.value in set(trades["side"])
