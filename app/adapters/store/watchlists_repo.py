"""Named watchlists: ordered instrument keys (``"NSE:INFY"``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from app.adapters.store.schema import watchlist_names as n
from app.adapters.store.schema import watchlists as t
from core.errors import ValidationError
from core.timeutil import UTC


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValidationError(f"watchlist name {name!r} must be 1-64 characters")
    return name


class SqlWatchlistRepository:
    """Watchlists stored as ``(name, position, instrument_key)`` rows."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, name: str) -> list[str]:
        """The keys of watchlist ``name`` in order; ``[]`` when it is empty or was never saved."""
        name = _check_name(name)
        with self._engine.connect() as conn:
            return list(conn.execute(select(t.c.instrument_key).where(t.c.name == name)
                                     .order_by(t.c.position)).scalars())

    def exists(self, name: str) -> bool:
        """Whether ``name`` was ever saved (an emptied list still exists)."""
        name = _check_name(name)
        with self._engine.connect() as conn:
            return conn.execute(select(n.c.name).where(n.c.name == name)).first() is not None

    def names(self) -> list[str]:
        with self._engine.connect() as conn:
            return list(conn.execute(select(n.c.name).order_by(n.c.name)).scalars())

    def replace(self, name: str, keys: Sequence[str]) -> None:
        """Make ``keys`` (in order) the whole content of ``name``, in one transaction.

        Raises ``ValidationError`` for a bad name or a repeated key; nothing changes then.
        """
        name = _check_name(name)
        keys = [str(k) for k in keys]
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise ValidationError(f"watchlist {name!r} repeats {', '.join(dupes)}; list each key once")
        with self._engine.begin() as conn:
            conn.execute(delete(t).where(t.c.name == name))
            conn.execute(delete(n).where(n.c.name == name))
            conn.execute(insert(n).values(name=name, updated_at=datetime.now(UTC)))
            if keys:
                conn.execute(insert(t), [{"name": name, "position": i, "instrument_key": k}
                                         for i, k in enumerate(keys)])
