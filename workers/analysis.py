"""The analysis actor: one grounded analysis as a job the Analysis page follows."""

from __future__ import annotations

import logging
from datetime import datetime

import dramatiq
from dramatiq.middleware import CurrentMessage

from workers import broker as _broker  # noqa: F401  (installs the broker before @actor runs)
from app.adapters.store.ports import JobStatus
from app.container import services
from app.research.analysis import ANALYSIS_ACTOR, ANALYSIS_QUEUE, AnalysisRefused
from core.errors import ValidationError
from core.timeutil import require_aware

log = logging.getLogger(__name__)

ANALYSIS_MAX_RETRIES = 4
#: Longer than the Gemini HTTP timeout (30 s) plus the rate-limit wait (20 s).
ANALYSIS_TIME_LIMIT_MS = 120_000


def _last_attempt() -> bool:
    message = CurrentMessage.get_current_message()
    if message is None:
        return True
    limit = message.options.get("max_retries", ANALYSIS_MAX_RETRIES)
    return message.options.get("retries", 0) >= limit


@dramatiq.actor(queue_name=ANALYSIS_QUEUE, actor_name=ANALYSIS_ACTOR, max_retries=ANALYSIS_MAX_RETRIES,
                min_backoff=2_000, max_backoff=60_000, time_limit=ANALYSIS_TIME_LIMIT_MS,
                throws=(ValidationError, AnalysisRefused))
def run_analysis(job_id: str, symbol: str, at_iso: str, headlines: list[str] | None = None,
                 analyst: str | None = None, model: str | None = None) -> str | None:
    """Analyse ``symbol`` at market time ``at_iso`` and record job ``job_id``; return the analysis id.

    Retried with backoff on 429, 5xx, timeouts and a busy rate limit; ``ValidationError`` (bad
    input) and ``AnalysisRefused`` (no/invalid key, model rejected, budget spent, invalid
    answer) fail the job at once. Idempotent: a job already ``done`` is left alone, and the
    cache returns the stored analysis for a snapshot already analysed.
    """
    svc = services()
    jobs = svc.store.jobs
    args = {"symbol": symbol, "at_iso": at_iso, "headlines": headlines or [], "analyst": analyst, "model": model}
    job = jobs.get(job_id)
    if job is None:
        jobs.create("analysis", args, job_id=job_id)
    elif job.status is JobStatus.DONE:
        log.info("analysis job %s is already done; nothing to do", job_id)
        return (job.result or {}).get("analysis_id")
    jobs.start(job_id, f"analysing {symbol}")
    try:
        try:
            at = require_aware(datetime.fromisoformat(at_iso), "at_iso")
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"at_iso {at_iso!r} is not an ISO datetime with an offset: {exc}") from None
        result = svc.analysis.analyse(symbol, at, headlines, analyst=analyst, model=model,
                                      progress=lambda f, m: jobs.update(job_id, f, m))
    except (ValidationError, AnalysisRefused) as exc:
        jobs.fail(job_id, str(exc))
        raise
    except BaseException as exc:  # 429/5xx/timeouts, rate limit, TimeLimitExceeded
        if _last_attempt():
            jobs.fail(job_id, f"gave up: {type(exc).__name__}: {exc}")
        else:
            jobs.update(job_id, 0.0, f"attempt failed ({type(exc).__name__}: {exc}); retrying with backoff")
        raise
    note = " (cached)" if result.cached else ""
    jobs.finish(job_id, {"analysis_id": result.id, "cached": result.cached, "label": result.label},
                f"{result.label}: {result.verdict} ({result.confidence:.0%}){note}")
    return result.id


@dramatiq.actor(queue_name=ANALYSIS_QUEUE, max_retries=0, time_limit=120_000, throws=(ValidationError,))
def score_outcomes(as_of: str) -> int:
    """Score every due verdict against what the price did up to market time ``as_of`` (ISO);
    the clock sends it every few minutes. Idempotent: scored analyses are left alone."""
    try:
        now = require_aware(datetime.fromisoformat(as_of), "as_of")
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"as_of {as_of!r} is not an ISO datetime with an offset: {exc}") from None
    scored = services().analysis.score_outcomes(now)
    log.info("scored %d analysis outcomes as of %s", scored, as_of)
    return scored
