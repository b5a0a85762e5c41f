"""The backfill actors: StubBroker unit tests, and one real ``dramatiq workers.actors`` worker on
a real Redis. Both drive the real replay server (2016-08-17 replay: 2016-08-16 is history)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from dramatiq import Worker

from app.adapters.queue import NAMESPACE, DramatiqTaskQueue, install_broker
from app.adapters.store import JobStatus, SqlStore
from app.container import reset_services, services
from core.errors import TemporaryError, ValidationError

ROOT = Path(__file__).resolve().parents[2]
AUG16 = date(2016, 8, 16)
INFY = 408065


def desk_environment(tmp_path: Path, redis_url: str, replay) -> dict[str, str]:
    """Environment that points Settings at a SQLite file, the test Redis and the replay server."""
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}",
        "REDIS_URL": redis_url,
        "DESK_REPLAY_HOST": replay.host,
        "DESK_REPLAY_PORT": str(replay.port),
        "DESK_REPLAY_API_KEY": replay.api_key,
        "DESK_REPLAY_API_SECRET": replay.api_secret,
    }


@pytest.fixture()
def desk(tmp_path, redis_url, replay_server, monkeypatch):
    """``services()`` wired to real parts for this test (and reset afterwards)."""
    for name, value in desk_environment(tmp_path, redis_url, replay_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DESK_BROKER", raising=False)
    reset_services()
    yield services()
    services().store.dispose()
    reset_services()


def drop_worker_middleware(broker) -> None:
    """Remove every worker's middleware from ``broker``.

    ``Worker.stop()`` leaves its ``_WorkerMiddleware`` on the broker, so a queue declared later
    (an actor module imported by a later test) gets consumers of the *stopped* worker, which
    swallow its messages and ``join`` hangs. Only call it when no worker is running.
    """
    broker.middleware[:] = [m for m in broker.middleware if type(m).__name__ != "_WorkerMiddleware"]


@pytest.fixture()
def actors(desk):
    # Purge stopped workers' middleware *before* the actor modules declare their queues.
    drop_worker_middleware(install_broker(desk.settings))
    import workers.actors  # noqa: F401  (every actor module: all queues declared up front)
    import workers.backfill as module

    return module


@pytest.fixture()
def stub_broker(desk, actors):
    broker = actors.backfill_candles.broker
    assert broker is install_broker(desk.settings), "actors must be declared on the installed broker"
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture()
def stub_worker(stub_broker):
    drop_worker_middleware(stub_broker)  # leftovers of workers other tests stopped
    worker = Worker(stub_broker, worker_timeout=100, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()
    drop_worker_middleware(stub_broker)


@pytest.fixture()
def queue(desk, stub_broker) -> DramatiqTaskQueue:
    return DramatiqTaskQueue(stub_broker, jobs=desk.store.jobs)


def test_enqueue_backfill_by_name_runs_actor_and_marks_job_done(desk, queue, stub_broker, stub_worker):
    job_id = queue.enqueue_backfill("NSE:INFY", "minute", AUG16, AUG16)
    assert desk.store.jobs.get(job_id) is not None  # the row exists before (or while) the worker runs it
    stub_broker.join("backfill")
    stub_worker.join()
    job = desk.store.jobs.get(job_id)
    assert job.status is JobStatus.DONE, job.message
    assert job.progress == 1.0 and job.result == {"rows": 375}
    assert job.message == "stored 375 new minute bars for NSE:INFY"
    assert desk.store.bars.count(INFY, "minute") == 375


def test_redelivered_backfill_message_is_a_noop(desk, queue, stub_broker, stub_worker):
    job_id = queue.enqueue_backfill("NSE:INFY", "5minute", AUG16, AUG16)
    stub_broker.join("backfill")
    stub_worker.join()
    done = desk.store.jobs.get(job_id)
    args = dict(done.args)
    queue.enqueue("backfill", "backfill_candles", job_id=job_id, **args)  # a redelivery
    stub_broker.join("backfill")
    stub_worker.join()
    again = desk.store.jobs.get(job_id)
    assert again.status is JobStatus.DONE and again.updated_at == done.updated_at
    assert desk.store.bars.count(INFY, "5minute") == 75


def test_unknown_symbol_fails_job_without_retry(desk, queue, stub_broker, stub_worker):
    job_id = queue.enqueue_backfill("NSE:INFYY", "minute", AUG16, AUG16)
    stub_broker.join("backfill", fail_fast=True)  # the actor returns: no exception, no retry
    stub_worker.join()
    job = desk.store.jobs.get(job_id)
    assert job.status is JobStatus.FAILED
    assert "unknown instrument 'NSE:INFYY'" in job.message and "NSE:INFY" in job.message
    assert len(stub_broker.dead_letters) == 0


def test_interval_kite_does_not_offer_fails_job_with_message(desk, actors):
    job_id = desk.store.jobs.create("backfill", {})
    actors.backfill_candles.fn(job_id, "NSE:INFY", "2minute", "2016-08-16T00:00:00+05:30",
                               "2016-08-16T23:59:59+05:30")
    job = desk.store.jobs.get(job_id)
    assert job.status is JobStatus.FAILED
    assert "Kite does not offer interval '2minute'; use one of minute" in job.message


def test_historical_unavailable_fails_job_with_message_and_keeps_stored_bars(desk, actors, monkeypatch):
    from app.adapters.kite_historical import HistoricalUnavailable

    assert desk.market_data.backfill("NSE:INFY", "minute", AUG16, AUG16) == 375
    calls = []

    def unavailable(*args, **kwargs):
        calls.append(args)
        raise HistoricalUnavailable("historical minute for 408065 failed 5 times (NetworkException 429); "
                                    "try again later")

    monkeypatch.setattr(desk.market_data.historical, "fetch_window", unavailable)
    job_id = desk.store.jobs.create("backfill", {})
    actors.backfill_candles.fn(job_id, "NSE:INFY", "minute", "2016-08-01T00:00:00+05:30",
                               "2016-08-16T23:59:59+05:30")
    job = desk.store.jobs.get(job_id)
    assert calls and job.status is JobStatus.FAILED
    assert job.message.endswith("failed 5 times (NetworkException 429); try again later")
    assert desk.store.bars.count(INFY, "minute") == 375


def test_enqueue_backfill_bad_input_stores_and_sends_nothing(desk, queue, stub_broker):
    with pytest.raises(ValidationError, match="unknown interval"):
        queue.enqueue_backfill("INFY", "1m", AUG16, AUG16)
    with pytest.raises(ValidationError, match="after end"):
        queue.enqueue_backfill("INFY", "minute", date(2016, 8, 17), AUG16)
    assert desk.store.jobs.recent() == []
    assert stub_broker.queues.get("backfill") is None or stub_broker.queues["backfill"].qsize() == 0


def test_enqueue_non_json_argument_raises_validation_error(queue):
    with pytest.raises(ValidationError, match="JSON-simple"):
        queue.enqueue("backfill", "backfill_candles", when=AUG16)


def test_backfill_market_unreachable_on_last_attempt_fails_job(desk, actors, monkeypatch):
    job_id = desk.store.jobs.create("backfill", {})
    monkeypatch.setenv("DESK_REPLAY_PORT", "1")  # nothing listens there
    reset_services()
    svc = services()
    with pytest.raises(Exception) as err:
        actors.backfill_candles.fn(job_id, "NSE:INFY", "minute", "2016-08-16T00:00:00+05:30",
                                   "2016-08-16T23:59:59+05:30")
    assert not isinstance(err.value, ValidationError) and isinstance(err.value, TemporaryError)  # retried
    job = svc.store.jobs.get(job_id)
    assert job.status is JobStatus.FAILED and job.message.startswith("gave up: KiteUnavailable: cannot reach Kite")
    assert "(ConnectionError)" in job.message
    svc.store.dispose()


def test_backfill_naive_iso_time_fails_job(desk, actors):
    job_id = desk.store.jobs.create("backfill", {})
    actors.backfill_candles.fn(job_id, "INFY", "minute", "2016-08-16T00:00:00", "2016-08-16T23:59:59+05:30")
    job = desk.store.jobs.get(job_id)
    assert job.status is JobStatus.FAILED and "timezone-aware" in job.message


def test_backfill_watchlist_queues_one_job_per_key_idempotently(desk, queue, stub_broker, stub_worker):
    desk.watchlists.replace(["INFY", "TCS", "NIFTY 50"])
    queue.enqueue_backfill_watchlist(AUG16, "15minute")
    stub_broker.join("backfill")
    stub_worker.join()
    jobs = desk.store.jobs.recent(kind="backfill")
    assert sorted(j.id for j in jobs) == sorted(
        f"bf:2016-08-16:15minute:{t}" for t in (INFY, 2953217, 256265))
    assert all(j.status is JobStatus.DONE for j in jobs), [j.message for j in jobs]
    assert desk.store.bars.count(interval="15minute") == 75
    queue.enqueue_backfill_watchlist(AUG16, "15minute")  # the clock fires twice / redelivery
    stub_broker.join("backfill")
    stub_worker.join()
    assert len(desk.store.jobs.recent(kind="backfill")) == 3
    assert [j.updated_at for j in desk.store.jobs.recent(kind="backfill")] == [j.updated_at for j in jobs]


def test_refresh_instruments_loads_nse_reports_empty_nfo_in_job(desk, actors):
    desk.store.instruments.replace_dump([], AUG16)
    result = actors.refresh_instruments.fn(job_id="instruments:test")
    assert result == {"stored": 8725, "per_exchange": {"NSE": 8725, "NFO": 0}, "empty": ["NFO"]}
    job = desk.store.jobs.get("instruments:test")
    assert job.status is JobStatus.DONE and job.kind == "instruments"
    assert job.message == ("stored 8,725 instruments (NSE 8,725, NFO 0); NFO returned no rows "
                           "(the replay market serves NSE only)")
    assert desk.instruments.resolve("INFY").instrument_token == INFY
    assert actors.refresh_instruments.fn(job_id="instruments:test") == result  # redelivery: no-op


def test_refresh_instruments_all_empty_fails_job_and_keeps_master(desk, actors):
    desk.instruments.ensure_loaded()
    before = desk.store.instruments.count()
    assert actors.refresh_instruments.fn(job_id="instruments:nfo", exchanges=["NFO"]) is None
    job = desk.store.jobs.get("instruments:nfo")
    assert job.status is JobStatus.FAILED and "no instruments for NFO; kept the old master" in job.message
    assert desk.store.instruments.count() == before


# ---- a real worker process on a real Redis -------------------------------------------------------

@pytest.mark.slow
def test_real_worker_on_redis_processes_backfill_to_done(tmp_path, redis_url, replay_server):
    from dramatiq.brokers.redis import RedisBroker

    env = dict(os.environ, **desk_environment(tmp_path, redis_url, replay_server),
               DESK_BROKER="redis", PYTHONPATH=str(ROOT))
    store = SqlStore(env["DATABASE_URL"])
    broker = RedisBroker(url=redis_url, namespace=NAMESPACE)
    queue = DramatiqTaskQueue(broker, jobs=store.jobs)
    job_id = queue.enqueue_backfill("NSE:INFY", "minute", AUG16, AUG16)

    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "workers.actors", "--processes", "1", "--threads", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = store.jobs.get(job_id)
            if job.finished or proc.poll() is not None:
                break
            time.sleep(0.2)
        job = store.jobs.get(job_id)
        assert job.status is JobStatus.DONE, f"{job.status}: {job.message}\n{log_path.read_text()[-3000:]}"
        assert job.result == {"rows": 375}
        assert store.bars.count(INFY, "minute") == 375
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the main process forwards it to its workers
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        broker.client.close()
        store.dispose()
    assert proc.returncode == 0, log_path.read_text()[-3000:]
