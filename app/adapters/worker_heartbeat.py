"""Worker heartbeats: a tiny Dramatiq middleware that tells the System page which workers live.

Every worker process (``dramatiq workers.actors``, one per ``--processes``) writes the hash
``desk:workers:<host>:<pid>`` every ``interval_s`` seconds with a TTL of ``ttl_s`` seconds, so
a worker that is killed (SIGKILL, OOM, a lost machine) disappears from Redis by itself within
``ttl_s``; a worker that stops cleanly deletes its key at once.

Fields (all ASCII): ``host``, ``pid``, ``started_at`` / ``beat_at`` (ISO-8601 UTC),
``queues`` (comma-separated queues it consumes), ``threads``, ``processed`` / ``failed``
(messages finished without / with an exception since start, retries included),
``in_flight`` (being processed now), ``last_actor``.

It only runs in worker processes (``after_worker_boot``) and only on a broker with a Redis
client (``RedisBroker``); on a ``StubBroker`` it does nothing. Redis being down is logged once
per outage and retried on the next beat; it never disturbs message processing.

Register it in ``install_broker`` with :func:`install_worker_heartbeat` (idempotent).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

log = logging.getLogger(__name__)

#: Key prefix of worker heartbeats (``desk:workers:<host>:<pid>``).
WORKERS_PREFIX = "desk:workers:"
#: Defaults: beat every 5 s, forget a silent worker after 15 s. ``install_broker`` passes
#: ``settings.worker.heartbeat_s`` / ``heartbeat_ttl_s`` (``DESK_WORKER_HEARTBEAT_S`` and
#: ``DESK_WORKER_HEARTBEAT_TTL_S``).
DEFAULT_INTERVAL_S = 5.0
DEFAULT_TTL_S = 15


class WorkerHeartbeat(Middleware):
    """Writes ``desk:workers:<host>:<pid>`` (hash, TTL) from each worker process; see module doc."""

    def __init__(self, interval_s: float | None = None, ttl_s: float | None = None) -> None:
        self.interval_s = interval_s if interval_s is not None else DEFAULT_INTERVAL_S
        ttl = ttl_s if ttl_s is not None else DEFAULT_TTL_S
        self.ttl_s = max(1, int(round(max(ttl, self.interval_s * 2))))
        self._lock = threading.Lock()
        self._counts = {"processed": 0, "failed": 0, "in_flight": 0}
        self._last_actor = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._key = ""
        self._static: dict[str, str] = {}
        self._down = False

    # ---- counting ----------------------------------------------------------------------

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        with self._lock:
            self._counts["in_flight"] += 1
            self._last_actor = message.actor_name

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        with self._lock:
            self._counts["in_flight"] = max(0, self._counts["in_flight"] - 1)
            self._counts["failed" if exception is not None else "processed"] += 1

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        with self._lock:
            self._counts["in_flight"] = max(0, self._counts["in_flight"] - 1)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    # ---- lifecycle ---------------------------------------------------------------------

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        client = getattr(broker, "client", None)
        if client is None:  # StubBroker: no Redis to beat into
            return
        self._client = client
        host = socket.gethostname()
        pid = os.getpid()
        self._key = f"{WORKERS_PREFIX}{host}:{pid}"
        queues = sorted(getattr(worker, "consumer_whitelist", None) or broker.get_declared_queues())
        self._static = {"host": host, "pid": str(pid), "started_at": datetime.now(UTC).isoformat(),
                        "queues": ",".join(q for q in queues if not q.endswith(".DQ")),
                        "threads": str(getattr(worker, "worker_threads", 0))}
        self._stop.clear()
        self.beat()
        self._thread = threading.Thread(target=self._loop, name="desk-worker-heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 1)
        if self._client is not None and self._key:
            try:
                self._client.delete(self._key)
            except Exception:  # noqa: BLE001 - Redis down at shutdown: the TTL forgets us
                pass

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.beat()

    def beat(self) -> bool:
        """Write the heartbeat now; ``False`` (logged once per outage) if Redis is unreachable."""
        if self._client is None:
            return False
        with self._lock:
            fields = {**self._static, **{k: str(v) for k, v in self._counts.items()},
                      "last_actor": self._last_actor, "beat_at": datetime.now(UTC).isoformat()}
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(self._key, mapping=fields)
            pipe.expire(self._key, self.ttl_s)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - never disturb the worker
            if not self._down:
                log.warning("worker heartbeat: cannot write %s (%s); retrying every %.0f s",
                            self._key, exc, self.interval_s)
            self._down = True
            return False
        if self._down:
            log.info("worker heartbeat: Redis reachable again")
        self._down = False
        return True


def install_worker_heartbeat(broker: dramatiq.Broker, **kwargs: Any) -> WorkerHeartbeat:
    """Add a :class:`WorkerHeartbeat` to ``broker`` unless it has one; return it."""
    for m in broker.middleware:
        if isinstance(m, WorkerHeartbeat):
            return m
    middleware = WorkerHeartbeat(**kwargs)
    broker.add_middleware(middleware)
    return middleware
