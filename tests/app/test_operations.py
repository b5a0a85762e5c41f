"""Operations health model on a real Redis, a real ``dramatiq`` worker subprocess and a real
PostgreSQL: heartbeats appear and expire, dead letters are retried and discarded, queue depths,
the clock's last runs, and servers that are down are reported, not raised."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from app.adapters.queue import NAMESPACE, DramatiqTaskQueue
from app.adapters.store import SqlStore
from app.ops.operations import OperationsService, record_clock_run
from tests.servers import free_port, postgres_database

ROOT = Path(__file__).resolve().parents[2]


def wait_for(pred, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n--- worker log ---\n{tail}")


def start_worker(tmp: Path, redis_url: str, *queues: str, db: str | None = None, beat_s: float = 0.5,
                 ttl_s: float = 2, threads: int = 2, name: str = "worker") -> tuple[subprocess.Popen, Path]:
    """``dramatiq tests.faults.worker_app`` in its own process group; returns (process, log)."""
    log = tmp / f"{name}-{time.monotonic_ns()}.log"
    env = {**os.environ, "DESK_ENV": "test", "DESK_BROKER": "redis", "REDIS_URL": redis_url,
           "DATABASE_URL": db or f"sqlite:///{tmp / 'desk.db'}", "DESK_STATE_DIR": str(tmp / "state"),
           "PYTHONPATH": str(ROOT), "DESK_WORKER_HEARTBEAT_S": str(beat_s),
           "DESK_WORKER_HEARTBEAT_TTL_S": str(ttl_s), "TZ": "Asia/Kolkata"}
    cmd = [sys.executable, "-m", "dramatiq", "tests.faults.worker_app", "--processes", "1", "--threads",
           str(threads), "--path", str(ROOT)]
    if queues:
        cmd += ["--queues", *queues]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, log


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """SIGKILL the whole process group, or SIGTERM the main process only (it stops its
    children itself; a second SIGTERM would make them exit hard)."""
    try:
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture()
def ops(redis_url):
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    yield OperationsService(client, None, namespace=NAMESPACE)
    client.close()


def _send(redis_url: str, queue: str, actor: str, *, options: dict | None = None, delay: int | None = None,
          **kwargs) -> dramatiq.Message:
    broker = RedisBroker(url=redis_url, namespace=NAMESPACE)
    broker.declare_queue(queue)
    msg = dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs=kwargs, options=options or {})
    return broker.enqueue(msg, delay=delay)


def _depth(ops: OperationsService, queue: str):
    from app.ops.operations import QueueDepth

    return next((q for q in ops.queues() if q.queue == queue), QueueDepth(queue, 0, 0, 0, 0))


def test_worker_heartbeat_appears_then_expires_after_sigkill(tmp_path, redis_url, ops):
    proc, log = start_worker(tmp_path, redis_url, "ops_probe", beat_s=0.5, ttl_s=2)
    try:
        beats = wait_for(lambda: [w for w in ops.workers() if w.queues == ("ops_probe",)], 60,
                         "a worker heartbeat", log)
        [beat] = beats
        assert beat.key.startswith("desk:workers:") and beat.key.endswith(f":{beat.pid}")
        assert beat.threads == 2 and beat.in_flight == 0 and beat.processed == 0
        assert 0 < beat.expires_in_s <= 2
        first = beat.beat_at
        wait_for(lambda: any(w.beat_at > first for w in ops.workers()), 5, "a second beat", log)
    finally:
        kill_group(proc)  # SIGKILL: no chance to delete its key
    killed = time.monotonic()
    wait_for(lambda: not ops.workers(), 5, "the dead worker's heartbeat to expire")
    assert time.monotonic() - killed <= 3.5
    health = ops.snapshot()
    assert health.workers == [] and any("No worker is running" in msg for _, msg in health.problems)


def test_worker_stopped_cleanly_removes_its_heartbeat_at_once(tmp_path, redis_url, ops):
    proc, log = start_worker(tmp_path, redis_url, "ops_probe", beat_s=0.5, ttl_s=30)
    try:
        wait_for(ops.workers, 60, "a worker heartbeat", log)
    finally:
        kill_group(proc, signal.SIGTERM)
    assert ops.workers() == []  # deleted on shutdown, long before its 30 s TTL


def test_failing_actor_is_dead_lettered_then_retry_completes_and_discard_removes(tmp_path, redis_url, ops):
    client = ops.redis
    proc, log = start_worker(tmp_path, redis_url, "ops_probe")
    try:
        _send(redis_url, "ops_probe", "flaky", key="a", options={"trace_id": "T-ops-a"})
        _send(redis_url, "ops_probe", "flaky", key="b")
        wait_for(lambda: _depth(ops, "ops_probe").dead == 2, 60, "two dead letters", log)
        depth = _depth(ops, "ops_probe")
        assert (depth.ready, depth.in_flight, depth.delayed) == (0, 0, 0)
        assert int(client.get("desk:test:attempts:a")) == 2  # the first try and max_retries=1
        letters = {d.arguments: d for d in ops.dead_letters("ops_probe")}
        a, b = letters['{"key":"a"}'], letters['{"key":"b"}']
        assert a.actor == "flaky" and a.retries == 1 and a.trace_id == "T-ops-a"  # retries before the last try
        assert "RuntimeError: flaky a: not allowed yet" in a.error
        wait_for(lambda: [w for w in ops.workers() if w.failed == 4 and w.last_actor == "flaky"], 5,
                 "the heartbeat to count 4 failed tries")

        client.set("desk:test:ok:a", 1)
        assert ops.retry("ops_probe", a.redis_id) is True
        assert ops.retry("ops_probe", a.redis_id) is False  # already moved: a no-op
        wait_for(lambda: client.get("desk:test:done:a"), 20, "the retried message to complete", log)
        assert client.get("desk:test:trace:a") == b"T-ops-a"  # trace id carried into the actor
        assert int(client.get("desk:test:attempts:a")) == 3
        wait_for(lambda: _depth(ops, "ops_probe").dead == 1, 5, "one dead letter left")

        assert ops.discard("ops_probe", b.redis_id) is True
        assert ops.discard("ops_probe", b.redis_id) is False
        assert _depth(ops, "ops_probe").dead == 0 and ops.dead_letters("ops_probe") == []
        assert client.get("desk:test:done:b") is None
        wait_for(lambda: ops.workers() and ops.workers()[0].processed >= 1, 5, "the success to be counted")
    finally:
        kill_group(proc, signal.SIGTERM)
    lines = [json.loads(ln) for ln in log.read_text().splitlines() if ln.startswith("{")]
    done = [ln for ln in lines if ln["msg"] == "flaky a done"]
    assert done and done[0]["trace_id"] == "T-ops-a" and done[0]["actor"] == "flaky"
    assert done[0]["process"] == "worker"


def test_queue_depths_count_ready_in_flight_delayed_and_dead(redis_url, ops):
    for i in range(3):
        _send(redis_url, "ops_idle", "noop", i=i)
    _send(redis_url, "ops_idle", "noop", delay=60_000, i=99)
    broker = RedisBroker(url=redis_url, namespace=NAMESPACE)
    broker.declare_queue("ops_idle")
    consumer = broker.consume("ops_idle", prefetch=1, timeout=1000)
    taken = next(consumer)  # fetched, not acknowledged
    assert taken is not None
    d = _depth(ops, "ops_idle")
    assert (d.ready, d.in_flight, d.delayed, d.dead) == (2, 1, 1, 0)
    consumer.nack(taken)  # what a worker does when the last retry fails
    d = _depth(ops, "ops_idle")
    assert (d.ready, d.in_flight, d.delayed, d.dead) == (2, 0, 1, 1)
    consumer.close()
    names = {q.queue for q in ops.queues()}
    assert {"ops_idle", "trading", "backfill"} <= names and not any(n.endswith((".DQ", ".XQ")) for n in names)


def test_retry_or_discard_of_a_bad_queue_name_is_refused(ops):
    from core.errors import ValidationError

    with pytest.raises(ValidationError, match="not a queue name"):
        ops.retry("trading.XQ", "x")
    with pytest.raises(ValidationError, match="not a queue name"):
        ops.discard("*", "x")


def test_clock_records_last_runs_sent_and_failed(redis_url, ops):
    from workers.clock import PeriodicJob, _run_periodic

    queue = DramatiqTaskQueue(RedisBroker(url=redis_url, namespace=NAMESPACE))
    from datetime import datetime

    from core.timeutil import IST

    _run_periodic(PeriodicJob("trading", "match_orders", 5), lambda: datetime(2016, 8, 17, 10, tzinfo=IST), queue)

    def broken_clock():
        raise RuntimeError("market clock unavailable")

    _run_periodic(PeriodicJob("trading", "square_off", 30), broken_clock, queue)
    runs = {r.job: r for r in ops.clock_runs()}
    assert runs["match_orders"].status == "sent" and runs["match_orders"].message_id
    assert runs["square_off"].status == "failed" and "market clock unavailable" in runs["square_off"].error
    assert _depth(ops, "trading").ready == 1
    assert record_clock_run(object(), "x", "m") is False  # no Redis behind it: ignored, never raises


def test_store_down_and_redis_down_are_reported_not_raised(tmp_path, redis_url):
    import psycopg

    admin = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with postgres_database() as url:
        store = SqlStore(url)
        client = redis.Redis.from_url(redis_url)
        ops = OperationsService(client, store, namespace=NAMESPACE)
        ok = ops.store_health()
        assert ok.ok and ok.latency_ms is not None and ok.detail.startswith("postgresql")
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        try:
            down = ops.snapshot()
            assert not down.store.ok and down.store.latency_ms is None
            assert "cannot reach the store" in down.store.detail
            assert down.level == "error" and any(msg.startswith("Store is down") for _, msg in down.problems)
            assert down.redis.ok  # the other parts are still read
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert ops.store_health().ok
        store.dispose()
        client.close()
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1, socket_timeout=1)
    health = OperationsService(dead, None, namespace=NAMESPACE).snapshot()
    assert not health.redis.ok and "cannot reach Redis at 127.0.0.1:" in health.redis.detail
    assert health.workers_error == "unknown while Redis is down" and health.queues == []
    assert health.problems[0][1].startswith("Redis is down")
