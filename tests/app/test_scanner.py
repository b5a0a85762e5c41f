"""ScannerService on the connected market: universes, runs stored with history, schedules,
scan backtest, no look-ahead, coverage, and bad input (malformed scan, empty universe, too
little history, bad dates).

Real parts: SQLite / PostgreSQL stores with the bundled instruments dump, and the session's
replay server (2016-08-17) through the real kiteconnect client: its daily bars (2016-01-01 →
2016-08-16) and the recorded 1-minute session of 2016-08-16 are backfilled once per module
through ``MarketDataService.backfill`` and copied into each test's store. The scanner reads
them only through ``MarketDataService.panel`` with the market clock pinned.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pandas as pd
import pytest

from app.adapters.store import SqlStore
from app.research.scanner import ScannerService, index_members
from core.errors import ValidationError
from core.models import Bar
from core.scan_lang import ScanSyntaxError
from core.timeutil import IST
from tests.app.replay_market import Pinned, market_on
from tests.factories import bar
from tests.fixtures_store import seed_instruments

#: NIFTY 50 members with replay daily bars and a recorded 1-minute session on 2016-08-16.
SYMS = ["HDFCBANK", "ICICIBANK", "INFY", "ITC", "LT", "RELIANCE", "SBIN", "TCS"]
AUG16 = date(2016, 8, 16)
AFTER_CLOSE = datetime(2016, 8, 16, 15, 45, tzinfo=IST)


def at(h: int, m: int, day: date = AUG16) -> datetime:
    return datetime(day.year, day.month, day.day, h, m, tzinfo=IST)


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


@pytest.fixture(scope="module")
def replay_bars(tmp_path_factory, replay_server, redis_server) -> list[Bar]:
    """Every bar of ``SYMS`` the replay server serves for 2016 up to the 2016-08-16 close."""
    src = SqlStore(f"sqlite:///{tmp_path_factory.mktemp('scan-src') / 'src.db'}")
    try:
        seed_instruments(src, set(SYMS))
        market = market_on(src, replay_server, redis_server, Pinned(at(9, 15, date(2016, 8, 17))))
        out: list[Bar] = []
        for sym in SYMS:
            token = market.token_of(f"NSE:{sym}")
            for interval, start in (("day", date(2016, 1, 1)), ("minute", AUG16)):
                market.backfill(token, interval, start, AUG16)
                f = src.bars.frame(token, interval, datetime.combine(start, datetime.min.time(), IST), AFTER_CLOSE)
                out += [Bar(token, interval, ts.to_pydatetime(), r.open, r.high, r.low, r.close, int(r.volume))
                        for ts, r in f.iterrows()]
        assert len(out) > len(SYMS) * 500, "the replay server served too few bars"
        return out
    finally:
        src.dispose()


def _scanner(store: SqlStore, bars: list[Bar], replay_server, redis_url, when: datetime,
             watchlists: dict[str, list[str]] | None = None) -> tuple[ScannerService, Pinned]:
    seed_instruments(store)
    store.bars.upsert(bars)
    clock = Pinned(when)
    market = market_on(store, replay_server, redis_url, clock)
    wl = FakeWatchlists(watchlists or {"default": ["NSE:INFY", "NSE:TCS", "NSE:NIFTY 50"], "empty": []})
    return ScannerService(store, wl, queue=RecordingQueue(), calendar=Weekdays(), market=market), clock


@pytest.fixture()
def desk(sqlite_store, replay_bars, replay_server, redis_url) -> Iterator[tuple[ScannerService, Pinned]]:
    yield _scanner(sqlite_store, replay_bars, replay_server, redis_url, AFTER_CLOSE)


@pytest.fixture()
def scanner(desk) -> ScannerService:
    return desk[0]


@pytest.fixture()
def no_bundled_bars(monkeypatch):
    """A tripwire: any read of the bundled bar files fails the test (bundled_market has no bar
    loaders left; tests/app/test_bundled_readers.py keeps it so)."""
    import app.adapters.nse_data as nse_data

    def boom(*a, **k):
        raise AssertionError("the scanner read the bundled bar files")

    for name in ("load_minute_bars", "load_daily", "load_replay_daily"):
        monkeypatch.setattr(nse_data, name, boom)


def test_market_is_required(sqlite_store):
    with pytest.raises(ValueError, match="needs market="):
        ScannerService(sqlite_store)


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


def test_execute_defaults_to_market_time_stores_run_hits_and_coverage(scanner, no_bundled_bars):
    result = scanner.execute("close > 0", "NIFTY 50")
    assert result.as_of == AFTER_CLOSE  # market time, not wall time or "latest bundled data"
    assert result.data_label == (f"NIFTY 50 daily: {len(SYMS)} of 50 symbols, bars to 16 Aug 2016 "
                                 "(store, the connected market)")
    (cov,) = result.coverage
    assert cov.partial and (cov.with_data, cov.requested) == (len(SYMS), 50)
    assert result.frame["symbol"].tolist() == SYMS
    assert (result.frame["bar_time"] == pd.Timestamp(AUG16, tz=IST)).all()
    run = scanner.results.run(result.run_id)
    assert run.status == "done" and run.matched == len(SYMS)
    assert run.as_of == result.as_of and run.data_label == result.data_label
    hits = scanner.hits_frame(result.run_id)
    assert hits["symbol"].tolist() == SYMS and (hits["close"] > 0).all()
    assert set(result.frame["industry"]) - {""}
    assert scanner.history()[0].id == result.run_id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_scan_sees_the_bars_in_the_store_not_the_bundled_files(request, backend, replay_server, redis_url,
                                                               no_bundled_bars):
    store = request.getfixturevalue("sqlite_store" if backend == "sqlite" else "pg_store")
    infy = 408065
    # bars that exist only in this store: 30 sessions of INFY closing at 1234.5 to 2016-08-16
    days = pd.bdate_range(end=AUG16, periods=30)
    stored = [bar(infy, datetime.combine(d.date(), datetime.min.time(), IST), 1234.5, interval="day")
              for d in days]
    scanner, clock = _scanner(store, stored, replay_server, redis_url, AFTER_CLOSE)
    r = scanner.run("[0] daily close = 1234.5 and [0] daily sma(close, 20) = 1234.5", "NIFTY 50")
    assert r.frame["symbol"].tolist() == ["INFY"] and r.with_data == 1
    assert "1 of 50 symbols, bars to 16 Aug 2016" in r.data_label
    # the clock bounds the read: at 15:29 the 16 Aug bar has not closed yet, the scan sees 12 Aug
    clock.when = at(15, 29)
    r = scanner.run("close > 0", "Watchlist: default")
    assert r.frame["bar_time"].tolist() == [pd.Timestamp(days[-2].date(), tz=IST)]


def test_scan_on_watchlist_and_past_as_of(scanner):
    r = scanner.run("close > 0", "Watchlist: default", as_of=at(15, 30, date(2016, 8, 5)))
    assert r.frame["symbol"].tolist() == ["INFY", "TCS"]
    assert (r.frame["bar_time"] == pd.Timestamp("2016-08-05", tz=IST)).all()
    assert r.universe_size == 3 and r.with_data == 2
    assert r.as_of == at(15, 30, date(2016, 8, 5))


def test_as_of_after_market_time_is_cut_to_market_time(scanner):
    r = scanner.run("close > 0", "Watchlist: default", as_of=datetime(2026, 6, 12, 15, 30, tzinfo=IST))
    assert r.as_of == AFTER_CLOSE and (r.frame["bar_time"] == pd.Timestamp(AUG16, tz=IST)).all()


def test_intraday_scan_at_0920_never_sees_later_bars(desk, no_bundled_bars):
    scanner, clock = desk
    clock.when = at(9, 20)
    stored = scanner.market.panel([f"NSE:{s}" for s in SYMS], "minute", start=AUG16, as_of=at(9, 20)).frame
    r = scanner.run("[0] 5 minute close > 0", "NIFTY 50")
    assert r.as_of == at(9, 20)
    assert r.frame["symbol"].tolist() == SYMS
    assert (r.frame["bar_time"] == pd.Timestamp(at(9, 15))).all()  # the 09:15 bar closed at 09:20
    close_0919 = stored[stored["ts"] == pd.Timestamp(at(9, 19))].set_index("symbol")["close"]
    assert r.frame.set_index("symbol")["[0] 5 minute close"].to_dict() == close_0919.to_dict()
    assert "NIFTY 50 5-minute: 8 of 50 symbols, bars to 16 Aug 2016 09:15 IST" in r.data_label

    # a threshold only bars after 09:20 reach: the store has them, the scan must not use them
    stored_day = {s: scanner.market.bars(f"NSE:{s}", "minute", AUG16, AUG16) for s in SYMS}  # no clock bound
    sym = next(s for s in SYMS if stored_day[s]["close"].iloc[-1] > close_0919[s])
    x = float(close_0919[sym]) + 0.01
    assert stored_day[sym].index[-1] == pd.Timestamp(at(15, 29)) and stored_day[sym]["close"].iloc[-1] > x
    assert sym not in scanner.run(f"[0] 5 minute close > {x}", "NIFTY 50").frame["symbol"].tolist()
    clock.when = AFTER_CLOSE
    assert sym in scanner.run(f"[0] 5 minute close > {x}", "NIFTY 50").frame["symbol"].tolist()


def test_opening_range_breakout_at_0940_reports_only_bars_closed_by_then(desk):
    scanner, clock = desk
    clock.when = at(9, 40)
    r = scanner.run("orb", "NIFTY 50")
    assert r.as_of == at(9, 40)
    assert (r.frame["bar_time"] <= pd.Timestamp(at(9, 35))).all()
    assert "bars to 16 Aug 2016 09:35 IST" in r.data_label
    clock.when = at(9, 20)
    with pytest.raises(ValidationError, match="too little history"):
        scanner.run("orb", "NIFTY 50")  # one closed 5-minute bar cannot cross anything


def test_forming_intraday_bar_only_when_asked(desk):
    scanner, clock = desk
    clock.when = at(9, 27)
    closed = scanner.run("[0] 5 minute close > 0", "Watchlist: default")
    assert (closed.frame["bar_time"] == pd.Timestamp(at(9, 20))).all()
    forming = scanner.run("[0] 5 minute close > 0", "Watchlist: default", forming=True)
    assert (forming.frame["bar_time"] == pd.Timestamp(at(9, 25))).all()
    minutes = scanner.market.panel(["NSE:INFY"], "minute", start=AUG16).frame
    assert forming.frame.set_index("symbol").loc["INFY", "[0] 5 minute close"] == minutes["close"].iloc[-1]
    assert "the forming bar to 09:27 IST" in forming.data_label


def test_issue_example_mixed_timeframes_with_todays_daily_bar_forming(desk):
    scanner, clock = desk
    clock.when = at(14, 0)
    r = scanner.run("[0] 5 minute close > [0] 5 minute ema(close, 20) and [0] daily rsi(14) < 101", "NIFTY 50")
    assert list(r.frame.columns[-3:]) == ["[0] 5 minute close", "[0] 5 minute ema(close, 20)", "[0] daily rsi(14)"]
    assert (r.frame["[0] 5 minute close"] > r.frame["[0] 5 minute ema(close, 20)"]).all()
    assert "today's bar forming to 14:00 IST" in r.data_label
    # today's forming daily bar is built from the minutes closed by 14:00, not the day's close
    daily = scanner.run("[0] daily close > 0", "Watchlist: default")
    minutes = scanner.market.panel(["NSE:INFY"], "minute", start=AUG16).frame
    row = daily.frame.set_index("symbol").loc["INFY"]
    assert row["bar_time"] == pd.Timestamp(AUG16, tz=IST)
    assert row["[0] daily close"] == minutes["close"].iloc[-1] and minutes["ts"].iloc[-1] == pd.Timestamp(at(13, 59))


def test_no_bars_names_the_fix(sqlite_store, replay_server, redis_url):
    scanner, _ = _scanner(sqlite_store, [], replay_server, redis_url, AFTER_CLOSE)
    with pytest.raises(ValidationError, match="no bars for any NIFTY 50 symbol .* backfill"):
        scanner.run("close > 0", "NIFTY 50")
    at_, (cov,) = scanner.coverage("close > 0", "NIFTY 50")
    assert at_ == AFTER_CLOSE and cov.with_data == 0 and cov.text.startswith("0 of 50 symbols")


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


def test_enqueue_pins_market_time_and_sends_actor(scanner):
    job_id = scanner.enqueue("gap_up", "NIFTY 100")
    (queue, actor, kwargs), = scanner.queue.sent
    assert (queue, actor) == ("scans", "run_scan") and kwargs["job_id"] == job_id
    assert kwargs["as_of_iso"] == AFTER_CLOSE.isoformat() and "forming" not in kwargs
    assert scanner.jobs.get(job_id).status == "queued"
    scanner.enqueue("orb", "NIFTY 50", as_of=at(10, 0), forming=True)
    assert scanner.queue.sent[-1][2]["forming"] is True and scanner.queue.sent[-1][2]["as_of_iso"] == at(10, 0).isoformat()


def test_backtest_counts_matches_per_day_up_to_market_time(desk):
    scanner, clock = desk
    counts = scanner.backtest("close > 0", "NIFTY 50", start=date(2016, 8, 1), end=date(2016, 8, 16))
    assert counts.index[0] == pd.Timestamp("2016-08-01", tz=IST)
    assert counts.index[-1] == pd.Timestamp("2016-08-16", tz=IST) and (counts == len(SYMS)).all()
    clock.when = at(11, 0)  # 16 Aug has not closed: its bar is not counted
    default = scanner.backtest("rsi_oversold", "NIFTY 50")
    assert default.index[-1] == pd.Timestamp("2016-08-12", tz=IST)
    latest = scanner.run("rsi_oversold", "NIFTY 50", as_of=at(15, 30, date(2016, 8, 12)))
    assert default.iloc[-1] == len(latest.frame)
    with pytest.raises(ValidationError, match="swap"):
        scanner.backtest("rsi_oversold", "NIFTY 100", start=date(2016, 8, 10), end=date(2016, 8, 1))
    with pytest.raises(ValidationError, match="after market time"):
        scanner.backtest("rsi_oversold", "NIFTY 100", start=date(2017, 1, 1), end=date(2017, 2, 1))
    with pytest.raises(ValidationError, match="one timeframe"):
        scanner.backtest("[0] 5 minute close > [0] daily close", "NIFTY 50")


def test_weekly_scan_builds_weeks_from_daily_bars(scanner):
    r = scanner.run("[0] weekly close > 0", "Watchlist: default")
    assert (r.frame["bar_time"] == pd.Timestamp("2016-08-16", tz=IST)).all()  # 15 Aug was a holiday
    assert "weekly: 2 of 3 symbols" in r.data_label


def test_schedules_fire_only_in_session_every_n_minutes(scanner):
    sid = scanner.schedule("volume_spike", "NIFTY 50", 15)
    tuesday_open = at(9, 20)
    assert scanner.due(at(9, 0)) == []  # before the open
    assert scanner.due(datetime(2016, 8, 13, 11, 0, tzinfo=IST)) == []  # Saturday
    ids = scanner.send_due(tuesday_open)
    assert len(ids) == 1 and scanner.queue.sent[-1][2]["schedule_id"] == sid
    assert scanner.queue.sent[-1][2]["as_of_iso"] == tuesday_open.isoformat()
    assert scanner.send_due(at(9, 30)) == []  # 10 min later: not yet
    assert len(scanner.send_due(at(9, 35))) == 1
    with pytest.raises(ValidationError, match="every_minutes"):
        scanner.schedule("volume_spike", "NIFTY 50", 0)
