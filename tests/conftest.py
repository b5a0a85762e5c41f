"""Shared fixtures. ``DESK_ENV=test`` is set before anything reads Settings."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("DESK_ENV", "test")
os.environ.setdefault("DESK_STATE_DIR", tempfile.mkdtemp(prefix="paperdesk-test-"))
os.environ.setdefault("TZ", "Asia/Kolkata")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.servers import postgres_database, run_redis  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.fixtures_replay", "tests.fixtures_store"]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` sends ``tests/e2e/`` as one work unit, first (``tests.xdist_order``)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests.xdist_order import E2eFirstLoadFile

    return E2eFirstLoadFile(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests first: those on a private desk, then those on the shared one
    (``tests/e2e/conftest.py``), so the shared desk never idles beside a private one."""
    def rank(item: pytest.Item) -> int:
        if "e2e" not in item.keywords:
            return 2
        return 1 if "shared_desk" in getattr(item, "fixturenames", ()) else 0

    items.sort(key=rank)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """URL of a real Redis server for this test session (``redis://127.0.0.1:<port>/0``)."""
    with run_redis(tmp_path_factory.mktemp("redis")) as (url, _proc):
        yield url


@pytest.fixture()
def redis_url(redis_server: str) -> Iterator[str]:
    """The session's Redis, flushed before each test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    yield redis_server


@pytest.fixture()
def rds(redis_url: str):
    """A redis-py client on the flushed session Redis (closed after the test)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh real PostgreSQL database for this test session."""
    with postgres_database() as url:
        yield url
