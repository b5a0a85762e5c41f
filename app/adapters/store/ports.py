"""Repository interfaces of the store, so another backend (Supabase/PostgREST) can stand in.

Every time argument and result is tz-aware (results in UTC unless stated); a naive datetime
raises ``core.errors.ValidationError``. ``interval`` is one of Kite's historical intervals
(``core.models.INTERVAL_MINUTES``); any other value raises ``ValidationError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from core.models import Bar, Instrument

if TYPE_CHECKING:  # pragma: no cover - pandas only for the frame reads (the ticker and clock never load it)
    import pandas as pd


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Job:
    """One background job as the UI shows it. ``progress`` is a fraction 0..1; times UTC."""

    id: str
    kind: str
    args: dict[str, Any]
    status: JobStatus
    progress: float
    message: str
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)


class InstrumentRepository(Protocol):
    def replace_dump(self, rows: Iterable[Instrument | Mapping[str, Any]], dump_date: date) -> int:
        """Replace the whole master with ``rows`` in one transaction; return the row count."""

    def get(self, instrument_token: int) -> Instrument | None: ...

    def by_key(self, key: str) -> Instrument | None:
        """``"EXCHANGE:TRADINGSYMBOL"`` exactly as Kite spells it (``"NSE:NIFTY 50"``)."""

    def search(self, prefix: str, limit: int = 20) -> list[Instrument]: ...

    def all(self) -> list[Instrument]: ...

    def frame(self) -> pd.DataFrame: ...

    def count(self) -> int: ...

    def dump_date(self) -> date | None: ...


class BarRepository(Protocol):
    def upsert(self, bars: Sequence[Bar]) -> int:
        """Insert or overwrite on ``(instrument_token, interval, ts)``; return rows written."""

    def frame(
        self, instrument_token: int, interval: str, start: datetime, end: datetime
    ) -> pd.DataFrame: ...

    def latest_ts(self, instrument_token: int, interval: str) -> datetime | None: ...

    def count(self, instrument_token: int | None = None, interval: str | None = None) -> int: ...

    def coverage(self, instrument_token: int, interval: str) -> list[tuple[datetime, datetime]]: ...

    def add_coverage(self, instrument_token: int, interval: str, start: datetime, end: datetime) -> None: ...

    def frames(self, instrument_tokens: Sequence[int], interval: str, start: datetime,
               end: datetime) -> pd.DataFrame: ...

    def counts(self, instrument_tokens: Sequence[int], interval: str) -> dict[int, int]: ...

    def delete(self, instrument_token: int, interval: str) -> int: ...


class WatchlistRepository(Protocol):
    def get(self, name: str) -> list[str]: ...

    def exists(self, name: str) -> bool: ...

    def replace(self, name: str, keys: Sequence[str]) -> None: ...

    def names(self) -> list[str]: ...


class JobRepository(Protocol):
    def create(self, kind: str, args: Mapping[str, Any], job_id: str | None = None) -> str: ...

    def start(self, job_id: str, message: str = "") -> None: ...

    def update(self, job_id: str, progress: float, message: str | None = None) -> None: ...

    def finish(self, job_id: str, result: Mapping[str, Any] | None = None, message: str = "") -> None: ...

    def fail(self, job_id: str, message: str) -> None: ...

    def get(self, job_id: str) -> Job | None: ...

    def recent(self, limit: int = 20, kind: str | None = None) -> list[Job]: ...


class JobTransitions:
    """The job state machine shared by every ``JobRepository``: each backend only supplies
    ``_set(job_id, **columns)``, which raises ``ValidationError`` for an unknown id."""

    def _set(self, job_id: str, **values: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def start(self, job_id: str, message: str = "") -> None:
        """Mark the job ``running`` (again, on a retry) with progress 0."""
        self._set(job_id, status=JobStatus.RUNNING.value, progress=0.0, message=message)

    def update(self, job_id: str, progress: float, message: str | None = None) -> None:
        """Set progress (a fraction, clamped to 0..1) and optionally the message."""
        values: dict[str, Any] = {"progress": min(1.0, max(0.0, float(progress)))}
        if message is not None:
            values["message"] = message
        self._set(job_id, **values)

    def finish(self, job_id: str, result: Mapping[str, Any] | None = None, message: str = "") -> None:
        """Mark the job ``done`` with progress 1 and a JSON-simple ``result``."""
        self._set(job_id, status=JobStatus.DONE.value, progress=1.0, message=message,
                  result=dict(result) if result is not None else None)

    def fail(self, job_id: str, message: str) -> None:
        """Mark the job ``failed``; ``message`` says why (shown to the trader)."""
        self._set(job_id, status=JobStatus.FAILED.value, message=message)
