"""Row-level security through the real Data API (PostgREST behind the ``/rest/v1`` gateway):
user A's rows are invisible and unwritable to user B, anon gets nothing, signed-in users only
read market data; and a wrong ``SUPABASE_URL``/``SUPABASE_KEY`` fails with a message naming it.

Users are Supabase-shaped access tokens (role ``authenticated``, ``sub`` = user id) signed with
the local JWT secret; ``auth.uid()`` reads the ``sub`` from ``request.jwt.claims``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from postgrest.exceptions import APIError

from app.adapters.supabase_store import StoreUnavailable, SupabaseConfigError, SupabaseStore
from core.errors import ValidationError
from core.models import Bar
from core.timeutil import UTC
from tests.servers import free_port
from tests.supabase_local import mint_jwt, supabase_local  # noqa: F401 - session fixture

OWNED = ["watchlists", "watchlist_names", "jobs"]


@pytest.fixture()
def local(supabase_local):  # noqa: F811
    supabase_local.truncate(OWNED + ["bars"])
    return supabase_local


@pytest.fixture()
def users(local):
    """Two signed-in users' stores (A, B) plus the service-role store and the user ids."""
    a_id, b_id = local.new_user_id(), local.new_user_id()
    a = SupabaseStore(local.url, local.user_token(a_id))
    b = SupabaseStore(local.url, local.user_token(b_id))
    svc = SupabaseStore(local.url, local.service_key)
    yield a, b, svc, a_id, b_id
    for s in (a, b, svc):
        s.dispose()


def test_each_user_sees_only_their_own_rows(users):
    a, b, svc, a_id, b_id = users
    a.watchlists.replace("a-list", ["NSE:INFY", "NSE:TCS"])
    b.watchlists.replace("b-list", ["NSE:SBIN"])
    job = a.jobs.create("scan", {"secret": "A's"})

    assert a.watchlists.names() == ["a-list"] and b.watchlists.names() == ["b-list"]
    assert b.watchlists.get("a-list") == [] and not b.watchlists.exists("a-list")
    assert a.watchlists.get("a-list") == ["NSE:INFY", "NSE:TCS"]
    assert b.jobs.get(job) is None and b.jobs.recent() == [] and [j.id for j in a.jobs.recent()] == [job]

    # The backend (service_role) sees everyone's rows, each stamped with its owner; its
    # repositories read and write only the backend's own (DESK_OWNER) rows.
    assert svc.watchlists.names() == [] and svc.jobs.get(job) is None
    owners = {r["name"]: r["owner"] for r in svc.client.table("watchlist_names").select("name,owner").execute().data}
    assert owners == {"a-list": a_id, "b-list": b_id}
    assert svc.client.table("jobs").select("owner").eq("id", job).execute().data == [{"owner": a_id}]


def test_user_b_cannot_change_or_delete_user_a_rows(users):
    a, b, svc, a_id, _ = users
    a.watchlists.replace("a-list", ["NSE:INFY"])
    job = a.jobs.create("scan", {})

    with pytest.raises(ValidationError, match="no job"):  # the UPDATE matches no row B may see
        b.jobs.fail(job, "sabotage")
    assert b.client.table("watchlists").delete().eq("name", "a-list").execute().data == []
    assert b.client.table("jobs").update({"message": "x"}).eq("id", job).execute().data == []

    # Nor write rows in A's name: the policy's WITH CHECK refuses them.
    for table, row in [("jobs", {"id": "forged", "kind": "x", "args": {}, "status": "queued", "progress": 0,
                                 "message": "", "created_at": "2025-12-01T00:00:00Z",
                                 "updated_at": "2025-12-01T00:00:00Z", "owner": a_id}),
                       ("watchlist_names", {"name": "forged", "updated_at": "2025-12-01T00:00:00Z", "owner": a_id})]:
        with pytest.raises(APIError) as err:
            b.client.table(table).insert(row).execute()
        assert err.value.code == "42501" and "row-level security" in err.value.message

    assert a.watchlists.get("a-list") == ["NSE:INFY"]
    assert a.jobs.get(job).status.value == "queued" and a.jobs.get(job).message == ""
    assert svc.jobs.get("forged") is None and not svc.watchlists.exists("forged")


def test_users_read_market_data_but_cannot_write_it(users):
    a, _, svc, _, _ = users
    bar = Bar(instrument_token=1, interval="minute", ts=datetime(2025, 12, 1, 3, 45, tzinfo=UTC), open=1, high=2,
              low=0.5, close=1.5, volume=10, oi=0)
    svc.bars.upsert([bar])
    assert a.bars.count() == 1 and len(a.bars.frame(1, "minute", bar.ts, bar.ts + timedelta(minutes=1))) == 1
    with pytest.raises(SupabaseConfigError, match="permission denied"):
        a.bars.upsert([bar])
    with pytest.raises(SupabaseConfigError, match="permission denied"):
        a.instruments.replace_dump([], datetime(2025, 12, 1).date())
    for table in ("desk_users", "schema_migrations", "schema_version"):  # backend-only tables
        with pytest.raises(APIError) as err:
            a.client.table(table).select("*").limit(1).execute()
        assert err.value.code == "42501", table


def test_anon_is_denied_everything(local):
    anon = SupabaseStore(local.url, local.anon_key, check=False).client
    for table in OWNED + ["instruments", "bars", "schema_migrations", "desk_users", "trading_fills"]:
        with pytest.raises(APIError) as err:
            anon.table(table).select("*").limit(1).execute()
        assert err.value.code == "42501", table
    with pytest.raises(APIError) as err:
        anon.table("jobs").insert({"id": "a", "kind": "x", "args": {}, "status": "queued", "progress": 0,
                                   "message": "", "created_at": "2025-12-01T00:00:00Z",
                                   "updated_at": "2025-12-01T00:00:00Z"}).execute()
    assert err.value.code == "42501"
    with pytest.raises(APIError) as err:
        anon.rpc("desk_replace_watchlist", {"p_name": "x", "p_keys": []}).execute()
    assert err.value.code == "42501"
    with pytest.raises(SupabaseConfigError, match="SUPABASE_KEY is not allowed"):
        SupabaseStore(local.url, local.anon_key)


# ----------------------------------------------------------------- wrong URL or key


def test_wrong_key_names_supabase_key(local):
    forged = mint_jwt("service_role", "another-secret-that-is-at-least-32-chars-long")
    for key in (forged, "not-a-jwt"):
        with pytest.raises(SupabaseConfigError, match="SUPABASE_KEY was rejected"):
            SupabaseStore(local.url, key)
    with pytest.raises(SupabaseConfigError, match="SUPABASE_KEY is empty"):
        SupabaseStore(local.url, "")


def test_wrong_url_names_supabase_url(local):
    with pytest.raises(StoreUnavailable, match="check SUPABASE_URL"):
        SupabaseStore(f"http://127.0.0.1:{free_port()}", local.service_key)
    with pytest.raises(SupabaseConfigError, match="SUPABASE_URL"):
        SupabaseStore(local.url.replace("http://", ""), local.service_key)
    # PostgREST itself (no /rest/v1 gateway) is not a Supabase project URL.
    with pytest.raises(SupabaseConfigError, match="SUPABASE_URL"):
        SupabaseStore(local.postgrest_url, local.service_key)


def test_a_project_without_migrations_says_so(local):
    import psycopg

    with psycopg.connect(local.db_url, autocommit=True) as conn:
        conn.execute("alter table public.instruments rename to instruments_away")
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while True:  # the schema cache reloads after the DDL (event trigger)
            try:
                SupabaseStore(local.url, local.service_key)
            except SupabaseConfigError as exc:
                assert "python -m app.adapters.migrations" in str(exc)
                break
            assert datetime.now(UTC) < deadline, "PostgREST did not notice the missing table"
    finally:
        with psycopg.connect(local.db_url, autocommit=True) as conn:
            conn.execute("alter table public.instruments_away rename to instruments")
