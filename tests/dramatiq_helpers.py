"""Dramatiq test helpers shared by the actor tests."""

from __future__ import annotations

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
