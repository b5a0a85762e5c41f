"""The clock's morning job: refresh_instruments (NSE + NFO) before 09:00 IST on NSE trading days,
sent by name and run by the real actor against the replay server (which serves NSE only)."""

from __future__ import annotations

from datetime import datetime

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from app.adapters.calendar_source import load_nse_calendar
from app.adapters.queue import DramatiqTaskQueue
from app.adapters.store import JobStatus
from core.timeutil import IST, UTC
from tests.workers.test_backfill import actors, desk, queue, stub_broker, stub_worker  # noqa: F401
from workers.clock import fire, next_fire_times, schedule

MORNING = next(j for j in schedule() if j.id == "refresh_instruments")


@pytest.fixture(scope="module")
def calendar():
    return load_nse_calendar()


def _sent(q: DramatiqTaskQueue, name: str) -> list[dramatiq.Message]:
    got = q.broker.queues.get(name)
    return [] if got is None else [dramatiq.Message.decode(m) for m in list(got.queue)]


def test_morning_job_fires_before_0900_ist_every_day_whatever_the_zone_of_now():
    assert (MORNING.hour, MORNING.minute) < (9, 0)
    assert next_fire_times(datetime(2025, 3, 13, 1, 0, tzinfo=UTC))["refresh_instruments"] == \
        datetime(2025, 3, 13, 8, 45, tzinfo=IST)
    assert next_fire_times(datetime(2025, 3, 13, 8, 46, tzinfo=IST))["refresh_instruments"] == \
        datetime(2025, 3, 14, 8, 45, tzinfo=IST)


def test_morning_job_on_trading_day_sends_nse_and_nfo_refresh_with_daily_job_id(calendar):
    q = DramatiqTaskQueue(StubBroker())
    assert fire(MORNING, datetime(2025, 3, 13, 8, 45, tzinfo=IST), calendar, q) is not None
    [message] = _sent(q, "reference")
    assert message.actor_name == "refresh_instruments"
    assert message.kwargs == {"job_id": "instruments:2025-03-13", "exchanges": ["NSE", "NFO"]}


def test_morning_job_on_holiday_and_weekend_sends_nothing(calendar):
    q = DramatiqTaskQueue(StubBroker())
    assert fire(MORNING, datetime(2025, 3, 14, 8, 45, tzinfo=IST), calendar, q) is None  # Holi
    assert fire(MORNING, datetime(2025, 3, 15, 8, 45, tzinfo=IST), calendar, q) is None  # Saturday
    assert _sent(q, "reference") == []


def test_morning_job_runs_actor_which_stores_nse_and_reports_replay_nfo_empty(
        desk, queue, stub_broker, stub_worker, calendar):  # noqa: F811
    assert fire(MORNING, datetime(2025, 3, 13, 8, 45, tzinfo=IST), calendar, queue) is not None
    assert fire(MORNING, datetime(2025, 3, 13, 8, 50, tzinfo=IST), calendar, queue) is not None  # twice: no-op
    stub_broker.join("reference", fail_fast=True)
    stub_worker.join()
    job = desk.store.jobs.get("instruments:2025-03-13")
    assert job.status is JobStatus.DONE, job.message
    assert job.result == {"stored": 8725, "per_exchange": {"NSE": 8725, "NFO": 0}, "empty": ["NFO"]}
    assert "NFO returned no rows (the replay market serves NSE only)" in job.message
    assert desk.instruments.resolve("NSE:INFY").instrument_token == 408065
    assert len(desk.store.jobs.recent(kind="instruments")) == 1
