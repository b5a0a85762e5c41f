"""ScannerService on the bundled real data: universes, runs stored with history, schedules,
scan backtest, and bad input (malformed scan, empty universe, too little history, bad dates)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from app.adapters.store import SqlStore
from app.research.scanner import ScannerService, index_members
from core.errors import ValidationError
from core.scan_lang import ScanSyntaxError
from core.timeutil import IST


class FakeWatchlists:
    def __init__(self, lists: dict[str, list[str]]) -> None:
        self.lists = lists

    def names(self) -> list[str]:
        return list(self.lists)

    def keys(self, name: str = "default") -> list[str]:
        return self.lists.get(name, [])


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []

    def enqueue(self, queue: str, actor: str, **kwargs) -> str:
        self.sent.append((queue, actor, kwargs))
        return f"m{len(self.sent)}"


class Weekdays:
    def is_trading_day(self, day) -> bool:
        return day.weekday() < 5


@pytest.fixture()
def scanner(sqlite_store: SqlStore) -> ScannerService:
    wl = FakeWatchlists({"default": ["NSE:INFY", "NSE:TCS", "NSE:NIFTY 50"], "empty": []})
    return ScannerService(sqlite_store, wl, queue=RecordingQueue(), calendar=Weekdays())


def test_universes_have_bundled_sizes_and_industry():
    assert len(index_members("NIFTY 50")) == 50
    assert len(index_members("NIFTY 100")) == 99  # INDIGO is in both lists
    n500 = index_members("NIFTY 500")
    assert len(n500) == 500 and n500["industry"].nunique() > 15
    with pytest.raises(ValidationError, match="unknown index universe"):
        index_members("NIFTY 200")


def test_universes_include_watchlists(scanner):
    assert scanner.universes() == ["NIFTY 50", "NIFTY 100", "NIFTY 500", "Watchlist: default", "Watchlist: empty"]
    assert scanner.members("Watchlist: default")["symbol"].tolist() == ["INFY", "TCS", "NIFTY 50"]


def test_execute_stores_run_and_hits_with_values(scanner):
    result = scanner.execute("rsi_oversold", "NIFTY 500")
    assert result.as_of == datetime(2026, 6, 12, 15, 30, tzinfo=IST)
    assert "Yahoo, split-adjusted" in result.data_label
    run = scanner.results.run(result.run_id)
    assert run.status == "done" and run.matched == len(result.frame) > 0
    assert run.as_of == result.as_of and run.data_label == result.data_label
    hits = scanner.hits_frame(result.run_id)
    assert hits["symbol"].tolist() == result.frame["symbol"].tolist()
    assert (hits["[0] daily rsi(14)"] < 30).all()
    assert set(result.frame["industry"]) - {""}
    assert scanner.history()[0].id == result.run_id


def test_scan_on_watchlist_and_past_as_of(scanner):
    r = scanner.run("close > 0", "Watchlist: default", as_of=datetime(2026, 1, 5, 15, 30, tzinfo=IST))
    assert r.frame["symbol"].tolist() == ["INFY", "TCS"]
    assert (r.frame["bar_time"] == pd.Timestamp("2026-01-05", tz=IST)).all()
    assert r.universe_size == 3 and r.with_data == 2


def test_intraday_scan_uses_bundled_minutes_only_up_to_as_of(scanner):
    as_of = datetime(2016, 8, 16, 10, 0, tzinfo=IST)
    r = scanner.run("[0] 5 minute close > 0", "NIFTY 500", as_of=as_of)
    assert "1-minute" in r.data_label and len(r.frame) > 5
    assert (r.frame["bar_time"] == pd.Timestamp("2016-08-16 09:55", tz=IST)).all()


def test_issue_example_mixed_timeframes_runs(scanner):
    as_of = datetime(2016, 9, 9, 14, 0, tzinfo=IST)
    r = scanner.run("[0] 5 minute close > [0] 5 minute ema(close, 20) and [0] daily rsi(14) < 60", "NIFTY 500", as_of)
    assert list(r.frame.columns[-3:]) == ["[0] 5 minute close", "[0] 5 minute ema(close, 20)", "[0] daily rsi(14)"]
    assert (r.frame["[0] 5 minute close"] > r.frame["[0] 5 minute ema(close, 20)"]).all()
    assert "today's bar from 1-minute bars to 14:00" in r.data_label


def test_malformed_scan_is_refused_with_position_and_nothing_stored(scanner):
    with pytest.raises(ScanSyntaxError, match="column 10: expected a number"):
        scanner.execute("rsi(14) <", "NIFTY 50")
    assert scanner.history() == []
    with pytest.raises(ScanSyntaxError):
        scanner.enqueue("rsi(14) <", "NIFTY 50")
    assert scanner.queue.sent == []


def test_empty_universe_is_refused(scanner):
    with pytest.raises(ValidationError, match="empty"):
        scanner.run("close > 1", "Watchlist: empty")


def test_too_little_history_fails_the_run_without_hits(scanner):
    with pytest.raises(ValidationError, match="too little history"):
        scanner.execute("[0] daily close > [0] daily sma(close, 500)", "NIFTY 50")
    run = scanner.history()[0]
    assert run.status == "failed" and "too little history" in run.message
    assert scanner.results.hits(run.id) == []


def test_enqueue_creates_job_and_sends_actor(scanner):
    job_id = scanner.enqueue("gap_up", "NIFTY 100")
    (queue, actor, kwargs), = scanner.queue.sent
    assert (queue, actor) == ("scans", "run_scan") and kwargs["job_id"] == job_id
    assert scanner.jobs.get(job_id).status == "queued"


def test_backtest_counts_matches_per_day(scanner):
    counts = scanner.backtest("rsi_oversold", "NIFTY 100", start=date(2026, 5, 1), end=date(2026, 6, 12))
    assert counts.index[0] >= pd.Timestamp("2026-05-01", tz=IST) and counts.index[-1] == pd.Timestamp("2026-06-12", tz=IST)
    latest = scanner.run("rsi_oversold", "NIFTY 100")
    assert counts.iloc[-1] == len(latest.frame)
    with pytest.raises(ValidationError, match="swap"):
        scanner.backtest("rsi_oversold", "NIFTY 100", start=date(2026, 6, 1), end=date(2026, 5, 1))
    with pytest.raises(ValidationError, match="no bars between"):
        scanner.backtest("rsi_oversold", "NIFTY 100", start=date(2027, 1, 1), end=date(2027, 2, 1))
    with pytest.raises(ValidationError, match="one timeframe"):
        scanner.backtest("[0] 5 minute close > [0] daily close", "NIFTY 50")


def test_schedules_fire_only_in_session_every_n_minutes(scanner):
    sid = scanner.schedule("volume_spike", "NIFTY 50", 15)
    monday_open = datetime(2026, 6, 8, 9, 20, tzinfo=IST)
    assert scanner.due(datetime(2026, 6, 8, 9, 0, tzinfo=IST)) == []  # before the open
    assert scanner.due(datetime(2026, 6, 6, 11, 0, tzinfo=IST)) == []  # Saturday
    ids = scanner.send_due(monday_open)
    assert len(ids) == 1 and scanner.queue.sent[-1][2]["schedule_id"] == sid
    assert scanner.send_due(datetime(2026, 6, 8, 9, 30, tzinfo=IST)) == []  # 10 min later: not yet
    assert len(scanner.send_due(datetime(2026, 6, 8, 9, 35, tzinfo=IST))) == 1
    with pytest.raises(ValidationError, match="every_minutes"):
        scanner.schedule("volume_spike", "NIFTY 50", 0)
