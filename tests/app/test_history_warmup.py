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
