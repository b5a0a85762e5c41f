"""The Procfile's worker caps Dramatiq's idle poll, so an approved order is picked up promptly.

Dramatiq's Redis consumer polls an idle queue with a backoff that grows to the worker's
``worker_timeout`` (1,000 ms unless the ``dramatiq_worker_timeout`` environment variable says
otherwise); that backoff was the tail of approval→fill (bench/approval_to_fill.py). These tests
run the Procfile's own worker line through ``sh`` (as honcho and a PaaS do) with the Dramatiq
command swapped for a probe, so a misspelt variable or a dropped prefix fails here.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = f"{sys.executable} -c 'import dramatiq.worker as w; print(w.WORKER_TIMEOUT)'"


def _worker_line() -> str:
    lines = [ln for ln in (ROOT / "Procfile").read_text().splitlines() if ln.startswith("worker:")]
    assert len(lines) == 1, "the Procfile has exactly one worker process"
    return lines[0].split(":", 1)[1].strip()


def _effective_poll_ms(**env: str) -> int:
    line = _worker_line()
    head, sep, _ = line.partition("dramatiq workers.actors")
    assert sep, f"the worker runs `dramatiq workers.actors`: {line!r}"
    clean = {k: v for k, v in os.environ.items() if k not in ("DESK_WORKER_POLL_MS", "dramatiq_worker_timeout")}
    out = subprocess.run(["sh", "-c", head + PROBE], env={**clean, **env}, capture_output=True, text=True,
                         check=True, timeout=60)
    return int(out.stdout.strip())


def test_procfile_worker_polls_idle_queues_at_most_every_50_ms():
    assert _effective_poll_ms() == 50


@pytest.mark.parametrize("ms", ["25", "500"])
def test_desk_worker_poll_ms_overrides_the_cap(ms):
    assert _effective_poll_ms(DESK_WORKER_POLL_MS=ms) == int(ms)


def _api_args(**env: str) -> list[str]:
    lines = [ln for ln in (ROOT / "Procfile").read_text().splitlines() if ln.startswith("api:")]
    assert len(lines) == 1, "the Procfile has exactly one api process"
    line = lines[0].split(":", 1)[1].strip()
    assert line.startswith("python -m app.api "), line
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DESK_API_")}
    out = subprocess.run(["sh", "-c", "echo " + line[len("python -m app.api "):]], env={**clean, **env},
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.split()


def test_procfile_api_listens_on_loopback_8502_with_one_worker_by_default():
    assert _api_args() == ["--host", "127.0.0.1", "--port", "8502", "--workers", "1"]


def test_procfile_api_takes_its_address_port_and_workers_from_the_environment():
    args = _api_args(DESK_API_ADDRESS="0.0.0.0", DESK_API_PORT="9100", DESK_API_WORKERS="4")
    assert args == ["--host", "0.0.0.0", "--port", "9100", "--workers", "4"]


def test_api_cli_refuses_a_port_out_of_range():
    out = subprocess.run([sys.executable, "-m", "app.api", "--port", "70000"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "--port must be 1 – 65,535" in out.stderr
