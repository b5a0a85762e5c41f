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


def test_procfile_worker_polls_idle_queues_at_most_every_100_ms():
    assert _effective_poll_ms() == 100


@pytest.mark.parametrize("ms", ["25", "500"])
def test_desk_worker_poll_ms_overrides_the_cap(ms):
    assert _effective_poll_ms(DESK_WORKER_POLL_MS=ms) == int(ms)
