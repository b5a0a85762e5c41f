"""Faults survived, with figures (issue 7 item 5), on a real Redis, a real PostgreSQL, real
``dramatiq`` worker subprocesses, the real ticker and the replay server:

1. a worker is SIGKILLed mid-batch of approvals and restarted;
2. Redis is killed and a new redis-server started on the same port while jobs run;
3. the store (PostgreSQL) refuses every connection for a while;
4. the ticker's WebSocket is dropped (the replay server restarted on the same port).

After each: no approval lost, no order filled twice, the ledger reconciles, jobs retried to
completion, the ticker resubscribed. Each test PRINTS what it tried and what it checked (the
lines show without ``-s``). Run: ``pytest -m faults tests/faults``.

Like the clock in production, the tests send the periodic ``match_orders`` sweep every 2 s
while they wait: it executes APPROVED approvals whose message was lost with a dead worker or
a dead Redis (``TradingService.match_open_orders``).
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from app.adapters.queue import NAMESPACE
from app.ops.operations import OperationsService
from core.errors import DeskError
from tests.app.test_operations import kill_group, start_worker
from tests.faults.harness import (
    Queue,
    approve_batch,
    block_database,
    check_books,
    env_note,
    fresh_desk,
    wait_fills,
)
from tests.fixtures_trading import T0, D, intent, later
from tests.servers import free_port

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]

# --------------------------------------------------------------------------- 1. worker killed

def test_worker_killed_mid_batch_then_restarted_executes_every_approval_once(tmp_path, fault_redis, fault_pg, say):
    n = 150
    d = fresh_desk(fault_pg, fault_redis.url)
    ids = approve_batch(d, n)
    say(f"1. worker SIGKILL: {n} approvals approved on PostgreSQL, {n} execute_approval messages on Redis")
    proc, log = start_worker(tmp_path, fault_redis.url, "trading", db=fault_pg, threads=4)
    try:
        t0 = time.monotonic()
        while d.store.count_fills() < 15 and time.monotonic() - t0 < 60:
            time.sleep(0.01)
        kill_group(proc)
        at_kill = d.store.count_fills()
        r = redis.Redis.from_url(fault_redis.url)
        ready, stored = r.llen(f"{NAMESPACE}:trading"), r.hlen(f"{NAMESPACE}:trading.msgs")
        r.close()
        say(f"   tried: SIGKILL of the worker after {time.monotonic() - t0:.1f} s with {at_kill}/{n} filled "
            f"({ready} messages still queued, {stored - ready} taken by the dead worker and never acknowledged)")
        assert 0 < at_kill < n, "the worker finished before the kill; raise n"
        proc, log = start_worker(tmp_path, fault_redis.url, "trading", db=fault_pg, threads=4)
        took, sweeps = wait_fills(d, n, 90, log, sweep=Queue(fault_redis.url))
        say(f"   restarted a worker: all {n} filled {took:.1f} s later ({sweeps} match_orders sweeps sent)")
        time.sleep(1.0)  # let redelivered messages run: they must be no-ops
    finally:
        kill_group(proc, signal.SIGTERM)
    check_books(d, ids, say)
    d.sql.dispose()


# --------------------------------------------------------------------------- 2. Redis restarted

def test_redis_restarted_during_work_jobs_complete_and_web_calls_report_redis_down(tmp_path, fault_redis,
                                                                                    fault_pg, say):
    n = 80
    d = fresh_desk(fault_pg, fault_redis.url)
    ids = approve_batch(d, n)
    extra = d.svc.propose(intent(qty=1), signal_price=D("1000"), reason="approved during the outage", now=T0)
    ops = OperationsService(redis.Redis.from_url(fault_redis.url, socket_connect_timeout=1, socket_timeout=2),
                            d.sql, ticks=d.ticks, namespace=NAMESPACE)
    say(f"2. Redis restart: {n} approvals queued; Redis on port {fault_redis.port} (append-only, fsync always)")
    proc, log = start_worker(tmp_path, fault_redis.url, "trading", db=fault_pg, threads=4)
    try:
        wait_for_workers = time.monotonic()
        while not ops.workers() and time.monotonic() - wait_for_workers < 60:
            time.sleep(0.05)
        while d.store.count_fills() < 10 and time.monotonic() - wait_for_workers < 60:
            time.sleep(0.01)
        fault_redis.kill()
        down_at = time.monotonic()
        at_kill = d.store.count_fills()
        say(f"   tried: SIGKILL of redis-server with {at_kill}/{n} filled")

        t = time.monotonic()
        health = ops.snapshot()
        snap_s = time.monotonic() - t
        assert not health.redis.ok and health.problems[0][1].startswith("Redis is down")
        assert health.store.ok and health.workers_error == "unknown while Redis is down"
        t = time.monotonic()
        with pytest.raises(DeskError) as refused:
            d.svc.approve(extra.approval_id, user="trader", now=later(2))
        approve_s = time.monotonic() - t
        assert "Redis" in str(refused.value)
        assert d.svc.approval(extra.approval_id).status == "PENDING"  # nothing half-done
        say(f"   checked while down: System health says 'Redis is down' in {snap_s * 1000:.0f} ms; approve() "
            f"refused in {approve_s * 1000:.0f} ms with {type(refused.value).__name__}: "
            f"{str(refused.value)[:70]}…; the approval stays PENDING")
        time.sleep(max(0.0, 3.0 - (time.monotonic() - down_at)))
        fault_redis.start()
        outage = time.monotonic() - down_at
        say(f"   restarted redis-server on the same port after {outage:.1f} s")

        assert d.svc.approve(extra.approval_id, user="trader", now=later(2)).ok
        ids.append(extra.approval_id)
        took, sweeps = wait_fills(d, n + 1, 90, log, sweep=Queue(fault_redis.url))
        back = time.monotonic()
        while not ops.workers() and time.monotonic() - back < 15:
            time.sleep(0.1)
        health = ops.snapshot()
        say(f"   recovered: all {n + 1} filled {took:.1f} s after the restart ({sweeps} sweeps); health now "
            f"Redis {'OK' if health.redis.ok else 'DOWN'} ({health.redis.latency_ms:.1f} ms), "
            f"{len(health.workers)} worker heartbeat(s); worker process alive: {proc.poll() is None}; "
            f"worker log lines naming a ConnectionError: {env_note(log, 'ConnectionError')}")
        assert health.redis.ok and len(health.workers) == 1 and proc.poll() is None
    finally:
        kill_group(proc, signal.SIGTERM)
    check_books(d, ids, say)
    d.sql.dispose()


# --------------------------------------------------------------------------- 3. store unreachable

def test_store_unreachable_for_a_while_actors_retry_and_complete_nothing_half_written(tmp_path, fault_redis,
                                                                                     fault_pg, say):
    n = 80
    d = fresh_desk(fault_pg, fault_redis.url)
    ids = approve_batch(d, n)
    client = redis.Redis.from_url(fault_redis.url)
    ops = OperationsService(client, d.sql, namespace=NAMESPACE)
    say(f"3. store outage: {n} approvals queued; PostgreSQL database {fault_pg.rsplit('/', 1)[1]}")
    proc, log = start_worker(tmp_path, fault_redis.url, "trading", db=fault_pg, threads=4)
    try:
        t0 = time.monotonic()
        while d.store.count_fills() < 10 and time.monotonic() - t0 < 60:
            time.sleep(0.01)
        at_block = d.store.count_fills()
        killed = block_database(fault_pg, True)
        blocked_at = time.monotonic()
        say(f"   tried: ALLOW_CONNECTIONS false + terminated {killed} sessions with {at_block}/{n} filled")
        probe = ops.store_health()
        assert not probe.ok and "cannot reach the store" in probe.detail
        time.sleep(4.0)
        q = next(x for x in ops.queues() if x.queue == "trading")
        block_database(fault_pg, False)
        outage = time.monotonic() - blocked_at
        retries = env_note(log, "Retrying message")
        say(f"   store refused connections for {outage:.1f} s; System health said: {probe.detail[:80]}…; "
            f"meanwhile {retries} retries were scheduled (queue: {q.ready} ready, {q.delayed} waiting to retry, "
            f"{q.dead} failed)")
        assert retries > 0, log.read_text()[-3000:]
        took, sweeps = wait_fills(d, n, 90, log, sweep=Queue(fault_redis.url))
        time.sleep(1.0)
        dead = next(x for x in ops.queues() if x.queue == "trading").dead
        replayed = sum(ops.retry("trading", dl.redis_id) for dl in ops.dead_letters("trading", limit=500))
        if replayed:
            time.sleep(2.0)  # redelivered executions must change nothing
        say(f"   recovered: all {n} filled {took:.1f} s after the store came back ({sweeps} sweeps); "
            f"{env_note(log, 'Retrying message')} retries in all; {dead} dead-lettered, {replayed} of them "
            f"retried from the System page's queue (no-ops); store health OK: {ops.store_health().ok}")
    finally:
        block_database(fault_pg, False)
        kill_group(proc, signal.SIGTERM)
    check_books(d, ids, say)
    client.close()
    d.sql.dispose()


# --------------------------------------------------------------------------- 4. WebSocket dropped

def test_ticker_websocket_dropped_then_resubscribed_and_ticks_resume(tmp_path, redis_url, say):
    from app.adapters.redis_client import redis_client
    from app.adapters.tick_cache import TickCache
    from tests.fixtures_replay import stop_replay
    from tests.workers.test_ticker import WATCH, _tokens, start_replay_on, start_ticker, stop, wait_for

    client = redis_client(redis_url)
    cache = TickCache(client)
    ops = OperationsService(client, None, ticks=cache, namespace=NAMESPACE)
    port = free_port()
    server = start_replay_on(port, tmp_path)
    tokens = _tokens(server, WATCH)
    proc, log = start_ticker(tmp_path, redis_url, port)
    say(f"4. WebSocket drop: ticker subscribed to {len(tokens)} instruments on the replay server at port {port}")
    try:
        wait_for(lambda: len(cache.latest(tokens.values())) == len(tokens) and cache.status().ticks_total > 0,
                 45, "first ticks", proc, log)
        before = cache.status()
        stop_replay(server)
        dropped = datetime.now(UTC)
        t0 = time.monotonic()
        wait_for(lambda: not cache.status().connected, 10, "the ticker to notice the drop", proc, log)
        noticed = time.monotonic() - t0
        level_down = ops.snapshot().ticker.level
        say(f"   tried: stopped the replay server after {before.ticks_total} ticks; the ticker reported "
            f"disconnected {noticed:.1f} s later (System ticker level: {level_down})")
        time.sleep(2.0)
        server = start_replay_on(port, tmp_path)
        restarted = time.monotonic()
        wait_for(lambda: len(cache.latest(tokens.values())) == len(tokens)
                 and all(t.received_at > dropped for t in cache.latest(tokens.values()).values()),
                 45, "fresh ticks for every instrument", proc, log)
        resumed = time.monotonic() - restarted
        after = cache.status()
        health = ops.snapshot().ticker
        say(f"   checked: after the restart on the same port, ticks for all {len(tokens)} instruments resumed in "
            f"{resumed:.1f} s; subscribed {after.subscribed}; reconnects {after.reconnects}; ticks "
            f"{before.ticks_total} -> {after.ticks_total}; System ticker level {health.level}, tick age "
            f"{health.tick_age_s:.1f} s; ticker process alive: {proc.poll() is None}")
        assert level_down == "error"
        assert after.connected and after.subscribed == len(tokens) and after.reconnects >= 1
        assert after.ticks_total > before.ticks_total and health.level == "ok" and proc.poll() is None
    finally:
        code = stop(proc)
        stop_replay(server)
        client.close()
    assert code == 0
