"""Daily backfill after a corporate action (issue 12 §3), on SQLite and PostgreSQL.

Two real replay servers of 2016-08-17 through the real kiteconnect client: the session's
(unadjusted history) and one started with ``--adjust INFY:2:2016-08-10`` (INFY's bars before
10 Aug 2016 served with prices halved, volumes doubled — what Kite serves after a 1:2 split).
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
import requests

from app.adapters.kite_historical import HistoricalUnavailable, historical_client
from app.adapters.redis_client import redis_client
from app.adapters.replay.adjust import adjust_frame, parse_adjustment, parse_adjustments
from app.market.history import MarketDataService
from app.market.instruments import InstrumentService
from core.timeutil import IST
from tests.app.test_market_data import replay_settings
from tests.fixtures_replay import start_replay, stop_replay
from tests.fixtures_store import seed_instruments

INFY = 408065
JUN1, AUG12, AUG16 = date(2016, 6, 1), date(2016, 8, 12), date(2016, 8, 16)
EX_DATE = "2016-08-10"


def service(store, server, redis_url) -> MarketDataService:
    return MarketDataService(store, InstrumentService(store),
                             historical_client(replay_settings(server, redis_url), redis_client(redis_url)),
                             clock=lambda: datetime(2016, 8, 17, 10, 0, tzinfo=IST))


@pytest.fixture(scope="module")
def adjusted_replay(tmp_path_factory):
    """One adjusted replay for the module (a replay takes seconds to start)."""
    server = start_replay(tmp_path_factory.mktemp("adjusted"), "2016-08-17", 60, "--loop",
                          "--adjust", f"INFY:2:{EX_DATE}", "--test-endpoints")
    yield server
    stop_replay(server)


@pytest.fixture()
def plain(store, replay_server, redis_url) -> MarketDataService:
    seed_instruments(store, {"INFY", "TCS"})
    return service(store, replay_server, redis_url)


def closes(store, start=JUN1, end=AUG16) -> pd.Series:
    return store.bars.frame(INFY, "day", datetime.combine(start, datetime.min.time(), IST),
                            datetime.combine(end, datetime.max.time(), IST))["close"]


def day(d: str) -> pd.Timestamp:
    return pd.Timestamp(d, tz=IST)


def test_replay_adjust_option_serves_history_before_the_date_divided(replay_server, adjusted_replay):
    raw = replay_server.kite().historical_data(INFY, "2016-08-01", "2016-08-16", "day")
    adj = adjusted_replay.kite().historical_data(INFY, "2016-08-01", "2016-08-16", "day")
    assert [c["date"] for c in raw] == [c["date"] for c in adj] and len(raw) >= 10
    for r, a in zip(raw, adj):
        if r["date"].date() < date(2016, 8, 10):
            assert a["close"] == pytest.approx(r["close"] / 2, abs=0.006) and a["volume"] == r["volume"] * 2
        else:
            assert a["close"] == r["close"] and a["volume"] == r["volume"]
    tcs_raw = replay_server.kite().historical_data(2953217, "2016-08-01", "2016-08-16", "day")
    assert adjusted_replay.kite().historical_data(2953217, "2016-08-01", "2016-08-16", "day") == tcs_raw


def test_adjust_spec_parsing_names_what_to_fix():
    assert parse_adjustment("infy:2:2016-08-10").symbol == "INFY"
    for bad, words in [("INFY:2", "SYMBOL:FACTOR:YYYY-MM-DD"), ("INFY:x:2016-08-10", "not a number"),
                       ("INFY:0:2016-08-10", "> 0"), ("INFY:2:10-08-2016", "not YYYY-MM-DD")]:
        with pytest.raises(ValueError, match=words):
            parse_adjustment(bad)
    with pytest.raises(ValueError, match="more than once"):
        parse_adjustments(["INFY:2:2016-08-10", "INFY:3:2016-08-11"])
    frame = pd.DataFrame({"open": [10.0, 10.0], "high": [10.0, 10.0], "low": [10.0, 10.0], "close": [10.0, 10.0],
                          "volume": [5, 5]}, index=pd.DatetimeIndex([day("2016-08-09"), day("2016-08-10")]))
    out = adjust_frame(frame, parse_adjustment("INFY:2:2016-08-10"))
    assert list(out["close"]) == [5.0, 10.0] and list(out["volume"]) == [10, 5]


def test_bad_adjust_option_exits_2_naming_the_problem(tmp_path):
    import subprocess
    import sys

    from tests.fixtures_replay import ROOT

    out = subprocess.run([sys.executable, "-m", "workers.replay", "--date", "2016-08-17", "--adjust", "INFY:2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "SYMBOL:FACTOR:YYYY-MM-DD" in out.stderr


def test_split_replaces_the_stored_daily_history_with_the_adjusted_one(store, plain, adjusted_replay, redis_url,
                                                                       caplog):
    stored = plain.backfill("NSE:INFY", "day", JUN1, AUG12)
    assert stored > 40
    before = closes(store)
    adjusted = service(store, adjusted_replay, redis_url)
    notes: list[str] = []
    with caplog.at_level("WARNING", logger="app.market.history"):
        added = adjusted.backfill("NSE:INFY", "day", JUN1, AUG16, notes=notes)
    assert len(notes) == 1 and "corporate action" in notes[0] and "replaced the stored daily history" in notes[0]
    assert f"({stored} bars)" in notes[0] and "ratio 2" in notes[0]
    assert any("looks adjusted for a corporate action" in r.getMessage() for r in caplog.records)
    after = closes(store)
    assert added == len(after) - stored == 1  # 16 Aug is new (15 Aug: Independence Day)
    for ts, close in before.items():  # every stored day before the ex-date is now halved
        expected = close / 2 if ts < day(EX_DATE) else close
        assert after[ts] == pytest.approx(expected, abs=0.006), ts
    assert after[day("2016-06-01")] == pytest.approx(before[day("2016-06-01")] / 2, abs=0.006)
    assert store.bars.coverage(INFY, "day")[0][0] <= day("2016-06-01")
    # a re-run finds nothing to replace and nothing new
    again: list[str] = []
    assert adjusted.backfill("NSE:INFY", "day", JUN1, AUG16, notes=again) == 0 and again == []
    assert closes(store).equals(after)


def test_unadjusted_rerun_only_fills_the_gap_and_replaces_nothing(store, plain):
    first = plain.backfill("NSE:INFY", "day", JUN1, date(2016, 7, 29))
    notes: list[str] = []
    added = plain.backfill("NSE:INFY", "day", JUN1, AUG16, notes=notes)
    assert notes == [] and added == len(closes(store)) - first > 5
    assert plain.backfill("NSE:INFY", "day", JUN1, AUG16, notes=notes) == 0 and notes == []


def test_outage_while_refetching_keeps_the_stored_history(store, plain, adjusted_replay, redis_url):
    plain.backfill("NSE:INFY", "day", JUN1, AUG12)
    before = closes(store)
    cover = store.bars.coverage(INFY, "day")
    adjusted = service(store, adjusted_replay, redis_url)
    adjusted.historical.backoff = 0.01
    calls = []
    real = adjusted.historical.fetch_window

    def first_then_outage(*args, **kwargs):  # the overlap window comes back; then the market goes down
        calls.append(args)
        if len(calls) == 2:
            requests.post(f"{adjusted_replay.rest_root}/_test/fail",
                          params={"path": "/instruments/historical", "status": 503,
                                  "count": adjusted.historical.retries + 1}, timeout=5)
        return real(*args, **kwargs)

    adjusted.historical.fetch_window = first_then_outage
    with pytest.raises(HistoricalUnavailable):
        adjusted.backfill("NSE:INFY", "day", JUN1, AUG16)
    assert len(calls) == 2
    assert closes(store).equals(before) and store.bars.coverage(INFY, "day") == cover


def test_split_found_by_an_older_range_replaces_the_newer_stored_bars_too(store, plain, adjusted_replay, redis_url):
    plain.backfill("NSE:INFY", "day", date(2016, 7, 1), AUG16)  # stored: July to mid-August
    count = len(closes(store))
    adjusted = service(store, adjusted_replay, redis_url)
    notes: list[str] = []
    adjusted.backfill("NSE:INFY", "day", JUN1, date(2016, 7, 15), notes=notes)  # an older range
    assert len(notes) == 1
    after = closes(store)
    assert len(after) == count + len(closes(store, JUN1, date(2016, 6, 30)))  # June added, nothing lost
    raw = {c["date"].date(): c["close"] for c in adjusted_replay.kite().historical_data(INFY, "2016-06-01",
                                                                                       "2016-08-16", "day")}
    assert {ts.date(): c for ts, c in after.items()} == pytest.approx(raw)
