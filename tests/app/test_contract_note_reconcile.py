"""Charges reconciliation with Kite's virtual contract note (issue 13), end to end: the real
paper desk (SQLite store, Redis ticks), the real ``kiteconnect`` client against the replay
server's ``POST /charges/orders`` (whose note is computed by the desk's own rules, so these
tests check the plumbing and the comparison, not Zerodha's rates)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kiteconnect.exceptions import InputException
from sqlalchemy import text

from app.adapters.contract_note_store import ContractNoteStore
from app.adapters.kite_errors import KiteLoginRequired, KiteUnavailable, connect
from app.trading.contract_notes import ContractNoteService
from core.charges import backfilled_schedules, schedule_for
from core.orders import Product, Side
from core.same_day_cnc import ScripDayLeg, scrip_day_charges
from tests.fixtures_trading import INFY, SBIN, D, desk, intent, later  # noqa: F401
from tests.servers import free_port

DAY = later(0).date()


@pytest.fixture(scope="module")
def kite_client(replay_server):
    return replay_server.kite()


def _service(desk, kite) -> ContractNoteService:  # noqa: F811
    return ContractNoteService(desk.store, ContractNoteStore(desk.sql.engine), lambda: kite)


def _trade_day(desk) -> None:  # noqa: F811
    """An MIS round trip in INFY and a same-day CNC round trip in SBIN (netted as intraday)."""
    desk.tick(INFY, 1000.0)
    desk.tick(SBIN, 250.0)
    for i, (token, sym, side, qty, product, ltp) in enumerate((
            (INFY, "INFY", Side.BUY, 20, Product.MIS, 1000.0),
            (SBIN, "SBIN", Side.BUY, 400, Product.CNC, 250.0),
            (INFY, "INFY", Side.SELL, 20, Product.MIS, 1012.0),
            (SBIN, "SBIN", Side.SELL, 400, Product.CNC, 251.5))):
        desk.tick(token, ltp, at=later(60 * i))
        out = desk.svc.place_manual(intent(token, sym, side, qty, product), user="trader", now=later(60 * i + 1))
        assert out.ok, out.reasons


def test_a_days_fills_reconcile_with_the_replays_contract_note(desk, kite_client):  # noqa: F811
    """Four orders, one scrip netted: every order and component matches, and the netted
    scrip-day's booked total (fills + ledger netting) equals the netted figure."""
    _trade_day(desk)
    svc = _service(desk, kite_client)
    check = svc.reconcile(DAY, later(3600))
    assert check.status == "matched", [r for r in check.rows if r["differs"]]
    assert check.orders == 4 and check.differences == 0
    assert check.desk_total == check.kite_total > 0
    booked = [r for r in check.rows if r["charge"] == "booked total"]
    assert len(booked) == 1 and booked[0]["tradingsymbol"] == "SBIN" and not booked[0]["differs"]
    # the netted scrip-day is what core.same_day_cnc says, ₹20 brokerage per order at most
    fills = [f for f in desk.svc.trade_book() if f.tradingsymbol == "SBIN"]
    netted = scrip_day_charges([ScripDayLeg(f.order_id, SBIN, Side(f.side), f.quantity, f.price * f.quantity)
                                for f in fills], schedule_for(DAY, backfilled_schedules()))
    assert booked[0]["desk"] == netted.total - netted.square_off_fee - netted.dp
    # the whole day's booked charges are the ledger's (funds) figure
    assert check.desk_total == desk.svc.funds(later(3600)).charges_today


def test_a_charge_altered_in_the_store_is_shown_per_order_and_per_charge(desk, kite_client):  # noqa: F811
    """₹1 more STT on the MIS sell's fill: that order's STT and total differ by +₹1.00."""
    _trade_day(desk)
    sell = next(f for f in desk.svc.trade_book() if f.tradingsymbol == "INFY" and f.side == "SELL")
    with desk.sql.engine.begin() as conn:
        conn.execute(text("UPDATE trading_fills SET stt = stt + 1 WHERE order_id = :o"), {"o": sell.order_id})
    check = _service(desk, kite_client).reconcile(DAY, later(3600))
    assert check.status == "differences" and check.differences == 2
    differing = {(r["order_id"], r["charge"]): r["difference"] for r in check.rows if r["differs"]}
    assert differing == {(sell.order_id, "stt"): D("1.00"), (sell.order_id, "total"): D("1.00")}
    assert check.desk_total - check.kite_total == D("1.00")


def test_kite_unreachable_is_recorded_raised_for_retry_and_nothing_half_written(desk, kite_client):  # noqa: F811
    """Kite down: ``KiteUnavailable`` (the actor retries), the day's row says so with no
    comparisons; once Kite answers the result is complete; a later failure keeps it."""
    _trade_day(desk)
    dead = connect("paperdesk-test", access_token="x", root=f"http://127.0.0.1:{free_port()}", timeout=2)
    svc = _service(desk, dead)
    with pytest.raises(KiteUnavailable, match="cannot reach Kite"):
        svc.reconcile(DAY, later(3600))
    first = svc.check(DAY)
    assert first.status == "unreachable" and first.rows == [] and first.differences == 0 and first.attempts == 1
    assert "retrying" in first.message
    good = _service(desk, kite_client).reconcile(DAY, later(3700))
    assert good.status == "matched" and good.attempts == 0 and good.rows
    with pytest.raises(KiteUnavailable):
        svc.reconcile(DAY, later(3800))
    kept = svc.check(DAY)
    assert kept.status == "matched" and kept.rows == good.rows and kept.attempts == 1
    assert kept.reconciled_at == good.reconciled_at


def test_the_actor_re_raises_kite_unavailable_so_dramatiq_retries(desk):  # noqa: F811
    from workers import reconcile

    _trade_day(desk)
    dead = connect("paperdesk-test", access_token="x", root=f"http://127.0.0.1:{free_port()}", timeout=2)
    reconcile._service = _service(desk, dead)
    try:
        with pytest.raises(KiteUnavailable):
            reconcile.reconcile_contract_note.fn(day=DAY.isoformat())
        assert reconcile.reconcile_contract_note.options["max_retries"] == 5
    finally:
        reconcile._service = None


def test_no_kite_session_is_recorded_not_raised(desk):  # noqa: F811
    _trade_day(desk)

    def no_session():
        raise KiteLoginRequired("no Kite session; log in on the Settings page")

    check = ContractNoteService(desk.store, ContractNoteStore(desk.sql.engine), no_session).reconcile(DAY, later(3600))
    assert check.status == "no_session" and "log in" in check.message and check.rows == []


def test_a_day_without_fills_is_complete_and_calls_nothing(desk):  # noqa: F811
    def never():
        raise AssertionError("Kite must not be called without fills")

    check = ContractNoteService(desk.store, ContractNoteStore(desk.sql.engine), never).reconcile(DAY, later(0))
    assert check.status == "no_fills" and check.orders == 0


def test_the_replay_refuses_a_bad_contract_note_request(kite_client):
    with pytest.raises(InputException, match="non-empty JSON list"):
        kite_client.get_virtual_contract_note([])
    with pytest.raises(InputException, match="missing `quantity`"):
        kite_client.get_virtual_contract_note([{"order_id": "1", "tradingsymbol": "INFY", "transaction_type": "BUY",
                                                "product": "MIS", "average_price": 10}])


def test_the_replay_answers_in_kites_shape(kite_client):
    note = kite_client.get_virtual_contract_note([
        {"order_id": "1", "exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY", "variety": "regular",
         "product": "MIS", "order_type": "MARKET", "quantity": 10, "average_price": 1000}])
    assert len(note) == 1
    item = note[0]
    assert {"transaction_type", "tradingsymbol", "exchange", "variety", "product", "order_type", "quantity",
            "price", "charges"} <= set(item)
    c = item["charges"]
    assert set(c) >= {"transaction_tax", "transaction_tax_type", "exchange_turnover_charge", "sebi_turnover_charge",
                      "brokerage", "stamp_duty", "gst", "total"}
    assert c["brokerage"] == 3.0 and set(c["gst"]) == {"igst", "cgst", "sgst", "total"}
    parts = sum(c[k] for k in ("transaction_tax", "exchange_turnover_charge", "sebi_turnover_charge", "brokerage",
                               "stamp_duty")) + c["gst"]["total"]
    assert Decimal(str(c["total"])) == Decimal(str(round(parts, 2)))


def test_per_symbol_pnl_uses_the_netted_charges(desk):  # noqa: F811
    """By symbol, SBIN's charges are the netted scrip-day (fills + the ledger's netting) and
    every symbol's charges sum to the ledger's."""
    _trade_day(desk)
    by_symbol = desk.svc.pnl_by_symbol().set_index("tradingsymbol")
    fills = [f for f in desk.svc.trade_book() if f.tradingsymbol == "SBIN"]
    netted = scrip_day_charges([ScripDayLeg(f.order_id, SBIN, Side(f.side), f.quantity, f.price * f.quantity)
                                for f in fills], schedule_for(DAY, backfilled_schedules()))
    assert by_symbol.loc["SBIN", "charges"] == pytest.approx(float(netted.total), abs=0.005)
    assert by_symbol["charges"].sum() == pytest.approx(float(desk.svc.funds(later(3600)).charges_total), abs=0.005)
