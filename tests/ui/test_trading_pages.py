"""AppTest for the paper-desk pages (Approvals, Orders & Positions, Risk, P&L).

Real parts only: a fresh SQLite store (``DATABASE_URL``), the session's real Redis
(``REDIS_URL``), the bundled instruments, the Dramatiq ``StubBroker`` of ``DESK_ENV=test``.
Ticks are written into the real tick cache with the wall clock as their receive time, so the
pages' desk clock runs on the replayed session's exchange time (``T0`` + seconds).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dramatiq
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from core import kite_wire
from core.orders import OrderIntent, OrderType, Side
from core.tick_batch import decode_frame
from core.timeutil import IST
from tests.factories import depth_tick, intent

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
PAGES = ["pages/approvals.py", "pages/orders.py", "pages/risk.py", "pages/pnl.py"]
#: A regular NSE session (Wednesday 17 Aug 2016, 10:00 IST) of the bundled replay data.
T0 = datetime(2016, 8, 17, 10, 0, tzinfo=IST)
D = Decimal


# ---- fixtures -------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _trading():
    """``services().trading``; until the lead wires it into the container, the same service
    built from the container's parts (store engine, instruments, ticks, Dramatiq queue)."""
    svc = services()
    if not hasattr(type(svc), "trading") and "trading" not in vars(svc):
        from app.adapters.trading_store import TradingStore
        from app.trading.service import TradingService

        vars(svc)["trading"] = TradingService(svc.settings, TradingStore(svc.store.engine), svc.instruments,
                                              svc.ticks, svc.tasks, calendar=svc.calendar)
    return svc.trading


def _fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    monkeypatch.delenv("DESK_BROKER", raising=False)
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()


@dataclass
class Desk:
    """The container's service graph with the trading service, plus tick and clock helpers."""

    @property
    def svc(self):
        return _trading()

    def token(self, symbol: str) -> int:
        return services().instruments.resolve(f"NSE:{symbol}").instrument_token

    def tick(self, symbol: str, ltp: float, at: datetime = T0) -> None:
        """One full-mode tick (5-level depth) received *now* with exchange time ``at``."""
        tick = depth_tick(self.token(symbol), ltp, at=at)
        frame = kite_wire.encode_frame([kite_wire.encode_packet(tick, "full")])
        services().ticks.write_frame(decode_frame(frame), datetime.now(UTC))

    def intent(self, symbol: str = "INFY", qty: int = 10, side: Side = Side.BUY, **kw) -> OrderIntent:
        return intent(self.token(symbol), symbol, side, qty, **kw)

    def propose(self, symbol: str = "INFY", qty: int = 10, price: str = "1000", *, reason: str = "ORB breakout",
                source: str = "strategy", now: datetime = T0, **intent_kw):
        return self.svc.propose(self.intent(symbol, qty, **intent_kw), signal_price=D(price), reason=reason,
                                source=source, now=now)

    def queued(self, queue: str = "trading") -> list[dramatiq.Message]:
        """Messages waiting on ``queue`` of the ``StubBroker`` (``DESK_ENV=test``), not consumed."""
        broker = services().tasks.broker
        q = broker.queues.get(queue)
        return [] if q is None else [dramatiq.Message.decode(raw) for raw in list(q.queue)]

    def execute_queued(self, queue: str = "trading") -> None:
        """Do what the worker would: consume each queued message and run the actor's body
        (``TradingService.execute_approval``)."""
        q = services().tasks.broker.queues.get(queue)
        while q is not None and not q.empty():
            message = dramatiq.Message.decode(q.get_nowait())
            q.task_done()  # the StubBroker's join() counts unfinished tasks across tests
            assert message.actor_name == "execute_approval"
            self.svc.execute_approval(**message.kwargs)


@pytest.fixture()
def desk(monkeypatch, tmp_path, redis_url) -> Iterator[Desk]:
    """Fresh SQLite store + the session's real Redis (flushed) + the trading service."""
    _fresh(monkeypatch, tmp_path, redis_url)
    d = Desk()
    _trading()
    services().tasks.broker.flush_all()
    yield d
    services().tasks.broker.flush_all()
    reset_services()
    st.cache_resource.clear()


@pytest.fixture()
def dead_redis_desk(monkeypatch, tmp_path) -> Iterator[Desk]:
    """Fresh SQLite store; REDIS_URL points at a closed loopback port."""
    _fresh(monkeypatch, tmp_path, f"redis://127.0.0.1:{_closed_port()}/0")
    d = Desk()
    _trading()
    yield d
    reset_services()
    st.cache_resource.clear()


def _page(path: str) -> AppTest:
    return AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _all_text(at: AppTest) -> str:
    return "\n".join(_texts(getattr(at, kind)) for kind in
                     ("markdown", "caption", "info", "warning", "error", "success", "header", "subheader"))


# ---- every page renders --------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception_on_an_empty_store(desk, page):
    at = _page(page).run()
    assert not at.exception, at.exception
    assert not at.error, _texts(at.error)


@pytest.mark.parametrize("page", PAGES)
def test_page_with_redis_unreachable_warns_instead_of_crashing(dead_redis_desk, page):
    at = _page(page).run()
    assert not at.exception, at.exception
    assert "unavailable" in _texts(at.warning).lower() or "unreachable" in _texts(at.warning).lower()


# ---- Approvals ------------------------------------------------------------------------------------


def test_approvals_proposal_made_through_the_service_shows_as_a_card(desk):
    desk.tick("INFY", 1000.0)
    a = desk.propose("INFY", 10, reason="ORB breakout above 15-minute high", stop_loss=D("990"), target=D("1030"))
    at = _page("pages/approvals.py").run()
    assert not at.exception, at.exception
    text = _all_text(at)
    assert "INFY" in text and "ORB breakout above 15-minute high" in text
    assert "₹990.00" in text and "₹1,030.00" in text and "₹1,000.00" in text  # stop, target, signal
    assert "risk OK" in text
    assert at.button(key=f"approvals_approve_{a.approval_id}").label == "Approve"
    assert re.search(r":material/timer: (4:[0-5]\d|5:00)\]", text)  # countdown to expiry (TTL 300 s)


def test_approvals_card_shows_risk_reason_codes_when_the_gatekeeper_refuses(desk):
    desk.tick("INFY", 1000.0)
    desk.propose("INFY", 1500)  # ₹15,00,000 > the ₹2,00,000 per-order cap
    at = _page("pages/approvals.py").run()
    assert not at.exception
    text = _all_text(at)
    assert "ORDER_NOTIONAL" in text
    assert "1,500 × **INFY**" in text and "₹15,00,000.00" in text  # app.ui.formatting: qty and inr


def test_approvals_approve_click_enqueues_execution_and_fills_once(desk):
    desk.tick("INFY", 1000.0)
    a = desk.propose("INFY", 10)
    at = _page("pages/approvals.py").run()
    at.button(key=f"approvals_approve_{a.approval_id}").click().run()
    assert not at.exception, at.exception
    assert desk.svc.approval(a.approval_id).status == "APPROVED"
    [message] = desk.queued()
    assert message.kwargs == {"approval_id": a.approval_id}
    assert "Approved" in _texts(at.success)
    assert "No pending approvals" in _texts(at.info)
    desk.execute_queued()  # what the worker's actor does
    [order] = desk.svc.order_book()
    assert order.status == "COMPLETE" and order.filled_quantity == 10


def test_approvals_large_notional_asks_for_confirmation_before_approving(desk):
    desk.tick("INFY", 1000.0)
    a = desk.propose("INFY", 150)  # ₹1,50,000 > the ₹1,00,000 confirmation threshold
    at = _page("pages/approvals.py").run()
    at.button(key=f"approvals_approve_{a.approval_id}").click().run()
    assert not at.exception, at.exception
    assert desk.svc.approval(a.approval_id).status == "PENDING"  # nothing yet: the dialog asks
    assert desk.queued() == []
    assert "₹1,50,000.00" in _texts(at.markdown)
    at.button(key="approvals_dialog_confirm").click().run()
    assert not at.exception, at.exception
    assert desk.svc.approval(a.approval_id).status == "APPROVED"
    assert len(desk.queued()) == 1


def test_approvals_reject_without_reason_shows_error_and_stays_pending(desk):
    desk.tick("INFY", 1000.0)
    a = desk.propose("INFY", 10)
    at = _page("pages/approvals.py").run()
    at.button(key=f"approvals_reject_{a.approval_id}").click().run()
    assert not at.exception
    assert "reason" in _texts(at.error)
    assert desk.svc.approval(a.approval_id).status == "PENDING"


def test_approvals_reject_with_reason_moves_card_to_history_with_who_and_reason(desk):
    desk.tick("INFY", 1000.0)
    a = desk.propose("INFY", 10)
    at = _page("pages/approvals.py").run()
    at.text_input(key=f"approvals_reason_{a.approval_id}").input("spread too wide")
    at.button(key=f"approvals_reject_{a.approval_id}").click().run()
    assert not at.exception, at.exception
    rejected = desk.svc.approval(a.approval_id)
    assert rejected.status == "REJECTED" and rejected.decision_note == "spread too wide"
    history = at.dataframe[0].value
    row = history[history["symbol"] == "INFY"].iloc[0]
    assert row["status"] == "REJECTED" and row["by"] == "trader" and row["note"] == "spread too wide"
    assert row["decided (IST)"].endswith("IST") and "17 Aug 2016 10:00" in row["decided (IST)"]
    assert desk.queued() == []


def test_approvals_bulk_approve_of_selected_cards_needs_confirmation(desk):
    desk.tick("INFY", 1000.0)
    desk.tick("SBIN", 250.0)
    a = desk.propose("INFY", 10)
    b = desk.propose("SBIN", 20, price="250")
    c = desk.propose("INFY", 5)
    at = _page("pages/approvals.py").run()
    at.checkbox(key=f"approvals_select_{a.approval_id}").check().run()
    at.checkbox(key=f"approvals_select_{b.approval_id}").check().run()
    at.button(key="approvals_bulk").click().run()
    assert not at.exception, at.exception
    assert desk.queued() == []  # the confirmation dialog is open
    at.button(key="approvals_dialog_confirm").click().run()
    assert not at.exception, at.exception
    statuses = {x: desk.svc.approval(x).status for x in (a.approval_id, b.approval_id, c.approval_id)}
    assert statuses == {a.approval_id: "APPROVED", b.approval_id: "APPROVED", c.approval_id: "PENDING"}
    assert sorted(m.kwargs["approval_id"] for m in desk.queued()) == sorted([a.approval_id, b.approval_id])


def test_approvals_history_shows_shadow_pnl_of_a_rejected_signal(desk):
    desk.tick("INFY", 1000.0)
    a = desk.propose("INFY", 10)
    desk.svc.reject(a.approval_id, user="trader", reason="not convinced", now=T0 + timedelta(seconds=5))
    desk.tick("INFY", 1010.0, at=T0 + timedelta(seconds=60))
    at = _page("pages/approvals.py").run()
    assert not at.exception
    history = at.dataframe[0].value
    assert history.iloc[0]["shadow P&L"] == "+₹100.00"  # 10 × (1010 − 1000)
    assert at.get("plotly_chart"), "no judgement chart"


# ---- Orders & Positions ---------------------------------------------------------------------------


def _frame(at: AppTest, column: str):
    """The first ``st.dataframe`` whose table has ``column``."""
    for element in at.dataframe:
        if column in element.value.columns:
            return element.value
    raise AssertionError(f"no table with column {column!r}; tables: {[list(e.value.columns) for e in at.dataframe]}")


#: The ticket's typed fields (text boxes: a value reaches the check exactly as typed).
TEXT_FIELDS = ("quantity", "price", "trigger", "stop", "target", "protection_pct", "reason")


def _ticket(at: AppTest, symbol: str = "NSE:INFY", qty: int | str = 10, **kw) -> AppTest:
    """Fill the ticket: the symbol (outside the form, run at once), then the form's fields, staged
    until a submit button (``_review``, as Enter does, or Place) is pressed."""
    if "type" in kw:  # price/trigger boxes are enabled by the order type (outside the form)
        at.selectbox(key="orders_type").set_value(kw.pop("type")).run()
    at.selectbox(key="orders_symbol").select(symbol).run()  # outside the form: picks its default product
    at.text_input(key="orders_quantity").input(str(qty))
    for key, value in kw.items():
        if key in TEXT_FIELDS:
            at.text_input(key=f"orders_{key}").input(str(value))
        else:
            at.radio(key=f"orders_{key}").set_value(value)
    return at


def _review(at: AppTest) -> AppTest:
    """Press Review (what Enter in a ticket field does)."""
    return at.button(key="orders_review").click().run()


def test_orders_ticket_with_zero_quantity_disables_place_with_the_reason_and_places_nothing(desk):
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page("pages/orders.py").run(), qty=0))
    assert not at.exception, at.exception
    assert at.button(key="orders_place").disabled
    assert "must be a positive whole number of shares, was 0" in _texts(at.error)
    assert desk.svc.order_book() == [] and desk.queued() == []


def test_orders_ticket_limit_without_price_disables_sending_and_says_so(desk):
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page("pages/orders.py").run(), type="LIMIT"))
    assert not at.exception
    assert at.button(key="orders_propose").disabled and at.button(key="orders_place").disabled
    assert "Price: enter a price in ₹" in _texts(at.error)
    assert desk.svc.pending(T0) == []


def test_orders_ticket_price_off_the_tick_shows_the_tick_size(desk):
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page("pages/orders.py").run(), type="LIMIT", price="1000.03"))  # off the 2016 ₹0.05 grid
    assert not at.exception
    assert "not a multiple of the tick size ₹0.05; use ₹1,000.00 or ₹1,000.05" in _texts(at.error)
    assert at.button(key="orders_place").disabled
    assert desk.svc.order_book() == []


def test_orders_send_to_approvals_creates_a_pending_approval(desk):
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page("pages/orders.py").run(), qty=5, reason="breakout retest"))
    at.button(key="orders_propose").click().run()
    assert not at.exception, at.exception
    [pending] = desk.svc.pending(T0 + timedelta(seconds=1))
    assert (pending.tradingsymbol, pending.side, pending.quantity, pending.source) == ("INFY", "BUY", 5, "manual")
    assert pending.reason == "breakout retest" and pending.signal_price == D("1000.00")
    assert "Sent to approvals" in _texts(at.success)
    assert desk.queued() == []  # nothing executes before an approval


def test_orders_place_goes_through_the_gatekeeper_and_shows_position_and_charges(desk):
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page("pages/orders.py").run(), qty=10))
    at.button(key="orders_place").click().run()
    assert not at.exception, at.exception
    assert "Placed BUY 10 INFY MIS MARKET · order O-" in _texts(at.success)
    desk.execute_queued()
    at = _page("pages/orders.py").run()
    assert not at.exception
    positions = _frame(at, "unrealized")
    row = positions.iloc[0]
    assert (row["symbol"], row["qty"], row["avg price"]) == ("INFY", "10", "₹1,000.10")  # best ask
    trades = _frame(at, "brokerage")
    assert trades.iloc[0]["brokerage"] == "₹3.00" and trades.iloc[0]["charges"].startswith("₹")
    book = _frame(at, "trigger")
    assert book.iloc[0]["status"] == "COMPLETE"
    assert "Charges today" in _texts(at.subheader)


def test_orders_place_refused_by_risk_shows_reason_code(desk):
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page("pages/orders.py").run(), qty=300))  # ₹3,00,000 > ₹2,00,000 per-order cap
    assert "ORDER_NOTIONAL" in _texts(at.caption)  # the preview says so before sending
    at.button(key="orders_place").click().run()
    assert not at.exception
    assert "ORDER_NOTIONAL" in _texts(at.error)
    assert desk.queued() == []


def test_orders_cancel_open_limit_order_marks_it_cancelled(desk):
    desk.tick("INFY", 1000.0)
    out = desk.svc.place_manual(desk.intent("INFY", 10, order_type=OrderType.LIMIT, price=D("990.00")),
                                user="trader", now=T0)
    assert out.ok
    desk.execute_queued()
    assert desk.svc.order_book()[0].status == "OPEN"  # resting below the market
    at = _page("pages/orders.py").run()
    [oid] = [o.order_id for o in desk.svc.order_book()]
    at.button(key=f"orders_cancel_{oid}").click().run()
    assert not at.exception, at.exception
    assert desk.svc.order_book()[0].status == "CANCELLED"
    assert "Cancelled" in _texts(at.success)


def test_orders_modify_open_limit_order_changes_its_price(desk):
    desk.tick("INFY", 1000.0)
    desk.svc.place_manual(desk.intent("INFY", 10, order_type=OrderType.LIMIT, price=D("990.00")),
                          user="trader", now=T0)
    desk.execute_queued()
    at = _page("pages/orders.py").run()
    [oid] = [o.order_id for o in desk.svc.order_book()]
    at.text_input(key=f"orders_modify_price_{oid}").input("995.00")
    at.button(key=f"orders_modify_review_{oid}").click().run()
    at.button(key=f"orders_modify_{oid}").click().run()
    assert not at.exception, at.exception
    assert desk.svc.order_book()[0].price == D("995.00")


# ---- Risk -----------------------------------------------------------------------------------------


def test_risk_limits_form_with_negative_cap_shows_error_naming_field_and_saves_nothing(desk):
    before = desk.svc.risk_limits()
    at = _page("pages/risk.py").run()
    at.number_input(key="risk_max_order_notional").set_value(-5.0)
    at.button(key="risk_save").click().run()
    assert not at.exception, at.exception
    assert "max_order_notional" in _texts(at.error) and "Not saved" in _texts(at.error)
    assert desk.svc.risk_limits() == before


def test_risk_limits_form_saves_a_new_version(desk):
    at = _page("pages/risk.py").run()
    at.number_input(key="risk_max_order_notional").set_value(150000.0)
    at.number_input(key="risk_max_open_positions").set_value(3)
    at.button(key="risk_save").click().run()
    assert not at.exception, at.exception
    saved = desk.svc.risk_limits()
    assert saved.max_order_notional == D("150000") and saved.max_open_positions == 3 and saved.version >= 1
    assert "Limits saved" in _texts(at.success)


def test_risk_status_shows_orders_and_open_positions(desk):
    desk.tick("INFY", 1000.0)
    desk.svc.place_manual(desk.intent("INFY", 10), user="trader", now=T0)
    desk.execute_queued()
    at = _page("pages/risk.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Open positions"] == "1 / 5"
    assert metrics["Orders today"].startswith("1 /")
    assert "Trading normally" in _texts(at.success)


def test_risk_kill_switch_needs_confirmation_then_flattens_and_halts(desk):
    desk.tick("INFY", 1000.0)
    desk.svc.place_manual(desk.intent("INFY", 10), user="trader", now=T0)
    desk.execute_queued()
    at = _page("pages/risk.py").run()
    at.button(key="risk_kill").click().run()
    assert not at.exception, at.exception
    assert not desk.svc.risk_status(T0 + timedelta(seconds=5)).halted  # the dialog asks first
    at.button(key="risk_kill_confirm").click().run()
    assert not at.exception, at.exception
    status = desk.svc.risk_status(T0 + timedelta(seconds=5))
    assert status.halted and status.open_positions == 0
    assert "HALTED" in _texts(at.error)
    at.button(key="risk_resume").click().run()
    assert not desk.svc.risk_status(T0 + timedelta(seconds=5)).halted


# ---- P&L --------------------------------------------------------------------------------------------


def test_pnl_after_a_round_trip_shows_equity_curve_and_per_symbol_charges(desk):
    desk.tick("INFY", 1000.0)
    desk.svc.place_manual(desk.intent("INFY", 10), user="trader", now=T0)
    desk.execute_queued()
    desk.tick("INFY", 1010.0, at=T0 + timedelta(minutes=10))
    desk.svc.place_manual(desk.intent("INFY", 10, side=Side.SELL), user="trader", now=T0 + timedelta(minutes=10))
    desk.execute_queued()
    at = _page("pages/pnl.py").run()
    assert not at.exception, at.exception
    assert at.get("plotly_chart"), "no equity chart"
    by_symbol = _frame(at, "tradingsymbol")
    row = by_symbol.iloc[0]
    assert row["tradingsymbol"] == "INFY" and row["gross"].startswith("+₹") and row["charges % of gross"].endswith("%")
    by_strategy = _frame(at, "strategy")
    assert list(by_strategy["origin"]) == ["ticket"] and list(by_strategy["strategy"]) == ["—"]
