"""Backfill actors: historical candles into the store, tracked as jobs the UI follows."""

from __future__ import annotations

import logging
from datetime import date, datetime, time

import dramatiq
from dramatiq.middleware import CurrentMessage

from workers import broker as _broker  # noqa: F401  (installs the broker before @actor runs)
from app.adapters.queue import (
    BACKFILL_ACTOR,
    BACKFILL_QUEUE,
    BACKFILL_WATCHLIST_ACTOR,
    REFERENCE_QUEUE,
    REFRESH_INSTRUMENTS_ACTOR,
)
from app.adapters.store.ports import JobStatus
from app.container import services
from core.errors import ValidationError
from core.timeutil import IST, require_aware

log = logging.getLogger(__name__)

BACKFILL_MAX_RETRIES = 3


def _parse_iso(value: str, name: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} {value!r} is not an ISO datetime such as 2016-08-16T09:15:00+05:30") from None
    return require_aware(when, name)


def _last_attempt() -> bool:
    message = CurrentMessage.get_current_message()
    if message is None:  # called directly (``.fn``), not through a worker
        return True
    return message.options.get("retries", 0) >= BACKFILL_MAX_RETRIES


@dramatiq.actor(queue_name=BACKFILL_QUEUE, actor_name=BACKFILL_ACTOR, max_retries=BACKFILL_MAX_RETRIES,
                min_backoff=2_000, max_backoff=60_000, time_limit=30 * 60_000, throws=(ValidationError,))
def backfill_candles(job_id: str, key: str | int, interval: str, start_iso: str, end_iso: str) -> None:
    """Backfill ``interval`` candles of ``key`` over ``[start_iso, end_iso]`` and record job ``job_id``.

    Idempotent: a job already ``done`` is left alone, and the backfill itself skips what the
    store has. Progress goes to the job row after each Kite request window. ``ValidationError``
    (bad interval, unknown symbol, token the market refuses) fails the job without retries;
    other errors are retried up to ``BACKFILL_MAX_RETRIES`` times, then fail the job.
    """
    svc = services()
    jobs = svc.store.jobs
    args = {"key": key, "interval": interval, "start_iso": start_iso, "end_iso": end_iso}
    job = jobs.get(job_id)
    if job is None:
        jobs.create("backfill", args, job_id=job_id)
    elif job.status is JobStatus.DONE:
        log.info("backfill job %s is already done; nothing to do", job_id)
        return
    jobs.start(job_id, f"backfilling {key} {interval}")
    try:
        start, end = _parse_iso(start_iso, "start_iso"), _parse_iso(end_iso, "end_iso")
        added = svc.market_data.backfill(key, interval, start, end,
                                         progress=lambda fraction, msg: jobs.update(job_id, fraction, msg))
    except ValidationError as exc:
        jobs.fail(job_id, str(exc))
        raise
    except BaseException as exc:  # includes dramatiq's TimeLimitExceeded
        if _last_attempt():
            jobs.fail(job_id, f"gave up: {type(exc).__name__}: {exc}")
        else:
            jobs.update(job_id, 0.0, f"attempt failed ({type(exc).__name__}: {exc}); retrying")
        raise
    jobs.finish(job_id, {"rows": added}, f"stored {added} new {interval} bars for {key}")


@dramatiq.actor(queue_name=BACKFILL_QUEUE, actor_name=BACKFILL_WATCHLIST_ACTOR, max_retries=3,
                time_limit=120_000, throws=(ValidationError,))
def backfill_watchlist(day_iso: str, interval: str = "minute", name: str = "default") -> list[str]:
    """Queue one ``backfill_candles`` job per key of watchlist ``name`` for IST day ``day_iso``.

    Job ids are ``bf:<day>:<interval>:<token>``, so a redelivered message queues nothing twice.
    Returns the job ids.
    """
    try:
        day = date.fromisoformat(day_iso)
    except (TypeError, ValueError):
        raise ValidationError(f"day_iso {day_iso!r} must be YYYY-MM-DD") from None
    svc = services()
    start = datetime.combine(day, time(0, 0), IST)
    end = datetime.combine(day, time(23, 59, 59), IST)
    ids = []
    for inst in svc.watchlists.instruments(name):
        ids.append(svc.jobs.enqueue_backfill(inst.key, interval, start, end,
                                             job_id=f"bf:{day_iso}:{interval}:{inst.instrument_token}"))
    log.info("queued %d %s backfills for %s (watchlist %s)", len(ids), interval, day_iso, name)
    return ids


@dramatiq.actor(queue_name=REFERENCE_QUEUE, actor_name=REFRESH_INSTRUMENTS_ACTOR, max_retries=5,
                min_backoff=10_000, max_backoff=300_000, time_limit=300_000, throws=(ValidationError,))
def refresh_instruments() -> int:
    """Replace the instruments master with the market's current NSE dump; return the row count.

    Idempotent (a full replacement). Kite publishes the day's dump around 08:30 IST.
    """
    svc = services()
    return svc.instruments.refresh_from_kite(svc.market_data.kite)
