"""Notification actor: send one queued notification to one channel through apprise.

``send_notification(channel, kind, key, title, body, severity, trace_id)``: ``channel`` is the
channel's id (``app.adapters.notify.Channel.id``), never its URL. A channel that is down raises
``ChannelDown``: logged with the channel's label and retried with backoff (1 s … 5 min,
``max_retries=8``, about 20 minutes in all), without touching the other channels. An invalid
or removed channel is dropped (``throws=ValidationError``: not retried).
"""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.middleware import CurrentMessage

from workers import broker as _broker  # noqa: F401  (first: installs the broker before @actor)

from app.container import services
from app.ops.notifications import QUEUE, SEND_ACTOR, NotificationService
from core.errors import ValidationError

log = logging.getLogger(__name__)


@dramatiq.actor(actor_name=SEND_ACTOR, queue_name=QUEUE, max_retries=8, min_backoff=1_000, max_backoff=300_000,
                time_limit=60_000, throws=(ValidationError,))
def send_notification(channel: str, kind: str, key: str, title: str, body: str, severity: str = "info",
                      trace_id: str = "") -> None:
    """Deliver to ``channel``; raises ``ChannelDown`` (retried) when it does not accept."""
    message = CurrentMessage.get_current_message()
    attempt = int(message.options.get("retries", 0)) if message is not None else 0
    notifier = services().notifications
    if not isinstance(notifier, NotificationService):  # channels removed since it was queued
        log.warning("notification %s dropped: no channel is configured (DESK_NOTIFY_URLS)", key)
        return
    notifier.deliver(channel, title=title, body=body, severity=severity, key=key, attempt=attempt)
