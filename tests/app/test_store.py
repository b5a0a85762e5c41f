"""Every repository of ``SqlStore`` on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from app.adapters.store import JobStatus, SqlStore
from core.errors import ValidationError
from core.models import Bar
from core.timeutil import IST, UTC
from tests.factories import equity
from tests.fixtures_store import DUMP_DATE, instrument_rows

T0 = datetime(2016, 8, 16, 9, 15, tzinfo=IST)


def minute_bars(n: int, token: int = 408065, start: datetime = T0, price: float = 1000.0) -> list[Bar]:
    return [
        Bar(token, "minute", start + timedelta(minutes=i), price + i, price + i + 2, price + i - 1,
            price + i + 0.5, 1000 * (i + 1), 0)
        for i in range(n)
    ]


# ---- schema ---------------------------------------------------------------------------------

def test_store_created_twice_on_same_database_is_idempotent(store):
    again = SqlStore(store.url)
    assert again.schema_version() == 1
    assert again.bars.count() == 0
    again.dispose()


def test_sqlite_store_uses_wal_and_foreign_keys(sqlite_store):
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_unsupported_database_url_raises_validation_error():
    with pytest.raises(ValidationError, match="sqlite:///"):
        SqlStore("mysql://localhost/x")


# ---- bars -----------------------------------------------------------------------------------

def test_bars_upsert_twice_stores_each_key_once(store):
    bars = minute_bars(30)
    assert store.bars.upsert(bars) == 30
    assert store.bars.upsert(bars) == 30
    assert store.bars.count() == 30
    assert store.bars.count(408065, "minute") == 30
    assert store.bars.count(1, "minute") == 0


def test_bars_upsert_same_key_overwrites_values(store):
    store.bars.upsert(minute_bars(3))
    changed = Bar(408065, "minute", T0, 1.0, 2.0, 0.5, 1.5, 7, 3)
    store.bars.upsert([changed])
    df = store.bars.frame(408065, "minute", T0, T0)
    assert df.iloc[0].tolist() == [1.0, 2.0, 0.5, 1.5, 7, 3]
    assert store.bars.count() == 3


def test_bars_upsert_repeated_key_in_one_batch_keeps_last(store):
    a = Bar(1, "minute", T0, 1, 1, 1, 1, 1)
    b = Bar(1, "minute", T0.astimezone(UTC), 2, 2, 2, 2, 2)  # same instant, other zone
    assert store.bars.upsert([a, b]) == 1
    assert store.bars.frame(1, "minute", T0, T0)["close"].tolist() == [2.0]


def test_bars_frame_has_ist_index_and_documented_dtypes(store):
    store.bars.upsert(minute_bars(5))
    df = store.bars.frame(408065, "minute", T0, T0 + timedelta(minutes=4))
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "oi"]
    assert str(df.index.tz) == "Asia/Kolkata"
    assert df.index.name == "ts"
    assert df.index[0] == T0 and df.index[0].hour == 9 and df.index[0].minute == 15
    assert df.index.is_monotonic_increasing
    assert {c: str(d) for c, d in df.dtypes.items()} == {
        "open": "float64", "high": "float64", "low": "float64", "close": "float64",
        "volume": "int64", "oi": "int64",
    }
    assert df["volume"].tolist() == [1000, 2000, 3000, 4000, 5000]


def test_bars_frame_bounds_are_inclusive_and_filter_interval(store):
    store.bars.upsert(minute_bars(10))
    store.bars.upsert([Bar(408065, "day", T0, 1, 1, 1, 1, 1)])
    df = store.bars.frame(408065, "minute", T0 + timedelta(minutes=2), T0 + timedelta(minutes=5))
    assert len(df) == 4
    assert df.index[0] == T0 + timedelta(minutes=2)
    assert df.index[-1] == T0 + timedelta(minutes=5)


def test_bars_frame_empty_keeps_columns_and_dtypes(store):
    df = store.bars.frame(408065, "5minute", T0, T0 + timedelta(days=1))
    assert df.empty
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "oi"]
    assert str(df["volume"].dtype) == "int64" and str(df["close"].dtype) == "float64"
    assert str(df.index.tz) == "Asia/Kolkata"


def test_bars_latest_ts_is_newest_bar_in_utc(store):
    assert store.bars.latest_ts(408065, "minute") is None
    store.bars.upsert(minute_bars(10))
    latest = store.bars.latest_ts(408065, "minute")
    assert latest == T0 + timedelta(minutes=9)
    assert latest.utcoffset() == timedelta(0)


def test_bars_volume_above_int32_round_trips(store):
    store.bars.upsert([Bar(1, "day", T0, 1, 1, 1, 1, 5_000_000_000, 3_000_000_000)])
    assert store.bars.frame(1, "day", T0, T0)["volume"].iloc[0] == 5_000_000_000


def test_bars_unknown_interval_raises_validation_error(store):
    with pytest.raises(ValidationError, match="unknown interval '2minute'"):
        store.bars.upsert([Bar(1, "2minute", T0, 1, 1, 1, 1, 1)])
    with pytest.raises(ValidationError, match="use one of minute"):
        store.bars.frame(1, "1m", T0, T0)
    assert store.bars.count() == 0


def test_bars_naive_datetime_raises_validation_error(store):
    naive = datetime(2016, 8, 16, 9, 15)
    with pytest.raises(ValidationError, match="timezone-aware"):
        store.bars.upsert([*minute_bars(2), Bar(1, "minute", naive, 1, 1, 1, 1, 1)])
    with pytest.raises(ValidationError, match="timezone-aware"):
        store.bars.frame(1, "minute", naive, T0)
    assert store.bars.count() == 0  # nothing half-written


def test_bars_frame_start_after_end_raises_validation_error(store):
    with pytest.raises(ValidationError, match="after end"):
        store.bars.frame(1, "minute", T0 + timedelta(minutes=1), T0)


def test_bars_coverage_merges_overlapping_ranges(store):
    store.bars.add_coverage(1, "minute", T0, T0 + timedelta(hours=1))
    store.bars.add_coverage(1, "minute", T0 + timedelta(minutes=30), T0 + timedelta(hours=2))
    store.bars.add_coverage(1, "minute", T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1))
    assert store.bars.coverage(1, "minute") == [
        (T0, T0 + timedelta(hours=2)), (T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1)),
    ]
    assert store.bars.coverage(1, "day") == []


# ---- instruments ----------------------------------------------------------------------------

def test_instruments_replace_dump_loads_real_master(seeded_store):
    assert seeded_store.instruments.count() == len(instrument_rows())
    assert seeded_store.instruments.dump_date() == DUMP_DATE
    infy = seeded_store.instruments.by_key("NSE:INFY")
    assert infy is not None and infy.instrument_token == 408065
    assert infy.tick_size == Decimal("0.1") and infy.lot_size == 1 and infy.name == "INFOSYS"
    assert seeded_store.instruments.get(408065) == infy
    nifty = seeded_store.instruments.by_key("nse:NIFTY 50")
    assert nifty.segment == "INDICES" and not nifty.tradable


def test_instruments_search_prefix_is_case_insensitive_and_escapes_wildcards(seeded_store):
    found = [i.tradingsymbol for i in seeded_store.instruments.search("infy")]
    assert "INFY" in found and all(s.startswith("INFY") for s in found)
    assert seeded_store.instruments.search("%") == []
    assert seeded_store.instruments.search("M&M")[0].tradingsymbol.startswith("M&M")


def test_instruments_frame_has_kite_columns(seeded_store):
    df = seeded_store.instruments.frame()
    assert len(df) == len(instrument_rows())
    assert df.columns[:12].tolist() == list(instrument_rows()[0].keys())
    assert str(df["instrument_token"].dtype) == "int64"
    assert df.set_index("tradingsymbol").loc["INFY", "instrument_token"] == 408065


def test_instruments_replace_dump_replaces_everything(store):
    store.instruments.replace_dump(instrument_rows()[:50], DUMP_DATE)
    new = equity(1, "NEWCO", exchange_token=2, name="New Co")
    assert store.instruments.replace_dump([new], date(2026, 1, 2)) == 1
    assert store.instruments.count() == 1
    assert store.instruments.get(1) == new
    assert store.instruments.dump_date() == date(2026, 1, 2)


def test_instruments_replace_dump_bad_row_leaves_old_master(store):
    store.instruments.replace_dump(instrument_rows()[:50], DUMP_DATE)
    rows = [*instrument_rows()[50:60], dict(instrument_rows()[50])]  # a repeated token
    with pytest.raises(ValidationError, match="repeat"):
        store.instruments.replace_dump(rows, date(2026, 1, 2))
    bad = [*instrument_rows()[50:60], {"instrument_token": "x", "tradingsymbol": "A", "exchange": "NSE"}]
    with pytest.raises(ValidationError, match="instrument_token"):
        store.instruments.replace_dump(bad, date(2026, 1, 2))
    assert store.instruments.count() == 50
    assert store.instruments.dump_date() == DUMP_DATE


def test_instruments_replace_dump_is_atomic_for_concurrent_readers(store):
    store.instruments.replace_dump(instrument_rows()[:2000], DUMP_DATE)
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(store.instruments.count())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(3):
            store.instruments.replace_dump(instrument_rows()[:2000], DUMP_DATE)
    finally:
        stop.set()
        reader.join()
    assert seen and set(seen) == {2000}


def test_instruments_by_key_without_exchange_raises_validation_error(store):
    with pytest.raises(ValidationError, match="NSE:INFY"):
        store.instruments.by_key("INFY")


# ---- watchlists -----------------------------------------------------------------------------

def test_watchlists_replace_then_get_keeps_order(store):
    assert store.watchlists.get("default") == [] and not store.watchlists.exists("default")
    store.watchlists.replace("default", ["NSE:TCS", "NSE:INFY", "NSE:NIFTY 50"])
    assert store.watchlists.get("default") == ["NSE:TCS", "NSE:INFY", "NSE:NIFTY 50"]
    store.watchlists.replace("default", ["NSE:SBIN"])
    assert store.watchlists.get("default") == ["NSE:SBIN"]
    store.watchlists.replace("other", [])
    assert store.watchlists.exists("other") and store.watchlists.get("other") == []
    assert store.watchlists.names() == ["default", "other"]


def test_watchlists_replace_with_duplicate_raises_and_keeps_old(store):
    store.watchlists.replace("default", ["NSE:TCS"])
    with pytest.raises(ValidationError, match="NSE:INFY"):
        store.watchlists.replace("default", ["NSE:INFY", "NSE:SBIN", "NSE:INFY"])
    assert store.watchlists.get("default") == ["NSE:TCS"]


# ---- jobs -----------------------------------------------------------------------------------

def test_jobs_lifecycle_queued_running_done(store):
    job_id = store.jobs.create("backfill", {"key": "NSE:INFY", "interval": "minute"})
    job = store.jobs.get(job_id)
    assert job.status is JobStatus.QUEUED and job.progress == 0.0 and job.result is None
    assert job.args == {"key": "NSE:INFY", "interval": "minute"}
    assert job.created_at.utcoffset() == timedelta(0)
    store.jobs.start(job_id, "fetching")
    store.jobs.update(job_id, 0.5, "window 1/2")
    job = store.jobs.get(job_id)
    assert (job.status, job.progress, job.message) == (JobStatus.RUNNING, 0.5, "window 1/2")
    store.jobs.finish(job_id, {"rows": 375}, "stored 375 bars")
    job = store.jobs.get(job_id)
    assert job.status is JobStatus.DONE and job.progress == 1.0 and job.result == {"rows": 375}
    assert job.finished and job.updated_at >= job.created_at


def test_jobs_fail_records_message(store):
    job_id = store.jobs.create("backfill", {})
    store.jobs.fail(job_id, "unknown instrument NSE:XYZ")
    job = store.jobs.get(job_id)
    assert job.status is JobStatus.FAILED and job.message == "unknown instrument NSE:XYZ"


def test_jobs_progress_is_clamped_and_unknown_id_raises(store):
    job_id = store.jobs.create("backfill", {})
    store.jobs.update(job_id, 7)
    assert store.jobs.get(job_id).progress == 1.0
    with pytest.raises(ValidationError, match="no job"):
        store.jobs.update("nope", 0.1)
    assert store.jobs.get("nope") is None


def test_jobs_recent_is_newest_first_and_filters_kind(store):
    ids = [store.jobs.create("backfill" if i % 2 else "scan", {"i": i}) for i in range(5)]
    recent = store.jobs.recent(limit=3)
    assert [j.args["i"] for j in recent] == [4, 3, 2]
    assert [j.id for j in store.jobs.recent(kind="backfill")] == [ids[3], ids[1]]


def test_jobs_create_with_existing_id_is_noop(store):
    job_id = store.jobs.create("backfill", {"a": 1}, job_id="fixed")
    store.jobs.start(job_id)
    assert store.jobs.create("backfill", {"a": 2}, job_id="fixed") == "fixed"
    job = store.jobs.get("fixed")
    assert job.status is JobStatus.RUNNING and job.args == {"a": 1}
