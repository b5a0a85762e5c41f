"""Dramatiq test helpers shared by the actor tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from app.adapters.queue import NAMESPACE


def drop_worker_middleware(broker) -> None:
    """Remove every worker's middleware from ``broker``.

    ``Worker.stop()`` leaves its ``_WorkerMiddleware`` on the broker, so a queue declared later
    (an actor module imported by a later test) gets consumers of the *stopped* worker, which
    swallow its messages and ``join`` hangs. Only call it when no worker is running.
    """
    broker.middleware[:] = [m for m in broker.middleware if type(m).__name__ != "_WorkerMiddleware"]


class RedisQueue:
    """Enqueue by actor name on the desk's Redis namespace (what ``DramatiqTaskQueue`` does), for a
    worker running in another process."""

    def __init__(self, url: str) -> None:
        self.broker = RedisBroker(url=url, namespace=NAMESPACE)

    def enqueue(self, queue: str, actor: str, **kwargs) -> str:
        self.broker.declare_queue(queue)
        msg = dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs=kwargs, options={})
        return self.broker.enqueue(msg).message_id


class WorkerProcess:
    """A real ``dramatiq <module>`` worker (one process, ``threads`` threads) in its own process
    group, its output in ``log``; ``stop()`` kills the group. ``wait_ready()`` waits for
    Dramatiq's "ready for action" line. Used by the sweep tests and ``bench/backtest_parts``."""

    def __init__(self, module: str, env: dict, log, *, queues: tuple[str, ...], threads: int = 1) -> None:
        root = Path(__file__).resolve().parent.parent
        self.log = Path(log)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", module, "--processes", "1", "--threads", str(threads),
             "--queues", *queues, "--path", str(root)],
            cwd=root, env={**os.environ, **env}, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace") if self.log.exists() else ""
            if "ready for action" in text:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited {self.proc.returncode}: {text[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready after {timeout} s: {self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
