"""History warm-up: one backfill per instrument and interval, deterministic job ids."""

from datetime import date, datetime, timedelta

from app.adapters.calendar_source import load_nse_calendar
from app.market.history_warmup import wait_for_market_time, warm_up_history
from app.market.clock import DeskClock
from core.timeutil import IST


class RecordingQueue:
    def __init__(self) -> None:
        self.calls = []

    def enqueue_backfill(self, key, interval, start, end, job_id=None):
        if key == "NSE:BROKEN":
            raise RuntimeError("queue down")
        self.calls.append((key, interval, start, end, job_id))
        return job_id


def test_warm_up_queues_minute_sessions_and_daily_history_per_key():
    queue = RecordingQueue()
    now = datetime(2016, 9, 9, 10, 0, tzinfo=IST)
    ids = warm_up_history(queue, ["NSE:INFY", "NSE:BROKEN", "NSE:SBIN"], load_nse_calendar(), now)
    assert ids == ["warm:2016-09-09:minute:NSE:INFY", "warm:2016-09-09:day:NSE:INFY",
                   "warm:2016-09-09:minute:NSE:SBIN", "warm:2016-09-09:day:NSE:SBIN"]
    minute = queue.calls[0]
    assert minute[2] == date(2016, 9, 2)  # 5 sessions: 2, 6, 7, 8, 9 Sep (5 Sep 2016 was Ganesh Chaturthi)
    assert minute[3] == now
    assert queue.calls[1][2] == date(2016, 9, 9) - timedelta(days=400)


def test_wait_for_market_time_waits_for_a_replay_tick_then_returns_it():
    wall = datetime(2026, 11, 21, 12, 0, tzinfo=IST)
    replay = datetime(2016, 9, 9, 9, 20, tzinfo=IST)
    readings = iter([DeskClock(wall, "wall clock (no replay ticks yet)"), DeskClock(replay, "replay (latest tick)")])
    slept = []
    assert wait_for_market_time(lambda: next(readings), "replay", sleep=slept.append) == replay
    assert slept == [1.0]


def test_wait_for_market_time_gives_up_after_the_timeout():
    wall = datetime(2026, 11, 21, 12, 0, tzinfo=IST)
    got = wait_for_market_time(lambda: DeskClock(wall, "wall clock (no replay ticks yet)"), "replay",
                               timeout_s=3, sleep=lambda s: None)
    assert got is None


# ---- the morning backfill plan ------------------------------------------------------------------

import pytest  # noqa: E402

from app.adapters.store.ports import JobStatus  # noqa: E402
from app.market.history_warmup import (  # noqa: E402
    child_job_id,
    first_minute_day,
    parent_of,
    plan_morning_backfill,
    queue_morning_backfill,
    refresh_morning_job,
    universe_keys,
)
from app.market.instruments import InstrumentService  # noqa: E402
from tests.fixtures_store import seed_instruments  # noqa: E402


@pytest.fixture()
def instruments(sqlite_store) -> InstrumentService:
    return InstrumentService(seed_instruments(sqlite_store))


def test_minute_sessions_count_today_only_once_it_has_opened():
    cal = load_nse_calendar()
    assert first_minute_day(datetime(2016, 9, 9, 9, 15, tzinfo=IST), cal) == date(2016, 9, 2)  # 2, 6, 7, 8, 9
    assert first_minute_day(datetime(2016, 9, 9, 8, 30, tzinfo=IST), cal) == date(2016, 9, 1)  # 1, 2, 6, 7, 8
    assert first_minute_day(datetime(2016, 9, 10, 8, 30, tzinfo=IST), cal) == date(2016, 9, 2)  # Saturday: 2, 6, 7, 8, 9


def test_plan_has_one_child_per_interval_and_token_with_deterministic_ids(instruments):
    at = datetime(2016, 9, 9, 8, 30, tzinfo=IST)
    plan = plan_morning_backfill(at, daily_keys=["NSE:INFY", "NSE:TCS", "NSE:NOSUCHCO"],
                                 intraday_keys=["INFY", "NSE:SBIN", "NIFTY 50"], resolve=instruments.resolve,
                                 calendar=load_nse_calendar())
    ids = [i.job_id for i in plan.items]
    assert ids == ["mb:2016-09-09:day:408065", "mb:2016-09-09:day:2953217", "mb:2016-09-09:day:779521",
                   "mb:2016-09-09:day:256265", "mb:2016-09-09:minute:408065", "mb:2016-09-09:minute:779521",
                   "mb:2016-09-09:minute:256265"]
    assert plan.skipped == ("NSE:NOSUCHCO",) and plan.parent_id == "morning:2016-09-09"
    day = plan.items[0]
    assert day.key == "NSE:INFY" and day.start == datetime(2014, 9, 10, tzinfo=IST) and day.end == at
    minute = plan.items[4]
    assert minute.interval == "minute" and minute.start == datetime(2016, 9, 1, tzinfo=IST)
    again = plan_morning_backfill(at.replace(hour=10), daily_keys=["INFY"], intraday_keys=[],
                                  resolve=instruments.resolve, calendar=load_nse_calendar())
    assert again.items[0].job_id == ids[0]  # same market day, same id: nothing is queued twice
    assert parent_of(child_job_id(date(2016, 9, 9), "day", 408065)) == "morning:2016-09-09"
    assert parent_of("bf:2016-09-09:day:408065") is None


def test_universes_are_the_bundled_index_members():
    n50, n500 = universe_keys(["NIFTY 50"]), universe_keys()
    assert len(n50) == 50 and "NSE:INFY" in n50 and set(n50) <= set(n500) and len(n500) == 500
    from app.adapters.bundled_market import index_members

    assert len(universe_keys(["NIFTY 50", "NIFTY 100"])) == len(index_members("NIFTY 100")) >= 99


class JobQueue:
    """The task queue's job side on a real store, without a broker (sends are recorded)."""

    def __init__(self, jobs) -> None:
        self.jobs, self.sent = jobs, []

    def enqueue_backfill(self, key, interval, start, end, job_id=None):
        existing = self.jobs.get(job_id)
        if existing is not None and existing.status is not JobStatus.FAILED:
            return job_id
        self.jobs.create("backfill", {"key": key, "interval": interval}, job_id=job_id)
        self.sent.append(job_id)
        return job_id


def test_parent_progress_is_finished_children_over_total_with_failures_listed(store):
    seed_instruments(store, {"INFY", "TCS", "SBIN"})
    at = datetime(2016, 9, 9, 8, 30, tzinfo=IST)
    plan = plan_morning_backfill(at, daily_keys=["INFY", "TCS"], intraday_keys=["SBIN"],
                                 resolve=InstrumentService(store).resolve, calendar=load_nse_calendar())
    queue = JobQueue(store.jobs)
    p = queue_morning_backfill(queue, store.jobs, plan)
    assert (p.total, p.done, p.failed, p.summary()) == (4, 0, 0, "0 of 4 done")
    assert len(queue.sent) == 4
    a, b, c, d = (i.job_id for i in plan.items)
    store.jobs.finish(a, {"rows": 1}, "stored")
    store.jobs.start(b)
    store.jobs.fail(c, "historical day failed 5 times (NetworkException 503); try again later")
    p = refresh_morning_job(store.jobs, plan.parent_id)
    parent = store.jobs.get(plan.parent_id)
    assert parent.status is JobStatus.RUNNING and parent.progress == 0.5
    assert parent.message == "Morning backfill: 1 of 4 done, 1 failed, 1 running"
    assert p.failures == (("NSE:SBIN day", "historical day failed 5 times (NetworkException 503); try again later"),)
    store.jobs.finish(b, {"rows": 1}, "stored")
    store.jobs.finish(d, {"rows": 1}, "stored")
    refresh_morning_job(store.jobs, plan.parent_id)
    parent = store.jobs.get(plan.parent_id)
    assert parent.status is JobStatus.FAILED and parent.progress == 1.0
    assert parent.message == "Morning backfill: 3 of 4 done, 1 failed"
    assert parent.result["failures"] == [["NSE:SBIN day", "historical day failed 5 times (NetworkException 503); "
                                                          "try again later"]]
    queue.sent.clear()
    queue_morning_backfill(queue, store.jobs, plan)  # the next run re-queues only the failed child
    assert queue.sent == [c]
