"""Sweeps across real workers: two ``dramatiq workers.sweeps`` processes on a real Redis and one
SQLite store take a sweep's runs; both run some, and every result equals the same sweep run
serially in-process. A walk-forward's test runs are released by the workers themselves. Cancel
stops the queued runs.

Bars: backfilled into the store from a replay server of 2016-08-19 (sessions 16-18 Aug) when
the sweep is submitted; the workers read them from the store.
"""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest
import redis

from app.adapters.store import SqlStore
from app.adapters.strategy_store import StrategyStore
from app.adapters.sweep_store import SweepStore
from app.market.instruments import InstrumentService
from app.research.backtests import BacktestService
from app.research.sweeps import SweepService
from tests.app.replay_market import Pinned, market_on
from tests.dramatiq_helpers import RedisQueue, WorkerProcess
from tests.fixtures_store import seed_instruments
from tests.fixtures_trading import T0
from core.timeutil import IST

MARKET_NOW = datetime(2016, 8, 19, 10, 0, tzinfo=IST)
D16, D18 = date(2016, 8, 16), date(2016, 8, 18)
SYMBOLS = ["INFY", "SBIN"]
METRICS = ["total_return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct", "net_pnl"]


@pytest.fixture(scope="module")
def desk(tmp_path_factory, looping_replay, redis_server):
    """``(db_url, service_factory)`` with two worker processes running on ``db_url`` and the
    session's Redis."""
    tmp = tmp_path_factory.mktemp("sweep-workers")
    server = looping_replay(MARKET_NOW.date().isoformat())
    # The workers' own Redis database: their market clock reads the newest cached tick, and the
    # session's database 0 holds other tests' ticks (a 17 Aug tick would cut the 18 Aug bars).
    private = redis_server.rsplit("/", 1)[0] + "/11"
    redis.Redis.from_url(private).flushdb()
    db = f"sqlite:///{tmp / 'desk.db'}"
    sql = SqlStore(db)
    seed_instruments(sql)
    env = {"DESK_ENV": "test", "DESK_BROKER": "redis", "REDIS_URL": private, "DATABASE_URL": db,
           "DESK_STATE_DIR": str(tmp / "state"), "DESK_REPLAY_HOST": server.host,
           "DESK_REPLAY_PORT": str(server.port), "DESK_REPLAY_API_KEY": server.api_key,
           "DESK_REPLAY_API_SECRET": server.api_secret, "KITE_API_KEY": "", "dramatiq_queue_prefetch": "1"}
    workers = [WorkerProcess("workers.sweeps", env, tmp / f"worker{i}.log", queues=("backtests",)) for i in range(2)]
    stores = [sql]

    def service(tasks, url: str = db) -> SweepService:
        s = sql if url == db else SqlStore(url)
        if s is not sql:
            seed_instruments(s)
            stores.append(s)
        market = market_on(s, server, redis_server, Pinned(MARKET_NOW))
        return SweepService(SweepStore(s.engine), BacktestService(StrategyStore(s.engine), InstrumentService(s),
                                                                  market=market), tasks=tasks)
    try:
        for w in workers:
            w.wait_ready()
        yield tmp, service, RedisQueue(private), workers
    finally:
        for w in workers:
            w.stop()
        for s in stores:
            s.dispose()


def _wait(svc: SweepService, sid: str, timeout: float = 120.0, logs=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if svc.progress(sid).status != "running" and not svc.progress(sid).counts.get("running"):
            return
        time.sleep(0.1)
    pytest.fail(f"sweep {sid} not finished: {svc.progress(sid)}\n" + "\n".join(w.log.read_text()[-2000:] for w in logs))


def test_two_workers_share_a_sweep_and_match_a_serial_run(desk):
    tmp, service, queue, workers = desk
    grid = {"fast": [3, 5, 8, 13], "slow": [20, 30, 40]}
    svc = service(queue)
    sid = svc.submit("sma_cross", {}, grid, SYMBOLS, D16, D18, now=T0, metric="sharpe")
    wf = svc.submit("sma_cross", {}, {"fast": [3, 8], "slow": [20, 40]}, SYMBOLS, D16, D18, now=T0,
                    metric="total_return_pct", fit_sessions=1, test_sessions=1)
    _wait(svc, sid, logs=workers)
    _wait(svc, wf, logs=workers)
    prog = svc.progress(sid)
    assert (prog.status, prog.counts) == ("complete", {"complete": 12})
    assert len(prog.workers) == 2, f"one process ran every run: {prog.workers}"  # both processes took runs
    assert svc.progress(wf).counts == {"complete": 10}  # 2 windows × (4 fits + 1 test)

    serial = service(None, f"sqlite:///{tmp / 'serial.db'}")
    s_sid = serial.submit("sma_cross", {}, grid, SYMBOLS, D16, D18, now=T0, metric="sharpe")
    s_wf = serial.submit("sma_cross", {}, {"fast": [3, 8], "slow": [20, 40]}, SYMBOLS, D16, D18, now=T0,
                         metric="total_return_pct", fit_sessions=1, test_sessions=1)
    cols = ["run_no", "phase", "window", "fast", "slow", *METRICS, "status"]
    assert svc.results(sid)[cols].equals(serial.results(s_sid)[cols])
    assert svc.results(wf)[cols].equals(serial.results(s_wf)[cols])
    assert svc.windows(wf).equals(serial.windows(s_wf))


def test_cancel_stops_the_queued_runs(desk):
    _tmp, service, queue, workers = desk
    svc = service(queue)
    sid = svc.submit("sma_cross", {}, {"fast": list(range(2, 12)), "slow": [20, 30, 40]}, SYMBOLS, D16, D18, now=T0)
    deadline = time.monotonic() + 60
    while svc.progress(sid).counts.get("complete", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    cancelled = svc.cancel(sid, datetime.now(IST))
    _wait(svc, sid, logs=workers)
    prog = svc.progress(sid)
    assert prog.status == "cancelled" and prog.finished == prog.total == 30
    assert cancelled > 0 and prog.counts.get("cancelled") == cancelled
    assert 2 <= prog.counts["complete"] < 30
    started = [r["started_at"] for r in svc.store.runs(sid) if r["started_at"]]
    cancelled_at = svc.sweep(sid)["cancelled_at"]
    assert all(t <= cancelled_at for t in started)  # no run started after the cancel
