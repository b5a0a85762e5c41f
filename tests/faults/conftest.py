"""The fault suite's fixtures (``say``, ``fault_redis``, ``fault_pg``) and its ``faults``
marker (``--strict-markers`` is on; the lead may move the line into ``pyproject.toml``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.faults.harness import RedisServer
from tests.servers import postgres_database


def pytest_configure(config):
    config.addinivalue_line("markers", "faults: fault-tolerance suite on real Redis, PostgreSQL, workers, ticker")


@pytest.fixture()
def say(capsys) -> Iterator[Callable[[str], None]]:
    """Print a report line now, past pytest's capture."""
    def _say(line: str) -> None:
        with capsys.disabled():
            print(f"  [faults] {line}", flush=True)

    with capsys.disabled():
        print()
    yield _say


@pytest.fixture()
def fault_redis(tmp_path) -> Iterator[RedisServer]:
    """A Redis of this test's own (append-only) that the test may kill and start again."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def fault_pg() -> Iterator[str]:
    """A fresh PostgreSQL database for the module."""
    with postgres_database() as url:
        yield url
