"""Benchmark section: a 50-run parameter sweep on 1 and then 2 worker processes (issue 17,
target: near-linear speed-up — at least 1.7× with 2 — and identical results).

Sweep: ``sma_cross`` fast × slow, 5 × 10 = 50 runs, over 4 stocks (INFY, SBIN, RELIANCE, TCS)
× the bundled 1-minute sessions 16 Aug … 8 Sep 2016 (17 sessions, ~25,500 bars a run; about
0.5 s a run on an idle core), through ``app.research.sweeps.SweepService`` exactly as the
Backtest page submits one: one ``run_sweep_run`` message per run on the ``backtests`` queue of a
private ``redis-server``, results in a private SQLite store.

Workers: real ``dramatiq workers.sweeps`` processes (1 thread each: the runs are CPU-bound;
``dramatiq_queue_prefetch=1`` so a worker holds one message beyond the one it runs), started and
ready before the clock starts. The bars are backfilled into the store from the replay server
(2016-09-09, whose history serves the sessions before it) before timing, as a first sweep
would leave them; each worker reads them from the store once per sweep.

Timed: wall clock from ``submit`` to the last run stored. Peer: the same sweep on one worker
process, measured in the same run. Results are compared run by run (every stored metric).

Run alone: ``.venv/bin/python bench/backtest_parts/sweep.py``; ``bench/backtest.py`` prints
:func:`sweep_section`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.adapters.store import SqlStore  # noqa: E402
from app.adapters.strategy_store import StrategyStore  # noqa: E402
from app.adapters.sweep_store import SweepStore  # noqa: E402
from app.market.instruments import InstrumentService  # noqa: E402
from app.research.backtests import BacktestService  # noqa: E402
from app.research.sweeps import SweepService  # noqa: E402
from core.timeutil import IST, UTC  # noqa: E402
from tests.app.replay_market import Pinned, market_on  # noqa: E402
from tests.dramatiq_helpers import RedisQueue, WorkerProcess  # noqa: E402
from tests.fixtures_replay import start_replay, stop_replay  # noqa: E402
from tests.fixtures_store import seed_instruments  # noqa: E402
from tests.servers import run_redis  # noqa: E402

SYMBOLS = ["INFY", "SBIN", "RELIANCE", "TCS"]
START, END = date(2016, 8, 16), date(2016, 9, 8)
GRID = {"fast": [3, 5, 8, 10, 13], "slow": [20, 25, 30, 35, 40, 45, 50, 55, 60, 70]}
REPLAY_DAY = "2016-09-09"
MARKET_NOW = datetime(2016, 9, 9, 9, 15, tzinfo=IST)
TARGET = 1.7  # × with 2 workers (issue 17: near-linear)


def _timed_sweep(svc: SweepService, tmp: Path, env: dict, workers: int) -> tuple[float, str]:
    procs = [WorkerProcess("workers.sweeps", env, tmp / f"w{workers}-{i}.log", queues=("backtests",))
             for i in range(workers)]
    try:
        for p in procs:
            p.wait_ready()
        t = time.perf_counter()
        sid = svc.submit("sma_cross", {}, GRID, SYMBOLS, START, END, now=datetime.now(UTC), metric="sharpe")
        deadline = t + 900
        while svc.progress(sid).status == "running":
            if time.perf_counter() > deadline:
                raise TimeoutError(f"sweep not done after 900 s: {svc.progress(sid)}")
            time.sleep(0.05)
        return time.perf_counter() - t, sid
    finally:
        for p in procs:
            p.stop()


def sweep_section() -> list[str]:
    """Run the sweep on 1 then 2 worker processes; return the printed lines."""
    load = lambda: " ".join(f"{x:.2f}" for x in os.getloadavg())  # noqa: E731
    lines = [f"sweep: sma_cross fast×slow 50 runs, {len(SYMBOLS)} symbols × {START:%d %b}–{END:%d %b %Y} "
             f"1-minute bars, dramatiq workers on a private Redis; load average {load()} on {os.cpu_count()} CPUs"]
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as d:
        tmp = Path(d)
        replay = start_replay(tmp, REPLAY_DAY, 60, "--loop")
        try:
            with run_redis(tmp / "redis") as (redis_url, _proc):
                db = f"sqlite:///{tmp / 'desk.db'}"
                sql = SqlStore(db)
                seed_instruments(sql)
                market = market_on(sql, replay, redis_url, Pinned(MARKET_NOW))
                bt = BacktestService(StrategyStore(sql.engine), InstrumentService(sql), market=market)
                svc = SweepService(SweepStore(sql.engine), bt, tasks=RedisQueue(redis_url))
                bars = sum(len(bt.bars(s, START, END)) for s in SYMBOLS)  # backfill once, before timing
                env = {"DESK_ENV": "test", "DESK_BROKER": "redis", "REDIS_URL": redis_url, "DATABASE_URL": db,
                       "DESK_STATE_DIR": str(tmp / "state"), "DESK_REPLAY_HOST": replay.host,
                       "DESK_REPLAY_PORT": str(replay.port), "DESK_REPLAY_API_KEY": replay.api_key,
                       "DESK_REPLAY_API_SECRET": replay.api_secret, "KITE_API_KEY": "",
                       "DESK_REPLAY_DATE": REPLAY_DAY, "dramatiq_queue_prefetch": "1"}
                one_s, one = _timed_sweep(svc, tmp, env, 1)
                two_s, two = _timed_sweep(svc, tmp, env, 2)
                a, b = svc.results(one), svc.results(two)
                keys = [c for c in a.columns if c not in ("worker", "message")]
                same = a.sort_values("run_no")[keys].reset_index(drop=True).equals(
                    b.sort_values("run_no")[keys].reset_index(drop=True))
                per_worker = b["worker"].value_counts().tolist()
                done = (svc.progress(one).counts.get("complete", 0), svc.progress(two).counts.get("complete", 0))
                sql.dispose()
        finally:
            stop_replay(replay)
    speedup = one_s / two_s
    lines += [
        f"  bars per run {bars:,}; runs complete: 1 worker {done[0]}/50, 2 workers {done[1]}/50",
        f"  1 worker process : {one_s:7.2f} s wall  ({one_s / 50:.3f} s a run)",
        f"  2 worker processes: {two_s:7.2f} s wall  (runs per worker {'/'.join(map(str, per_worker))})",
        f"  speed-up 2 vs 1 workers: {speedup:.2f}x (target >= {TARGET}x): {'PASS' if speedup >= TARGET else 'FAIL'}",
        f"  results identical run by run (params and every metric): {same}",
        f"  load average after: {load()}",
    ]
    return lines


if __name__ == "__main__":
    print("\n".join(sweep_section()))
