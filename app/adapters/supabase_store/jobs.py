"""Background jobs through the Supabase Data API (same behaviour as ``SqlJobRepository``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from supabase import Client

from app.adapters.store.ports import Job, JobStatus, JobTransitions
from app.adapters.supabase_store.client import DESK_OWNER, iso, parse_ts, run
from core.errors import ValidationError
from core.timeutil import UTC

_T = "jobs"
_SELECT = "id,kind,args,status,progress,message,result,created_at,updated_at"


def _job(row: Mapping[str, Any]) -> Job:
    return Job(
        id=row["id"], kind=row["kind"], args=dict(row["args"] or {}), status=JobStatus(row["status"]),
        progress=float(row["progress"]), message=row["message"] or "",
        result=dict(row["result"]) if row["result"] is not None else None,
        created_at=parse_ts(row["created_at"]), updated_at=parse_ts(row["updated_at"]),
    )


class SupabaseJobRepository(JobTransitions):
    """``owner``'s job rows (``key_owner`` of the store's key). Every write stamps ``updated_at``
    (UTC). Unknown ids raise ``ValidationError``."""

    def __init__(self, client: Client, url: str, owner: str = DESK_OWNER) -> None:
        self._c, self._url, self._owner = client, url, owner

    def create(self, kind: str, args: Mapping[str, Any], job_id: str | None = None) -> str:
        """Store a ``queued`` job; creating an existing ``job_id`` again is a no-op."""
        if not kind:
            raise ValidationError("job kind must not be empty")
        job_id = job_id or uuid.uuid4().hex
        now = iso(datetime.now(UTC))
        row = {"id": job_id, "kind": kind, "args": dict(args), "status": JobStatus.QUEUED.value, "progress": 0.0,
               "message": "", "result": None, "created_at": now, "updated_at": now}
        # INSERT … ON CONFLICT DO NOTHING: exactly-once even when two workers create it at once.
        run(self._url, "create job", lambda: self._c.table(_T).upsert(
            row, on_conflict="owner,id", ignore_duplicates=True, returning="minimal", default_to_null=False).execute())
        return job_id

    def _set(self, job_id: str, **values: Any) -> None:
        values["updated_at"] = iso(datetime.now(UTC))
        rows = run(self._url, "update job",
                   lambda: self._c.table(_T).update(values).eq("owner", self._owner).eq("id", job_id).execute().data)
        if not rows:
            raise ValidationError(f"no job with id {job_id!r}; create it first")

    def get(self, job_id: str) -> Job | None:
        rows = run(self._url, "job", lambda: self._c.table(_T).select(_SELECT).eq("owner", self._owner)
                   .eq("id", job_id).limit(1).execute().data)
        return _job(rows[0]) if rows else None

    def recent(self, limit: int = 20, kind: str | None = None) -> list[Job]:
        def q():
            b = self._c.table(_T).select(_SELECT).eq("owner", self._owner)
            if kind is not None:
                b = b.eq("kind", kind)
            return b.order("created_at", desc=True).order("id").limit(limit).execute().data
        return [_job(r) for r in run(self._url, "recent jobs", q)]
