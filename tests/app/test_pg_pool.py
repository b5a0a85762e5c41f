"""The PostgreSQL pool pings a connection only after it sat idle (``app.adapters.store.sql``):
no round trip on a checkout right after use, and a server-side kill of an idle pooled
connection is healed by the ping instead of failing the next statement."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import text

from app.adapters.store import sql
from core.errors import StoreUnavailable


def _pid(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(url: str, pid: int) -> None:
    admin = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def test_a_busy_connection_is_not_pinged_an_idle_killed_one_is_replaced(postgres_url, monkeypatch):
    monkeypatch.setattr(sql, "PG_PING_AFTER_IDLE_S", 0.3)
    engine = sql.make_engine(postgres_url)
    pings: list[int] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi_conn: pings.append(1) or ping(dbapi_conn))
    try:
        first = _pid(engine)
        assert _pid(engine) == first and pings == []  # checked out again at once: no ping, same connection

        _kill(postgres_url, first)
        time.sleep(0.4)  # idle past the threshold: the checkout pings, finds it dead, reconnects
        second = _pid(engine)
        assert second != first and len(pings) == 1

        _kill(postgres_url, second)  # killed while "fresh": the statement fails, the pool heals
        with pytest.raises(StoreUnavailable):
            _pid(engine)
        assert _pid(engine) not in (first, second)
    finally:
        engine.dispose()

