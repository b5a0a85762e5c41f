"""Trading actors: StubBroker unit tests, and a real ``dramatiq`` worker on a real Redis that
is SIGKILLed mid-flow and restarted: exactly one order and at most one fill per approval."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dramatiq
import pytest
from dramatiq import Worker

from core.orders import OrderType

from tests.dramatiq_helpers import RedisQueue, drop_worker_middleware
from tests.fixtures_trading import INFY, T0, D, desk, intent, later, make_desk  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture()
def stub(desk):
    import workers.trading as wt

    broker = dramatiq.get_broker()
    if not hasattr(broker, "join"):
        pytest.skip("the installed broker is not a StubBroker (DESK_ENV must be test)")
    broker.flush_all()
    drop_worker_middleware(broker)  # stopped workers of earlier tests would swallow messages
    wt._service = desk.svc
    worker = Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield broker, wt
    worker.stop()
    drop_worker_middleware(broker)
    wt.reset_trading()


class StubQueue:
    """Enqueue by actor name onto the process's broker (what DramatiqTaskQueue does)."""

    def __init__(self, broker) -> None:
        self.broker = broker

    def enqueue(self, queue: str, actor: str, **kwargs) -> str:
        msg = dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs=kwargs, options={})
        return self.broker.enqueue(msg).message_id


def test_execute_approval_actor_fills_and_redelivery_is_noop(desk, stub):
    broker, wt = stub
    desk.svc.tasks = StubQueue(broker)
    desk.tick(INFY, 1000.0)
    a = desk.svc.propose(intent(), signal_price=D("1000"), reason="r", now=T0)
    assert desk.svc.approve(a.approval_id, user="trader", now=later(5)).ok
    broker.join("trading")
    wt.execute_approval.send(a.approval_id)  # a redelivered message
    wt.execute_approval.send(a.approval_id)
    broker.join("trading")
    assert len(desk.svc.order_book()) == 1 and len(desk.svc.trade_book()) == 1


def test_periodic_actors_match_expire_and_square_off(desk, stub):
    broker, wt = stub
    desk.tick(INFY, 1000.0)
    desk.svc.place_manual(intent(order_type=OrderType.LIMIT, price=D("990.0")),
                          user="trader", now=later(1))
    p = desk.svc.propose(intent(), signal_price=D("1000"), reason="r", ttl_seconds=30, now=T0)
    desk.tick(INFY, 989.0, at=later(60))
    wt.match_orders.send(later(61).isoformat())
    wt.expire_approvals.send(later(61).isoformat())
    broker.join("trading")
    assert [o.status for o in desk.svc.order_book()] == ["COMPLETE"]
    assert desk.svc.approval(p.approval_id).status == "EXPIRED"
    cut = T0.replace(hour=15, minute=25)
    desk.tick(INFY, 995.0, at=cut)
    wt.square_off.send(cut.isoformat())
    wt.square_off.send(cut.isoformat())
    broker.join("trading")
    assert all(p.quantity == 0 for p in desk.svc.positions(cut))
    assert sum(o.tag == "SQUAREOFF" for o in desk.svc.order_book()) == 1


def test_bad_as_of_is_not_retried(stub):
    _, wt = stub
    from core.errors import ValidationError

    with pytest.raises(ValidationError, match="ISO-8601"):
        wt.match_orders.fn("yesterday")


def _start_worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "workers.trading", "--processes", "1", "--threads", "4",
         "--queues", "trading", "--path", str(ROOT)],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def test_worker_killed_mid_flow_then_restarted_yields_one_order_and_fill_per_approval(tmp_path, redis_url):
    db = f"sqlite:///{tmp_path / 'desk.db'}"
    d = make_desk(db, redis_url, tasks=RedisQueue(redis_url))
    d.svc.save_risk_limits({"max_orders_per_day": 1000, "max_orders_per_symbol_per_day": 1000,
                            "wash_trade_minutes": 0}, user="risk")
    d.tick(INFY, 1000.0)
    n = 120
    ids = []
    for i in range(n):
        a = d.svc.propose(intent(qty=1), signal_price=D("1000"), reason="r", now=T0)
        assert d.svc.approve(a.approval_id, user="trader", now=later(1)).ok
        ids.append(a.approval_id)
    env = {**os.environ, "DESK_ENV": "test", "DESK_BROKER": "redis", "REDIS_URL": redis_url, "DATABASE_URL": db,
           "DESK_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(ROOT)}
    log = tmp_path / "worker.log"
    proc = _start_worker(env, log)
    try:
        deadline = time.monotonic() + 60
        while d.store.count_fills() < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert d.store.count_fills() >= 10, log.read_text()[-3000:]
        _kill(proc)  # SIGKILL mid-flow: some messages taken but not acknowledged
        killed_at = d.store.count_fills()
        assert killed_at < n, "the worker finished before it could be killed; raise n"
        proc = _start_worker(env, log)
        RedisQueue(redis_url).enqueue("trading", "match_orders", as_of=later(30).isoformat())
        deadline = time.monotonic() + 60
        while d.store.count_fills() < n and time.monotonic() < deadline:
            time.sleep(0.05)
            if d.store.count_fills() < n and time.monotonic() > deadline - 50:
                RedisQueue(redis_url).enqueue("trading", "match_orders", as_of=later(30).isoformat())
                time.sleep(0.5)
    finally:
        _kill(proc)
    orders = d.store.list_orders()
    fills = d.store.list_fills()
    assert len(orders) == n and {o["approval_id"] for o in orders} == set(ids)
    assert len(fills) == n and len({f["order_id"] for f in fills}) == n
    assert d.svc.funds(later(60)).reconciled
    [pos] = d.svc.positions(later(60))
    assert pos.quantity == n
    d.sql.dispose()
