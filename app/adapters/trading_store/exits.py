"""``ExitStore``: the rows of ``trading_exits`` (``schema.exits``) on the trading store's engine.

Row dict: ``group_id``, ``kind`` (``OCO`` | ``GTT``), ``entry_order_id``, ``instrument_token``,
``tradingsymbol``, ``product``, ``status`` (the group's or GTT's status), ``trace_id``, ``state``
(JSON-simple dict, ``app.trading.exits`` converts it), ``version`` (int), ``created_at`` /
``updated_at`` (UTC). Writes are single statements: ``insert`` is a no-op when the group or the
entry already has a row; ``update`` succeeds only on the version it read (optimistic), so two
workers acting on the same fill never both carry out the group's actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.adapters.trading_store import schema as t

Row = dict[str, Any]


class ExitStore:
    """Exit groups and GTTs on ``engine`` (the tables are created by ``TradingStore``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        t.exits.create(engine, checkfirst=True)

    def insert(self, row: Mapping[str, Any]) -> bool:
        """Add ``row`` (``version`` 1); False when its group or its entry already has one."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t.exits).values({**row, "version": 1}))
        except IntegrityError:
            return False
        return True

    def get(self, group_id: str) -> Row | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.exits).where(t.exits.c.group_id == group_id)).mappings().first()
        return dict(row) if row else None

    def update(self, group_id: str, version: int, values: Mapping[str, Any]) -> bool:
        """Write ``values`` (``status``, ``state``, ``updated_at``) if the row is still at ``version``."""
        with self.engine.begin() as conn:
            result = conn.execute(update(t.exits).where(t.exits.c.group_id == group_id, t.exits.c.version == version)
                                  .values({**values, "version": version + 1}))
        return result.rowcount == 1

    def rows(self, statuses: Iterable[str] = (), *, instrument_token: int | None = None,
             product: str | None = None) -> list[Row]:
        """Rows in ``statuses`` (every status when empty), optionally of one position, oldest first."""
        stmt = select(t.exits).order_by(t.exits.c.created_at, t.exits.c.group_id)
        statuses = tuple(statuses)
        if statuses:
            stmt = stmt.where(t.exits.c.status.in_(statuses))
        if instrument_token is not None:
            stmt = stmt.where(t.exits.c.instrument_token == instrument_token)
        if product is not None:
            stmt = stmt.where(t.exits.c.product == product)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]


__all__ = ["ExitStore"]
