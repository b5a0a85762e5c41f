"""The morning backfill end to end (issue 12 §3), on SQLite and PostgreSQL: the ``morning_backfill``
actor plans and queues, a StubBroker worker runs the real ``backfill_candles`` children against a
real replay server (2016-08-17, ``--test-endpoints`` for outages) through kiteconnect, and the
parent job reports finished children / total and the failures."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests
from dramatiq import Worker

from app.adapters.queue import install_broker
from app.adapters.store import JobStatus, SqlStore
from app.adapters.store.schema import metadata
from app.container import reset_services, services
from app.market.history_warmup import latest_morning
from core.timeutil import IST
from tests.fixtures_replay import start_replay, stop_replay
from tests.workers.test_backfill import desk_environment, drop_worker_middleware

INFY, TCS, NIFTY = 408065, 2953217, 256265
AS_OF = "2016-08-17T10:00:00+05:30"
DAY = "2016-08-17"


@pytest.fixture(scope="module")
def outage_replay(tmp_path_factory):
    server = start_replay(tmp_path_factory.mktemp("morning"), "2016-08-17", 60, "--loop", "--test-endpoints")
    yield server
    stop_replay(server)


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request, tmp_path, redis_url, outage_replay, monkeypatch):
    for name, value in desk_environment(tmp_path, redis_url, outage_replay).items():
        monkeypatch.setenv(name, value)
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        store = SqlStore(url)
        with store.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name != "schema_version":
                    conn.execute(table.delete())
        store.dispose()
        monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("DESK_BROKER", raising=False)
    reset_services()
    yield services()
    services().store.dispose()
    reset_services()


@pytest.fixture()
def actors(desk):
    drop_worker_middleware(install_broker(desk.settings))
    import workers.actors  # noqa: F401
    import workers.backfill as module

    return module


@pytest.fixture()
def worker(desk, actors):
    broker = actors.backfill_candles.broker
    broker.flush_all()
    drop_worker_middleware(broker)
    w = Worker(broker, worker_timeout=100, worker_threads=2)
    w.start()
    yield broker, w
    w.stop()
    drop_worker_middleware(broker)
    broker.flush_all()


def run(worker) -> None:
    broker, w = worker
    broker.join("backfill")
    w.join()


def historical_requests(server) -> int:
    return len(requests.get(f"{server.rest_root}/_test/requests", params={"path": "/instruments/historical"},
                            timeout=5).json())


def replay_day_count(server, token: int) -> int:
    return len(server.kite().historical_data(token, "2014-08-18", "2016-08-17", "day"))


def test_morning_backfill_fills_gaps_reports_progress_and_a_rerun_fetches_nothing(desk, actors, worker,
                                                                                  outage_replay):
    desk.watchlists.replace(["INFY", "TCS", "NIFTY 50"])
    desk.market_data.backfill("NSE:INFY", "day", datetime(2016, 5, 2, tzinfo=IST), datetime(2016, 6, 30, tzinfo=IST))
    out = actors.morning_backfill.fn(as_of=AS_OF, universes=[])
    assert out["parent"] == f"morning:{DAY}" and out["total"] == 6
    run(worker)
    parent = desk.store.jobs.get(f"morning:{DAY}")
    assert parent.kind == "morning_backfill" and parent.status is JobStatus.DONE, parent.message
    assert parent.progress == 1.0 and parent.message == "Morning backfill: 6 of 6 done"
    assert sorted(parent.args["children"]) == sorted(
        f"mb:{DAY}:{iv}:{t}" for iv in ("day", "minute") for t in (INFY, TCS, NIFTY))
    # gaps filled: the whole 2 years the replay has, before and after the stored May-June block
    for token in (INFY, TCS, NIFTY):
        assert desk.store.bars.count(token, "day") == replay_day_count(outage_replay, token), token
    assert len(desk.store.bars.coverage(INFY, "day")) == 1
    assert desk.store.bars.count(INFY, "minute") > 375  # 16 Aug's session and 17 Aug's closed minutes
    p = latest_morning(desk.store.jobs)
    assert (p.total, p.done, p.failed, p.fraction, p.summary()) == (6, 6, 0, 1.0, "6 of 6 done")

    # a re-run the same market day (the 08:30 send after the start-up one) queues and fetches nothing
    children = {j.id: j.updated_at for j in desk.store.jobs.recent(limit=50, kind="backfill")}
    seen = historical_requests(outage_replay)
    actors.morning_backfill.fn(as_of=AS_OF, universes=[])
    run(worker)
    assert historical_requests(outage_replay) == seen
    assert {j.id: j.updated_at for j in desk.store.jobs.recent(limit=50, kind="backfill")} == children


def test_market_outage_fails_one_child_the_parent_lists_it_and_the_next_run_retries_it(desk, actors, worker,
                                                                                       outage_replay):
    desk.watchlists.replace(["INFY", "TCS"])
    attempts = desk.market_data.historical.retries + 1
    requests.post(f"{outage_replay.rest_root}/_test/fail", timeout=5,
                  params={"path": f"/instruments/historical/{TCS}/day", "status": 503, "count": attempts})
    actors.morning_backfill.fn(as_of=AS_OF, universes=[])
    run(worker)
    parent = desk.store.jobs.get(f"morning:{DAY}")
    assert parent.status is JobStatus.FAILED and parent.progress == 1.0
    assert parent.message == "Morning backfill: 3 of 4 done, 1 failed"
    [(what, why)] = parent.result["failures"]
    assert what == "NSE:TCS day" and f"historical day for instrument {TCS} failed {attempts} times" in why
    p = latest_morning(desk.store.jobs)
    assert p.failures == ((what, why),) and p.summary() == "3 of 4 done, 1 failed"
    assert desk.store.bars.count(TCS, "day") == 0 and desk.store.bars.count(INFY, "day") > 0

    # the outage is over: the next plan re-queues only the failed child; nothing is duplicated
    infy = desk.store.bars.count(INFY, "day")
    actors.morning_backfill.fn(as_of=AS_OF, universes=[])
    run(worker)
    parent = desk.store.jobs.get(f"morning:{DAY}")
    assert parent.status is JobStatus.DONE and parent.message == "Morning backfill: 4 of 4 done"
    assert desk.store.bars.count(TCS, "day") == replay_day_count(outage_replay, TCS)
    assert desk.store.bars.count(INFY, "day") == infy


def test_morning_backfill_skips_a_replay_without_market_time(desk, actors):
    assert actors.morning_backfill.fn() is None  # no replayed tick in Redis: wall time is not market time
    assert desk.store.jobs.recent(kind="morning_backfill") == []


def test_clock_sends_morning_backfill_at_0830_ist_and_at_start_up_with_market_time():
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from app.adapters.calendar_source import load_nse_calendar
    from app.adapters.queue import DramatiqTaskQueue
    from workers.clock import fire, next_fire_times, schedule, send_morning_backfill

    queue = DramatiqTaskQueue(StubBroker())
    job = next(j for j in schedule() if j.id == "morning_backfill")
    assert next_fire_times(datetime(2025, 3, 13, 7, 0, tzinfo=IST))["morning_backfill"] == \
        datetime(2025, 3, 13, 8, 30, tzinfo=IST)
    assert fire(job, datetime(2025, 3, 14, 8, 30, tzinfo=IST), load_nse_calendar(), queue) is None  # Holi
    assert fire(job, datetime(2025, 3, 13, 8, 30, tzinfo=IST), load_nse_calendar(), queue) is not None
    replay_now = datetime(2016, 9, 9, 9, 16, tzinfo=IST)
    send_morning_backfill(queue, replay_now.date(), replay_now)
    sent = [dramatiq.Message.decode(m) for m in list(queue.broker.queues["backfill"].queue)]
    assert [(m.actor_name, m.kwargs) for m in sent] == [
        ("morning_backfill", {}), ("morning_backfill", {"as_of": "2016-09-09T09:16:00+05:30"})]
