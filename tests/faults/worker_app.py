"""The worker the operations and fault tests run: ``dramatiq tests.faults.worker_app``.

It is ``workers.trading`` and ``workers.backfill`` on the installed broker plus the operations middleware (worker
heartbeat, trace id) that ``install_broker`` will register itself once the lead adds the lines
(``install_*`` are idempotent, so then this is a no-op), and one test-only actor:
``flaky(key)`` on queue ``ops_probe`` fails until Redis key ``desk:test:ok:<key>`` exists.
"""

from __future__ import annotations

import logging

import dramatiq

from workers import broker as _broker  # first: installs the broker

from app.adapters.worker_heartbeat import install_worker_heartbeat
from app.logging_setup import install_trace_middleware, trace_id_var

install_trace_middleware(_broker.broker)
install_worker_heartbeat(_broker.broker)

from workers import backfill, trading  # noqa: E402,F401

log = logging.getLogger("tests.flaky")
PROBE_QUEUE = "ops_probe"


@dramatiq.actor(queue_name=PROBE_QUEUE, max_retries=1, min_backoff=50, max_backoff=100, time_limit=10_000)
def flaky(key: str) -> None:
    client = _broker.broker.client
    client.incr(f"desk:test:attempts:{key}")
    client.set(f"desk:test:trace:{key}", trace_id_var.get())
    if not client.exists(f"desk:test:ok:{key}"):
        raise RuntimeError(f"flaky {key}: not allowed yet")
    log.info("flaky %s done", key)
    client.set(f"desk:test:done:{key}", 1)
