"""Repository contract of ``ApiKeyStore`` (``app.adapters.api_key_store``) on a real SQLite file
and a real PostgreSQL database: insert, look-up by key id, per-owner lists, revoke, touch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.adapters.api_key_store import ApiKeyStore
from core.errors import ConflictError

T0 = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


@pytest.fixture()
def keys(store) -> ApiKeyStore:
    ks = ApiKeyStore(store.engine)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("delete from api_keys")
    return ks


def _row(key_id: str, user: str = "alice", at: datetime = T0, **kw) -> dict:
    return dict(key_id=key_id, username=user, label=kw.get("label", ""), scopes=kw.get("scopes", "read"),
                token_hash="ab" * 32, rate_per_minute=600, created_at=at, last_used_at=None, revoked_at=None)


def test_insert_get_and_list_per_owner_newest_first(keys):
    keys.insert(_row("k1"))
    keys.insert(_row("k2", at=T0 + timedelta(minutes=1), scopes="read trade"))
    keys.insert(_row("k3", user="bob"))
    got = keys.get("k2")
    assert got["username"] == "alice" and got["scopes"] == "read trade" and got["created_at"] == T0 + timedelta(minutes=1)
    assert got["created_at"].tzinfo is not None
    assert [r["key_id"] for r in keys.for_user("alice")] == ["k2", "k1"]
    assert [r["key_id"] for r in keys.for_user("bob")] == ["k3"]
    assert keys.get("nosuch") is None and keys.for_user("carol") == []


def test_a_taken_key_id_is_a_conflict_and_writes_nothing(keys):
    keys.insert(_row("k1"))
    with pytest.raises(ConflictError, match="already exists"):
        keys.insert(_row("k1", user="bob"))
    assert keys.get("k1")["username"] == "alice" and keys.for_user("bob") == []


def test_revoke_only_the_owners_active_key(keys):
    keys.insert(_row("k1"))
    assert keys.revoke("bob", "k1", T0) is False
    assert keys.get("k1")["revoked_at"] is None
    assert keys.revoke("alice", "k1", T0 + timedelta(hours=1)) is True
    assert keys.get("k1")["revoked_at"] == T0 + timedelta(hours=1)
    assert keys.revoke("alice", "k1", T0 + timedelta(hours=2)) is False  # already revoked: unchanged
    assert keys.get("k1")["revoked_at"] == T0 + timedelta(hours=1)


def test_touch_records_last_use(keys):
    keys.insert(_row("k1"))
    keys.touch("k1", T0 + timedelta(seconds=5))
    assert keys.get("k1")["last_used_at"] == T0 + timedelta(seconds=5)
