"""``ApiKeyStore``: the desk's REST API keys (``app.ops.api_keys``) on the store's engine
(SQLite or PostgreSQL, Supabase's Postgres included; its own ``MetaData``, table ``api_keys``).

A key is a credential, so the table is backend-only like ``desk_users`` (``SERVICE_TABLES`` in
``app.adapters.migrations``: no row-level access for ``authenticated``/``anon``); each row is
scoped to its owner by ``username``, and every read here filters by it except the lookup by
``key_id`` that authenticates a request.

Row dict: ``key_id`` (str, the public prefix shown in lists, primary key), ``username`` (str,
the owner), ``label`` (str), ``scopes`` (str, space-separated, e.g. ``"read propose"``),
``token_hash`` (str, 64 hex chars: sha256 of the whole token), ``rate_per_minute`` (int),
``created_at`` / ``last_used_at`` / ``revoked_at`` (UTC datetimes; the last two may be None).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.adapters.store.errors import conflict
from app.adapters.store.schema import UtcDateTime, create_tables

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("label", String(80), nullable=False, default=""),
    Column("scopes", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("rate_per_minute", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)


class ApiKeyStore:
    """API key rows on ``engine`` (the table is created idempotently)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(metadata, engine)

    def insert(self, row: Mapping[str, Any]) -> None:
        """Add one key row. Raises ``ConflictError`` if ``key_id`` is taken (nothing written)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(api_keys).values(dict(row)))
        except IntegrityError as exc:
            raise conflict(exc, f"API key id {row.get('key_id')!r} already exists; create the key again") from exc

    def get(self, key_id: str) -> dict[str, Any] | None:
        """The row of ``key_id`` (any owner: this authenticates a request), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
        return dict(row) if row else None

    def for_user(self, username: str) -> list[dict[str, Any]]:
        """``username``'s keys, newest first (revoked ones included)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys).where(api_keys.c.username == username)
                                .order_by(api_keys.c.created_at.desc(), api_keys.c.key_id)).mappings().all()
        return [dict(r) for r in rows]

    def revoke(self, username: str, key_id: str, at: datetime) -> bool:
        """Mark ``username``'s key revoked at ``at``; False when it is not theirs or already revoked."""
        with self.engine.begin() as conn:
            done = conn.execute(update(api_keys).where(
                api_keys.c.key_id == key_id, api_keys.c.username == username, api_keys.c.revoked_at.is_(None),
            ).values(revoked_at=at))
        return bool(done.rowcount)

    def touch(self, key_id: str, at: datetime) -> None:
        """Record that ``key_id`` was used at ``at``."""
        with self.engine.begin() as conn:
            conn.execute(update(api_keys).where(api_keys.c.key_id == key_id).values(last_used_at=at))


__all__ = ["ApiKeyStore", "api_keys", "metadata"]
