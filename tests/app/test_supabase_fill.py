"""The atomic fill through the Data API (``rpc('desk_apply_fill')``, the contract of
``TradingStore.apply_fill``): fill + ledger + position in one transaction, exactly once, a stale
position re-booked, a failing part leaving nothing behind, and anon refused."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from app.adapters.supabase_store import SupabaseStore
from app.adapters.supabase_store.client import jsonable
from core.timeutil import UTC
from tests.supabase_local import supabase_local  # noqa: F401 - session fixture

TRADING = ["trading_fills", "trading_ledger", "trading_positions", "trading_audit", "trading_orders",
           "trading_risk_decisions"]
AT = datetime(2025, 12, 1, 4, 0, tzinfo=UTC)
DAY = date(2025, 12, 1)


@pytest.fixture()
def svc(supabase_local):  # noqa: F811
    supabase_local.truncate(TRADING)
    store = SupabaseStore(supabase_local.url, supabase_local.service_key)
    decision = {"decision_id": "d1", "trace_id": "tr1", "approval_id": None, "stage": "manual", "approved": True,
                "reasons": [], "messages": [], "price": "100", "at": "2025-12-01T04:00:00Z"}
    order = {"order_id": "o1", "approval_id": None, "decision_id": "d1", "trace_id": "tr1", "instrument_token": 408065,
             "tradingsymbol": "INFY", "side": "BUY", "quantity": 10, "product": "MIS", "order_type": "MARKET",
             "validity": "DAY", "tag": "", "strategy": "", "status": "OPEN", "placed_at": "2025-12-01T04:00:00Z",
             "updated_at": "2025-12-01T04:00:00Z", "day": "2025-12-01", "tick_size": "0.05",
             "filled_quantity": 0, "filled_turnover": "0", "fill_count": 0, "queued_for_open": False,
             "status_message": ""}
    store.client.table("trading_risk_decisions").insert(decision).execute()
    store.client.table("trading_orders").insert(order).execute()
    yield store
    store.dispose()


def _fill(seq: int, qty: int, price: str) -> dict:
    money = Decimal("1.25")
    return {"fill_id": f"o1-{seq}", "order_id": "o1", "seq": seq, "trace_id": "tr1", "instrument_token": 408065,
            "tradingsymbol": "INFY", "side": "BUY", "product": "MIS", "quantity": qty, "price": Decimal(price),
            "brokerage": money, "stt": money, "exchange_txn": money, "sebi": money, "ipft": money, "stamp": money,
            "square_off_fee": Decimal("0"), "gst": money, "charges_total": Decimal("8.75"),
            "filled_at": AT, "day": DAY, "settles_on": None, "strategy": "", "tag": ""}


def _book(fill: dict, calls: list | None = None):
    def book(current):
        if calls is not None:
            calls.append(current)
        qty = (current["quantity"] if current else 0) + fill["quantity"]
        cost = (current["cost"] if current else Decimal("0")) + fill["price"] * fill["quantity"]
        position = {"instrument_token": 408065, "product": "MIS", "tradingsymbol": "INFY", "quantity": qty,
                    "cost": cost, "realized_pnl": Decimal("0"), "day": DAY, "buy_quantity": qty, "buy_value": cost,
                    "sell_quantity": 0, "sell_value": Decimal("0"), "updated_at": AT}
        ledger = [{"entry_id": f"{fill['fill_id']}-charges", "at": AT, "day": DAY, "kind": "CHARGES",
                   "amount": -fill["charges_total"], "reference": fill["fill_id"], "instrument_token": 408065,
                   "trace_id": "tr1", "memo": ""}]
        return position, ledger, Decimal("0")
    return book


def _count(store, table: str) -> int:
    return store.client.table(table).select("*", count="exact", head=True).execute().count


def test_fill_ledger_and_position_in_one_call_exactly_once(svc):
    f1 = _fill(1, 4, "100.05")
    ok = svc.fills.apply_fill(f1, order_values={"fill_count": 1, "filled_quantity": 4, "status": "OPEN"},
                              order_expect={"fill_count": 0}, book=_book(f1),
                              audit={"trace_id": "tr1", "at": AT, "actor": "matcher", "action": "fill",
                                     "price": Decimal("100.05"), "details": {"fill_id": "o1-1"}})
    assert ok is True
    pos = svc.fills.position(408065, "MIS")
    assert pos["quantity"] == 4 and pos["cost"] == Decimal("400.20") and pos["day"] == DAY
    order = svc.client.table("trading_orders").select("fill_count,filled_quantity").eq("order_id", "o1").execute().data
    assert order == [{"fill_count": 1, "filled_quantity": 4}]
    assert _count(svc, "trading_fills") == 1 and _count(svc, "trading_ledger") == 1 and _count(svc, "trading_audit") == 1
    ledger = svc.client.table("trading_ledger").select("amount,kind").execute().data
    assert ledger == [{"amount": -8.75, "kind": "CHARGES"}]

    # Redelivery: the order moved on (fill_count is 1 now) -> no-op; same without order values.
    assert svc.fills.apply_fill(f1, order_values={"fill_count": 1}, order_expect={"fill_count": 0},
                                book=_book(f1)) is False
    assert svc.fills.apply_fill(f1, order_values=None, order_expect=None, book=_book(f1)) is False
    assert _count(svc, "trading_fills") == 1 and _count(svc, "trading_ledger") == 1
    assert svc.fills.position(408065, "MIS")["quantity"] == 4


def test_a_position_changed_meanwhile_is_rebooked(svc, supabase_local):  # noqa: F811
    f1, f2 = _fill(1, 4, "100"), _fill(2, 6, "101")
    assert svc.fills.apply_fill(f1, order_values=None, order_expect=None, book=_book(f1))
    calls: list = []
    inner = _book(f2, calls)

    def racing_book(current):
        if not calls:  # another matcher writes the position between our read and our rpc
            import psycopg

            with psycopg.connect(supabase_local.db_url, autocommit=True) as conn:
                conn.execute("update trading_positions set quantity = quantity + 1, cost = cost + 99")
        return inner(current)

    assert svc.fills.apply_fill(f2, order_values=None, order_expect=None, book=racing_book)
    assert len(calls) == 2 and calls[1]["quantity"] == 5  # re-booked from the fresh position
    pos = svc.fills.position(408065, "MIS")
    assert pos["quantity"] == 11 and pos["cost"] == Decimal("400") + 99 + Decimal("606")


def test_a_failing_part_leaves_nothing_written(svc):
    f1, f2 = _fill(1, 4, "100"), _fill(2, 6, "101")
    assert svc.fills.apply_fill(f1, order_values=None, order_expect=None, book=_book(f1))
    before = svc.fills.position(408065, "MIS")

    def clashing_book(current):
        position, ledger, realized = _book(f2)(current)
        ledger[0]["entry_id"] = "o1-1-charges"  # already in the ledger: unique violation
        return position, ledger, realized

    assert svc.fills.apply_fill(f2, order_values=None, order_expect=None, book=clashing_book) is False
    assert _count(svc, "trading_fills") == 1 and _count(svc, "trading_ledger") == 1
    assert svc.fills.position(408065, "MIS") == before


def test_the_rpc_needs_a_trusted_key(svc, supabase_local):  # noqa: F811
    anon = SupabaseStore(supabase_local.url, supabase_local.anon_key, check=False)
    f1 = _fill(1, 4, "100")
    with pytest.raises(Exception) as err:
        anon.client.rpc("desk_apply_fill", {"p_fill": jsonable(f1), "p_ledger": [], "p_position": {}}).execute()
    assert getattr(err.value, "code", None) == "42501"
    assert _count(svc, "trading_fills") == 0
