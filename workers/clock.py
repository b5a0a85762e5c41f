"""The clock process (``python -m workers.clock``): one APScheduler that only *sends* actors.

Exactly one clock runs per deployment (the Procfile's ``clock:``). Jobs fire in IST
(``Asia/Kolkata``; every ``CronTrigger`` gets ``timezone=`` because a bare one takes the host's
zone, infra-notes §5.4) and each checks the NSE calendar first, so holidays are skipped and
special sessions (e.g. Budget Saturday) are honoured:

* 08:30 IST ``morning_backfill``: plan and queue the day's history (``app.market.history_warmup``:
  ~2 years of daily candles for NIFTY 500 and every watchlist/strategy symbol, the last 5
  sessions of 1-minute candles for the watchlist and strategy symbols), one parent job
  ``morning:<market day>`` the System page follows. It is also sent once at clock start, as
  soon as market time is known (the replay market: its first tick), with that time.
* 08:45 IST ``refresh_instruments``: Kite publishes the day's instruments dump around 08:30;
  the actor (``workers.backfill.refresh_instruments``) reloads NSE and NFO before the 09:00
  pre-open and records job ``instruments:<IST date>`` (the replay market serves NSE only: its
  empty NFO is named in the job's message, not treated as a failure).
* 15:45 IST ``backfill_watchlist(day, "minute")``: the day's 1-minute candles of the default
  watchlist, after the 15:30 close (one backfill job per instrument).
* 16:05 IST ``reconcile_contract_note(day)``: the day's charges against Kite's virtual contract
  note (``workers.reconcile``), shown on the P&L page.

Paper-desk housekeeping runs every few seconds on *market* time (``services().market_clock``:
the wall clock with Kite, the replayed session's clock with the replay market), sent as
``as_of`` so a replayed session trades on its own clock (skipped, and shown so on the System
page, while a replay market has sent no tick yet):

* every 5 s ``match_orders`` (open LIMIT/SL/SL-M orders against the latest ticks; also executes
  approvals whose message was lost), every 30 s ``expire_approvals`` and ``square_off`` (MIS
  auto square-off; a no-op before the 15:20 IST cut-off and idempotent after it), these three
  also once at clock start (a restarted clock resumes a square-off at once); every 60 s
  ``send_scheduled_scans`` (the trader's scans scheduled every N minutes during the session);
  every 5 min ``score_outcomes`` (analysis verdicts scored against what the price did); every
  60 s ``poll_news`` (the configured news feeds that are due; nothing without ``DESK_NEWS_FEEDS``).

The clock enqueues by actor *name* and never imports the actor modules. SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from app.adapters.queue import BACKFILL_QUEUE, REFERENCE_QUEUE, REFRESH_INSTRUMENTS_ACTOR, DramatiqTaskQueue
from app.logging_setup import configure_logging
from app.market.history_warmup import MORNING_BACKFILL_ACTOR
from app.ops.operations import record_clock_run
from core.timeutil import IST, require_aware

log = logging.getLogger("workers.clock")

#: A job that could not run at its time (clock down, machine asleep) still runs this late (s).
MISFIRE_GRACE_S = 15 * 60


class TradingCalendar(Protocol):
    def is_trading_day(self, day: date | datetime) -> bool: ...


@dataclass(frozen=True, slots=True)
class ClockJob:
    """One scheduled send: at ``hour:minute`` IST on every NSE trading day."""

    id: str
    hour: int
    minute: int
    description: str
    send: Callable[[DramatiqTaskQueue, date], str]

    def trigger(self) -> CronTrigger:
        # Every day: the calendar (not cron) decides, so weekend special sessions are included.
        return CronTrigger(hour=self.hour, minute=self.minute, timezone=IST)


#: Exchanges of the morning instruments refresh (Kite's dumps; the replay market has NSE only).
INSTRUMENT_EXCHANGES = ("NSE", "NFO")


def send_refresh_instruments(queue: DramatiqTaskQueue, day: date) -> str:
    """Send ``refresh_instruments`` for IST ``day`` (job ``instruments:<day>``, NSE + NFO);
    return the message id. A second send the same day finds the job done and does nothing."""
    return queue.enqueue(REFERENCE_QUEUE, REFRESH_INSTRUMENTS_ACTOR, job_id=f"instruments:{day.isoformat()}",
                         exchanges=list(INSTRUMENT_EXCHANGES))


def send_morning_backfill(queue: DramatiqTaskQueue, day: date, as_of: datetime | None = None) -> str:
    """Send ``morning_backfill`` (the actor plans at market time, or at ``as_of``); return the
    message id. Re-sends the same market day queue nothing twice (deterministic child ids)."""
    kwargs = {"as_of": require_aware(as_of, "as_of").isoformat()} if as_of is not None else {}
    return queue.enqueue(BACKFILL_QUEUE, MORNING_BACKFILL_ACTOR, **kwargs)


def schedule() -> list[ClockJob]:
    """The clock's jobs (pure data; ``next_fire_times`` shows when they run)."""
    return [
        ClockJob("morning_backfill", 8, 30, "backfill daily (2 years) and 1-minute (5 sessions) history "
                 "before the open", send_morning_backfill),
        ClockJob("refresh_instruments", 8, 45, "refresh the instruments master (NSE, NFO) before the 09:00 pre-open",
                 send_refresh_instruments),
        ClockJob("backfill_watchlist_minute", 15, 45, "backfill the day's 1-minute candles of the watchlist",
                 lambda queue, day: queue.enqueue_backfill_watchlist(day, "minute")),
        ClockJob("reconcile_contract_note", 16, 5, "reconcile the day's charges with Kite's virtual contract note",
                 lambda queue, day: queue.enqueue("trading", "reconcile_contract_note", day=day.isoformat())),
    ]


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """An actor on ``queue`` sent every ``seconds`` with ``as_of`` = market time (ISO-8601);
    ``at_start``: also sent as soon as the clock starts (a restarted clock catches up at once)."""

    queue: str
    actor: str
    seconds: int
    at_start: bool = False


#: Periodic actors on market time, see the module docstring.
PERIODIC_JOBS = (
    PeriodicJob("trading", "match_orders", 5, at_start=True),
    PeriodicJob("trading", "expire_approvals", 30, at_start=True),
    PeriodicJob("trading", "square_off", 30, at_start=True),
    PeriodicJob("scans", "send_scheduled_scans", 60),
    PeriodicJob("analysis", "score_outcomes", 300),
    PeriodicJob("news", "poll_news", 60),
)


def send_periodic(job: PeriodicJob, market_now: datetime, queue: DramatiqTaskQueue) -> str:
    """Send ``job`` with ``as_of`` = ``market_now`` (tz-aware); return the message id."""
    return queue.enqueue(job.queue, job.actor, as_of=require_aware(market_now, "market_now").isoformat())


def next_fire_times(after: datetime, jobs: list[ClockJob] | None = None) -> dict[str, datetime]:
    """When each job's trigger fires next after ``after`` (tz-aware), in IST.

    This is the cron time only; on a non-trading day the job fires and skips (see ``fire``).
    """
    after = require_aware(after, "after")
    out = {}
    for job in jobs or schedule():
        when = job.trigger().get_next_fire_time(None, after)
        out[job.id] = when.astimezone(IST)
    return out


def fire(job: ClockJob, now: datetime, calendar: TradingCalendar, queue: DramatiqTaskQueue) -> str | None:
    """Send ``job`` for IST day of ``now`` if NSE trades that day; return the message id or ``None``."""
    day = require_aware(now, "now").astimezone(IST).date()
    if not calendar.is_trading_day(day):
        log.info("skipping %s: %s is not an NSE trading day", job.id, day)
        return None
    message_id = job.send(queue, day)
    log.info("sent %s for %s (message %s)", job.id, day, message_id)
    return message_id


class WeekdayCalendar:
    """Fallback when the NSE calendar cannot be loaded: Monday to Friday (no holidays)."""

    def is_trading_day(self, day: date | datetime) -> bool:
        return (day.date() if isinstance(day, datetime) else day).weekday() < 5


def load_calendar() -> TradingCalendar:
    """``services().calendar`` (the NSE calendar); weekdays if it cannot be loaded (logged)."""
    try:
        from app.container import services

        return services().calendar
    except ImportError as exc:
        log.warning("NSE calendar unavailable (%s); treating every weekday as a trading day", exc)
        return WeekdayCalendar()


def build_scheduler(calendar: TradingCalendar, queue: DramatiqTaskQueue,
                    now: Callable[[], datetime] = lambda: datetime.now(IST),
                    market_now: Callable[[], datetime | None] | None = None) -> BlockingScheduler:
    """A ``BlockingScheduler`` (IST) with every job of ``schedule()`` added (not started), and
    the periodic trading jobs when ``market_now`` (the market clock) is given: the ``at_start``
    ones first run when the scheduler starts, so a clock killed during the MIS square-off (or
    the matching sweep) and restarted resumes it at once, not one interval later."""
    scheduler = BlockingScheduler(timezone=IST)
    for job in schedule():
        scheduler.add_job(_run, trigger=job.trigger(), args=[job, calendar, queue, now], id=job.id,
                          name=job.description, coalesce=True, max_instances=1,
                          misfire_grace_time=MISFIRE_GRACE_S, replace_existing=True)
    if market_now is not None:
        for periodic in PERIODIC_JOBS:
            first = {"next_run_time": now()} if periodic.at_start else {}
            scheduler.add_job(_run_periodic, "interval", seconds=periodic.seconds,
                              args=[periodic, market_now, queue], id=periodic.actor, coalesce=True,
                              max_instances=1, misfire_grace_time=periodic.seconds, replace_existing=True,
                              **first)
    return scheduler


def _run_periodic(job: PeriodicJob, market_now: Callable[[], datetime | None], queue: DramatiqTaskQueue) -> None:
    outcome: str | BaseException | None
    try:
        now = market_now()  # None: market time unknown (replay, no tick yet): skipped, not wall time
        outcome = None if now is None else send_periodic(job, now, queue)
    except Exception as exc:  # keep the clock alive; the next interval tries again
        outcome = exc
        log.exception("periodic job %s failed to send", job.actor)
    record_clock_run(queue, job.actor, outcome)  # the System page's "last runs"


def _known_market_time(market_clock: Any, market: str) -> datetime | None:
    """Market time now, or ``None`` while it is unknown (the replay market before its first tick):
    a square-off or matching sweep must not run on the wall clock of another day."""
    from app.market.history_warmup import market_time_known

    reading = market_clock.now()
    return reading.now if market_time_known(reading, market) else None


def _run(job: ClockJob, calendar: TradingCalendar, queue: DramatiqTaskQueue, now: Callable[[], datetime]) -> None:
    outcome: str | BaseException | None
    try:
        outcome = fire(job, now(), calendar, queue)
    except Exception as exc:  # keep the clock alive; the next day's run will try again
        outcome = exc
        log.exception("clock job %s failed to send", job.id)
    record_clock_run(queue, job.id, outcome)  # the System page's "last runs"


class _Stopped(Exception):
    """The clock is stopping: the start-up warm-up gives up waiting."""


def _warm_up(queue: DramatiqTaskQueue, calendar: TradingCalendar, stopping: threading.Event | None = None) -> None:
    """Once market time is known, send the morning backfill for that market time (charts,
    scans and strategies need history; the 08:30 run may be hours away or already past).
    ``stopping`` set ends the wait, so the clock exits cleanly (a thread still polling Redis
    while the interpreter finalises can abort the process)."""
    from app.container import services
    from app.market.history_warmup import wait_for_market_time

    stopping = stopping or threading.Event()

    def sleep(seconds: float) -> None:
        if stopping.wait(seconds):
            raise _Stopped

    svc = services()
    try:
        now = wait_for_market_time(svc.market_clock.now, svc.settings.market, sleep=sleep)
        if now is None:
            log.warning("market time unknown after 2 minutes (no ticks?); morning backfill at start-up skipped")
            return
        outcome: str | BaseException | None = send_morning_backfill(queue, now.astimezone(IST).date(), now)
        log.info("sent the start-up morning backfill at market time %s", now.isoformat())
    except _Stopped:
        return
    except Exception as exc:  # the clock's schedule matters more than the warm-up
        outcome = exc
        log.exception("start-up morning backfill failed to send")
    record_clock_run(queue, "morning_backfill_startup", outcome)


def _check_health() -> None:
    """Notify the trader of a stale ticker or an expired Kite token (deduped per event)."""
    try:
        from app.container import services

        services().health_alerts.check()
    except Exception:  # noqa: BLE001 - the clock's schedule matters more
        log.exception("health notification check failed")


class _StoppedBeforeStart(Exception):
    """SIGTERM/SIGINT arrived before the scheduler was running: ``main`` stops as after a shutdown."""


def main(argv: list[str] | None = None) -> int:
    configure_logging("clock")
    from app.container import services

    svc = services()
    queue = svc.tasks  # the broker plus the store's job repository (the warm-up creates jobs)
    calendar = load_calendar()
    market_clock = svc.market_clock
    # read once before the schedule starts (an empty store seeds its instruments here), so the
    # start-up sends are quick and a SIGTERM right after start does not wait for them
    first = market_clock.now()
    log.info("market time at start: %s (%s)", first.now.isoformat(), first.source)
    scheduler = build_scheduler(calendar, queue,
                                market_now=lambda: _known_market_time(market_clock, svc.settings.market))
    stopping = threading.Event()
    warm = threading.Thread(target=_warm_up, args=(queue, calendar, stopping), name="history-warm-up", daemon=True)
    warm.start()
    scheduler.add_job(_check_health, "interval", seconds=60, id="notify_health", coalesce=True, max_instances=1,
                      misfire_grace_time=60, replace_existing=True)

    def stop(signum: int, _frame: Any) -> None:
        log.info("received %s; stopping the clock", signal.Signals(signum).name)
        try:
            scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:  # the signal came while start() was still adding jobs
            raise _StoppedBeforeStart from None

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    upcoming = next_fire_times(datetime.now(IST))
    for job in schedule():
        log.info("scheduled %s at %02d:%02d IST on NSE trading days (next %s): %s", job.id, job.hour,
                 job.minute, upcoming[job.id].isoformat(), job.description)
    for periodic in PERIODIC_JOBS:
        log.info("scheduled %s every %d s on market time", periodic.actor, periodic.seconds)
    log.info("clock started (%d jobs)", len(schedule()) + len(PERIODIC_JOBS))
    try:
        scheduler.start()  # blocks until stop()
    except _StoppedBeforeStart:
        pass
    stopping.set()
    warm.join(timeout=10)
    log.info("clock stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
