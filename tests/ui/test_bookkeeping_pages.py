"""AppTest for honest bookkeeping (issue 14, item 4) and the Console-style P&L report (item 5b).

Real parts as in ``tests.ui.test_trading_pages`` (whose fixtures are reused): a fresh SQLite
store, the session's real Redis tick cache (market clock on the replayed 2016 session), the
Dramatiq StubBroker of ``DESK_ENV=test``. The CSV a download button serves is read from
Streamlit's own in-memory media storage.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from app.ui.colours import LOSS, PROFIT
from core.orders import Side
from tests.ui.test_trading_pages import ROOT, T0, TIMEOUT, D, _frame, _page, desk  # noqa: F401


def _books(desk) -> None:
    """A ticket buy of 10 INFY, a strategy proposal of 20 SBIN approved, then the kill switch
    flattens both (INFY up, SBIN down)."""
    desk.tick("INFY", 1000.0)
    desk.tick("SBIN", 200.0)
    assert desk.svc.place_manual(desk.intent("INFY", 10), user="trader", now=T0).ok
    desk.execute_queued()
    view = desk.propose("SBIN", 20, "200", source="strategy:orb", strategy="orb")
    assert desk.svc.approve(view.approval_id, user="trader", now=T0 + timedelta(seconds=5)).ok
    desk.execute_queued()
    desk.tick("INFY", 1010.0, at=T0 + timedelta(minutes=5))
    desk.tick("SBIN", 199.0, at=T0 + timedelta(minutes=5))
    assert desk.svc.kill_switch(user="trader", now=T0 + timedelta(minutes=5)).ok
    desk.svc.resume(user="trader", now=T0 + timedelta(minutes=5))


def _chart(at: AppTest, key: str) -> dict:
    for element in at.get("plotly_chart"):
        if key in element.proto.id or key in str(element.proto):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart {key!r}")


def test_approvals_history_excludes_ticket_orders_and_kill_switch_exits(desk):
    _books(desk)
    at = _page("pages/approvals.py").run()
    assert not at.exception, at.exception
    history = _frame(at, "shadow P&L")
    assert list(zip(history["symbol"], history["source"], history["status"], strict=True)) == [
        ("SBIN", "strategy:orb", "APPROVED")]
    assert "ticket" not in set(history["source"]) and "killswitch" not in set(history["source"])
    assert [m.value for m in at.metric][:1] == ["1"]  # approved: the proposal only


def test_shadow_pnl_chart_colours_a_profit_green_and_a_loss_red(desk):
    desk.tick("INFY", 1000.0)
    desk.tick("SBIN", 200.0)
    up = desk.propose("INFY", 10, "1000")
    down = desk.propose("SBIN", 20, "200")
    desk.svc.reject(up.approval_id, user="trader", reason="too late", now=T0 + timedelta(seconds=1))
    desk.svc.reject(down.approval_id, user="trader", reason="spread", now=T0 + timedelta(seconds=2))
    desk.tick("INFY", 1010.0, at=T0 + timedelta(minutes=1))  # the passed-up BUY INFY would have made +₹100
    desk.tick("SBIN", 190.0, at=T0 + timedelta(minutes=1))  # the passed-up BUY SBIN would have lost ₹200
    at = _page("pages/approvals.py").run()
    assert not at.exception, at.exception
    bars = _chart(at, "approvals_judgement_chart")["data"][0]
    assert [round(v) for v in bars["y"]] == [100, -200]
    assert bars["marker"]["color"] == [PROFIT, LOSS]
    assert bars["customdata"] == [["REJECTED", "+₹100.00"], ["REJECTED", "-₹200.00"]]  # hover text, formatting.inr


def test_pnl_page_groups_desk_exits_by_origin_and_colours_profit_green(desk):
    _books(desk)
    at = _page("pages/pnl.py").run()
    assert not at.exception, at.exception
    by_strategy = _frame(at, "strategy")
    assert "kill switch" not in set(by_strategy["strategy"])
    assert set(zip(by_strategy["origin"], by_strategy["strategy"], strict=True)) == {
        ("ticket", "—"), ("approval", "orb"), ("kill switch", "—")}
    net = next(t for t in _chart(at, "pnl_by_symbol_chart")["data"] if t["name"] == "net")
    colours = dict(zip(net["x"], net["marker"]["color"], strict=True))
    assert colours == {"INFY": PROFIT, "SBIN": LOSS}
    assert all(re.fullmatch(r"[+-]₹[\d,]+\.\d\d", c) for c in net["customdata"]), net["customdata"]  # hover ₹ text


@pytest.fixture()
def served_files(monkeypatch) -> dict[str, bytes]:
    """Every file a download button hands to Streamlit's in-memory media storage, by file id."""
    files: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        files[file_id] = path_or_data if isinstance(path_or_data, bytes) else bytes(path_or_data, "utf-8")
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return files


def _csv(at: AppTest, key: str, files: dict[str, bytes]) -> pd.DataFrame:
    [button] = [b for b in at.get("download_button") if b.proto.id.endswith(key) or key in b.proto.id]
    url = button.proto.url
    [data] = [v for k, v in files.items() if k in url]
    return pd.read_csv(io.BytesIO(data))


def test_pnl_report_defaults_to_the_market_month_and_csvs_match_the_books(desk, served_files):
    _books(desk)
    at = _page("pages/pnl.py").run()
    assert not at.exception, at.exception
    picker = at.date_input(key="pnl_range")
    assert tuple(picker.value) == (date(2016, 8, 1), date(2016, 8, 17))  # this market month up to market time
    book = sorted(desk.svc.trade_book(), key=lambda f: f.filled_at)
    trades = _frame(at, "realized P&L")
    assert list(trades["symbol"]) == [f.tradingsymbol for f in book]
    assert list(trades["origin"]) == ["ticket", "approval", "kill switch", "kill switch"]
    assert all(re.fullmatch(r"\d\d [A-Z][a-z]{2} 2016 \d\d:\d\d:\d\d IST", t) for t in trades["time (IST)"]), \
        list(trades["time (IST)"])  # formatting.ist, e.g. "17 Aug 2016 10:00:00 IST"
    assert any(c.value.startswith("01 Aug 2016 – 17 Aug 2016 · ") for c in at.caption)
    csv = _csv(at, "pnl_trades_csv", served_files)
    assert list(csv["symbol"]) == [f.tradingsymbol for f in book]
    assert list(csv["side"]) == [f.side for f in book] and list(csv["qty"]) == [f.quantity for f in book]
    assert list(csv["price"]) == [float(f.price) for f in book]
    assert list(csv["charges"]) == pytest.approx([float(f.charges.total) for f in book])
    assert list(csv["time (IST)"]) == [f.filled_at.strftime("%Y-%m-%d %H:%M:%S") for f in book]
    assert list(csv["origin"]) == ["ticket", "approval", "kill switch", "kill switch"]
    symbols = _csv(at, "pnl_symbols_csv", served_files).set_index("symbol")
    for sym in ("INFY", "SBIN"):
        mine = [f for f in book if f.tradingsymbol == sym]
        assert symbols.loc[sym, "realized P&L"] == pytest.approx(float(sum((f.realized for f in mine), D(0))))
        assert symbols.loc[sym, "charges"] == pytest.approx(float(sum((f.charges.total for f in mine), D(0))))
        assert symbols.loc[sym, "net P&L"] == pytest.approx(symbols.loc[sym, "realized P&L"] - symbols.loc[sym, "charges"])
        assert symbols.loc[sym, "buy qty"] == symbols.loc[sym, "sell qty"] == mine[0].quantity
    at.date_input(key="pnl_range").set_value((date(2016, 8, 1), date(2016, 8, 16))).run()
    assert not at.exception, at.exception
    assert "No trades in this range." in [i.value for i in at.info]


def test_an_expired_proposal_toasts_once_on_the_next_page_and_shows_on_home(desk):
    desk.tick("INFY", 1000.0)
    desk.svc.propose(desk.intent("INFY", 5, side=Side.BUY), signal_price=D("1000"), reason="ORB", source="strategy:orb",
                     ttl_seconds=30, now=T0)
    assert desk.svc.expire_approvals(T0 + timedelta(seconds=40)) == 1
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    toasts = [t.value for t in at.toast if "expired undecided" in t.value]
    assert len(toasts) == 1 and "BUY 5 INFY" in toasts[0]
    assert any("expired undecided" in w.value for w in at.warning)  # Home's notice
    at.run()
    assert not [t.value for t in at.toast if "expired undecided" in t.value]  # once per session


def test_order_and_trade_books_label_each_order_with_its_origin(desk):
    _books(desk)
    at = _page("pages/orders.py").run()
    assert not at.exception, at.exception
    book = {(o.tradingsymbol, o.side): o.origin for o in desk.svc.order_book()}
    orders = _frame(at, "placed (IST)")
    assert dict(zip(zip(orders["symbol"], orders["side"], strict=True), orders["origin"], strict=True)) == book
    assert book == {("INFY", "BUY"): "ticket", ("SBIN", "BUY"): "approval", ("INFY", "SELL"): "kill switch",
                    ("SBIN", "SELL"): "kill switch"}
    trades = _frame(at, "filled (IST)")
    assert sorted(trades["origin"]) == sorted(book.values())
