"""SweepStore on SQLite and real PostgreSQL: a sweep and its runs in one insert, claims that only
one caller wins, finish/release/cancel as conditional updates, JSON metrics with NaN/inf."""

from __future__ import annotations

import math
import threading
from datetime import timedelta

import pytest

from app.adapters.sweep_store import SweepStore, backtest_sweep_runs, backtest_sweeps
from tests.fixtures_trading import T0


@pytest.fixture()
def sweeps(store) -> SweepStore:
    s = SweepStore(store.engine)
    with store.engine.begin() as conn:
        conn.execute(backtest_sweep_runs.delete())
        conn.execute(backtest_sweeps.delete())
    return s


def _create(s: SweepStore, sid: str = "W-1", runs: int = 3, test: bool = True) -> None:
    rows = [dict(sweep_id=sid, run_no=i, phase="fit", window=0, params={"fast": i + 2}, status="queued")
            for i in range(runs)]
    if test:
        rows.append(dict(sweep_id=sid, run_no=runs, phase="test", window=0, params=None, status="pending"))
    s.create(dict(sweep_id=sid, kind="walk_forward", label="x", strategy="sma_cross", params={"quantity": 10},
                  ranges={"fast": [2, 3, 4]}, symbols=["INFY"], start=T0, end=T0, as_of=T0, metric="sharpe",
                  windows=[{"index": 0}], total=len(rows), status="active", created_at=T0), rows)


def test_claim_finish_release_cancel_round_trip(sweeps):
    _create(sweeps)
    assert sweeps.get("W-1")["ranges"] == {"fast": [2, 3, 4]} and sweeps.counts("W-1") == {"queued": 3, "pending": 1}
    row = sweeps.claim("W-1", 0, "host:1", T0)
    assert row["status"] == "running" and row["worker"] == "host:1" and row["params"] == {"fast": 2}
    assert sweeps.claim("W-1", 3, "host:1", T0) is None  # a pending test run is not claimable
    assert sweeps.finish("W-1", 0, status="complete", at=T0, metrics={"sharpe": math.nan, "profit_factor": math.inf},
                         bars=375, message="complete")
    assert not sweeps.finish("W-1", 0, status="complete", at=T0, metrics={})  # not running any more
    assert sweeps.claim("W-1", 0, "host:2", T0) is None  # finished: a redelivery is skipped
    [done] = [r for r in sweeps.runs("W-1") if r["run_no"] == 0]
    assert done["metrics"] == {"sharpe": None, "profit_factor": "inf"} and done["bars"] == 375
    assert sweeps.release("W-1", 3, params={"fast": 2})
    assert not sweeps.release("W-1", 3, params={"fast": 3})  # only one caller releases it
    assert sweeps.runs("W-1", phase="test")[0]["params"] == {"fast": 2}
    assert sweeps.cancel("W-1", T0 + timedelta(minutes=1)) == 3  # runs 1, 2 and the released test run
    assert sweeps.get("W-1")["status"] == "cancelled" and sweeps.claim("W-1", 1, "host:1", T0) is None
    assert sweeps.counts("W-1") == {"complete": 1, "cancelled": 3}
    assert [r["sweep_id"] for r in sweeps.sweeps()] == ["W-1"]


def test_two_threads_racing_for_one_run_one_wins(sweeps):
    _create(sweeps, runs=1, test=False)
    sweeps.claim("W-1", 0, "host:0", T0)
    sweeps.finish("W-1", 0, status="complete", at=T0, metrics={"sharpe": 1.0})
    _create(sweeps, "W-2", runs=1)
    barrier = threading.Barrier(4)
    won: list[bool] = []

    def release() -> None:
        barrier.wait()
        won.append(sweeps.release("W-2", 1, params={"fast": 2}))

    threads = [threading.Thread(target=release) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False, False, False, True]
