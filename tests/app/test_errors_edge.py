"""Errors at the edge: every outside failure reaches callers as one of the desk's errors.

* Kite: each kiteconnect exception class, raised by the REAL kiteconnect client against the
  replay server (its TEST-ONLY ``/_test/fail`` forces the HTTP status and ``error_type``), is
  mapped by the one request funnel (``app.adapters.kite_errors``).
* SQL: a store whose database cannot be reached raises ``StoreUnavailable``.
* Redis: a Redis adapter whose server is down raises a ``RedisUnavailable``.
* Actors: a ``TemporaryError`` is retried, a ``ValidationError`` or another permanent
  ``DeskError`` is not (``app.adapters.retries.DeskRetries``, installed on the desk's broker).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import dramatiq
import pytest
import redis
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from kiteconnect import KiteConnect

from app.adapters.kite_errors import (KiteError, KiteLoginRequired, KiteOrderRejected, KitePermissionDenied,
                                      KiteSessionExpired, KiteUnavailable, connect, funnelled)
from app.adapters.kite_session import read_session
from app.adapters.rate_limit import RateLimit, RedisRateLimiter
from app.adapters.retries import DeskRetries, install_desk_retries
from app.adapters.store.sql import SqlStore
from app.adapters.tick_cache import CacheUnavailable, TickCache
from app.adapters.trading_store import TradingStore
from app.market.instruments_refresh import refresh_instruments
from core.errors import (ConflictError, DeskError, RedisUnavailable, StoreUnavailable, TemporaryError,
                         ValidationError, is_retryable)
from tests.kite_fixtures import inject_failures, kite_replay  # noqa: F401
from tests.servers import free_port

PROFILE = "/user/profile"

# (HTTP status, kiteconnect error_type) -> (desk class, is it a TemporaryError)
KITE_CASES = [
    (403, "TokenException", KiteSessionExpired, False),
    (403, "PermissionException", KitePermissionDenied, False),
    (500, "OrderException", KiteOrderRejected, False),
    (502, "DataException", KiteUnavailable, True),
    (503, "NetworkException", KiteUnavailable, True),
    (429, "NetworkException", KiteUnavailable, True),
    (500, "GeneralException", KiteUnavailable, True),
    (404, "GeneralException", KiteError, False),
]


@pytest.fixture(scope="module")
def kite(kite_replay):  # noqa: F811
    return funnelled(kite_replay.kite())


# ---------------------------------------------------------------------------------------- Kite
@pytest.mark.parametrize(("status", "error_type", "desk_cls", "temporary"), KITE_CASES,
                         ids=[f"{s}-{t}" for s, t, _, _ in KITE_CASES])
def test_funnel_maps_each_kiteconnect_exception_to_the_desk_error(
        kite, kite_replay, status, error_type, desk_cls, temporary):  # noqa: F811
    inject_failures(kite_replay, PROFILE, status, error_type=error_type)
    with pytest.raises(desk_cls) as err:
        kite.profile()
    exc = err.value
    assert type(exc) is desk_cls
    assert exc.kite_type == error_type and exc.code == status
    assert isinstance(exc, TemporaryError) is temporary
    assert "Kite profile failed" in str(exc) and error_type in str(exc)
    assert kite.profile()["user_id"]  # the failure was one request; the client still works


def test_funnel_maps_input_exception_to_validation_error_with_kites_message(kite, kite_replay):  # noqa: F811
    inject_failures(kite_replay, PROFILE, 400, error_type="InputException")
    with pytest.raises(ValidationError, match=r"Kite refused profile as bad input: Injected 400 for tests"):
        kite.profile()


def test_funnel_maps_a_refused_connection_to_kite_unavailable():
    kite = connect("any-key", access_token="t", root=f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(KiteUnavailable, match=r"cannot reach Kite for profile \(ConnectionError\)") as err:
        kite.profile()
    assert err.value.code is None and isinstance(err.value, TemporaryError)


def test_refused_token_from_real_client_is_session_expired_and_a_login_required(kite_replay):  # noqa: F811
    kite = connect(kite_replay.api_key, access_token="not-a-token", root=kite_replay.rest_root)
    with pytest.raises(KiteLoginRequired) as err:
        kite.margins()
    assert isinstance(err.value, KiteSessionExpired) and err.value.code == 403
    assert not isinstance(err.value, TemporaryError)


def test_instruments_refresh_funnels_a_raw_client_429_to_kite_unavailable(kite_replay):  # noqa: F811
    raw = kite_replay.kite()
    assert isinstance(raw, KiteConnect)

    class Untouched:
        def refresh_from_kite(self, *args, **kwargs):  # pragma: no cover - must not be reached
            raise AssertionError("the master must not be replaced when Kite failed")

    inject_failures(kite_replay, "/instruments", 429)
    with pytest.raises(KiteUnavailable, match="instruments dump of NSE") as err:
        refresh_instruments(Untouched(), raw, datetime(2016, 8, 17, 3, 0, tzinfo=UTC), exchanges=("NSE",))
    assert err.value.code == 429 and err.value.kite_type == "NetworkException"


# ---------------------------------------------------------------------------------------- SQL
def test_sql_store_on_closed_postgres_port_raises_store_unavailable_without_password():
    url = f"postgresql://desk:s3cret@127.0.0.1:{free_port()}/paperdesk"
    where = r"the store at postgresql\+psycopg://desk:\*\*\*@127\.0\.0\.1"
    with pytest.raises(StoreUnavailable, match=where) as err:
        SqlStore(url)
    assert "s3cret" not in str(err.value) and isinstance(err.value, TemporaryError)
    assert "DATABASE_URL" in str(err.value)


def test_sqlite_store_whose_file_became_unreachable_raises_store_unavailable(tmp_path):
    db = tmp_path / "desk.db"
    store = SqlStore(f"sqlite:///{db}")
    trading = TradingStore(store.engine)
    assert store.jobs.recent() == []
    store.dispose()
    for path in tmp_path.iterdir():  # the file (and its WAL) is gone, a folder stands in its place
        path.unlink() if path.is_file() else shutil.rmtree(path)
    db.mkdir()
    with pytest.raises(StoreUnavailable, match="unable to open database file"):
        store.jobs.recent()
    with pytest.raises(StoreUnavailable):
        trading.get_order("none")


def test_sqlite_folder_that_cannot_be_created_raises_store_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreUnavailable, match="cannot create the SQLite folder"):
        SqlStore(f"sqlite:///{blocker}/sub/desk.db")


def test_sql_errors_that_are_not_transient_pass_through(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'desk.db'}")
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError, match="no such table"), store.engine.connect() as conn:
        conn.execute(text("SELECT * FROM not_a_table"))


# ---------------------------------------------------------------------------------------- Redis
@pytest.fixture()
def dead_redis() -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1, socket_timeout=1)


def test_tick_cache_on_dead_redis_raises_a_temporary_redis_unavailable(dead_redis):
    with pytest.raises(CacheUnavailable) as err:
        TickCache(dead_redis).ping()
    assert isinstance(err.value, RedisUnavailable) and isinstance(err.value, TemporaryError)


def test_rate_limiter_on_dead_redis_raises_redis_unavailable(dead_redis):
    limiter = RedisRateLimiter(dead_redis, RateLimit("test:dead", 1, 1.0))
    with pytest.raises(RedisUnavailable, match=r"rate limit test:dead unavailable: cannot reach Redis at "):
        limiter.acquire(timeout=0.1)


def test_kite_session_store_on_dead_redis_raises_redis_unavailable(dead_redis):
    with pytest.raises(RedisUnavailable, match="Kite session store unavailable"):
        read_session(dead_redis)


# ---------------------------------------------------------------------------------------- actors
def test_is_retryable_separates_temporary_from_permanent_desk_errors():
    assert is_retryable(StoreUnavailable("x")) and is_retryable(KiteUnavailable("x"))
    assert is_retryable(RuntimeError("a bug"))
    assert not is_retryable(ValidationError("x")) and not is_retryable(ConflictError("x"))
    assert not is_retryable(KiteLoginRequired("x")) and not is_retryable(DeskError("x"))


@pytest.fixture()
def retry_broker():
    broker = install_desk_retries(StubBroker())
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_timeout=20, worker_threads=1)
    worker.start()
    yield broker, worker
    worker.stop()
    broker.close()


def _flaky_actor(broker, exc_factory, fail_times: int):
    attempts: list[int] = []

    @dramatiq.actor(broker=broker, queue_name="edge", max_retries=3, min_backoff=1, max_backoff=10)
    def flaky() -> None:
        attempts.append(1)
        if len(attempts) <= fail_times:
            raise exc_factory()

    return flaky, attempts


@pytest.mark.parametrize(("exc_factory", "fail_times", "expected_attempts"), [
    (lambda: StoreUnavailable("store down"), 2, 3),   # retried until it succeeds
    (lambda: KiteUnavailable("429"), 9, 4),           # retried up to max_retries, then dead-lettered
    (lambda: ValidationError("bad input"), 9, 1),     # never retried
    (lambda: KiteLoginRequired("log in"), 9, 1),      # a permanent DeskError: never retried
], ids=["temporary-recovers", "temporary-exhausts", "validation", "permanent-desk-error"])
def test_actor_retries_temporary_errors_only(retry_broker, exc_factory, fail_times, expected_attempts):
    broker, worker = retry_broker
    actor, attempts = _flaky_actor(broker, exc_factory, fail_times)
    actor.send()
    broker.join("edge", fail_fast=False)  # dead-lettered messages are the point here
    worker.join()
    assert len(attempts) == expected_attempts


def test_the_desks_broker_uses_desk_retries():
    from app.adapters.queue import install_broker
    from app.settings import get_settings

    broker = install_broker(get_settings())
    kinds = [type(m) for m in broker.middleware]
    assert DeskRetries in kinds and dramatiq.middleware.Retries not in kinds


# ---------------------------------------------------------------------------------------- callers
def test_market_clock_falls_back_to_wall_clock_when_the_store_is_unavailable(tmp_path, redis_url):
    from app.adapters.redis_client import redis_client
    from app.market.clock import MarketClock

    db = tmp_path / "desk.db"
    store = SqlStore(f"sqlite:///{db}")
    store.dispose()
    db.unlink()
    db.mkdir()  # the store's file is now unreachable
    clock = MarketClock("replay", TickCache(redis_client(redis_url)), lambda: store.watchlists.names())
    wall = datetime(2016, 8, 16, 4, 0, tzinfo=UTC)
    now = clock.now(wall)
    assert now.now == wall and now.source == "wall clock (store unavailable)"
    assert "unable to open database file" in now.error


def test_market_clock_falls_back_to_wall_clock_when_redis_is_down(dead_redis):
    from app.market.clock import MarketClock

    wall = datetime(2016, 8, 16, 4, 0, tzinfo=UTC)
    now = MarketClock("replay", TickCache(dead_redis), lambda: [408065]).now(wall)
    assert now.now == wall and now.source == "wall clock (tick cache unavailable)"
