"""Shared parts of the fault suite: a killable Redis on a fixed port, blocking a PostgreSQL
database, enqueueing by actor name, a fresh desk on PostgreSQL, counting log lines.
The fixtures built on them (``say``, ``fault_redis``, ``fault_pg``) are in ``conftest.py``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis

from tests.dramatiq_helpers import RedisQueue as Queue
from tests.fixtures_trading import INFY, T0, D, clear_trading_tables, intent, later, make_desk
from tests.servers import free_port, redis_server_binary, unavailable, wait_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
#: Like the clock (every 5 s), the tests send the ``match_orders`` sweep while they wait: it
#: executes APPROVED approvals whose message was lost with a dead worker, Redis or store.
SWEEP_EVERY_S = 2.0
#: Limits that let a fault test place as many orders as it likes.
OPEN_LIMITS = {"max_orders_per_day": 10_000, "max_orders_per_symbol_per_day": 10_000, "wash_trade_minutes": 0}


class RedisServer:
    """A redis-server on a fixed port that can be killed and started again on that port.

    Append-only file with ``fsync always`` (what a managed Redis with persistence gives), so a
    restart keeps the queues; the kill is a SIGKILL (no clean shutdown)."""

    def __init__(self, workdir: Path) -> None:
        self.binary = redis_server_binary()
        if self.binary is None:
            unavailable("no redis-server binary")
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # loading the AOF answers -LOADING meanwhile
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except redis.exceptions.RedisError:
                time.sleep(0.05)
        raise TimeoutError("redis-server did not come back")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def pg_admin(sql: str, params: tuple = ()) -> list[tuple]:
    """Run ``sql`` on the admin database (autocommit); rows if it returns any."""
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def terminate_sessions(url: str) -> int:
    """End every session on ``url``'s database (new ones pick up changed settings); how many."""
    return len(pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                        (url.rsplit("/", 1)[1],)))


def block_database(url: str, blocked: bool) -> int:
    """Refuse (or allow again) every connection to ``url``'s database; when blocking, terminate
    its backends. Returns the number of sessions terminated."""
    name = url.rsplit("/", 1)[1]
    pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if blocked else "true"}')
    return terminate_sessions(url) if blocked else 0


def fresh_desk(pg_url: str, redis_url: str, *, queued: bool = True):
    """An empty trading desk on ``pg_url`` with open limits and an INFY tick at ₹1,000;
    executions go through Redis (``queued``) or run in-process."""
    clear_trading_tables(pg_url)
    d = make_desk(pg_url, redis_url, tasks=Queue(redis_url) if queued else None)
    d.svc.save_risk_limits(OPEN_LIMITS, user="risk")
    d.tick(INFY, 1000.0)
    return d


def approve_batch(d, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        a = d.svc.propose(intent(qty=1), signal_price=D("1000"), reason="fault suite", now=T0)
        assert d.svc.approve(a.approval_id, user="trader", now=later(1)).ok
        ids.append(a.approval_id)
    return ids


def wait_fills(d, target: int, timeout: float, log: Path, sweep: Queue | None = None) -> tuple[float, int]:
    """Wait until ``target`` fills exist, sending ``match_orders`` every 2 s like the clock.
    Returns (seconds waited, sweeps sent)."""
    t0 = time.monotonic()
    last_sweep, sweeps = t0, 0
    while time.monotonic() - t0 < timeout:
        try:
            if d.store.count_fills() >= target:
                return time.monotonic() - t0, sweeps
        except Exception:  # noqa: BLE001 - the store may be down in the store test
            pass
        if sweep is not None and time.monotonic() - last_sweep >= SWEEP_EVERY_S:
            try:
                sweep.enqueue("trading", "match_orders", as_of=later(30).isoformat())
                sweeps += 1
            except Exception:  # noqa: BLE001 - Redis may be down in the Redis test
                pass
            last_sweep = time.monotonic()
        time.sleep(0.05)
    pytest.fail(f"only {d.store.count_fills()} of {target} fills after {timeout} s\n{log.read_text()[-3000:]}")


def check_books(d, ids: list[str], say) -> None:
    """No approval lost, no order filled twice, ledger and positions agree."""
    orders = d.store.list_orders()
    fills = d.store.list_fills()
    by_order: dict[str, int] = {}
    for f in fills:
        by_order[f["order_id"]] = by_order.get(f["order_id"], 0) + 1
    twice = sum(1 for c in by_order.values() if c > 1)
    lost = set(ids) - {o["approval_id"] for o in orders}
    incomplete = [o["order_id"] for o in orders if o["status"] != "COMPLETE"]
    funds = d.svc.funds(later(60))
    [pos] = d.svc.positions(later(60))
    say(f"checked: {len(ids)} approvals -> {len(orders)} orders, {len(fills)} fills; approvals without an order "
        f"{len(lost)}; orders filled twice {twice}; orders not COMPLETE {len(incomplete)}; "
        f"position {pos.quantity} shares; ledger reconciled {funds.reconciled}")
    assert not lost and len(orders) == len(ids)
    assert twice == 0 and len(fills) == len(ids) and not incomplete
    assert pos.quantity == len(ids) and funds.reconciled


def env_note(log: Path, needle: str) -> int:
    return log.read_text(errors="replace").count(needle) if log.exists() else 0


def start_clock(tmp: Path, redis_url: str, db: str, watchlist: str) -> tuple[subprocess.Popen, Path]:
    """``python -m workers.clock`` on the Redis broker in its own process group; (process, log)."""
    log = tmp / f"clock-{time.monotonic_ns()}.log"
    env = {**os.environ, "DESK_ENV": "test", "DESK_BROKER": "redis", "REDIS_URL": redis_url, "DATABASE_URL": db,
           "DESK_STATE_DIR": str(tmp / "state"), "DESK_WATCHLIST": watchlist, "PYTHONPATH": str(ROOT),
           "TZ": "Asia/Kolkata", "DESK_LOG_FORMAT": "text"}
    env.pop("KITE_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "workers.clock"], cwd=ROOT, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def point_at_replay(monkeypatch, server) -> None:
    """Child processes started after this talk to ``server`` (the replay market)."""
    for name, value in {"DESK_REPLAY_HOST": server.host, "DESK_REPLAY_PORT": str(server.port),
                        "DESK_REPLAY_API_KEY": server.api_key, "DESK_REPLAY_API_SECRET": server.api_secret}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KITE_API_KEY", raising=False)
