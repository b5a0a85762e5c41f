"""Replay-server fixtures (owned by the replay work).

``replay_server``: one real ``python -m workers.replay`` subprocess per test session, on a free
loopback port, replaying 2016-08-17 at speed 60 with ``--loop``. ``looping_replay(day)``: the
session's looping speed-60 server of another day, shared by every module asking for that day (a
start loads the bundled data: seconds). ``replay_factory``: start more with other options (each
stopped at the end of the test). Without a working server the
test is skipped locally and fails in CI (``tests.servers.unavailable``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.servers import free_port, unavailable, wait_port

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "paperdesk-test"
API_SECRET = "paperdesk-test-secret"


@dataclass
class ReplayServer:
    port: int
    date: str
    api_key: str = API_KEY
    api_secret: str = API_SECRET
    host: str = "127.0.0.1"
    proc: subprocess.Popen | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def rest_root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_root(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def request_token(self) -> str:
        import requests

        r = requests.get(f"{self.rest_root}/connect/login", params={"api_key": self.api_key, "v": 3},
                         allow_redirects=False, timeout=5)
        assert r.status_code == 302, r.text
        return parse_qs(urlsplit(r.headers["location"]).query)["request_token"][0]

    def login(self) -> str:
        """A fresh access token through the real kiteconnect client."""
        from kiteconnect import KiteConnect

        kite = KiteConnect(self.api_key, root=self.rest_root)
        return kite.generate_session(self.request_token(), api_secret=self.api_secret)["access_token"]

    def kite(self):
        from kiteconnect import KiteConnect

        return KiteConnect(self.api_key, access_token=self.login(), root=self.rest_root)


def start_replay(tmp_dir: Path, date: str = "2016-08-17", speed: float = 60, *extra: str) -> ReplayServer:
    port = free_port()
    log_path = tmp_dir / f"replay-{port}.log"
    env = dict(os.environ, DESK_REPLAY_API_KEY=API_KEY, DESK_REPLAY_API_SECRET=API_SECRET,
               PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "workers.replay", "--date", date, "--speed", str(speed),
           "--port", str(port), *extra]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = ReplayServer(port=port, date=date, proc=proc, log_path=log_path)
    try:
        wait_port(port, timeout=60)
    except TimeoutError:
        stop_replay(server)
        unavailable(f"replay server did not start: {log_path.read_text()[-2000:]}")
    return server


def stop_replay(server: ReplayServer) -> None:
    if server.proc and server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture(scope="session")
def looping_replay(tmp_path_factory) -> Iterator:
    """``get(day: str "YYYY-MM-DD") -> ReplayServer``: this session's replay of ``day`` at speed
    60 with ``--loop``, started on first use and shared by every test asking for that day (the
    servers are read-only markets for their users); all stopped at the end of the session."""
    servers: dict[str, ReplayServer] = {}

    def get(day: str) -> ReplayServer:
        if day not in servers:
            servers[day] = start_replay(tmp_path_factory.mktemp(f"replay-{day}"), day, 60, "--loop")
        return servers[day]

    yield get
    for server in servers.values():
        stop_replay(server)


@pytest.fixture(scope="session")
def replay_server(looping_replay) -> ReplayServer:
    """The session's replay server: 2016-08-17, speed 60, looping."""
    return looping_replay("2016-08-17")


@pytest.fixture()
def replay_factory(tmp_path) -> Iterator:
    """``start(date="2016-08-17", speed=60, *extra_args) -> ReplayServer``; stopped after the test."""
    started: list[ReplayServer] = []

    def start(date: str = "2016-08-17", speed: float = 60, *extra: str) -> ReplayServer:
        server = start_replay(tmp_path, date, speed, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_replay(server)
