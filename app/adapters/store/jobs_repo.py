"""Background jobs the UI follows: status ``queued → running → done | failed`` and progress 0..1."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine, RowMapping

from app.adapters.store.ports import Job, JobStatus, JobTransitions
from app.adapters.store.schema import jobs as t
from core.errors import ValidationError
from core.timeutil import UTC


def _job(row: RowMapping) -> Job:
    return Job(
        id=row["id"], kind=row["kind"], args=dict(row["args"] or {}), status=JobStatus(row["status"]),
        progress=float(row["progress"]), message=row["message"] or "",
        result=dict(row["result"]) if row["result"] is not None else None,
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


class SqlJobRepository(JobTransitions):
    """Job rows. Every write stamps ``updated_at`` (UTC). Unknown ids raise ``ValidationError``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, kind: str, args: Mapping[str, Any], job_id: str | None = None) -> str:
        """Store a ``queued`` job; return its id (32 hex chars unless ``job_id``, at most 64 chars, is given).

        ``args`` must be JSON-simple. Creating an existing ``job_id`` again is a no-op.
        """
        if not kind:
            raise ValidationError("job kind must not be empty")
        job_id = job_id or uuid.uuid4().hex
        if self.get(job_id) is not None:
            return job_id
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            conn.execute(insert(t).values(id=job_id, kind=kind, args=dict(args), status=JobStatus.QUEUED.value,
                                          progress=0.0, message="", result=None, created_at=now, updated_at=now))
        return job_id

    def _set(self, job_id: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            n = conn.execute(update(t).where(t.c.id == job_id).values(updated_at=datetime.now(UTC), **values)).rowcount
        if n == 0:
            raise ValidationError(f"no job with id {job_id!r}; create it first")

    def get(self, job_id: str) -> Job | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == job_id)).mappings().first()
        return _job(row) if row else None

    def recent(self, limit: int = 20, kind: str | None = None) -> list[Job]:
        """The newest ``limit`` jobs (optionally of one kind), newest first."""
        q = select(t).order_by(t.c.created_at.desc(), t.c.id).limit(limit)
        if kind is not None:
            q = q.where(t.c.kind == kind)
        with self._engine.connect() as conn:
            return [_job(r) for r in conn.execute(q).mappings().all()]
