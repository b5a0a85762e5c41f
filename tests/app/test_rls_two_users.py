"""Two users doing the same things through the real Data API (PostgREST at ``/rest/v1``) never
see or collide with each other's rows: every key of a user-owned table leads with ``owner``.

Table-driven over every user-owned table (``migrations.owned_tables()``): users A and B insert
the *same* row (same primary and unique keys) and each reads back only their own; the backend
(service_role) sees both, stamped with their owners. Then the store's own paths: the same
watchlist name, the same job id, the same fill on the same position (``desk_apply_fill``),
and the backend doing the same next to them. API keys are backend-only: users see none.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from postgrest.exceptions import APIError
from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Integer, Numeric, String, Text

from app.adapters import migrations as m
from app.adapters.store.schema import UtcDateTime
from app.adapters.supabase_store import SupabaseStore
from app.adapters.supabase_store.client import DESK_OWNER
from tests.app.test_rls import local, users  # noqa: F401 - fixtures
from tests.app.test_supabase_fill import _book, _fill
from tests.supabase_local import supabase_local  # noqa: F401 - session fixture

SAME = "same"  # every string key (cut to a narrower VARCHAR, e.g. an operator's 2), so foreign keys line up


def _value(col) -> Any:
    kind = col.type
    if isinstance(kind, UtcDateTime):
        return "2025-12-01T04:00:00Z"
    if isinstance(kind, Date):
        return "2025-12-01"
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer | BigInteger):
        return 7
    if isinstance(kind, Numeric) and not isinstance(kind, Float):
        return "1.50"
    if isinstance(kind, Float):
        return 1.5
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, String | Text):
        return SAME[:kind.length] if getattr(kind, "length", None) else SAME
    raise AssertionError(f"no sample value for {col.table.name}.{col.name} ({kind!r}): add one")


def _same_row(table) -> dict[str, Any]:
    """One row with every column set (the serial id left to the database): the same for A and B."""
    return {c.name: _value(c) for c in table.columns if c is not table.autoincrement_column}


OWNED = [t for t in m.desk_tables() if t.name in m.owned_tables()]


@pytest.fixture()
def people(users, supabase_local):  # noqa: F811 - users: test_rls's two users and the backend
    supabase_local.truncate([t.name for t in OWNED])
    yield users
    supabase_local.truncate([t.name for t in OWNED])


def test_every_user_table_takes_the_same_row_from_two_users_without_a_collision(people):
    a, b, svc, a_id, b_id = people
    assert (a.owner, b.owner, svc.owner) == (a_id, b_id, DESK_OWNER)
    for table in OWNED:  # dependencies first, so foreign keys find their (owner, key) row
        row = _same_row(table)
        for user in (a, b):
            inserted = user.client.table(table.name).insert(row).execute().data
            assert len(inserted) == 1, table.name
    for table in OWNED:
        assert [r["owner"] for r in a.client.table(table.name).select("owner").execute().data] == [a_id], table.name
        assert [r["owner"] for r in b.client.table(table.name).select("owner").execute().data] == [b_id], table.name
        every = sorted(r["owner"] for r in svc.client.table(table.name).select("owner").execute().data)
        assert every == sorted([a_id, b_id]), table.name


def test_the_same_key_twice_for_one_user_still_collides(people):
    a, _, _, _, _ = people
    names = [t for t in OWNED if t.name == "watchlist_names"][0]
    a.client.table("watchlist_names").insert(_same_row(names)).execute()
    with pytest.raises(APIError) as err:
        a.client.table("watchlist_names").insert(_same_row(names)).execute()
    assert err.value.code == "23505"


def test_same_watchlist_and_job_for_two_users_and_the_backend(people):
    a, b, svc, _, _ = people
    a.watchlists.replace("main", ["NSE:INFY", "NSE:TCS"])
    b.watchlists.replace("main", ["NSE:SBIN"])
    svc.watchlists.replace("main", ["NSE:RELIANCE"])  # the backend's own list, beside theirs
    for store in (a, b, svc):
        store.jobs.create("scan", {"who": store.owner}, job_id="job-1")
    b.watchlists.replace("main", ["NSE:SBIN", "NSE:ITC"])  # replacing B's list leaves A's alone

    assert a.watchlists.get("main") == ["NSE:INFY", "NSE:TCS"]
    assert b.watchlists.get("main") == ["NSE:SBIN", "NSE:ITC"]
    assert svc.watchlists.get("main") == ["NSE:RELIANCE"]
    assert a.watchlists.names() == b.watchlists.names() == svc.watchlists.names() == ["main"]
    for store in (a, b, svc):
        assert store.jobs.get("job-1").args == {"who": store.owner}
        assert [j.id for j in store.jobs.recent()] == ["job-1"]
    a.jobs.fail("job-1", "A's scan failed")
    assert a.jobs.get("job-1").message == "A's scan failed" and b.jobs.get("job-1").message == ""


def _order_rows(store: SupabaseStore) -> None:
    decision = {"decision_id": "d1", "trace_id": "tr1", "approval_id": None, "stage": "manual", "approved": True,
                "reasons": [], "messages": [], "price": "100", "at": "2025-12-01T04:00:00Z"}
    order = {"order_id": "o1", "approval_id": "ap1", "decision_id": "d1", "trace_id": "tr1",
             "instrument_token": 408065, "tradingsymbol": "INFY", "side": "BUY", "quantity": 10, "product": "MIS",
             "order_type": "MARKET", "validity": "DAY", "tag": "", "strategy": "", "status": "OPEN",
             "placed_at": "2025-12-01T04:00:00Z", "updated_at": "2025-12-01T04:00:00Z", "day": "2025-12-01",
             "tick_size": "0.05", "filled_quantity": 0, "filled_turnover": "0", "fill_count": 0,
             "queued_for_open": False, "status_message": ""}
    store.client.table("trading_risk_decisions").insert(decision).execute()
    store.client.table("trading_orders").insert(order).execute()


def test_same_order_fill_and_position_for_two_users_and_the_backend(people):
    a, b, svc, a_id, b_id = people
    quantities = {a.owner: 4, b.owner: 6, svc.owner: 2}
    for store in (a, b, svc):
        _order_rows(store)
        fill = _fill(1, quantities[store.owner], "100.05")  # the same fill id, order and position key
        assert store.fills.apply_fill(fill, order_values={"fill_count": 1, "filled_quantity": fill["quantity"]},
                                      order_expect={"fill_count": 0}, book=_book(fill)) is True
    for store in (a, b, svc):
        pos = store.fills.position(408065, "MIS")
        assert pos["quantity"] == quantities[store.owner], store.owner
        assert pos["cost"] == Decimal("100.05") * quantities[store.owner]
    orders = {r["owner"]: r["filled_quantity"]
              for r in svc.client.table("trading_orders").select("owner,filled_quantity").execute().data}
    assert orders == {a_id: 4, b_id: 6, DESK_OWNER: 2}
    assert a.client.table("trading_fills").select("fill_id").execute().data == [{"fill_id": "o1-1"}]
    assert len(svc.client.table("trading_ledger").select("entry_id").eq("entry_id", "o1-1-charges")
               .execute().data) == 3
    again = _fill(1, 4, "100.05")
    assert a.fills.apply_fill(again, order_values=None, order_expect=None, book=_book(again)) is False  # once


def test_api_keys_stay_with_the_backend(people):
    a, b, svc, _, _ = people
    for user in (a, b):
        with pytest.raises(APIError) as err:
            user.client.table("api_keys").select("*").limit(1).execute()
        assert err.value.code == "42501"
    assert svc.client.table("api_keys").select("key_id").limit(1).execute().data is not None
