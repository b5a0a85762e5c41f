"""Tell the trader when something needs them: a new pending approval, a fill, a risk breach,
safe mode, a stale ticker, an expired Kite token.

Flow: a call site builds a ``DeskEvent`` (builders in ``core.events``) and calls its notifier's
``notify`` (``core.events.Notifier``: the container passes this service to whatever notifies,
or ``core.events.NullNotifier`` when no channel is configured). That only checks the dedupe key
in Redis and enqueues one ``send_notification`` message per channel
(``workers.notify``, queue ``notify``); the worker sends through apprise and a channel that is
down raises, is logged and retried with backoff, independently of the other channels. So
``notify`` never blocks or fails the caller: a fill is stored before, and whatever happens to
the notification, the fill stays.

Channels: ``DESK_NOTIFY_URLS`` (``settings.notifications``, parsed by ``app.adapters.notify``).
Dedupe: one notification per ``event.key`` per ``DESK_NOTIFY_DEDUPE_SECONDS`` (3600)
(Redis ``SET NX EX`` on ``desk:notify:sent:<key>``), across every process. Queue payloads carry
the channel's id, never its URL.
"""

from __future__ import annotations

import logging
from typing import Any

from app.adapters.notify import AppriseNotifier, Channel
from core.events import DeskEvent

log = logging.getLogger(__name__)

QUEUE = "notify"
SEND_ACTOR = "send_notification"
DEDUPE_PREFIX = "desk:notify:sent:"
DEFAULT_DEDUPE_SECONDS = 3600


class NotificationService:
    """Dedupe and enqueue (web, workers, ticker, clock); deliver (the ``notify`` worker).

    Satisfies ``core.events.Notifier``. ``tasks``: ``enqueue(queue, actor, **kwargs)``
    (``DramatiqTaskQueue``); ``redis``: a redis-py client for the dedupe keys; ``sender``: what
    delivers to a channel (``AppriseNotifier``).
    """

    def __init__(self, channels: list[Channel], redis: Any, tasks: Any, *,
                 sender: AppriseNotifier | None = None, dedupe_seconds: int = DEFAULT_DEDUPE_SECONDS) -> None:
        self.channels = channels
        self.redis = redis
        self.tasks = tasks
        self.sender = sender or AppriseNotifier()
        self.dedupe_seconds = dedupe_seconds

    def notify(self, event: DeskEvent) -> int:
        """Queue ``event`` for every channel; return how many messages were queued (0: no
        channels, a duplicate key, or Redis down, which is logged). Never raises."""
        if not self.channels:
            return 0
        dedupe_key = DEDUPE_PREFIX + event.key
        try:
            if not self.redis.set(dedupe_key, str(event.kind), nx=True, ex=self.dedupe_seconds):
                log.debug("notification %s already sent", event.key)
                return 0
        except Exception as exc:  # noqa: BLE001 - never block the caller
            log.warning("notification %s not queued: Redis unreachable (%s)", event.key, type(exc).__name__)
            return 0
        queued = 0
        for channel in self.channels:
            try:
                self.tasks.enqueue(QUEUE, SEND_ACTOR, channel=channel.id, kind=str(event.kind), key=event.key,
                                  title=event.title, body=event.body, severity=event.severity,
                                  trace_id=event.trace_id)
                queued += 1
            except Exception as exc:  # noqa: BLE001
                log.warning("notification %s to %s not queued: %s", event.key, channel.label, type(exc).__name__)
        if not queued:
            try:
                self.redis.delete(dedupe_key)  # let a later attempt send it
            except Exception:  # noqa: BLE001
                pass
        return queued

    def deliver(self, channel_id: str, *, title: str, body: str, severity: str = "info", key: str = "",
                attempt: int = 0) -> bool:
        """Send one queued notification (the worker). False when the channel is no longer
        configured (logged, not retried). Raises ``ChannelDown`` for the worker to retry."""
        channel = next((c for c in self.channels if c.id == channel_id), None)
        if channel is None:
            log.warning("notification %s dropped: channel #%s is no longer in DESK_NOTIFY_URLS", key, channel_id)
            return False
        try:
            self.sender.send(channel, title=title, body=body, severity=severity)
        except Exception as exc:
            log.warning("notification %s to %s failed (attempt %d): %s; will retry", key, channel.label,
                        attempt + 1, exc)
            raise
        log.info("notification %s delivered to %s (attempt %d)", key, channel.label, attempt + 1)
        return True


__all__ = ["DEDUPE_PREFIX", "NotificationService", "QUEUE", "SEND_ACTOR"]
