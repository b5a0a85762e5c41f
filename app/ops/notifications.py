"""Tell the trader when something needs them: a new pending approval, a fill, a risk breach,
safe mode, a stale ticker, an expired Kite token.

Flow: a call site builds a ``DeskEvent`` (helpers below) and calls :func:`notify`. That only
checks the dedupe key in Redis and enqueues one ``send_notification`` message per channel
(``workers.notify``, queue ``notify``); the worker sends through apprise and a channel that is
down raises, is logged and retried with backoff, independently of the other channels. So
``notify`` never blocks or fails the caller: a fill is stored before, and whatever happens to
the notification, the fill stays.

Channels: ``DESK_NOTIFY_URLS`` (``app.adapters.notify``); none configured makes ``notify`` a
no-op. Dedupe: one notification per ``event.key`` per ``DESK_NOTIFY_DEDUPE_SECONDS`` (3600)
(Redis ``SET NX EX`` on ``desk:notify:sent:<key>``), across every process. Queue payloads carry
the channel's id, never its URL.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.adapters.notify import AppriseNotifier, Channel, parse_channels
from core.events import (
    DeskEvent, EventKind, approval_pending, fill_event, kite_token_expired, risk_breach, safe_mode, stale_ticker,
)

log = logging.getLogger(__name__)

QUEUE = "notify"
SEND_ACTOR = "send_notification"
DEDUPE_PREFIX = "desk:notify:sent:"
DEFAULT_DEDUPE_SECONDS = 3600
#: Seconds without a ticker heartbeat before ``check_health`` reports it stale.
STALE_TICKER_SECONDS = 30.0


class NotificationService:
    """Dedupe and enqueue (web, workers, ticker, clock); deliver (the ``notify`` worker).

    ``jobs``: ``enqueue(queue, actor, **kwargs)`` (``DramatiqTaskQueue``); ``redis``: a redis-py
    client for the dedupe keys; ``notifier``: ``AppriseNotifier``.
    """

    def __init__(self, channels: list[Channel], redis: Any, jobs: Any, *,
                 notifier: AppriseNotifier | None = None, dedupe_seconds: int = DEFAULT_DEDUPE_SECONDS) -> None:
        self.channels = channels
        self.redis = redis
        self.jobs = jobs
        self.notifier = notifier or AppriseNotifier()
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
                self.jobs.enqueue(QUEUE, SEND_ACTOR, channel=channel.id, kind=str(event.kind), key=event.key,
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
            self.notifier.send(channel, title=title, body=body, severity=severity)
        except Exception as exc:
            log.warning("notification %s to %s failed (attempt %d): %s; will retry", key, channel.label,
                        attempt + 1, exc)
            raise
        log.info("notification %s delivered to %s (attempt %d)", key, channel.label, attempt + 1)
        return True

    def check_health(self, svc: Any, now: datetime | None = None, *,
                     stale_after: float = STALE_TICKER_SECONDS) -> list[DeskEvent]:
        """Periodic check (the clock): notify a stale ticker heartbeat and an expired Kite
        session. Returns the events raised (deduped downstream). Never raises."""
        now = now or datetime.now(UTC)
        events: list[DeskEvent] = []
        try:
            status = svc.ticks.status()
            if status is not None and status.age_seconds(now) > stale_after:
                events.append(stale_ticker(status, now))
        except Exception as exc:  # noqa: BLE001
            log.warning("ticker health unknown: %s", type(exc).__name__)
        try:
            session = svc.kite_auth.status(now)
            if session.state == "expired":
                events.append(kite_token_expired(session))
        except Exception as exc:  # noqa: BLE001
            log.warning("Kite session health unknown: %s", type(exc).__name__)
        for event in events:
            self.notify(event)
        return events


def build_notification_service(svc: Any) -> NotificationService:
    """From a service graph (``app.container.Services``): ``DESK_NOTIFY_URLS`` channels, its
    Redis and Dramatiq queue. Raises ``ValidationError`` for an invalid URL."""
    return NotificationService(
        parse_channels(os.environ.get("DESK_NOTIFY_URLS") or getattr(svc.settings, "notify_urls", None)),
        svc.redis, svc.jobs,
        dedupe_seconds=int(os.environ.get("DESK_NOTIFY_DEDUPE_SECONDS", DEFAULT_DEDUPE_SECONDS)))


_service: NotificationService | None = None
_factory: Callable[[], NotificationService] | None = None


def notification_service() -> NotificationService:
    """This process's service: ``services().notifications`` once the container has it, else
    built from ``services()`` once (tests set ``_service``)."""
    global _service
    if _service is None:
        from app.container import services

        svc = services()
        _service = getattr(svc, "notifications", None) or build_notification_service(svc)
    return _service


def reset_notifications() -> None:
    global _service
    _service = None


def notify(event: DeskEvent) -> int:
    """The hook for call sites: queue ``event`` (deduped); never raises, never blocks on a
    channel. Returns the number of channel messages queued."""
    try:
        return notification_service().notify(event)
    except Exception as exc:  # noqa: BLE001 - e.g. an invalid DESK_NOTIFY_URLS: logged, not raised
        log.warning("notification %s not sent: %s", getattr(event, "key", "?"), exc)
        return 0


__all__ = [
    "DeskEvent", "EventKind", "NotificationService", "QUEUE", "SEND_ACTOR", "approval_pending",
    "build_notification_service", "fill_event", "kite_token_expired", "notification_service", "notify",
    "reset_notifications", "risk_breach", "safe_mode", "stale_ticker",
]
