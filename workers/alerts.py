"""Alert actor: act on one alert trigger sent by the ticker (``app.ops.alert_actions``).

``alert_triggered(trigger)``: ``trigger`` is ``app.market.alerts.trigger_payload`` (JSON-simple:
the alert, its trigger ``sequence``, the compared values, the tick, the trace id). Idempotent per
``<alert_id>:<sequence>``: a redelivered message, or the same trigger re-sent by a restarted
ticker, records nothing new and proposes no second approval. Queue ``trading``; a
``ValidationError`` (a malformed message) is not retried.
"""

from __future__ import annotations

import dramatiq

from workers import broker as _broker  # noqa: F401  (first: installs the broker before @actor)

from app.container import services
from app.market.alerts import TRIGGER_ACTOR, TRIGGER_QUEUE
from core.errors import ValidationError


@dramatiq.actor(actor_name=TRIGGER_ACTOR, queue_name=TRIGGER_QUEUE, max_retries=5, min_backoff=500,
                max_backoff=30_000, time_limit=60_000, throws=(ValidationError,))
def alert_triggered(trigger: dict) -> None:
    """Record the trigger, then notify (simple) or propose a pending approval (ATO)."""
    services().alert_actions.handle(trigger)
