"""The scanner's tables, on the desk store's engine with their own ``MetaData``.

* ``scan_runs``: one row per run: the scan (built-in key or expression), its expression, the
  universe, ``as_of`` (UTC), which data it ran on (``data_label``), status ``running → done |
  failed``, counts and a message.
* ``scan_hits``: the matched symbols of a *done* run with the values that matched (JSON
  ``{operand text: float}``) and the bar time they were read at.
* ``scheduled_scans``: scans the clock re-runs every ``every_minutes`` during the session.

A run's hits are written in the same transaction that marks it ``done``, so a failed or
interrupted run never shows partial hits as complete. Times are tz-aware UTC.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, Boolean, Column, Index, Integer, MetaData, String, Table, Text, delete,
                        insert, select, update)
from sqlalchemy.engine import Engine, RowMapping

from app.adapters.store.schema import UtcDateTime, create_tables
from core.errors import ValidationError
from core.timeutil import UTC, require_aware

metadata = MetaData()

scan_runs = Table(
    "scan_runs", metadata,
    Column("id", String(64), primary_key=True),
    Column("job_id", String(64), nullable=True),
    Column("scan", Text, nullable=False),
    Column("title", String(200), nullable=False),
    Column("expression", Text, nullable=False),
    Column("universe", String(96), nullable=False),
    Column("as_of", UtcDateTime, nullable=False),
    Column("data_label", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("universe_size", Integer, nullable=False, default=0),
    Column("matched", Integer, nullable=False, default=0),
    Column("insufficient", Integer, nullable=False, default=0),
    Column("message", Text, nullable=False, default=""),
    Column("schedule_id", Integer, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
)
Index("ix_scan_runs_created_at", scan_runs.c.created_at)

scan_hits = Table(
    "scan_hits", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("symbol", String(64), primary_key=True),
    Column("bar_time", UtcDateTime, nullable=True),
    Column("values", JSON, nullable=False),
)

scheduled_scans = Table(
    "scheduled_scans", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan", Text, nullable=False),
    Column("universe", String(96), nullable=False),
    Column("every_minutes", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("last_sent_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class ScanRun:
    id: str
    job_id: str | None
    scan: str
    title: str
    expression: str
    universe: str
    as_of: datetime
    data_label: str
    status: str
    universe_size: int
    matched: int
    insufficient: int
    message: str
    schedule_id: int | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ScheduledScan:
    id: int
    scan: str
    universe: str
    every_minutes: int
    enabled: bool
    last_sent_at: datetime | None
    created_at: datetime


def _run(row: RowMapping) -> ScanRun:
    return ScanRun(**{k: row[k] for k in ScanRun.__slots__})


def _sched(row: RowMapping) -> ScheduledScan:
    return ScheduledScan(**{k: row[k] for k in ScheduledScan.__slots__})


class ScanStore:
    """Scan runs, hits and schedules. ``ScanStore(store.engine)``; tables are created
    idempotently on construction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(metadata, engine)

    # ---- runs -----------------------------------------------------------------------------

    def create_run(self, *, scan: str, title: str, expression: str, universe: str, as_of: datetime,
                   data_label: str, job_id: str | None = None, schedule_id: int | None = None,
                   run_id: str | None = None) -> str:
        """Store a ``running`` run; return its id. An existing ``run_id`` is left as it is."""
        run_id = run_id or uuid.uuid4().hex
        if self.run(run_id) is not None:
            return run_id
        with self._engine.begin() as conn:
            conn.execute(insert(scan_runs).values(
                id=run_id, job_id=job_id, scan=scan, title=title, expression=expression, universe=universe,
                as_of=require_aware(as_of, "as_of"), data_label=data_label, status="running", universe_size=0,
                matched=0, insufficient=0, message="", schedule_id=schedule_id, created_at=datetime.now(UTC),
                finished_at=None))
        return run_id

    def finish_run(self, run_id: str, hits: Sequence[Mapping[str, Any]], *, universe_size: int,
                   insufficient: int, message: str = "", as_of: datetime | None = None,
                   data_label: str | None = None) -> None:
        """Write ``hits`` (``symbol``, ``bar_time``, ``values``) and mark the run ``done`` (with
        the resolved ``as_of`` and ``data_label`` if given), in one transaction. Non-finite
        values are stored as ``null``."""
        extra: dict[str, Any] = {}
        if as_of is not None:
            extra["as_of"] = require_aware(as_of, "as_of")
        if data_label is not None:
            extra["data_label"] = data_label
        rows = [{"run_id": run_id, "symbol": h["symbol"], "bar_time": h.get("bar_time"),
                 "values": {k: (float(v) if v is not None and math.isfinite(float(v)) else None)
                            for k, v in h["values"].items()}} for h in hits]
        with self._engine.begin() as conn:
            conn.execute(delete(scan_hits).where(scan_hits.c.run_id == run_id))
            if rows:
                conn.execute(insert(scan_hits), rows)
            n = conn.execute(update(scan_runs).where(scan_runs.c.id == run_id).values(
                status="done", matched=len(rows), universe_size=universe_size, insufficient=insufficient,
                message=message, finished_at=datetime.now(UTC), **extra)).rowcount
            if n == 0:
                raise ValidationError(f"no scan run {run_id!r}; create it first")

    def fail_run(self, run_id: str, message: str) -> None:
        """Mark the run ``failed`` (no hits are kept)."""
        with self._engine.begin() as conn:
            conn.execute(delete(scan_hits).where(scan_hits.c.run_id == run_id))
            conn.execute(update(scan_runs).where(scan_runs.c.id == run_id).values(
                status="failed", message=message, finished_at=datetime.now(UTC)))

    def run(self, run_id: str) -> ScanRun | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(scan_runs).where(scan_runs.c.id == run_id)).mappings().first()
        return _run(row) if row else None

    def run_for_job(self, job_id: str) -> ScanRun | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(scan_runs).where(scan_runs.c.job_id == job_id)
                               .order_by(scan_runs.c.created_at.desc())).mappings().first()
        return _run(row) if row else None

    def runs(self, limit: int = 50) -> list[ScanRun]:
        """The newest runs first."""
        q = select(scan_runs).order_by(scan_runs.c.created_at.desc(), scan_runs.c.id).limit(limit)
        with self._engine.connect() as conn:
            return [_run(r) for r in conn.execute(q).mappings().all()]

    def hits(self, run_id: str) -> list[dict[str, Any]]:
        """``[{symbol, bar_time, values}]`` of a run, by symbol."""
        q = select(scan_hits).where(scan_hits.c.run_id == run_id).order_by(scan_hits.c.symbol)
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings().all()]

    # ---- schedules ------------------------------------------------------------------------

    def add_schedule(self, scan: str, universe: str, every_minutes: int) -> int:
        if not isinstance(every_minutes, int) or not 1 <= every_minutes <= 375:
            raise ValidationError(f"every_minutes must be a whole number 1..375 (a session is 375 minutes), got {every_minutes!r}")
        with self._engine.begin() as conn:
            return int(conn.execute(insert(scheduled_scans).values(
                scan=scan, universe=universe, every_minutes=every_minutes, enabled=True, last_sent_at=None,
                created_at=datetime.now(UTC))).inserted_primary_key[0])

    def schedules(self, enabled_only: bool = False) -> list[ScheduledScan]:
        q = select(scheduled_scans).order_by(scheduled_scans.c.id)
        if enabled_only:
            q = q.where(scheduled_scans.c.enabled.is_(True))
        with self._engine.connect() as conn:
            return [_sched(r) for r in conn.execute(q).mappings().all()]

    def set_enabled(self, schedule_id: int, enabled: bool) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(scheduled_scans).where(scheduled_scans.c.id == schedule_id).values(enabled=enabled))

    def mark_sent(self, schedule_id: int, at: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(scheduled_scans).where(scheduled_scans.c.id == schedule_id)
                         .values(last_sent_at=require_aware(at, "at")))


