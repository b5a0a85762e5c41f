"""BacktestService: submit → run (inline) → stored complete result; compare; sweep; bad input."""

from __future__ import annotations

from datetime import date

import pytest

from app.adapters.store import SqlStore
from app.adapters.strategy_store import StrategyStore
from app.research.backtests import BacktestService
from app.market.instruments import InstrumentService
from core.errors import ValidationError
from tests.fixtures_store import seed_instruments
from tests.fixtures_trading import T0


class Recorder:
    def __init__(self):
        self.sent = []

    def enqueue(self, queue, actor, **kw):
        self.sent.append((queue, actor, kw))
        return "m1"


@pytest.fixture()
def sql(tmp_path):
    s = SqlStore(f"sqlite:///{tmp_path / 'bt.db'}")
    seed_instruments(s)
    yield s
    s.dispose()


def service(sql, tasks=None):
    return BacktestService(StrategyStore(sql.engine), InstrumentService(sql), sql=sql, tasks=tasks)


def test_run_inline_stores_a_complete_result_and_compares(sql):
    svc = service(sql)
    [a] = svc.submit("orb", {"range_minutes": 15}, ["INFY", "SBIN"], date(2016, 8, 17), date(2016, 8, 18), now=T0)
    [b] = svc.submit("sma_cross", {"fast": 10, "slow": 30}, ["INFY", "SBIN"], date(2016, 8, 17), date(2016, 8, 18),
                     now=T0)
    row = svc.run_row(a)
    assert row["status"] == "complete" and row["progress"] == 1.0 and row["bars"] == 4 * 375
    eq = svc.equity(a)
    assert len(eq) == 750 and eq.index.tz is not None
    table = svc.compare([a, b])
    assert table.shape[1] == 2 and "sharpe" in table.index and "charges_pct_of_gross" in table.index
    assert svc.run(a)["status"] == "complete"  # idempotent


def test_sweep_queues_one_job_per_combination(sql):
    jobs = Recorder()
    ids = service(sql, jobs).submit("sma_cross", {}, ["INFY"], date(2016, 8, 17), date(2016, 8, 17), now=T0,
                                    sweep={"fast": [5, 10], "slow": [20, 30]})
    assert len(ids) == 4 and [s[:2] for s in jobs.sent] == [("backtests", "run_backtest")] * 4
    rows = [service(sql).run_row(i) for i in ids]
    assert {r["status"] for r in rows} == {"queued"} and len({r["sweep_id"] for r in rows}) == 1


def test_bad_input_stores_nothing(sql):
    svc = service(sql)
    with pytest.raises(ValidationError, match="no bars for"):
        svc.submit("orb", {}, ["INFY"], date(2020, 1, 1), date(2020, 1, 31), now=T0)
    with pytest.raises(ValidationError, match="universe is empty"):
        svc.submit("orb", {}, [], date(2016, 8, 17), date(2016, 8, 17), now=T0)
    with pytest.raises(ValidationError, match="out of range"):
        svc.submit("sma_cross", {}, ["INFY"], date(2016, 8, 17), date(2016, 8, 17), now=T0,
                   sweep={"fast": [5, 1000]})
    assert svc.store.runs() == []
