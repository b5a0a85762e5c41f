"""``python -m workers.replay`` command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workers.replay", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_unknown_date_exits_nonzero_naming_recorded_dates():
    done = run("--date", "2016-08-20", "--port", "1")
    assert done.returncode != 0
    assert "2016-08-20 is not a recorded session" in done.stderr
    assert "2016-08-16" in done.stderr and "2016-09-09" in done.stderr


def test_malformed_date_exits_nonzero():
    done = run("--date", "yesterday", "--port", "1")
    assert done.returncode != 0 and "2016-08-17" in done.stderr


def test_start_outside_session_exits_nonzero():
    done = run("--date", "2016-08-17", "--start", "16:00", "--port", "1")
    assert done.returncode != 0 and "--start" in done.stderr


def test_start_time_and_fill_unrecorded_are_honoured(replay_factory):
    server = replay_factory("2016-09-09", 1, "--start", "14:00", "--fill-unrecorded")
    kite = server.kite()
    q = kite.quote(["NSE:RELIANCE", "NSE:ACC"])
    assert q["NSE:RELIANCE"]["timestamp"].strftime("%Y-%m-%d %H:%M") == "2016-09-09 14:00"
    assert "NSE:ACC" in q  # borrowed path under --fill-unrecorded
    r = requests.get(f"{server.rest_root}/user/profile", timeout=5)
    assert r.status_code == 403
