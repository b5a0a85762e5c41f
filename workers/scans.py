"""Scan actors: ``run_scan`` (one scan as a job with progress, results stored with history) and
``send_scheduled_scans`` (queues the scans whose schedule is due; sent by the clock)."""

from __future__ import annotations

import logging
from datetime import datetime

import dramatiq

from workers import broker as _broker  # noqa: F401  (installs the broker before @actor runs)
from app.adapters.store.ports import JobStatus
from app.container import services
from app.research.scanner import RUN_SCAN_ACTOR, SCAN_QUEUE, SEND_SCHEDULED_ACTOR
from core.errors import ValidationError
from core.timeutil import require_aware

log = logging.getLogger(__name__)


def _parse_iso(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return require_aware(datetime.fromisoformat(value), name)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} {value!r} is not an ISO datetime such as 2026-06-12T15:30:00+05:30") from None


@dramatiq.actor(queue_name=SCAN_QUEUE, actor_name=RUN_SCAN_ACTOR, max_retries=2, min_backoff=2_000,
                time_limit=10 * 60_000, throws=(ValidationError,))
def run_scan(job_id: str, scan: str, universe: str, as_of_iso: str | None = None,
             schedule_id: int | None = None, forming: bool = False) -> dict:
    """Run ``scan`` (built-in key or expression) over ``universe`` as of ``as_of_iso`` and store
    it as run ``job_id``; progress goes to job ``job_id``. ``forming``: intraday timeframes
    include the bar still forming at ``as_of``.

    Idempotent: a job already ``done`` is left alone (its stored run stands). ``ValidationError``
    (bad scan, empty universe, too little history) fails the job and the run without retries.
    Returns ``{"run_id", "matched"}``.
    """
    svc = services()
    jobs = svc.store.jobs
    job = jobs.get(job_id)
    if job is None:
        jobs.create("scan", {"scan": scan, "universe": universe, "as_of_iso": as_of_iso}, job_id=job_id)
    elif job.status is JobStatus.DONE:
        log.info("scan job %s is already done", job_id)
        return dict(job.result or {})
    jobs.start(job_id, f"scanning {universe}")
    try:
        result = svc.scanner.execute(scan, universe, _parse_iso(as_of_iso, "as_of_iso"), job_id=job_id,
                                          schedule_id=schedule_id, forming=forming)
    except ValidationError as exc:
        jobs.fail(job_id, str(exc))
        raise
    except BaseException as exc:
        jobs.fail(job_id, f"{type(exc).__name__}: {exc}")
        raise
    out = {"run_id": result.run_id, "matched": len(result.frame)}
    jobs.finish(job_id, out, result.summary)
    return out


@dramatiq.actor(queue_name=SCAN_QUEUE, actor_name=SEND_SCHEDULED_ACTOR, max_retries=0, time_limit=60_000,
                throws=(ValidationError,))
def send_scheduled_scans(as_of: str) -> list[str]:
    """Queue a ``run_scan`` job for every scheduled scan due at ``as_of`` (market time, ISO);
    return the job ids. Schedules run only 09:15–15:30 IST on NSE trading days."""
    now = _parse_iso(as_of, "as_of")
    return services().scanner.send_due(now)
