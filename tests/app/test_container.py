"""The composition root on a real SQLite file and a real Redis: each service gets its
collaborators from the container (one notifier, one queue, one store), null implementations
where a feature is off, and bad configuration fails with a message that says what to fix."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.adapters.auth_store import FileUserStore, SqlUserStore
from app.container import reset_services, services
from app.ops.notifications import NotificationService
from core.errors import ValidationError
from core.events import NullNotifier
from core.timeutil import IST
from tests.factories import bar

INFY = 408065
HOOK = "json://127.0.0.1:9/hook/s3cr3t"


@pytest.fixture()
def desk_env(tmp_path, monkeypatch, redis_url):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    for name in ("DESK_NOTIFY_URLS", "DESK_NOTIFY_DEDUPE_SECONDS", "DESK_USERS", "SUPABASE_URL", "SUPABASE_KEY"):
        monkeypatch.delenv(name, raising=False)
    reset_services()
    yield monkeypatch
    if "sql" in vars(services()):
        services().sql.dispose()
    reset_services()


def test_no_channels_gives_null_notifier_to_everything_that_notifies(desk_env):
    svc = services()
    assert isinstance(svc.notifications, NullNotifier)
    assert svc.trading.notifier is svc.notifications
    assert svc.kite_auth._notifier is svc.notifications
    assert svc.health_alerts.notifier is svc.notifications
    assert svc.health_alerts.ticks is svc.ticks and svc.health_alerts.kite_auth is svc.kite_auth


def test_channels_give_one_notification_service_on_the_container_redis_and_queue(desk_env):
    desk_env.setenv("DESK_NOTIFY_URLS", HOOK)
    desk_env.setenv("DESK_NOTIFY_DEDUPE_SECONDS", "120")
    reset_services()
    svc = services()
    notifier = svc.notifications
    assert isinstance(notifier, NotificationService)
    assert [c.scheme for c in notifier.channels] == ["json"]
    assert notifier.redis is svc.redis and notifier.tasks is svc.tasks and notifier.dedupe_seconds == 120
    assert svc.trading.notifier is notifier
    assert svc.kite_auth._notifier is notifier and svc.health_alerts.notifier is notifier
    assert notifier.redis.ping()  # the real Redis of REDIS_URL


def test_invalid_channel_url_names_the_entry_and_builds_nothing(desk_env):
    desk_env.setenv("DESK_NOTIFY_URLS", f"{HOOK}, nosuchscheme://x")
    reset_services()
    with pytest.raises(ValidationError, match=r"entry 2 \(scheme 'nosuchscheme'\)"):
        services().notifications
    assert "notifications" not in vars(services())


def test_queue_resolves_the_store_job_repository_only_when_a_job_helper_needs_it(desk_env):
    svc = services()
    queue = svc.tasks
    assert "store" not in vars(svc)  # plain enqueues do not need the store
    assert queue.jobs is svc.store.jobs
    job_id = queue.jobs.create("backfill", {"key": "NSE:INFY"})
    assert svc.store.jobs.get(job_id) is not None


def test_research_services_share_the_container_queue_calendar_and_stores(desk_env):
    svc = services()
    assert svc.scanner.queue is svc.tasks and svc.scanner.calendar is svc.calendar
    assert svc.scanner.watchlists is svc.watchlists
    assert svc.strategies.instruments is svc.instruments
    assert svc.backtests.store is svc.strategies.store and svc.backtests.tasks is svc.tasks
    assert svc.backtests.market is svc.market_data and svc.analysis.snapshots.bars.market is svc.market_data


def test_market_data_gets_the_container_instruments_and_historical_client(desk_env):
    svc = services()
    assert svc.market_data.instruments is svc.instruments
    assert svc.market_data.historical is svc.historical


def test_auth_uses_the_settings_section_and_the_sql_users_table(desk_env):
    svc = services()
    assert svc.auth.config is svc.settings.auth
    assert isinstance(svc.auth.users, SqlUserStore) and svc.auth.users.engine is svc.sql.engine
    assert svc.auth.redis is svc.redis


def test_auth_reads_users_from_desk_users_file_when_set(desk_env, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("")
    desk_env.setenv("DESK_USERS", str(users))
    reset_services()
    auth = services().auth
    assert isinstance(auth.users, FileUserStore) and auth.users.path == users


def test_operations_probe_the_container_redis_and_store(desk_env):
    svc = services()
    ops = svc.operations
    assert ops.redis is svc.redis and ops.ticks is svc.ticks and ops.kite_auth is svc.kite_auth
    assert ops.redis_health().ok
    assert ops.store_health().ok  # the store provider builds the SQLite store on first probe


def test_ticker_ingest_sinks_closed_bars_into_the_store(desk_env):
    svc = services()
    ingest = svc.ticker_ingest
    try:
        ingest.bar_sink([bar(INFY, datetime(2016, 8, 17, 10, 0, tzinfo=IST), 1000.0)])
        assert svc.store.bars.count(INFY, "minute") == 1
    finally:
        ingest.close()
