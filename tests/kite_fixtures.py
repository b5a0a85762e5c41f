"""Fixtures for the Kite session work (issue 3): a replay server with its TEST-ONLY endpoints.

Import the fixtures into a test module (``from tests.kite_fixtures import kite_replay  # noqa``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from app.settings import Settings
from tests.fixtures_replay import ReplayServer, start_replay, stop_replay


@pytest.fixture(scope="module")
def kite_replay(tmp_path_factory) -> Iterator[ReplayServer]:
    """A replay server (2016-08-17, speed 60, looping) with ``--test-endpoints``, per module."""
    server = start_replay(tmp_path_factory.mktemp("kite-replay"), "2016-08-17", 60, "--loop", "--test-endpoints")
    yield server
    stop_replay(server)


def settings_for(server: ReplayServer, **extra) -> Settings:
    """Settings pointing at ``server`` as the replay market."""
    return Settings(replay_host="127.0.0.1", replay_port=server.port, replay_api_key=server.api_key,
                    replay_api_secret=server.api_secret, kite_api_key=None, **extra)


def inject_failures(server: ReplayServer, path: str, status: int, count: int = 1, error_type: str = "") -> None:
    r = requests.post(f"{server.rest_root}/_test/fail",
                      params={"path": path, "status": status, "count": count, "error_type": error_type}, timeout=5)
    r.raise_for_status()


def requests_seen(server: ReplayServer, path: str) -> list[float]:
    r = requests.get(f"{server.rest_root}/_test/requests", params={"path": path}, timeout=5)
    r.raise_for_status()
    return [t for _, t in r.json()]


def send_order_update(server: ReplayServer, data: dict) -> int:
    r = requests.post(f"{server.rest_root}/_test/order_update", data=json.dumps(data), timeout=5)
    r.raise_for_status()
    return r.json()["sent"]


def requests_log(server: ReplayServer, path: str) -> list[tuple[str, float]]:
    """``(path?query, unix time)`` of every request the replay saw under ``path``."""
    r = requests.get(f"{server.rest_root}/_test/requests", params={"path": path}, timeout=5)
    r.raise_for_status()
    return [(p, t) for p, t in r.json()]
