"""ONE contract suite for the store's repositories (``app.adapters.store.ports``), run on every
backend: SQLite (file), PostgreSQL (real server), and Supabase's Data API (real PostgREST behind
an nginx ``/rest/v1`` gateway, in front of PostgreSQL, driven by supabase-py).

Every method of ``InstrumentRepository``, ``BarRepository``, ``WatchlistRepository`` and
``JobRepository`` is exercised with the same expectations on each backend, including bad input
(``ValidationError``, nothing written) and reads larger than one Data API page (1000 rows).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from app.adapters.store.ports import BarRepository, InstrumentRepository, JobRepository, JobStatus, WatchlistRepository
from core.errors import ValidationError
from core.timeutil import IST, UTC
from tests.factories import INFY, NIFTY, bar
from tests.fixtures_store import DUMP_DATE, instrument_rows
from tests.supabase_local import supabase_local  # noqa: F401 - session fixture

BACKENDS = ["sqlite", "postgresql", "supabase-rest"]
STORE_TABLES = ["instruments", "bars", "bar_coverage", "watchlists", "watchlist_names", "jobs"]


@pytest.fixture(params=BACKENDS)
def repos(request):
    """A store with empty tables on each backend in turn (``.instruments/.bars/.watchlists/.jobs``)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_store")
    if request.param == "postgresql":
        return request.getfixturevalue("pg_store")
    from app.adapters.supabase_store import SupabaseStore

    local = request.getfixturevalue("supabase_local")
    local.truncate(STORE_TABLES)
    store = SupabaseStore(local.url, local.service_key)
    request.addfinalizer(store.dispose)
    return store


SYMBOLS = {"INFY", "TCS", "RELIANCE", "SBIN", "NIFTY 50", "NIFTY IT", "INFIBEAM", "HDFCBANK", "ITC", "ITI"}


def _subset() -> list[dict]:
    return [r for r in instrument_rows() if r["tradingsymbol"] in SYMBOLS and r["exchange"] == "NSE"]


T0 = datetime(2025, 12, 1, 3, 45, tzinfo=UTC)  # 09:15 IST


# ----------------------------------------------------------------- instruments


def test_protocols_are_implemented(repos):
    for attr, proto in [("instruments", InstrumentRepository), ("bars", BarRepository),
                        ("watchlists", WatchlistRepository), ("jobs", JobRepository)]:
        repo = getattr(repos, attr)
        missing = [m for m in dir(proto) if not m.startswith("_") and not callable(getattr(repo, m, None))]
        assert missing == [], f"{type(repo).__name__} lacks {missing}"


def test_instruments_empty(repos):
    r = repos.instruments
    assert r.count() == 0 and r.all() == [] and r.dump_date() is None and r.get(408065) is None
    assert r.by_key("NSE:INFY") is None and r.search("INF") == []
    frame = r.frame()
    assert frame.empty and list(frame.columns)[:2] == ["instrument_token", "exchange_token"]


def test_instruments_replace_get_and_lookup(repos):
    r = repos.instruments
    rows = _subset()
    assert r.replace_dump(rows, DUMP_DATE) == len(rows) == r.count()
    assert r.dump_date() == DUMP_DATE
    infy = r.by_key("NSE:INFY")
    assert infy == INFY  # every field of the bundled row, tick_size ₹0.10 exactly
    assert r.get(infy.instrument_token) == infy
    assert r.by_key("nse:INFY") == infy
    assert r.by_key("NSE:NIFTY 50") == NIFTY
    assert r.by_key("NSE:NOSUCH") is None
    with pytest.raises(ValidationError, match="NSE:INFY"):
        r.by_key("INFY")


def test_instruments_search_is_a_case_insensitive_prefix(repos):
    r = repos.instruments
    r.replace_dump(_subset(), DUMP_DATE)
    assert [i.tradingsymbol for i in r.search("inf")] == ["INFIBEAM", "INFY"]
    assert [i.tradingsymbol for i in r.search("IT")] == ["ITC", "ITI"]
    assert [i.tradingsymbol for i in r.search("it", limit=1)] == ["ITC"]
    assert r.search("I_") == [] and r.search("%") == []  # LIKE wildcards are literal


def test_instruments_replace_is_whole_and_rejects_bad_rows_atomically(repos):
    r = repos.instruments
    rows = _subset()
    r.replace_dump(rows, DUMP_DATE)
    with pytest.raises(ValidationError, match="repeat"):
        r.replace_dump([rows[0], rows[0]], date(2025, 12, 2))
    with pytest.raises(ValidationError):
        r.replace_dump([{"instrument_token": 1, "tradingsymbol": "", "exchange": "NSE"}], date(2025, 12, 2))
    assert r.count() == len(rows) and r.dump_date() == DUMP_DATE
    assert r.replace_dump(rows[:3], date(2025, 12, 2)) == 3
    assert r.count() == 3 and r.dump_date() == date(2025, 12, 2)
    assert {i.instrument_token for i in r.all()} == {int(x["instrument_token"]) for x in rows[:3]}


def test_instruments_full_dump_reads_past_one_page(repos):
    r = repos.instruments
    rows = instrument_rows()
    assert len(rows) > 2000
    assert r.replace_dump(rows, DUMP_DATE) == len(rows)
    everything = r.all()
    assert len(everything) == len(rows) == r.count()
    tokens = [i.instrument_token for i in everything]
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)
    frame = r.frame()
    assert len(frame) == len(rows)
    assert frame.dtypes["instrument_token"] == "int64" and frame.dtypes["tick_size"] == "float64"
    assert frame.dtypes["lot_size"] == "int64" and frame.dtypes["last_price"] == "float64"
    assert set(frame["dump_date"]) == {DUMP_DATE}
    assert frame["instrument_token"].tolist() == tokens


# ----------------------------------------------------------------- bars


def test_bars_upsert_frame_and_overwrite(repos):
    b = repos.bars
    bars = [bar(408065, T0 + timedelta(minutes=i), 1500 + i) for i in range(5)]
    assert b.upsert(bars) == 5
    assert b.upsert(bars) == 5 and b.count() == 5  # idempotent
    assert b.upsert([bar(408065, T0, 999.5, volume=7)]) == 1
    df = b.frame(408065, "minute", T0, T0 + timedelta(minutes=3))
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "oi"]
    assert str(df.index.tz) == str(IST) and df.index.name == "ts" and df.index.is_monotonic_increasing
    assert df.index[0] == pd.Timestamp("2025-12-01 09:15", tz=IST)
    assert len(df) == 4 and df["close"].tolist() == [999.5, 1501.0, 1502.0, 1503.0]
    assert df["volume"].tolist()[0] == 7
    assert dict(df.dtypes.astype(str)) == {"open": "float64", "high": "float64", "low": "float64",
                                            "close": "float64", "volume": "int64", "oi": "int64"}


def test_bars_batch_keeps_the_last_of_a_repeated_key(repos):
    b = repos.bars
    assert b.upsert([bar(1, T0, 10.0), bar(1, T0, 11.0)]) == 1
    assert b.frame(1, "minute", T0, T0)["close"].tolist() == [11.0]


def test_bars_count_latest_and_empty_frame(repos):
    b = repos.bars
    assert b.latest_ts(1, "minute") is None and b.count() == 0
    empty = b.frame(1, "minute", T0, T0 + timedelta(days=1))
    assert empty.empty and dict(empty.dtypes.astype(str))["volume"] == "int64"
    b.upsert([bar(1, T0 + timedelta(minutes=i), 10.0) for i in range(3)]
             + [bar(2, T0, 20.0), bar(1, T0, 30.0, interval="day")])
    assert b.count() == 5 and b.count(1) == 4 and b.count(1, "minute") == 3 and b.count(interval="day") == 1
    latest = b.latest_ts(1, "minute")
    assert latest == T0 + timedelta(minutes=2) and latest.tzinfo is not None and latest.utcoffset() == timedelta(0)


def test_bars_bad_input_writes_nothing(repos):
    b = repos.bars
    with pytest.raises(ValidationError, match="interval"):
        b.upsert([bar(1, T0, 10.0), bar(1, T0, 10.0, interval="2minute")])
    with pytest.raises(ValidationError):
        b.upsert([bar(1, T0, 10.0), bar(1, T0.replace(tzinfo=None), 10.0)])
    assert b.count() == 0
    with pytest.raises(ValidationError, match="after"):
        b.frame(1, "minute", T0 + timedelta(hours=1), T0)
    with pytest.raises(ValidationError):
        b.frame(1, "minute", T0.replace(tzinfo=None), T0)
    with pytest.raises(ValidationError, match="interval"):
        b.latest_ts(1, "weekly")
    with pytest.raises(ValidationError, match="interval"):
        b.count(1, "weekly")


def test_bars_frame_reads_past_one_page(repos):
    b = repos.bars
    bars = [bar(7, T0 + timedelta(minutes=i), 100 + i * 0.05) for i in range(2600)]
    assert b.upsert(bars) == 2600
    df = b.frame(7, "minute", T0, T0 + timedelta(days=3))
    assert len(df) == 2600 and df.index.is_unique and df.index.is_monotonic_increasing
    assert df["close"].iloc[-1] == pytest.approx(100 + 2599 * 0.05)


def test_bars_frames_and_counts_of_many_instruments(repos):
    b = repos.bars
    b.upsert([bar(tok, T0 + timedelta(minutes=i), 100 + tok + i) for tok in (7, 8, 9) for i in range(5)]
             + [bar(8, T0 + timedelta(days=2), 1.0)])
    long = b.frames([9, 7, 8, 404], "minute", T0 + timedelta(minutes=1), T0 + timedelta(minutes=3))
    assert list(long.columns) == ["instrument_token", "ts", "open", "high", "low", "close", "volume", "oi"]
    assert long["instrument_token"].tolist() == [7, 7, 7, 8, 8, 8, 9, 9, 9]
    assert str(long["ts"].dt.tz) == "Asia/Kolkata" and long["ts"].iloc[0] == pd.Timestamp(T0 + timedelta(minutes=1))
    assert long["close"].iloc[3] == pytest.approx(109.0)
    assert b.counts([7, 8, 404], "minute") == {7: 5, 8: 6}
    assert b.frames([404], "minute", T0, T0).empty and b.counts([7], "day") == {}
    with pytest.raises(ValidationError, match="after end"):
        b.frames([7], "minute", T0 + timedelta(hours=1), T0)


def test_bars_coverage_is_merged(repos):
    b = repos.bars
    assert b.coverage(1, "minute") == []
    d = timedelta(hours=1)
    b.add_coverage(1, "minute", T0 + 3 * d, T0 + 4 * d)
    b.add_coverage(1, "minute", T0, T0 + d)
    b.add_coverage(1, "minute", T0 + d / 2, T0 + 2 * d)
    b.add_coverage(1, "day", T0, T0 + 10 * d)
    assert b.coverage(1, "minute") == [(T0, T0 + 2 * d), (T0 + 3 * d, T0 + 4 * d)]
    assert all(s.utcoffset() == timedelta(0) for s, _ in b.coverage(1, "minute"))
    with pytest.raises(ValidationError, match="after"):
        b.add_coverage(1, "minute", T0 + d, T0)
    with pytest.raises(ValidationError, match="interval"):
        b.coverage(1, "fortnight")


def test_bars_delete_forgets_bars_and_coverage(repos):
    b = repos.bars
    b.upsert([bar(1, T0, 10.0), bar(1, T0 + timedelta(minutes=1), 11.0), bar(2, T0, 5.0)])
    b.add_coverage(1, "minute", T0, T0 + timedelta(minutes=1))
    assert b.delete(1, "minute") == 2
    assert b.count() == 1 and b.coverage(1, "minute") == []


# ----------------------------------------------------------------- watchlists


def test_watchlists_replace_get_exists_names(repos):
    w = repos.watchlists
    assert w.get("main") == [] and not w.exists("main") and w.names() == []
    w.replace("main", ["NSE:INFY", "NSE:TCS", "NSE:NIFTY 50"])
    w.replace("banks", ["NSE:SBIN"])
    assert w.get("main") == ["NSE:INFY", "NSE:TCS", "NSE:NIFTY 50"]
    assert w.exists("main") and w.names() == ["banks", "main"]
    w.replace("main", ["NSE:TCS"])
    assert w.get("main") == ["NSE:TCS"]
    w.replace("main", [])
    assert w.get("main") == [] and w.exists("main")  # an emptied list still exists


def test_watchlists_bad_input_changes_nothing(repos):
    w = repos.watchlists
    w.replace("main", ["NSE:INFY"])
    with pytest.raises(ValidationError, match="repeats NSE:TCS"):
        w.replace("main", ["NSE:TCS", "NSE:TCS"])
    assert w.get("main") == ["NSE:INFY"]
    for bad in ("", " ", "x" * 65):
        with pytest.raises(ValidationError, match="1-64"):
            w.replace(bad, [])
        with pytest.raises(ValidationError):
            w.get(bad)
        with pytest.raises(ValidationError):
            w.exists(bad)


def test_watchlists_long_list_keeps_order(repos):
    keys = [f"NSE:S{i:05d}" for i in range(1500)][::-1]
    repos.watchlists.replace("big", keys)
    assert repos.watchlists.get("big") == keys


# ----------------------------------------------------------------- jobs


def test_jobs_lifecycle(repos):
    j = repos.jobs
    before = datetime.now(UTC)
    job_id = j.create("backfill", {"symbols": ["NSE:INFY"], "days": 5})
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    job = j.get(job_id)
    assert job.kind == "backfill" and job.args == {"symbols": ["NSE:INFY"], "days": 5}
    assert job.status is JobStatus.QUEUED and job.progress == 0.0 and job.message == "" and job.result is None
    assert job.created_at.utcoffset() == timedelta(0) and job.created_at >= before - timedelta(seconds=1)
    assert not job.finished
    j.start(job_id, "starting")
    assert j.get(job_id).status is JobStatus.RUNNING and j.get(job_id).message == "starting"
    j.update(job_id, 0.5)
    assert j.get(job_id).progress == 0.5 and j.get(job_id).message == "starting"
    j.update(job_id, 7, "clamped")
    assert j.get(job_id).progress == 1.0 and j.get(job_id).message == "clamped"
    j.update(job_id, -1)
    assert j.get(job_id).progress == 0.0
    j.finish(job_id, {"bars": 375, "symbols": {"NSE:INFY": 375}}, "done")
    done = j.get(job_id)
    assert done.status is JobStatus.DONE and done.progress == 1.0 and done.finished
    assert done.result == {"bars": 375, "symbols": {"NSE:INFY": 375}} and done.updated_at >= done.created_at
    other = j.create("scan", {})
    j.fail(other, "no data")
    assert j.get(other).status is JobStatus.FAILED and j.get(other).message == "no data"
    j.finish(other)
    assert j.get(other).result is None


def test_jobs_create_is_idempotent_and_unknown_ids_fail(repos):
    j = repos.jobs
    assert j.create("scan", {"a": 1}, job_id="job-1") == "job-1"
    j.start("job-1")
    assert j.create("scan", {"a": 2}, job_id="job-1") == "job-1"  # no-op: state kept
    assert j.get("job-1").status is JobStatus.RUNNING and j.get("job-1").args == {"a": 1}
    assert j.get("nope") is None
    for call in (lambda: j.start("nope"), lambda: j.update("nope", 0.1), lambda: j.finish("nope"),
                 lambda: j.fail("nope", "x")):
        with pytest.raises(ValidationError, match="no job"):
            call()
    with pytest.raises(ValidationError, match="kind"):
        j.create("", {})


def test_jobs_recent_newest_first_by_kind(repos):
    j = repos.jobs
    ids = []
    for i in range(5):
        ids.append(j.create("scan" if i % 2 == 0 else "backfill", {"i": i}))
        # distinct created_at on every backend (SQLite stores microseconds too)
        import time

        time.sleep(0.002)
    assert [x.id for x in j.recent()] == ids[::-1]
    assert [x.id for x in j.recent(limit=2)] == ids[::-1][:2]
    assert [x.id for x in j.recent(kind="backfill")] == [ids[3], ids[1]]
    assert j.recent(kind="nothing") == []
