"""The morning backfill: history for the universes, watchlists and strategies before the open.

A real desk starts the day with its history complete. The clock sends ``morning_backfill``
(actor ``MORNING_BACKFILL_ACTOR``) at 08:30 IST on NSE trading days, and once when it starts
as soon as the market time is known (with the replay market: its first replayed tick). The
actor plans with :func:`plan_morning_backfill` and queues with :func:`queue_morning_backfill`:

* **daily** candles, ``daily_days`` (730, about 2 years, or what the market has) back from
  market time, for every member of the universes in use (NIFTY 50 / 100 / 500, from
  ``app.adapters.bundled_market.index_members``) plus every watchlist and strategy symbol;
* **1-minute** candles of the last ``minute_sessions`` (5) sessions (today's counts once the
  session has opened) for the watchlist and strategy symbols.

Each is one ``backfill_candles`` job with a deterministic id ``mb:<market day>:<interval>:<token>``:
a second plan the same market day (a restarted clock, the 08:30 run after the start-up run)
queues nothing twice, only re-queues the children that failed; and each backfill itself
skips the ranges already stored, so later days fetch only what is missing. One parent job
``morning:<market day>`` (kind ``morning_backfill``) lists the children; its progress is
finished children / total and its message reads ``"312 of 1,050 done, 3 failed"``
(:func:`refresh_morning_job`, called by each child when it ends; the System page reads the
children itself, :func:`latest_morning`).

Kite allows 3 historical requests a second (the ``HistoricalClient``'s shared limiter), so
NIFTY 500 × 2 years of daily candles is about 500 requests, some 3 minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from app.adapters.store.ports import Job, JobStatus
from app.market.clock import DeskClock
from core.errors import ValidationError
from core.timeutil import IST, require_aware

log = logging.getLogger(__name__)

#: The clock sends this actor (on the backfill queue) by name; ``workers.backfill`` defines it.
MORNING_BACKFILL_ACTOR = "morning_backfill"
#: Kind of the parent job row.
MORNING_KIND = "morning_backfill"
#: Universes whose members get daily history (NIFTY 500 holds NIFTY 50 and NIFTY 100).
DEFAULT_UNIVERSES = ("NIFTY 500",)
DAILY_DAYS = 730
MINUTE_SESSIONS = 5
_SESSION_OPEN = time(9, 15)


class _Calendar(Protocol):
    def previous_trading_day(self, day): ...

    def is_trading_day(self, day) -> bool: ...


class _Queue(Protocol):
    def enqueue_backfill(self, key, interval, start, end, job_id=None) -> str: ...


class _Jobs(Protocol):
    def create(self, kind: str, args: dict, job_id: str | None = None) -> str: ...

    def get(self, job_id: str) -> Job | None: ...

    def recent(self, limit: int = 20, kind: str | None = None) -> list[Job]: ...

    def start(self, job_id: str, message: str = "") -> None: ...

    def update(self, job_id: str, progress: float, message: str | None = None) -> None: ...

    def finish(self, job_id: str, result: dict | None = None, message: str = "") -> None: ...

    def fail(self, job_id: str, message: str) -> None: ...


def parent_job_id(day: date) -> str:
    """``morning:<IST market day>``: the parent job of that day's morning backfill."""
    return f"morning:{day.isoformat()}"


def child_job_id(day: date, interval: str, token: int) -> str:
    """``mb:<market day>:<interval>:<instrument_token>``."""
    return f"mb:{day.isoformat()}:{interval}:{int(token)}"


def parent_of(child_id: str) -> str | None:
    """The parent job id of a morning-backfill child id, else ``None``."""
    parts = child_id.split(":")
    if len(parts) != 4 or parts[0] != "mb":
        return None
    return f"morning:{parts[1]}"


@dataclass(frozen=True, slots=True)
class PlannedBackfill:
    """One child: ``interval`` candles of ``key`` (token) over ``[start, end]`` (tz-aware IST)."""

    key: str
    token: int
    interval: str
    start: datetime
    end: datetime
    job_id: str


@dataclass(frozen=True)
class MorningPlan:
    """What one morning backfill queues. ``skipped``: keys not in the instruments master."""

    day: date
    as_of: datetime
    items: tuple[PlannedBackfill, ...]
    skipped: tuple[str, ...] = ()

    @property
    def parent_id(self) -> str:
        return parent_job_id(self.day)

    def count(self, interval: str) -> int:
        return sum(1 for i in self.items if i.interval == interval)


def first_minute_day(as_of: datetime, calendar: _Calendar, sessions: int = MINUTE_SESSIONS) -> date:
    """The first of the last ``sessions`` NSE sessions at ``as_of``: today counts once it has
    opened (09:15 IST on a trading day), else the sessions end with the previous trading day."""
    now = require_aware(as_of, "as_of").astimezone(IST)
    if sessions < 1:
        raise ValidationError(f"minute_sessions must be at least 1, was {sessions}")
    last = now.date()
    if not (calendar.is_trading_day(last) and now.time() >= _SESSION_OPEN):
        last = calendar.previous_trading_day(last)
    first = last
    for _ in range(sessions - 1):
        first = calendar.previous_trading_day(first)
    return first


def universe_keys(universes: Iterable[str] = DEFAULT_UNIVERSES) -> list[str]:
    """``NSE:<symbol>`` of every member of the named index universes (bundled NSE lists),
    deduplicated in order. Raises ``ValidationError`` for an unknown universe name."""
    from app.adapters.bundled_market import index_members

    out: dict[str, None] = {}
    for name in universes:
        for sym in index_members(name)["symbol"]:
            out[f"NSE:{sym}"] = None
    return list(out)


def plan_morning_backfill(as_of: datetime, *, daily_keys: Iterable[str], intraday_keys: Iterable[str],
                          resolve: Callable[[str], Any], calendar: _Calendar, daily_days: int = DAILY_DAYS,
                          minute_sessions: int = MINUTE_SESSIONS) -> MorningPlan:
    """The children of the morning backfill at market time ``as_of`` (tz-aware).

    ``daily_keys`` get ``day`` candles from ``as_of - daily_days`` days; ``intraday_keys`` get
    ``minute`` candles of the last ``minute_sessions`` sessions (:func:`first_minute_day`) and
    also daily ones. ``resolve(key)`` returns an instrument (``.key``, ``.instrument_token``)
    or raises ``ValidationError``: such keys are listed in ``skipped``, not raised. One child
    per (interval, token), whatever spellings of a key were given. Pure apart from ``resolve``.
    """
    now = require_aware(as_of, "as_of").astimezone(IST)
    day = now.date()
    intraday = list(intraday_keys)
    daily_from = datetime.combine(day - timedelta(days=daily_days), time(0), IST)
    minute_from = datetime.combine(first_minute_day(now, calendar, minute_sessions), time(0), IST)
    items: dict[tuple[str, int], PlannedBackfill] = {}
    skipped: dict[str, None] = {}

    def add(keys: Iterable[str], interval: str, start: datetime) -> None:
        for key in keys:
            try:
                inst = resolve(key)
            except ValidationError:
                skipped[str(key)] = None
                continue
            slot = (interval, int(inst.instrument_token))
            if slot not in items:
                items[slot] = PlannedBackfill(inst.key, int(inst.instrument_token), interval, start, now,
                                              child_job_id(day, interval, inst.instrument_token))

    add([*daily_keys, *intraday], "day", daily_from)
    add(intraday, "minute", minute_from)
    return MorningPlan(day, now, tuple(items.values()), tuple(skipped))


@dataclass(frozen=True)
class MorningProgress:
    """A morning backfill's state, read from its children's job rows."""

    parent_id: str
    day: date
    total: int
    done: int
    failed: int
    running: int
    failures: tuple[tuple[str, str], ...] = field(default=())  # (child job id / key, message)
    status: JobStatus = JobStatus.QUEUED
    notes: tuple[str, ...] = ()  # corporate-action replacements and the like

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else self.finished / self.total

    def summary(self) -> str:
        """E.g. ``"312 of 1,050 done, 3 failed"``."""
        text = f"{self.done:,} of {self.total:,} done"
        if self.failed:
            text += f", {self.failed:,} failed"
        if self.running:
            text += f", {self.running:,} running"
        return text


def _children(jobs: _Jobs, ids: Sequence[str]) -> dict[str, Job]:
    """The child rows by id: one ``recent`` query (children are the newest backfill jobs of
    the morning), then single reads for any it did not reach."""
    wanted = set(ids)
    found = {j.id: j for j in jobs.recent(limit=len(wanted) + 500, kind="backfill") if j.id in wanted}
    for job_id in wanted - found.keys():
        job = jobs.get(job_id)
        if job is not None:
            found[job_id] = job
    return found


def morning_progress(jobs: _Jobs, parent_id: str) -> MorningProgress | None:
    """The progress of parent job ``parent_id`` from its children, or ``None`` if there is no such job."""
    parent = jobs.get(parent_id)
    if parent is None:
        return None
    ids = list(parent.args.get("children", []))
    rows = _children(jobs, ids)
    done = failed = running = 0
    failures: list[tuple[str, str]] = []
    notes: list[str] = []
    for job_id in ids:
        job = rows.get(job_id)
        if job is None:
            continue
        if job.status is JobStatus.DONE:
            done += 1
            if "corporate action" in job.message:
                notes.append(job.message)
        elif job.status is JobStatus.FAILED:
            failed += 1
            failures.append((f"{job.args.get('key', job_id)} {job.args.get('interval', '')}".strip(), job.message))
        elif job.status is JobStatus.RUNNING:
            running += 1
    total = len(ids)
    if done + failed < total:
        status = JobStatus.RUNNING
    else:
        status = JobStatus.FAILED if failed else JobStatus.DONE
    day = date.fromisoformat(parent.args.get("day", parent_id.split(":", 1)[-1]))
    return MorningProgress(parent_id, day, total, done, failed, running, tuple(failures), status, tuple(notes))


def refresh_morning_job(jobs: _Jobs, parent_id: str) -> MorningProgress | None:
    """Recompute ``parent_id``'s progress from its children and write it to the parent row:
    running with progress finished/total, else done (or failed, when a child failed) with a
    result ``{total, done, failed, failures}``. Returns the progress (``None``: no such job).
    Many workers may call it at once: a state with fewer finished children than the parent
    row already shows is not written (no moving back)."""
    p = morning_progress(jobs, parent_id)
    if p is None:
        return None
    parent = jobs.get(parent_id)
    message = f"Morning backfill: {p.summary()}"
    if p.finished < round(parent.progress * p.total):
        # Another worker wrote a newer state since these rows were read: never move it back.
        # (A re-queued failed child also lowers the count: the parent keeps its last state
        # until that child ends.)
        return p
    if p.status is JobStatus.RUNNING:
        if parent.status is not JobStatus.RUNNING:
            jobs.start(parent_id, message)
        jobs.update(parent_id, p.fraction, message)
        return p
    result = {"total": p.total, "done": p.done, "failed": p.failed,
              "failures": [list(f) for f in p.failures[:50]], "notes": list(p.notes[:50])}
    if p.status is JobStatus.DONE:
        if parent.status is not JobStatus.DONE or parent.message != message:
            jobs.finish(parent_id, result, message)
    else:
        if parent.status is not JobStatus.FAILED or parent.message != message:
            jobs.finish(parent_id, result, message)  # the result (failures listed), progress 1 ...
            jobs.fail(parent_id, message)  # ... then failed: some children did not make it
    return p


def child_finished(jobs: _Jobs, child_id: str) -> MorningProgress | None:
    """Called by a morning-backfill child when it ends (done or failed): refresh its parent
    (one query for the family, see :func:`refresh_morning_job`). ``None``: not a child."""
    parent_id = parent_of(child_id)
    return refresh_morning_job(jobs, parent_id) if parent_id is not None else None


def queue_morning_backfill(queue: _Queue, jobs: _Jobs, plan: MorningPlan) -> MorningProgress:
    """Record the parent job and queue every child of ``plan`` (children already queued or done
    are not sent again: ``enqueue_backfill`` skips an existing id that has not failed; failed
    ones are re-queued). A child that cannot be queued (broker down) is failed with the reason
    and the rest still go. Returns the parent's progress."""
    ids = [i.job_id for i in plan.items]
    args = {"day": plan.day.isoformat(), "as_of": plan.as_of.isoformat(), "children": ids,
            "daily": plan.count("day"), "minute": plan.count("minute"), "skipped": list(plan.skipped)}
    jobs.create(MORNING_KIND, args, job_id=plan.parent_id)
    parent = jobs.get(plan.parent_id)
    if parent is not None and list(parent.args.get("children", [])) != ids:
        # A later plan the same day (a new watchlist symbol): the parent keeps the union.
        merged = list(dict.fromkeys([*parent.args.get("children", []), *ids]))
        if len(merged) != len(parent.args.get("children", [])):
            log.info("morning backfill %s: %d more children than planned earlier", plan.parent_id,
                     len(merged) - len(parent.args.get("children", [])))
        ids = merged
        _replace_args(jobs, plan.parent_id, {**args, "children": merged})
    queued = 0
    for item in plan.items:
        try:
            queue.enqueue_backfill(item.key, item.interval, item.start, item.end, job_id=item.job_id)
            queued += 1
        except ValidationError as exc:
            log.warning("morning backfill: could not queue %s %s: %s", item.key, item.interval, exc)
        except Exception:  # noqa: BLE001 - enqueue_backfill failed the child row; the others still go
            log.exception("morning backfill: could not queue %s %s", item.key, item.interval)
    log.info("morning backfill %s: %d children (%d daily, %d minute), %d sent or already queued, %d keys skipped",
             plan.parent_id, len(plan.items), plan.count("day"), plan.count("minute"), queued, len(plan.skipped))
    return refresh_morning_job(jobs, plan.parent_id)


def _replace_args(jobs: _Jobs, job_id: str, args: dict) -> None:
    """Job repositories have no args update; the SQL and Supabase ones expose ``_set``."""
    setter = getattr(jobs, "_set", None)
    if setter is not None:
        setter(job_id, args=args)


def latest_morning(jobs: _Jobs) -> MorningProgress | None:
    """Progress of the newest morning backfill (System page), read from its children (no
    write: the children keep the parent row up to date), or ``None`` if there was none."""
    recent = jobs.recent(limit=1, kind=MORNING_KIND)
    return morning_progress(jobs, recent[0].id) if recent else None


# ---- the earlier per-watchlist warm-up, kept for callers of its API ---------------------------

def warm_up_history(queue: _Queue, keys: Iterable[str], calendar: _Calendar, market_now: datetime,
                    minute_sessions: int = 5, daily_days: int = 400) -> list[str]:
    """Queue one minute and one daily backfill per key (ids ``warm:<day>:<interval>:<key>``);
    return the job ids. Superseded by the morning backfill; one bad key is logged and skipped."""
    now = market_now.astimezone(IST)
    first_minute = now.date()
    for _ in range(minute_sessions - 1):
        first_minute = calendar.previous_trading_day(first_minute)
    plan = (("minute", first_minute), ("day", now.date() - timedelta(days=daily_days)))
    job_ids = []
    for key in keys:
        for interval, start in plan:
            job_id = f"warm:{now.date().isoformat()}:{interval}:{key}"
            try:
                job_ids.append(queue.enqueue_backfill(key, interval, start, now, job_id=job_id))
            except Exception:  # noqa: BLE001 - one instrument must not stop the others
                log.exception("could not queue the %s warm-up of %s", interval, key)
    return job_ids


def wait_for_market_time(clock: Callable[[], DeskClock], market: str, timeout_s: float = 120.0,
                         poll_s: float = 1.0, sleep: Callable[[float], None] | None = None) -> datetime | None:
    """Market time once it is known (Kite: at once; replay: after the first tick), or ``None``
    after ``timeout_s`` seconds."""
    import time as _time

    sleep = sleep or _time.sleep
    waited = 0.0
    while True:
        reading = clock()
        if market_time_known(reading, market):
            return reading.now
        if waited >= timeout_s:
            return None
        sleep(poll_s)
        waited += poll_s


def market_time_known(reading: DeskClock, market: str) -> bool:
    """Kite: always (the wall clock is market time); replay: once a replayed tick was seen."""
    return market == "kite" or reading.source.startswith("replay")
