"""A running ``api`` process for the API tests: ``python -m app.api`` on a free loopback port,
with its own real Redis and a real store (a SQLite file, or a fresh PostgreSQL database), one
process per backend for the session (the ``api`` fixture is parametrized over both).

The test process holds the same services the pages hold (``app.container.services()`` on the
same ``DATABASE_URL`` and ``REDIS_URL``): it creates API keys with the Settings page's service,
writes ticks into the tick cache as the ticker does, and plays the worker where a test needs
a queued job run (calling the actor's function, the code a Dramatiq worker runs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app import container
from app.container import Services, reset_services, services
from app.settings import get_settings
from tests.fixtures_store import seed_instruments
from app.adapters.tick_cache import TickCache
from core import kite_wire
from core.models import DepthLevel, Tick
from core.tick_batch import decode_frame
from core.timeutil import IST
from tests.fixtures_trading import INFY, SBIN
from tests.factories import bar
from tests.scanner_bars import daily_bars
from tests.servers import free_port, postgres_database, run_redis, unavailable

ROOT = Path(__file__).resolve().parents[2]
#: Market time of the API tests: Fri 09 Sep 2016 10:00 IST (the default replay world), in session.
T0 = datetime(2016, 9, 9, 10, 0, tzinfo=IST)
#: A few instruments the tests use: INFY (tick ₹0.10), SBIN (₹0.05), TCS.
TCS = 2953217
#: The instruments seeded into the store: the default watchlist's and a few more.
SYMBOLS = {"RELIANCE", "HDFCBANK", "INFY", "TCS", "ICICIBANK", "SBIN", "ITC", "LT", "AXISBANK", "KOTAKBANK",
           "BHARTIARTL", "MARUTI", "NIFTY 50", "NIFTY IT", "WIPRO"}


def put_tick(cache: TickCache, token: int, ltp: float, *, at: datetime = T0, spread: float = 0.1,
             qty: int = 10_000) -> Tick:
    """One full-mode tick with exchange time ``at`` (a replayed 2016 session), received now: the
    desk's market clock then reads ``at`` plus the seconds since (as with the replay market)."""
    bids = tuple(DepthLevel(round(ltp - spread * i, 2), qty, 3) for i in range(5))
    asks = tuple(DepthLevel(round(ltp + spread * (i + 1), 2), qty, 3) for i in range(5))
    tick = Tick(instrument_token=token, last_price=ltp, mode="full", last_traded_quantity=1, volume_traded=1000,
                open=ltp, high=ltp, low=ltp, close=ltp, last_trade_time=at, exchange_timestamp=at,
                bids=bids, asks=asks)
    frame = kite_wire.encode_frame([kite_wire.encode_packet(tick, "full")])
    cache.write_frame(decode_frame(frame), datetime.now(UTC))
    return tick


@dataclass
class ApiDesk:
    """The running API (``url``, ``client`` without a key) and the pages' services (``svc``)."""

    url: str
    backend: str
    svc: Services
    log: Path
    proc: subprocess.Popen
    client: httpx.Client = field(repr=False)
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def key(self, *scopes: str, user: str = "trader", rate_per_minute: int = 6000, label: str = "test") -> str:
        """A fresh API key's token for ``user`` (through the Settings page's service)."""
        return self.svc.api_keys.create(user, scopes or ("read",), now=datetime.now(UTC), label=label,
                                        rate_per_minute=rate_per_minute).token

    def as_key(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", headers={"Authorization": f"Bearer {token}"},
                            timeout=30)

    def tick(self, token: int, ltp: float, **kw) -> None:
        """A tick stamped at the desk's market time now (the ticker keeps the price fresh)."""
        put_tick(self.svc.ticks, token, ltp, at=self.svc.market_clock.now().now, **kw)


#: The prices every test starts from (₹): INFY, SBIN, TCS.
PRICES = {INFY: 1000.0, SBIN: 250.0, TCS: 2500.0}


@pytest.fixture()
def fresh_ticks(api) -> Iterator[None]:
    """Re-stamp the test prices at the desk's market time now, as the running ticker keeps them
    fresh (an order or a fill needs a tick at most ``DESK_MAX_TICK_AGE_SECONDS`` old). After the
    test, any traceback the api process logged meanwhile is printed (shown when a test fails)."""
    for token, ltp in PRICES.items():
        api.tick(token, ltp)
    start = api.log.stat().st_size
    yield
    with open(api.log, "rb") as f:
        f.seek(start)
        new = f.read().decode("utf-8", "replace")
    if "Traceback" in new:
        print(f"api process log during the test:\n{new[-6000:]}")


def seed_bars(svc: Services) -> None:
    """Daily bars to Thu 08 Sep 2016 (``tests.scanner_bars``) and INFY's 1-minute bars of 08 Sep
    and of 09 Sep up to 09:59 (a gentle zig-zag around ₹1,000)."""
    minutes = []
    for day, last in ((datetime(2016, 9, 8, 9, 15, tzinfo=IST), 375), (datetime(2016, 9, 9, 9, 15, tzinfo=IST), 45)):
        for i in range(last):
            minutes.append(bar(INFY, day + timedelta(minutes=i), 1000 + (i % 20) - 10 + (i // 40)))
    svc.store.bars.upsert(daily_bars() + minutes)


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"api process exited {proc.returncode}; log:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"api process not healthy after {timeout}s; log:\n{log.read_text()[-4000:]}")


#: The stores the API tests run on, each test module once per backend.
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def _running_api(backend: str, base: Path) -> Iterator[ApiDesk]:
    """Start the ``api`` process on its own Redis and store under ``base``; the services the
    test process holds on the same store and Redis are built with that environment set."""
    with run_redis(base / "redis") as (redis_url, _redis), _database(backend, base) as db_url:
        env_vars = {"DATABASE_URL": db_url, "REDIS_URL": redis_url, "DESK_STATE_DIR": str(base / "state"),
                    "DESK_REPLAY_PORT": str(free_port()), "TZ": "Asia/Kolkata"}
        (base / "state").mkdir()
        with _desk_env(env_vars):
            reset_services()
            svc = services()
            seed_instruments(svc.sql, SYMBOLS)
            seed_bars(svc)
            for token, ltp in PRICES.items():
                put_tick(svc.ticks, token, ltp)
        reset_services()
        port = free_port()
        env = {**{k: v for k, v in os.environ.items() if k not in ("DESK_BROKER",)}, **env_vars,
               "DESK_ENV": "dev", "DESK_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}
        env.pop("SUPABASE_URL", None)
        log = base / "api.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "app.api", "--port", str(port)], cwd=ROOT, env=env,
                                    stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        client = httpx.Client(base_url=f"{url}/api/v1", timeout=30)
        try:
            _wait_healthy(url, proc, log)
            yield ApiDesk(url=url, backend=backend, svc=svc, log=log, proc=proc, client=client, env=env_vars)
        finally:
            client.close()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            svc.sql.dispose()


@contextmanager
def _desk_env(env_vars: dict[str, str]) -> Iterator[pytest.MonkeyPatch]:
    """``env_vars`` set (and ``SUPABASE_URL`` unset) in this process for the block."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env_vars.items():
            mp.setenv(k, v)
        mp.delenv("SUPABASE_URL", raising=False)
        yield mp


@pytest.fixture(scope="session")
def api_sqlite(tmp_path_factory) -> Iterator[ApiDesk]:
    """This worker's ``api`` process on a SQLite store (shared by the test modules)."""
    with _running_api("sqlite", tmp_path_factory.mktemp("api-sqlite")) as desk:
        yield desk


@pytest.fixture(scope="session")
def api_postgresql(tmp_path_factory) -> Iterator[ApiDesk]:
    """This worker's ``api`` process on a fresh PostgreSQL database (shared by the test modules)."""
    with _running_api("postgresql", tmp_path_factory.mktemp("api-postgresql")) as desk:
        yield desk


@pytest.fixture(scope="module", params=BACKENDS)
def api(request) -> Iterator[ApiDesk]:
    """A running ``api`` process and the pages' services on its Redis and store (SQLite, then
    PostgreSQL). One process per backend for the whole session (a start costs seconds): tests
    use their own keys and users and compare books before and after, so they do not collide.
    For the module, this process's environment and ``services()`` are that desk's."""
    desk: ApiDesk = request.getfixturevalue(f"api_{request.param}")
    with _desk_env(desk.env) as mp:
        get_settings.cache_clear()
        mp.setattr(container, "_services", desk.svc)
        yield desk
    reset_services()


class _database:
    """A SQLite file under ``base``, or a fresh PostgreSQL database (dropped afterwards)."""

    def __init__(self, backend: str, base: Path) -> None:
        self.backend, self.base, self._pg = backend, base, None

    def __enter__(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.base / 'desk.db'}"
        self._pg = postgres_database()
        try:
            return self._pg.__enter__()
        except pytest.skip.Exception:
            raise
        except Exception as exc:  # pragma: no cover - postgres_database already fails/skips
            unavailable(f"PostgreSQL: {exc}")
            raise

    def __exit__(self, *exc) -> None:
        if self._pg is not None:
            self._pg.__exit__(*exc)

