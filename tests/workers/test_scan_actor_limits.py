"""Scan limits through the container's scanner and the ``run_scan`` actor (issue 16): a scan
nested too deep, a constant scan and an unknown watchlist fail the job with the parser's or
the scanner's own message (never a raw ``RecursionError``), nothing is stored as done; a
division by zero on some symbols is stated in the run's summary.

Real parts: the container's services on a SQLite file (instruments and daily bars from
``tests/scanner_bars.py``), the real ``WatchlistService``, Dramatiq's ``StubBroker``.
"""

from __future__ import annotations

import pytest

from app.adapters.queue import install_broker
from app.container import reset_services, services
from core.errors import ValidationError
from core.scan_lang import ScanSyntaxError
from tests.scanner_bars import seed_scanner_store
from tests.workers.test_backfill import drop_worker_middleware

DEEP = "(" * 300 + "close > 1" + ")" * 300  # 609 characters


@pytest.fixture()
def desk(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("DESK_BROKER", "stub")
    monkeypatch.delenv("DESK_REPLAY_DATE", raising=False)
    reset_services()
    seed_scanner_store(services().store)
    yield services()
    services().store.dispose()
    reset_services()


@pytest.fixture()
def scans(desk):
    drop_worker_middleware(install_broker(desk.settings))
    import workers.scans as module

    module.run_scan.broker.flush_all()
    yield module
    module.run_scan.broker.flush_all()


@pytest.mark.parametrize("scan,universe,message", [
    (DEEP, "NIFTY 500", "column 65: expected at most 64 nested levels"),
    ("-" * 1500 + "close > 1", "NIFTY 500", "column 65: expected at most 64 nested levels"),
    ("1 > 0", "NIFTY 500", "the scan compares only constants; use a field like close"),
    ("close > 1e9", "NIFTY 500", "scientific notation is not supported; write 1000000000"),
    ("close / 0 > 1", "NIFTY 500", "division by zero never matches"),
    ("close > 1", "Watchlist: nope", "unknown watchlist 'nope'; known watchlists: default"),
])
def test_bad_scan_fails_the_job_with_its_own_message_and_stores_no_run(desk, scans, scan, universe, message):
    job_id = desk.store.jobs.create("scan", {})
    with pytest.raises(ValidationError) as err:
        scans.run_scan.fn(job_id, scan, universe)
    assert message.lower() in str(err.value).lower()
    job = desk.store.jobs.get(job_id)
    assert job.status == "failed"
    assert message.lower() in job.message.lower() and "RecursionError" not in job.message
    assert not job.message.startswith(("ScanSyntaxError", "ValidationError"))
    assert all(r.status != "done" for r in desk.scanner.history())


def test_enqueue_refuses_before_queueing(desk, scans):
    with pytest.raises(ScanSyntaxError, match="nested levels"):
        desk.scanner.enqueue(DEEP, "NIFTY 500")
    with pytest.raises(ValidationError, match="unknown watchlist 'nope'"):
        desk.scanner.enqueue("close > 1", "Watchlist: nope")
    assert scans.run_scan.broker.queues.get("scans") is None or scans.run_scan.broker.queues["scans"].empty()


def test_unknown_watchlist_is_not_called_empty_and_a_real_empty_one_is(desk):
    desk.watchlists.replace([], name="spare")
    with pytest.raises(ValidationError, match="universe 'Watchlist: spare' is empty"):
        desk.scanner.run("close > 1", "Watchlist: spare")
    with pytest.raises(ValidationError) as err:
        desk.scanner.run("close > 1", "Watchlist: spare2")
    assert "unknown watchlist 'spare2'" in str(err.value) and "empty" not in str(err.value)


def test_division_by_zero_is_stated_in_the_summary(desk):
    result = desk.scanner.execute("close / (high - high) > 0 or close > 0", "NIFTY 500")
    assert result.with_data == 5 and len(result.frame) == 5
    assert result.zero_division == 5
    assert "a divisor was 0 for 5 symbols (division by zero never matches)" in result.summary
    plain = desk.scanner.execute("close > 0", "NIFTY 500")
    assert plain.zero_division == 0 and "divisor" not in plain.summary
