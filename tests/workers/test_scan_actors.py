"""Scan actors on the StubBroker: a job with progress and a stored run, idempotent redelivery,
bad input failing the job without retry, and scheduled scans sent when due."""

from __future__ import annotations

from datetime import datetime

import pytest
from dramatiq import Worker

from app.adapters.queue import install_broker
from app.container import reset_services, services
from core.errors import ValidationError
from core.timeutil import IST
from tests.scanner_bars import seed_scanner_store
from tests.workers.test_backfill import drop_worker_middleware


@pytest.fixture()
def desk(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("DESK_BROKER", "stub")
    monkeypatch.delenv("DESK_REPLAY_DATE", raising=False)
    reset_services()
    seed_scanner_store(services().store)  # the scanner reads bars from the store (market time 09 Sep 2016 09:15)
    yield services()
    services().store.dispose()
    reset_services()


@pytest.fixture()
def scans(desk):
    drop_worker_middleware(install_broker(desk.settings))
    import workers.scans as module

    broker = module.run_scan.broker
    broker.flush_all()
    yield module
    broker.flush_all()


def test_run_scan_through_the_broker_marks_job_done_and_stores_the_run(desk, scans):
    broker = scans.run_scan.broker
    drop_worker_middleware(broker)
    worker = Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        scanner = desk.scanner
        job_id = scanner.enqueue("rsi_oversold", "NIFTY 500")
        broker.join("scans", fail_fast=True)
        worker.join()
    finally:
        worker.stop()
        drop_worker_middleware(broker)
    job = desk.store.jobs.get(job_id)
    assert job.status == "done" and job.progress == 1.0 and "matched" in job.message
    run = scanner.results.run(job.result["run_id"])
    assert run.status == "done" and run.job_id == job_id and run.matched == job.result["matched"] > 0


def test_redelivered_message_is_a_noop(desk, scans):
    scanner = desk.scanner
    job_id = desk.store.jobs.create("scan", {"scan": "gap_up", "universe": "NIFTY 50"})
    first = scans.run_scan.fn(job_id, "gap_up", "NIFTY 50")
    again = scans.run_scan.fn(job_id, "gap_up", "NIFTY 50")
    assert first == again
    assert len(scanner.history()) == 1


def test_bad_scan_fails_the_job_with_the_position(desk, scans):
    job_id = desk.store.jobs.create("scan", {})
    with pytest.raises(ValidationError):
        scans.run_scan.fn(job_id, "close > > 1", "NIFTY 50")
    job = desk.store.jobs.get(job_id)
    assert job.status == "failed" and "column 9" in job.message
    assert desk.scanner.history() == []  # a scan that does not parse leaves no run


def test_send_scheduled_scans_queues_due_runs(desk, scans):
    broker = scans.run_scan.broker
    scanner = desk.scanner
    scanner.schedule("volume_spike", "NIFTY 50", 5)
    ids = scans.send_scheduled_scans.fn(datetime(2026, 6, 8, 10, 0, tzinfo=IST).isoformat())
    assert len(ids) == 1 and desk.store.jobs.get(ids[0]).status == "queued"
    assert broker.queues["scans"].qsize() == 1
    assert scans.send_scheduled_scans.fn(datetime(2026, 6, 8, 10, 2, tzinfo=IST).isoformat()) == []
