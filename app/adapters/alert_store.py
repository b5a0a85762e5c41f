"""``AlertStore``: the trader's alerts (``core.alerts``) and their trigger log, on the desk's SQL
engine (SQLite or PostgreSQL / Supabase's Postgres; its own ``MetaData``: tables ``alerts`` and
``alert_triggers``). Survives restarts; the ticker reads a Redis copy (``app.market.alerts``).

Alert row: ``alert_id`` (``AL-`` + 16 hex), ``name``, ``instrument_token``, ``tradingsymbol``,
``attribute``, ``operator``, ``rhs_constant`` (float or None), ``rhs_token``/``rhs_tradingsymbol``/
``rhs_attribute`` (an instrument right-hand side, or None/""), ``kind`` (simple | ato), ``status``
(enabled | disabled | deleted), ``disabled_reason``, ``ato_order`` (JSON, ATO only; money as strings),
``alert_count`` (triggers so far), ``created_by``, ``created_at``/``updated_at`` (UTC).

Trigger row: (``alert_id``, ``sequence``) is the primary key, so one trigger is recorded once
however often it is sent (a ticker restart re-sends it); ``trace_id``, ``kind``, ``condition``
(text), ``lhs_value``/``rhs_value``, ``tick`` (JSON, the triggering tick), ``triggered_at`` (UTC,
the tick's exchange time when it has one), ``approval_id`` (the ATO's pending approval, once
proposed), ``note``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.adapters.store.schema import UtcDateTime, create_tables

metadata = MetaData()

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", String(32), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("instrument_token", BigInteger, nullable=False),
    Column("tradingsymbol", String(64), nullable=False),
    Column("attribute", String(16), nullable=False),
    Column("operator", String(2), nullable=False),
    Column("rhs_constant", Float, nullable=True),
    Column("rhs_token", BigInteger, nullable=True),
    Column("rhs_tradingsymbol", String(64), nullable=False, default=""),
    Column("rhs_attribute", String(16), nullable=True),
    Column("kind", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("disabled_reason", String(64), nullable=False, default=""),
    Column("ato_order", JSON, nullable=True),
    Column("alert_count", Integer, nullable=False, default=0),
    Column("created_by", String(64), nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

alert_triggers = Table(
    "alert_triggers",
    metadata,
    Column("alert_id", String(32), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("name", String(80), nullable=False),
    Column("tradingsymbol", String(64), nullable=False),
    Column("condition", Text, nullable=False),
    Column("lhs_value", Float, nullable=False),
    Column("rhs_value", Float, nullable=False),
    Column("tick", JSON, nullable=False),
    Column("triggered_at", UtcDateTime, nullable=False),
    Column("approval_id", String(32), nullable=True),
    Column("note", Text, nullable=False, default=""),
    PrimaryKeyConstraint("alert_id", "sequence", name="alert_triggers_pkey"),
)

Row = dict[str, Any]


class AlertStore:
    """Alert and trigger rows on ``engine`` (tables created idempotently)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(metadata, engine)

    def insert(self, row: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(alerts).values(dict(row)))

    def update(self, alert_id: str, values: Mapping[str, Any]) -> bool:
        """Update a non-deleted alert; False when there is none."""
        with self.engine.begin() as conn:
            done = conn.execute(update(alerts).where(alerts.c.alert_id == alert_id, alerts.c.status != "deleted")
                                .values(dict(values)))
        return bool(done.rowcount)

    def get(self, alert_id: str) -> Row | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.alert_id == alert_id)).mappings().first()
        return dict(row) if row else None

    def list(self, *, include_deleted: bool = False, status: str | None = None) -> list[Row]:
        """Alerts, oldest first; deleted ones only with ``include_deleted``."""
        stmt = select(alerts).order_by(alerts.c.created_at, alerts.c.alert_id)
        if status is not None:
            stmt = stmt.where(alerts.c.status == status)
        elif not include_deleted:
            stmt = stmt.where(alerts.c.status != "deleted")
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def count(self) -> int:
        """Alerts that count towards Kite's cap (every status but deleted)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(alerts)
                                    .where(alerts.c.status != "deleted")).scalar_one())

    def record_trigger(self, row: Mapping[str, Any], *, updated_at: Any) -> bool:
        """Insert trigger ``row`` and disable its alert (``alert_count`` raised to the sequence)
        in one transaction. False, changing nothing, when that (alert_id, sequence) is recorded."""
        seq = int(row["sequence"])
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(alert_triggers).values(dict(row)))
                conn.execute(update(alerts).where(alerts.c.alert_id == row["alert_id"], alerts.c.status == "enabled",
                                                  alerts.c.alert_count < seq)
                             .values(status="disabled", disabled_reason="triggered", alert_count=seq,
                                     updated_at=updated_at))
        except IntegrityError:
            return False
        return True

    def get_trigger(self, alert_id: str, sequence: int) -> Row | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(alert_triggers).where(alert_triggers.c.alert_id == alert_id,
                                                            alert_triggers.c.sequence == int(sequence))).mappings().first()
        return dict(row) if row else None

    def set_trigger_result(self, alert_id: str, sequence: int, *, approval_id: str | None = None,
                           note: str = "") -> None:
        values: Row = {"note": note}
        if approval_id is not None:
            values["approval_id"] = approval_id
        with self.engine.begin() as conn:
            conn.execute(update(alert_triggers).where(alert_triggers.c.alert_id == alert_id,
                                                      alert_triggers.c.sequence == int(sequence)).values(values))

    def triggers(self, limit: int = 50, *, alert_id: str | None = None) -> list[Row]:
        """Trigger log, newest first."""
        stmt = select(alert_triggers).order_by(alert_triggers.c.triggered_at.desc(),
                                               alert_triggers.c.sequence.desc()).limit(limit)
        if alert_id is not None:
            stmt = stmt.where(alert_triggers.c.alert_id == alert_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]


__all__ = ["AlertStore", "alert_triggers", "alerts", "metadata"]
