"""Backfill and reference-data actors: historical candles and the instruments master, tracked
as jobs the UI follows (``store.jobs``; the Chart page shows their status and message).

Bad input (``ValidationError``), Kite still failing after the historical client's own retries
(``HistoricalUnavailable``), no free rate-limit permit (``RateLimitTimeout``) and no Kite
session (``KiteLoginRequired``) end the job as ``failed`` with the message: the actor returns
normally, so Dramatiq does not retry what cannot succeed (no crash loop). Anything else
(network blips, a refused token) is retried up to ``BACKFILL_MAX_RETRIES`` times.
"""

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
from app.adapters.kite_historical import HistoricalUnavailable
from app.adapters.kite_session import KiteLoginRequired
from app.adapters.rate_limit import RateLimitTimeout
from app.adapters.store.ports import JobStatus
from app.container import services
from app.market.history_warmup import MORNING_BACKFILL_ACTOR, child_finished, parent_of
from core.errors import DataError, ValidationError
from core.timeutil import IST, require_aware

log = logging.getLogger(__name__)

BACKFILL_MAX_RETRIES = 3
#: Errors that end a job as ``failed`` with their message instead of a Dramatiq retry.
FINAL_ERRORS = (ValidationError, HistoricalUnavailable, RateLimitTimeout, KiteLoginRequired)


def _parse_iso(value: str, name: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} {value!r} is not an ISO datetime such as 2016-08-16T09:15:00+05:30") from None
    return require_aware(when, name)


def _last_attempt(max_retries: int = BACKFILL_MAX_RETRIES) -> bool:
    message = CurrentMessage.get_current_message()
    if message is None:  # called directly (``.fn``), not through a worker
        return True
    return message.options.get("retries", 0) >= max_retries


@dramatiq.actor(queue_name=BACKFILL_QUEUE, actor_name=BACKFILL_ACTOR, max_retries=BACKFILL_MAX_RETRIES,
                min_backoff=2_000, max_backoff=60_000, time_limit=30 * 60_000, throws=(ValidationError,))
def backfill_candles(job_id: str, key: str | int, interval: str, start_iso: str, end_iso: str) -> None:
    """Backfill ``interval`` candles of ``key`` over ``[start_iso, end_iso]`` and record job ``job_id``.

    Idempotent: a job already ``done`` is left alone, and the backfill itself skips what the
    store has. Progress goes to the job row after each Kite request window. ``ValidationError``
    (bad interval, unknown symbol, range beyond Kite's limit, token the market refuses),
    ``HistoricalUnavailable`` (429/5xx after the client's retries), ``RateLimitTimeout`` and
    ``KiteLoginRequired`` fail the job with their message and return (no retry); other errors
    are retried up to ``BACKFILL_MAX_RETRIES`` times, then fail the job. Bars stored by
    earlier windows are kept either way.
    """
    svc = services()
    jobs = svc.store.jobs
    args = {"key": key, "interval": interval, "start_iso": start_iso, "end_iso": end_iso}
    job = jobs.get(job_id)
    if job is None:
        jobs.create("backfill", args, job_id=job_id)
    elif job.status is JobStatus.DONE:
        log.info("backfill job %s is already done; nothing to do", job_id)
        _refresh_parent(jobs, job_id)
        return
    jobs.start(job_id, f"backfilling {key} {interval}")
    notes: list[str] = []
    try:
        start, end = _parse_iso(start_iso, "start_iso"), _parse_iso(end_iso, "end_iso")
        added = svc.market_data.backfill(key, interval, start, end,
                                         progress=lambda fraction, msg: jobs.update(job_id, fraction, msg),
                                         notes=notes)
    except FINAL_ERRORS as exc:
        jobs.fail(job_id, str(exc))
        log.warning("backfill job %s failed: %s", job_id, exc)
        _refresh_parent(jobs, job_id)
        return
    except BaseException as exc:  # includes dramatiq's TimeLimitExceeded
        try:
            if _last_attempt():
                jobs.fail(job_id, f"gave up: {type(exc).__name__}: {exc}")
                _refresh_parent(jobs, job_id)
            else:
                jobs.update(job_id, 0.0, f"attempt failed ({type(exc).__name__}: {exc}); retrying")
        except Exception:  # noqa: BLE001 - the store itself is down: Dramatiq's retry still runs
            log.exception("backfill job %s: could not record the failure", job_id)
        raise
    message = f"stored {added} new {interval} bars for {key}"
    if notes:
        message += "; " + "; ".join(notes)
    jobs.finish(job_id, {"rows": added, **({"notes": notes} if notes else {})}, message)
    _refresh_parent(jobs, job_id)


def _refresh_parent(jobs, job_id: str) -> None:
    """A morning-backfill child updates its parent's progress (never fails the child)."""
    if parent_of(job_id) is None:
        return
    try:
        child_finished(jobs, job_id)
    except Exception:  # noqa: BLE001 - the System page recomputes it anyway
        log.exception("could not update the morning backfill of %s", job_id)


@dramatiq.actor(queue_name=BACKFILL_QUEUE, actor_name=MORNING_BACKFILL_ACTOR, max_retries=5,
                min_backoff=10_000, max_backoff=300_000, time_limit=300_000, throws=(ValidationError,))
def morning_backfill(as_of: str | None = None, universes: list[str] | None = None) -> dict | None:
    """Plan and queue the morning backfill (``app.market.history_warmup``) at market time.

    ``as_of``: ISO market time (the clock's start-up run passes the first replayed tick's);
    default: the market clock now. With the replay market and no replayed tick yet the run is
    skipped (its wall time is not market time; the clock's start-up run covers the session).
    ``universes``: index universes whose members get daily history (default NIFTY 500).
    Returns ``{parent, total, done, failed}``; ``None`` when skipped. Redelivery and re-runs the
    same market day queue nothing twice (deterministic child ids). A store or broker outage
    raises and is retried (up to 5 times).
    """
    from app.market.history_warmup import (
        DEFAULT_UNIVERSES,
        market_time_known,
        plan_morning_backfill,
        queue_morning_backfill,
        universe_keys,
    )

    svc = services()
    if as_of is None:
        reading = svc.market_clock.now()
        if not market_time_known(reading, svc.settings.market):
            log.info("morning backfill skipped: market time unknown (%s)", reading.source)
            return None
        now = reading.now
    else:
        now = _parse_iso(as_of, "as_of")
    watch: list[str] = []
    for name in svc.watchlists.names():  # the default one is seeded by names()
        watch += svc.watchlists.keys(name)
    strategy_keys: list[str] = []
    try:
        for cfg in svc.strategies.configs():
            strategy_keys += [f"NSE:{s}" if ":" not in s else s for s in cfg.symbols]
    except Exception:  # noqa: BLE001 - strategies are optional for the backfill
        log.exception("morning backfill: could not read the strategies' symbols")
    intraday = list(dict.fromkeys([*watch, *strategy_keys]))
    plan = plan_morning_backfill(now, daily_keys=universe_keys(DEFAULT_UNIVERSES if universes is None else universes),
                                 intraday_keys=intraday, resolve=svc.instruments.resolve, calendar=svc.calendar)
    progress = queue_morning_backfill(svc.tasks, svc.store.jobs, plan)
    return {"parent": plan.parent_id, "total": progress.total, "done": progress.done, "failed": progress.failed}


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
        ids.append(svc.tasks.enqueue_backfill(inst.key, interval, start, end,
                                             job_id=f"bf:{day_iso}:{interval}:{inst.instrument_token}"))
    log.info("queued %d %s backfills for %s (watchlist %s)", len(ids), interval, day_iso, name)
    return ids


REFRESH_MAX_RETRIES = 5


@dramatiq.actor(queue_name=REFERENCE_QUEUE, actor_name=REFRESH_INSTRUMENTS_ACTOR, max_retries=REFRESH_MAX_RETRIES,
                min_backoff=10_000, max_backoff=300_000, time_limit=300_000, throws=(ValidationError,))
def refresh_instruments(job_id: str | None = None, exchanges: list[str] | None = None) -> dict | None:
    """Replace the instruments master with the market's NSE and NFO dumps (dated today, IST).

    Runs ``app.market.instruments_refresh.refresh_instruments`` and records job ``job_id``
    (kind ``instruments``; default ``instruments:<IST date>``, so the clock's daily send and a
    redelivery share one row). The result ``{stored, per_exchange, empty}`` and the message
    name exchanges that returned nothing: the replay market serves NSE only, so its NFO is
    empty (reported, not an error). Idempotent (a full replacement; a job already ``done`` is
    left alone). ``DataError`` (every exchange empty: the old master is kept) and
    ``KiteLoginRequired`` fail the job with the message and return; other errors are retried.
    Kite publishes the day's dump around 08:30 IST.
    """
    from datetime import UTC

    from app.market.instruments_refresh import DEFAULT_EXCHANGES
    from app.market.instruments_refresh import refresh_instruments as refresh

    svc = services()
    jobs = svc.store.jobs
    now = datetime.now(UTC)
    exchanges = list(exchanges or DEFAULT_EXCHANGES)
    job_id = job_id or f"instruments:{now.astimezone(IST).date().isoformat()}"
    job = jobs.get(job_id)
    if job is None:
        jobs.create("instruments", {"exchanges": exchanges}, job_id=job_id)
    elif job.status is JobStatus.DONE:
        log.info("instruments job %s is already done; nothing to do", job_id)
        return job.result
    jobs.start(job_id, f"refreshing instruments ({', '.join(exchanges)})")
    try:
        result = refresh(svc.instruments, svc.kite(), now, exchanges=exchanges)
    except (DataError, KiteLoginRequired) as exc:
        jobs.fail(job_id, str(exc))
        log.warning("instruments job %s failed: %s", job_id, exc)
        return None
    except BaseException as exc:
        if _last_attempt(REFRESH_MAX_RETRIES):
            jobs.fail(job_id, f"gave up: {type(exc).__name__}: {exc}; the old master is kept")
        else:
            jobs.update(job_id, 0.0, f"attempt failed ({type(exc).__name__}: {exc}); retrying")
        raise
    out = {"stored": result.stored, "per_exchange": result.per_exchange, "empty": list(result.empty)}
    counts = ", ".join(f"{ex} {n:,}" for ex, n in result.per_exchange.items())
    message = f"stored {result.stored:,} instruments ({counts})"
    if result.empty:
        note = " (the replay market serves NSE only)" if svc.settings.market == "replay" else ""
        message += f"; {', '.join(result.empty)} returned no rows{note}"
    jobs.finish(job_id, out, message)
    log.info("instruments job %s: %s", job_id, message)
    return out
