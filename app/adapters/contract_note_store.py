"""``ContractNoteStore``: the results of the daily charges reconciliation with Kite's virtual
contract note (``app.trading.contract_notes``), one row per IST trading day, on the desk's
engine (SQLite or PostgreSQL; its own ``MetaData``, table ``trading_contract_notes``).

A row is written whole in one transaction: the comparison of every order and component
(``rows``) and the count of differences replace the day's previous result together, so a
reader never sees half a reconciliation. A failed attempt (Kite unreachable) only records its
``message`` and ``attempts`` and keeps the last good result, if any (``status`` stays).

Row dict: ``day`` (date), ``status`` (``matched`` | ``differences`` | ``no_fills`` |
``unreachable`` | ``failed`` | ``no_session``), ``checked_at`` (UTC, the last attempt), ``reconciled_at``
(UTC of the last complete result, or None), ``orders`` (int), ``desk_total`` / ``kite_total``
(Decimal ₹), ``differences`` (int), ``rows`` (list of JSON-simple dicts, money as strings),
``message`` (str), ``attempts`` (int, failed attempts since the last complete result).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Date, Integer, MetaData, Numeric, String, Table, Text, delete, insert, select, update
from sqlalchemy.engine import Engine

from app.adapters.store.schema import UtcDateTime, create_tables

metadata = MetaData()

notes = Table(
    "trading_contract_notes",
    metadata,
    Column("day", Date, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("checked_at", UtcDateTime, nullable=False),
    Column("reconciled_at", UtcDateTime, nullable=True),
    Column("orders", Integer, nullable=False, default=0),
    Column("desk_total", Numeric(20, 2, asdecimal=True), nullable=False),
    Column("kite_total", Numeric(20, 2, asdecimal=True), nullable=False),
    Column("differences", Integer, nullable=False, default=0),
    Column("rows", JSON, nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
)

#: Statuses of a complete reconciliation (the others are attempts that could not compare).
COMPLETE = ("matched", "differences", "no_fills")


class ContractNoteStore:
    """Reconciliation rows on ``engine`` (tables created idempotently)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(metadata, engine)

    def save_result(self, row: Mapping[str, Any]) -> None:
        """Replace ``row["day"]``'s result with ``row`` (a complete reconciliation), atomically."""
        values = {**row, "attempts": 0}
        with self.engine.begin() as conn:
            conn.execute(delete(notes).where(notes.c.day == row["day"]))
            conn.execute(insert(notes).values(values))

    def record_failure(self, day: date, status: str, message: str, at: datetime) -> None:
        """Note a failed attempt on ``day``: a day without a result gets a row with ``status``
        and no comparisons; a day with one keeps it and only gains ``message``/``attempts``."""
        with self.engine.begin() as conn:
            row = conn.execute(select(notes.c.status, notes.c.attempts).where(notes.c.day == day)).first()
            if row is None:
                conn.execute(insert(notes).values(day=day, status=status, checked_at=at, reconciled_at=None,
                                                  orders=0, desk_total=0, kite_total=0, differences=0, rows=[],
                                                  message=message, attempts=1))
            else:
                values: dict[str, Any] = dict(checked_at=at, message=message, attempts=int(row.attempts or 0) + 1)
                if row.status not in COMPLETE:
                    values["status"] = status
                conn.execute(update(notes).where(notes.c.day == day).values(**values))

    def get(self, day: date) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(notes).where(notes.c.day == day)).mappings().first()
        return dict(row) if row else None

    def latest(self) -> dict[str, Any] | None:
        """The most recent day's row, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(notes).order_by(notes.c.day.desc()).limit(1)).mappings().first()
        return dict(row) if row else None


__all__ = ["COMPLETE", "ContractNoteStore", "metadata", "notes"]
