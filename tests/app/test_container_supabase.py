"""The composition root on Supabase: base repositories through the Data API (PostgREST),
SQL-only stores through the same database's Postgres URL."""

from __future__ import annotations

import psycopg
import pytest

from app.container import reset_services, services
from app.settings import Settings
from core.errors import ValidationError
from tests.supabase_local import supabase_local  # noqa: F401 - session fixture


@pytest.fixture()
def supabase_desk(monkeypatch, supabase_local, redis_url):  # noqa: F811
    supabase_local.truncate(["watchlists", "watchlist_names", "instruments"])
    monkeypatch.setenv("SUPABASE_URL", supabase_local.url)
    monkeypatch.setenv("SUPABASE_KEY", supabase_local.service_key)
    monkeypatch.setenv("SUPABASE_DB_URL", supabase_local.db_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    reset_services()
    yield supabase_local
    reset_services()


def test_container_uses_the_data_api_for_base_repositories_and_postgres_for_the_rest(supabase_desk):
    from app.adapters.store import SqlStore
    from app.adapters.supabase_store import SupabaseStore

    svc = services()
    assert isinstance(svc.store, SupabaseStore)
    assert isinstance(svc.sql, SqlStore) and svc.sql.dialect == "postgresql"
    svc.instruments.ensure_loaded()  # seeds the bundled Kite dump through the Data API
    assert svc.watchlists.add("INFY", name="supabase-test")
    assert svc.watchlists.keys("supabase-test") == ["NSE:INFY"]
    with psycopg.connect(supabase_desk.db_url) as conn:
        rows = conn.execute("select instrument_key from public.watchlists where name = 'supabase-test'").fetchall()
    assert rows == [("NSE:INFY",)]
    # the trading store on the Postgres URL, with the configured capital (DESK_CAPITAL)
    assert svc.trading.funds(svc.market_clock.now().now).capital == svc.settings.trading.capital


def test_supabase_without_a_postgres_url_says_what_to_set(monkeypatch):
    monkeypatch.setenv("SUPABASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("SUPABASE_KEY", "x")
    monkeypatch.delenv("SUPABASE_DB_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="SUPABASE_DB_URL"):
        Settings().effective_database_url
