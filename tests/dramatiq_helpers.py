"""Dramatiq test helpers shared by the actor tests."""

from __future__ import annotations


def drop_worker_middleware(broker) -> None:
    """Remove every worker's middleware from ``broker``.

    ``Worker.stop()`` leaves its ``_WorkerMiddleware`` on the broker, so a queue declared later
    (an actor module imported by a later test) gets consumers of the *stopped* worker, which
    swallow its messages and ``join`` hangs. Only call it when no worker is running.
    """
    broker.middleware[:] = [m for m in broker.middleware if type(m).__name__ != "_WorkerMiddleware"]
