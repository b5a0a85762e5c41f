"""The clock: schedule times in IST whatever the host zone, holiday skips, one process that stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from app.adapters.calendar_source import load_nse_calendar
from app.adapters.queue import DramatiqTaskQueue
from core.timeutil import IST, UTC
from workers.clock import build_scheduler, fire, next_fire_times, schedule

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def calendar():
    return load_nse_calendar()


@pytest.fixture()
def queue() -> DramatiqTaskQueue:
    return DramatiqTaskQueue(StubBroker())


def sent(queue: DramatiqTaskQueue, name: str) -> list[dramatiq.Message]:
    q = queue.broker.queues.get(name)
    return [] if q is None else [dramatiq.Message.decode(m) for m in list(q.queue)]


def test_next_fire_times_are_0830_0845_and_1545_ist_on_the_given_date():
    fires = next_fire_times(datetime(2025, 3, 13, 7, 0, tzinfo=IST))
    assert fires == {
        "morning_backfill": datetime(2025, 3, 13, 8, 30, tzinfo=IST),
        "refresh_instruments": datetime(2025, 3, 13, 8, 45, tzinfo=IST),
        "backfill_watchlist_minute": datetime(2025, 3, 13, 15, 45, tzinfo=IST),
        "reconcile_contract_note": datetime(2025, 3, 13, 16, 5, tzinfo=IST),
    }
    assert all(str(t.tzinfo) == "Asia/Kolkata" for t in fires.values())


def test_next_fire_times_after_close_roll_to_next_day():
    fires = next_fire_times(datetime(2025, 3, 13, 16, 0, tzinfo=IST).astimezone(UTC))
    assert fires["refresh_instruments"] == datetime(2025, 3, 14, 8, 45, tzinfo=IST)
    assert fires["backfill_watchlist_minute"] == datetime(2025, 3, 14, 15, 45, tzinfo=IST)


def test_every_trigger_is_in_ist_not_the_host_zone():
    assert all(job.trigger().timezone == ZoneInfo("Asia/Kolkata") for job in schedule())


def test_schedule_is_ist_when_host_zone_is_new_york():
    code = ("from datetime import datetime, timezone; from workers.clock import next_fire_times; "
            "print(next_fire_times(datetime(2025, 3, 13, 0, 0, tzinfo=timezone.utc))"
            "['backfill_watchlist_minute'].astimezone(timezone.utc).isoformat())")
    env = dict(os.environ, TZ="America/New_York", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == "2025-03-13T10:15:00+00:00"  # 15:45 IST


def test_fire_on_trading_day_sends_backfill_for_that_ist_day(calendar, queue):
    job = next(j for j in schedule() if j.id == "backfill_watchlist_minute")
    assert fire(job, datetime(2025, 3, 13, 15, 45, tzinfo=IST), calendar, queue) is not None
    [message] = sent(queue, "backfill")
    assert message.actor_name == "backfill_watchlist"
    assert message.kwargs == {"day_iso": "2025-03-13", "interval": "minute", "name": "default"}


def test_fire_on_holiday_and_weekend_sends_nothing(calendar, queue):
    for job in schedule():
        assert fire(job, datetime(2025, 3, 14, 15, 45, tzinfo=IST), calendar, queue) is None  # Holi
        assert fire(job, datetime(2025, 3, 15, 8, 45, tzinfo=IST), calendar, queue) is None  # Saturday
    assert sent(queue, "backfill") == [] and sent(queue, "reference") == []


def test_fire_on_budget_saturday_special_session_sends(calendar, queue):
    job = next(j for j in schedule() if j.id == "refresh_instruments")
    assert calendar.is_trading_day(date(2025, 2, 1))
    assert fire(job, datetime(2025, 2, 1, 8, 45, tzinfo=IST), calendar, queue) is not None
    assert [m.actor_name for m in sent(queue, "reference")] == ["refresh_instruments"]


def test_build_scheduler_adds_each_job_once_coalesced(calendar, queue):
    scheduler = build_scheduler(calendar, queue)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {j.id for j in schedule()}
    for j in jobs.values():
        assert j.coalesce is True and j.max_instances == 1 and j.misfire_grace_time == 900
        assert str(j.trigger.timezone) == "Asia/Kolkata"


def test_clock_process_logs_schedule_and_stops_on_sigterm(tmp_path):
    env = dict(os.environ, DESK_ENV="test", PYTHONPATH=str(ROOT), DESK_STATE_DIR=str(tmp_path))
    env.pop("DESK_BROKER", None)
    log_path = tmp_path / "clock.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "workers.clock"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "clock started" not in log_path.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log_path.read_text()
    assert "scheduled refresh_instruments at 08:45 IST" in text
    assert "scheduled backfill_watchlist_minute at 15:45 IST" in text
    assert "received SIGTERM; stopping the clock" in text and "clock stopped" in text


def test_periodic_trading_jobs_are_sent_with_market_time_as_of():
    from dramatiq.brokers.stub import StubBroker

    from app.adapters.queue import DramatiqTaskQueue
    from workers.clock import PERIODIC_JOBS, WeekdayCalendar, build_scheduler, send_periodic

    broker = StubBroker()
    queue = DramatiqTaskQueue(broker)
    market_now = datetime(2016, 8, 17, 15, 21, tzinfo=IST)
    send_periodic(PERIODIC_JOBS[2], market_now, queue)
    message = broker.queues["trading"].get_nowait()
    broker.queues["trading"].task_done()
    assert b'"actor_name":"square_off"' in message
    assert b'"as_of":"2016-08-17T15:21:00+05:30"' in message
    scheduler = build_scheduler(WeekdayCalendar(), queue, market_now=lambda: market_now)
    assert {j.id for j in scheduler.get_jobs()} >= {"match_orders", "expire_approvals", "square_off",
                                                     "send_scheduled_scans"}
    assert {j.id for j in build_scheduler(WeekdayCalendar(), queue).get_jobs()}.isdisjoint({"match_orders"})
