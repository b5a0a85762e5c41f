"""The Dramatiq broker of this process, and enqueueing by actor *name* (shared by web and workers).

``install_broker`` picks the broker once per process:

* ``settings.worker.broker`` (``DESK_BROKER=redis`` or ``stub``) if set (integration tests force ``redis`` this way);
* else a ``StubBroker`` when ``settings.env == "test"``;
* else a ``RedisBroker`` on ``settings.effective_redis_url`` (namespace ``paperdesk``).

Both carry the ``Results`` middleware (``RedisBackend`` / ``StubBackend``) and
``CurrentMessage`` (actors read their retry count from it). Install the broker before any
``@dramatiq.actor`` is imported: otherwise ``dramatiq.get_broker()`` silently builds a
RabbitMQ broker on localhost (infra-notes §5).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend
from dramatiq.results.backends.stub import StubBackend

from app.adapters.retries import install_desk_retries
from app.adapters.store.bars_repo import check_interval
from app.adapters.store.ports import Job, JobRepository, JobStatus
from app.adapters.worker_heartbeat import install_worker_heartbeat
from app.logging_setup import install_trace_middleware
from app.settings import Settings
from core.errors import ValidationError
from core.timeutil import ist_range

log = logging.getLogger(__name__)

#: Redis key prefix of the desk's queues.
NAMESPACE = "paperdesk"
#: How long actor results stay in the result backend (ms).
RESULT_TTL_MS = 3_600_000

# Queue and actor names, shared so the web process and the clock never import ``workers``.
BACKFILL_QUEUE = "backfill"
BACKFILL_ACTOR = "backfill_candles"
BACKFILL_WATCHLIST_ACTOR = "backfill_watchlist"
REFERENCE_QUEUE = "reference"
REFRESH_INSTRUMENTS_ACTOR = "refresh_instruments"

_installed: dramatiq.Broker | None = None
_lock = threading.Lock()


def broker_kind(settings: Settings) -> str:
    """``"redis"`` or ``"stub"``: ``settings.worker.broker`` (``DESK_BROKER``, validated by the
    settings) if set, else stub under test, else redis."""
    if settings.worker.broker:
        return settings.worker.broker
    return "stub" if settings.env == "test" else "redis"


def install_broker(settings: Settings) -> dramatiq.Broker:
    """Create this process's broker once and make it Dramatiq's global broker; return it."""
    global _installed
    with _lock:
        if _installed is None:
            if broker_kind(settings) == "stub":
                broker: dramatiq.Broker = StubBroker()
                broker.add_middleware(Results(backend=StubBackend(), result_ttl=RESULT_TTL_MS))
                broker.add_middleware(CurrentMessage())
                broker.emit_after("process_boot")  # tests only; the CLI emits it itself
            else:
                broker = RedisBroker(url=settings.effective_redis_url, namespace=NAMESPACE)
                broker.add_middleware(Results(backend=RedisBackend(client=broker.client), result_ttl=RESULT_TTL_MS))
                broker.add_middleware(CurrentMessage())
            install_desk_retries(broker)  # TemporaryError retried, ValidationError/other DeskError not
            install_trace_middleware(broker)  # trace id from message to log lines
            install_worker_heartbeat(broker, interval_s=settings.worker.heartbeat_s,
                                     ttl_s=settings.worker.heartbeat_ttl_s)  # System page's live workers
            dramatiq.set_broker(broker)
            _installed = broker
            log.info("installed the %s broker", type(broker).__name__)
        return _installed


def uninstall_broker() -> None:
    """Forget the installed broker (tests that switch brokers within one process)."""
    global _installed
    with _lock:
        _installed = None


class DramatiqTaskQueue:
    """Enqueue actors by *name*, so the web process and the clock never import ``workers``.

    ``jobs`` is the store's job repository (``SqlStore.jobs``), or a zero-argument callable
    returning it on first use (the composition root passes one, so a store that is down does
    not stop plain enqueues). A queue built without one enqueues, but its job helpers raise
    ``ValidationError``.
    """

    def __init__(self, broker: dramatiq.Broker,
                 jobs: JobRepository | Callable[[], JobRepository] | None = None) -> None:
        self._broker = broker
        self._jobs = jobs

    @property
    def broker(self) -> dramatiq.Broker:
        return self._broker

    @property
    def jobs(self) -> JobRepository:
        if self._jobs is None:
            raise ValidationError("this task queue has no job repository: build it with "
                                  "DramatiqTaskQueue(broker, jobs=store.jobs) (the container does)")
        if not hasattr(self._jobs, "create"):  # a provider: resolve it once
            self._jobs = self._jobs()
        return self._jobs

    def enqueue(self, queue: str, actor: str, **kwargs: Any) -> str:
        """Send ``actor(**kwargs)`` on ``queue``; return the message id.

        ``kwargs`` must be JSON-simple (``ValidationError`` otherwise). Raises the broker's
        connection error if Redis is unreachable.
        """
        try:
            json.dumps(kwargs)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"arguments of {actor} must be JSON-simple (str, int, float, list, dict): {exc}") from None
        self._broker.declare_queue(queue)
        message = dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs=kwargs, options={})
        return self._broker.enqueue(message).message_id

    # ---- job helpers ---------------------------------------------------------------------

    def enqueue_backfill(self, key: str | int, interval: str, start: datetime | date, end: datetime | date,
                         job_id: str | None = None) -> str:
        """Create a ``backfill`` job row and send ``backfill_candles``; return the job id.

        ``start``/``end``: tz-aware datetimes or IST dates (whole days). With a fixed
        ``job_id`` (the clock uses ``bf:<day>:<interval>:<token>``) a job that already exists
        and has not failed is not sent again. Raises ``ValidationError`` for an unknown
        interval, a naive time or ``start > end`` (nothing is stored or sent then).
        """
        check_interval(interval)
        start_dt, end_dt = ist_range(start, end)
        args = {"key": key, "interval": interval, "start_iso": start_dt.isoformat(), "end_iso": end_dt.isoformat()}
        if job_id is not None:
            existing = self.jobs.get(job_id)
            if existing is not None and existing.status is not JobStatus.FAILED:
                return job_id
        job_id = self.jobs.create("backfill", args, job_id=job_id)
        try:
            self.enqueue(BACKFILL_QUEUE, BACKFILL_ACTOR, job_id=job_id, **args)
        except Exception as exc:
            self.jobs.fail(job_id, f"could not queue the job: {exc}")
            raise
        return job_id

    def enqueue_backfill_watchlist(self, day: date, interval: str = "minute", name: str = "default") -> str:
        """Send ``backfill_watchlist`` (one backfill job per key of watchlist ``name``)."""
        check_interval(interval)
        return self.enqueue(BACKFILL_QUEUE, BACKFILL_WATCHLIST_ACTOR, day_iso=day.isoformat(),
                            interval=interval, name=name)

    def enqueue_refresh_instruments(self) -> str:
        """Send ``refresh_instruments`` (replace the master with the market's current dump)."""
        return self.enqueue(REFERENCE_QUEUE, REFRESH_INSTRUMENTS_ACTOR)

    def job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def recent(self, limit: int = 20, kind: str | None = None) -> list[Job]:
        return self.jobs.recent(limit, kind)

